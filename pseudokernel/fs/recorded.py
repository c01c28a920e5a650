"""The reference machine's own /sys, as recorded at boot (scripts/record-sysfs: the profile's
sysfs.tsv.gz), under what the emulated kernel builds.

What the kernel's built-in drivers made before any module loaded (its buses, classes, devices,
firmware tables, built-in modules' parameters, slab caches ...) is not emulated: it is shown as
the reference machine showed it, each file with the content it read then. The live tree wins:
a directory both have lists the union (a module's platform device beside the machine's own), a
file or link the emulated kernel serves is its own. The recorded part never changes; writing to
it is refused (EACCES), as the effect its write has on the real machine is not emulated.
"""

from __future__ import annotations

import errno

from ..profile.sysfs_table import SysfsTable, unescape
from .tree import Dir, File, Link, Node, kernfs_order


def node(rec: SysfsTable, path: str, boot: float) -> Node | None:
    """The recorded /sys/<path>, a directory's children made as they are asked for."""
    found = rec.entries.get(path)
    if found is None:
        return dir_node(rec, path, boot) if path == "" else None
    kind, mode, size, status, value = found
    if kind == "d":
        return dir_node(rec, path, boot, mode)
    if kind == "l":
        return Link(unescape(value).decode("utf-8", "surrogateescape"), boot, fixed=True)
    return File(_reader(status, value, path), mode, size, mtime=boot, fixed=True)


def dir_node(rec: SysfsTable, path: str, boot: float, mode: int = 0o755) -> Dir:
    prefix = f"{path}/" if path else ""
    return Dir(lambda: kernfs_order(rec.children.get(path, [])), lambda name: node(rec, prefix + name, boot), mode, boot)


def _reader(status: str, value: bytes, path: str):
    """The read of a recorded file: its bytes, or the error its read gave (None: the open did)."""
    if status.startswith("ok"):
        content = unescape(value)
        return lambda reader: content
    where, _, name = status.partition(":")
    if where == "open":
        return None
    code = getattr(errno, name, errno.EIO)

    def failed(reader):
        raise OSError(code, path)

    return failed


def overlay(live: Node | None, rec: SysfsTable | None, path: str, boot: float) -> Node | None:
    """The live node at /sys/<path> over the recorded one: directories merge, all else is live."""
    if rec is None or (path and path not in rec.entries):
        return live
    if live is None:
        return node(rec, path, boot)
    if not isinstance(live, Dir) or path and rec.entries[path][0] != "d":
        return live
    prefix = f"{path}/" if path else ""

    def extra() -> list[str]:
        mine = set(live.list())
        return [n for n in rec.children.get(path, []) if n not in mine]

    def subdirs() -> int:  # st_nlink: the live count (cheap where the live tree has one) and ours
        return live.count_subdirs() + sum(rec.entries[prefix + n][0] == "d" for n in extra())

    return Dir(lambda: kernfs_order(live.list() + extra()),
               lambda name: overlay(live.child(name), rec, prefix + name, boot), live.mode, live.mtime, subdirs)
