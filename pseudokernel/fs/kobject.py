"""The kobjects modules add (lib/kobject.c): a directory under their parent's, /sys/kernel for
kernel_kobj, /sys itself for none, holding the attribute files of their groups and their child
kobjects. /sys/kernel also holds debug/ (debugfs)."""

from __future__ import annotations

import posixpath
from collections.abc import Callable
from typing import TYPE_CHECKING

from ..emu.kapi.sysfs import boot_kobject_path, links_of
from ..module.module import State
from . import debugfs, tracing
from .devices import attr_entries
from .tree import Dir, File, Link, Node, kernfs_order

if TYPE_CHECKING:
    from ..kernel import Kernel


def _children(kernel: Kernel, parent: int | str) -> dict[str, object]:
    """The module kobjects under a kobject (by address) or under a boot one (by its path)."""
    out = {}
    for r in kernel.registry.of_kind("kobject"):
        p = r.info.get("parent_obj", 0)
        where = boot_kobject_path(kernel.api, p) if p else ""
        if (isinstance(parent, int) and p == parent and where is None) or where == parent:
            out[r.name] = r
    return out


def kobject_path(kernel: Kernel, obj: int) -> str | None:
    """A kobject's directory (a module's, or one of the kernel's at boot), None if unknown."""
    boot = boot_kobject_path(kernel.api, obj)
    if boot is not None:
        return f"/sys/{boot}"
    rec = next((r for r in kernel.registry.of_kind("kobject") if r.obj == obj), None)
    if rec is None:
        return None
    parent = rec.info.get("parent_obj", 0)
    up = kobject_path(kernel, parent) if parent else "/sys"
    return f"{up}/{rec.name}" if up else None


def kobject_dir(kernel: Kernel, rec, path: str) -> Dir:
    def entries() -> dict[str, Callable[[], Node]]:
        out = attr_entries(kernel, rec.obj, path)
        for name, child in _children(kernel, rec.obj).items():
            out[name] = lambda child=child, name=name: kobject_dir(kernel, child, f"{path}/{name}")
        for link in links_of(kernel.api, rec.obj):  # sysfs_create_link(): relative, as sysfs makes them
            target = kobject_path(kernel, link.info["target"])
            if target is not None:
                out[link.name] = lambda target=target: Link(posixpath.relpath(target, path))
        return out

    def child(name: str) -> Node | None:
        make = entries().get(name)
        return make() if make else None

    return Dir(lambda: kernfs_order(list(entries())), child, 0o755)


def under(kernel: Kernel, where: str, path: str, boot: float) -> dict[str, Callable[[], Node]]:
    """The module kobjects of /sys/<where> ('' for /sys itself) as directory factories."""
    return {name: (lambda r=r, name=name: kobject_dir(kernel, r, f"{path}/{name}"))
            for name, r in _children(kernel, where).items()}


def btf_dir(kernel: Kernel, boot: float) -> Dir:
    """/sys/kernel/btf: vmlinux, the kernel's BTF, whole (the recording keeps its first 64 KiB),
    and each loaded module's that has one (btf_module_notify()), binary attributes of their size."""
    raw = kernel.profile.btf_raw

    def mods() -> dict:
        return {m.name: m for m in kernel.modules if m.btf and m.state != State.UNFORMED}

    def child(name: str) -> Node | None:
        if name == "vmlinux":
            return File(lambda r: raw, 0o444, len(raw), mtime=boot, fixed=True)
        mod = mods().get(name)
        return File(lambda r: mod.btf, 0o444, len(mod.btf), mtime=mod.load_time) if mod is not None else None

    return Dir(lambda: kernfs_order(["vmlinux", *mods()]), child, 0o755, boot)


def kernel_dir(kernel: Kernel, boot: float) -> Dir:
    def entries() -> dict[str, Callable[[], Node]]:
        btf = {"btf": lambda: btf_dir(kernel, boot)} if kernel.profile.btf_raw else {}
        return {"debug": lambda: debugfs.debug_dir(kernel, boot), "tracing": lambda: tracing.tracing_dir(kernel, boot),
                **btf, **under(kernel, "kernel", "/sys/kernel", boot)}

    def child(name: str) -> Node | None:
        make = entries().get(name)
        return make() if make else None

    return Dir(lambda: kernfs_order(list(entries())), child, 0o755, boot)
