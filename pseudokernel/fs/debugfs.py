"""/sys/kernel/debug: what modules create in debugfs. Directories list their entries; a file
made with debugfs_create_file() runs the module's file_operations per open, one made with
debugfs_create_u8() and friends is answered by the kernel from the variable (vfs.DebugfsValue).
Both are opened like device nodes: root may open a read-only one for writing, whose write
then fails (-EACCES), as debugfs does."""

from __future__ import annotations

from typing import TYPE_CHECKING

from .. import vfs
from ..emu.kapi import dynamic_debug as ddebug
from . import tracing
from .tree import SERVED_SIZE, Dir, File, Link, Node, StaticDir

CONTROL = "/sys/kernel/debug/dynamic_debug/control"

if TYPE_CHECKING:
    from ..kernel import Kernel


def _children(kernel: Kernel, parent: int) -> dict[str, object]:
    return {r.name: r for r in kernel.registry.of_kind("debugfs") if (r.info.get("parent") or 0) == parent}


def _node(kernel: Kernel, rec) -> Node:
    if rec.info.get("dir"):
        return _dir(kernel, rec.obj)
    if "target" in rec.info:
        return Link(rec.info["target"])

    def open_(caller, flags):
        return vfs.open_debugfs(kernel, caller, rec, flags)

    return File(None, rec.info.get("mode", 0o444) & 0o777, SERVED_SIZE, open=open_, device=True)


def _dir(kernel: Kernel, parent: int, boot: float | None = None) -> Dir:
    def child(name: str) -> Node | None:
        rec = _children(kernel, parent).get(name)
        return _node(kernel, rec) if rec is not None else None

    return Dir(lambda: sorted(_children(kernel, parent)), child, 0o755 if parent else 0o700, boot)


def dynamic_debug_dir(kernel: Kernel, boot: float) -> Dir:
    """<debugfs>/dynamic_debug/control: the modules' pr_debug sites; a write is a query."""
    def show(reader) -> bytes:
        return vfs.run_as_process(kernel, "read", CONTROL, lambda api: ddebug.control_text(api), lambda: True)

    def store(data: bytes) -> int:
        text = data.decode("utf-8", "replace")
        vfs.run_as_process(kernel, "write", CONTROL, lambda api: ddebug.exec_queries(api, text), lambda: True)
        return len(data)

    return StaticDir({"control": lambda: File(show, 0o644, None, store)}, 0o755, boot).as_dir()


def debug_dir(kernel: Kernel, boot: float) -> Dir:
    mine = _dir(kernel, 0, boot)

    def child(name: str) -> Node | None:
        if name == "tracing":  # tracefs, automounted there as on the kernel
            return tracing.tracing_dir(kernel, boot)
        return dynamic_debug_dir(kernel, boot) if name == "dynamic_debug" else mine.child(name)

    return Dir(lambda: sorted(["dynamic_debug", "tracing", *mine.list()]), child, 0o700, boot)
