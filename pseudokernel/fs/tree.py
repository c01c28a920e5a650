"""The nodes the mount shows, and the lookup that builds them from the Kernel's state.

A view is a pure function of the kernel: given a path it returns a node whose content is
computed when the file is opened (one consistent snapshot per open, as seq_file gives).
"""

from __future__ import annotations

import functools
import stat
from collections.abc import Callable
from dataclasses import dataclass, field

SYSFS_ATTR_SIZE = 4096  # what stat() reports for a sysfs attribute file
# what stat() reports for a device node or a /proc file the module serves (the kernel says 0):
# not 0, since the host's sendfile() stops at the size, where it must try a read to learn that
# the file cannot be spliced (the mount refuses page-cache reads) and fall back to read()
SERVED_SIZE = 4096


@dataclass
class Reader:
    """Who is reading: the kernel shows some values only to the privileged."""

    uid: int = 0
    privileged: bool = True


@dataclass
class File:
    read: Callable[[Reader], bytes] | None
    mode: int = 0o444
    size: int | None = 0  # st_size: 4096 like sysfs, None = the content's length
    write: Callable[[bytes], int] | None = None
    mtime: float | None = None
    stream: bool = False  # /dev/kmsg: one record per read(), not a byte range
    direct: bool = True  # no page cache: each open reads the kernel anew
    # the host keeps the content from one open to the next: only for a pure function of the
    # kernel's tracked state, the same for every reader who may open it, with its exact size
    # (fs/hostcache.py drops it when that state changes)
    cache: bool = False
    # a file a module serves: open(caller, flags) -> a handle whose read, write, ioctl, poll
    # and release run the module's methods (vfs.ModuleFile); a device node uses it for every
    # open, a /proc file for the opens that write
    open: Callable | None = None
    device: bool = False
    # what a truncate to a length does (an O_TRUNC open's is to 0: tracefs's `> trace` empties
    # the buffer, a devtmpfs file its bytes); None: nothing
    truncate: Callable[[int], None] | None = None
    fixed: bool = False  # the same for good (the machine's recorded /sys): no change concerns it

    @property
    def st_mode(self) -> int:
        return stat.S_IFREG | self.mode


def attr_file(show: Callable[[Reader], bytes] | None, mode: int = 0o444, mtime: float | None = None,
              store: Callable[[bytes], int] | None = None) -> File:
    """A sysfs attribute: its size is 4096 whatever it holds, as kernfs reports it."""
    return File(show, mode, SYSFS_ATTR_SIZE, store, mtime)


@dataclass
class Dir:
    list: Callable[[], list[str]]
    child: Callable[[str], Node | None]
    mode: int = 0o555
    mtime: float | None = None
    subdirs: Callable[[], int] | None = None  # for st_nlink, where counting is cheaper than listing

    @property
    def st_mode(self) -> int:
        return stat.S_IFDIR | self.mode

    def entries(self) -> list[tuple[str, int]]:
        """(name, st_mode) of what list() names and still exists (a module torn down between
        list() and child() is gone from the listing)."""
        out = []
        for name in self.list():
            try:
                child = self.child(name)
            except OSError:
                child = None
            if child is not None:
                out.append((name, child.st_mode))
        return out

    def count_subdirs(self, entries: list[tuple[str, int]] | None = None) -> int:
        """kernfs counts a directory's links as 2 plus its subdirectories."""
        if self.subdirs is not None:
            return self.subdirs()
        return sum(stat.S_ISDIR(mode) for _, mode in (self.entries() if entries is None else entries))


@dataclass
class Link:
    target: str | Callable[[int], str]  # or what it names for the calling thread (/proc/self)
    mtime: float | None = None
    fixed: bool = False  # as File.fixed

    @property
    def st_mode(self) -> int:
        return stat.S_IFLNK | 0o777


Node = File | Dir | Link


@dataclass
class StaticDir:
    """A directory with a fixed set of children, each a node or a node factory."""

    children: dict[str, Callable[[], Node | None]] = field(default_factory=dict)
    mode: int = 0o555
    mtime: float | None = None

    def as_dir(self) -> Dir:
        def lst() -> list[str]:
            return [name for name, make in self.children.items() if make() is not None]

        def child(name: str) -> Node | None:
            make = self.children.get(name)
            return make() if make else None

        return Dir(lst, child, self.mode, self.mtime)


@functools.lru_cache(maxsize=65536)
def kernfs_name_hash(name: str) -> int:
    """fs/kernfs/dir.c: the order sysfs lists a directory in is (hash, name). Kept: the
    same names (.text, holders, parameters) are listed in every module's directory."""
    h = 0
    for c in name.encode("utf-8", "surrogateescape"):
        if c >= 0x80:
            c -= 0x100  # char is signed on x86
        h = ((h + ((c << 4) & ((1 << 64) - 1)) + (c >> 4)) * 11) & ((1 << 64) - 1)
    h = ((h * 0x61C8864680B583EB) & ((1 << 64) - 1)) >> 32
    h &= 0x7FFFFFFF
    if h < 2:
        h += 2
    if h >= 0x7FFFFFFF:
        h = 0x7FFFFFFE
    return h


def kernfs_order(names: list[str]) -> list[str]:
    return sorted(names, key=lambda n: (kernfs_name_hash(n), n))


def lookup(root: Node, path: str) -> Node | None:
    """Walk '/a/b/c' from the root directory node."""
    node: Node | None = root
    for part in [p for p in path.split("/") if p]:
        if not isinstance(node, Dir):
            return None
        node = node.child(part)
        if node is None:
            return None
    return node


# power/ of a device without runtime PM (drivers/base/power/sysfs.c): name -> content, None
# for a file whose read fails (autosuspend_delay_ms: -EIO without autosuspend)
POWER = {
    "async": b"disabled\n", "autosuspend_delay_ms": None, "control": b"auto\n", "runtime_active_kids": b"0\n",
    "runtime_active_time": b"0\n", "runtime_enabled": b"disabled\n", "runtime_status": b"unsupported\n",
    "runtime_suspended_time": b"0\n", "runtime_usage": b"0\n",
}
POWER_MODES = {"async": 0o644, "autosuspend_delay_ms": 0o644, "control": 0o644}


def power_dir() -> Dir:
    """power/ of a device: drivers/base/power/sysfs.c's files for one without runtime PM."""
    def attr(name: str) -> File:
        content = POWER[name]
        if content is None:
            def show(reader):
                raise OSError(5, name)  # EIO
        else:
            def show(reader, content=content):
                return content
        return attr_file(show, POWER_MODES.get(name, 0o444))

    return StaticDir({name: (lambda n=name: attr(n)) for name in POWER}, 0o755).as_dir()
