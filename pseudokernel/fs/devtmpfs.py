"""dev/: the nodes devtmpfs makes for the devices modules add (drivers/base/devtmpfs.c), kmsg,
mem.c's null, zero, full, random and urandom, and places where `pseudokernel shell` binds the
host's terminal, ptys and shared memory.

A device with a number gets the node its devnode() names (dev_name() by default, a '!' for a
'/'), with the mode devnode() gives or 0600, when it is added: misc_register(),
device_create(), device_add() of a device with a devt. FUSE serves regular files, not device
inodes: the node is a regular file whose open runs the device's open (misc_open() or
chrdev_open()) and whose reads, writes, ioctls and polls run the module's file_operations.

A character device number with no device (register_chrdev() or cdev_add() alone, where a
real machine's user would mknod a node) is reachable as dev/char/MAJOR:MINOR, the name udev
gives its links to device nodes.

devtmpfs is a tmpfs: a write to a name no device has (`dd of=/dev/blkram` for a disk named
blkram0) makes a regular file there, kept in the daemon's memory until rm (ShmemFile).
"""

from __future__ import annotations

import errno
import os
from typing import TYPE_CHECKING

from .. import vfs
from ..emu.kapi.open import find_cdev
from . import kmsg
from .block import bdev_named, disk_node
from .tree import SERVED_SIZE, Dir, File, Link, Node

if TYPE_CHECKING:
    from ..kernel import Caller, Kernel

MAX_LISTED_MINORS = 256  # dev/char lists this many minors of a range; any in range opens


class MemDevice:
    """drivers/char/mem.c's null, zero, full, random and urandom, which scripts redirect to
    (2>/dev/null) where the mount's dev/ stands for /dev (`pseudokernel shell`)."""

    seekable = True
    poll_queues: set[int] = set()

    def __init__(self, name: str) -> None:
        self.name = name

    def read(self, size: int, offset: int) -> bytes:
        if self.name == "null":
            return b""
        return os.urandom(size) if self.name in ("random", "urandom") else bytes(size)

    def write(self, data: bytes, offset: int) -> int:
        if self.name == "full":
            raise OSError(errno.ENOSPC, self.name)
        return len(data)

    def ioctl(self, cmd: int, arg: int, data: bytes | None, out_size: int) -> tuple[int, bytes]:
        raise OSError(errno.ENOTTY, self.name)

    def poll(self, events: int) -> int:
        return 0x145  # DEFAULT_POLLMASK

    def release(self) -> None:
        pass


MEM_DEVICES = ("null", "zero", "full", "random", "urandom")
# what `pseudokernel shell` binds the host's own over (a terminal, ptys, POSIX shared memory):
# FUSE cannot serve those; here they are places to mount on, empty until then
HOST_FILES = {"tty": 0o666, "ptmx": 0o666, "console": 0o600}
HOST_DIRS = ("pts", "shm", "mqueue")
# what systemd links in every booted machine's /dev (dev_setup()): scripts read /dev/stdin and
# write /dev/stderr, bash's `<(...)` hands out /dev/fd/N
FD_LINKS = {"fd": "/proc/self/fd", "stdin": "/proc/self/fd/0", "stdout": "/proc/self/fd/1",
            "stderr": "/proc/self/fd/2"}


def _host_placeholder(name: str) -> File:
    def open_(caller, flags):
        raise OSError(errno.ENXIO, name)  # no terminal of this machine behind it

    return File(None, HOST_FILES[name], 0, open=open_, device=True)


def device_nodes(kernel: Kernel) -> dict[str, tuple[int, int]]:
    """Each node's path under dev/ -> (devt, mode), in the order the devices came."""
    nodes: dict[str, tuple[int, int]] = {}
    for r in kernel.registry.items:
        if r.kind == "misc":
            nodes[r.info["devnode"]] = ((10 << 20) | r.info["minor"], r.info["devmode"] or 0o600)
        elif r.kind == "device" and r.info.get("devt") and r.info.get("devnode"):
            nodes[r.info["devnode"]] = (r.info["devt"], r.info["devmode"] or 0o600)
        elif r.kind in ("disk", "part") and r.info["devt"]:
            nodes[r.name] = (r.info["devt"], 0o600)
    for name, (devt, mode) in kernel.devtmpfs_nodes.items():
        nodes.setdefault(name, (devt, mode & 0o777))  # a driver's node of that name came first
    return nodes


DEVTMPFS_SIZE = 480140 * 1024  # the reference machine's devtmpfs (procfs.MOUNTS: size=480140k)


class ShmemFile:
    """One open of a regular file of devtmpfs (shmem_file_operations: read, write, llseek at
    any offset). It holds the file's bytes: an open file outlives its rm, as on tmpfs."""

    seekable = True
    poll_queues: set[int] = set()

    def __init__(self, kernel: Kernel, data: bytearray, append: bool) -> None:
        self.kernel = kernel
        self.data = data
        self.append = append

    def read(self, size: int, offset: int) -> bytes:
        return bytes(self.data[offset:offset + size])

    def write(self, data: bytes, offset: int) -> int:
        if self.append:
            offset = len(self.data)
        grows = max(offset + len(data) - len(self.data), 0)
        if grows and sum(len(d) for d, _ in self.kernel.devtmpfs_files.values()) + grows > DEVTMPFS_SIZE:
            raise OSError(errno.ENOSPC, "devtmpfs")  # as full as the machine's (its mount's size=)
        if offset > len(self.data):
            self.data.extend(bytes(offset - len(self.data)))
        self.data[offset:offset + len(data)] = data
        self.kernel._changed(wait=False)  # its size moved: the host is told (no lock held here)
        return len(data)

    def ioctl(self, cmd: int, arg: int, data: bytes | None, out_size: int) -> tuple[int, bytes]:
        raise OSError(errno.ENOTTY, "shmem")

    def poll(self, events: int) -> int:
        return 0x145  # DEFAULT_POLLMASK

    def release(self) -> None:
        pass


def create_file(kernel: Kernel, name: str, mode: int) -> int:
    """A regular file made in dev/ (open with O_CREAT of a name nothing holds). An errno, or 0."""
    if "/" in name or name in ("", ".", ".."):
        return errno.EPERM
    if _taken(kernel, name):
        return errno.EEXIST
    kernel.devtmpfs_files[name] = (bytearray(), mode & 0o7777)
    return 0


def _taken(kernel: Kernel, name: str) -> bool:
    taken = {"kmsg", "char", *MEM_DEVICES, *HOST_FILES, *HOST_DIRS, *FD_LINKS, *device_nodes(kernel),
             *kernel.devtmpfs_files}
    return name in taken or name.partition("/")[0] in {p.partition("/")[0] for p in taken}


def _shmem_node(kernel: Kernel, name: str) -> File:
    data, mode = kernel.devtmpfs_files[name]

    def open_(caller: Caller, flags: int) -> ShmemFile:
        return ShmemFile(kernel, data, bool(flags & os.O_APPEND))

    def truncate(length: int) -> None:
        if length > len(data) and sum(len(d) for d, _ in kernel.devtmpfs_files.values()) + length - len(data) > DEVTMPFS_SIZE:
            raise OSError(errno.ENOSPC, "devtmpfs")
        del data[length:]
        data.extend(bytes(length - len(data)))
        kernel._changed(wait=False)

    return File(lambda reader: bytes(data), mode & 0o777, len(data), open=open_, device=True, truncate=truncate)


def mknod(kernel: Kernel, name: str, devt: int, mode: int) -> int:
    """vfs_mknod() of a character node in dev/ (the sealed machine's /dev: bridge.py): it
    opens whatever driver answers the number then, as a node a user makes for a driver with
    no device of its own (register_chrdev(), cdev_add() alone) does. An errno, or 0."""
    if "/" in name or name in ("", ".", ".."):
        return errno.EPERM
    if _taken(kernel, name):
        return errno.EEXIST
    kernel.devtmpfs_nodes[name] = (devt, mode)
    return 0


def char_numbers(kernel: Kernel) -> list[int]:
    """The device numbers a cdev or a register_chrdev() range answers (dev/char/)."""
    out: list[int] = []
    for r in kernel.registry.items:
        if r.kind == "cdev":
            base, count = r.info["devt"], r.info["count"]
        elif r.kind == "chrdev" and r.info.get("fops"):
            base, count = (r.info["major"] << 20) | r.info["baseminor"], r.info["count"]
        else:
            continue
        out += range(base, base + min(count, MAX_LISTED_MINORS))
    return out


def _node(kernel: Kernel, path: str, devt: int, mode: int) -> File:
    def open_(caller: Caller, flags: int) -> vfs.ModuleFile:
        return vfs.open_device(kernel, caller, devt, path, flags, mode)

    return File(None, mode & 0o777, SERVED_SIZE, open=open_, device=True)


def _subtree(kernel: Kernel, prefix: str, boot: float) -> Dir:
    """The nodes whose path starts with prefix (devnode names may hold directories)."""

    def entries() -> dict[str, Node]:
        out: dict[str, Node] = {}
        for path, (devt, mode) in device_nodes(kernel).items():
            if not path.startswith(prefix):
                continue
            head, sep, _rest = path[len(prefix):].partition("/")
            if sep:
                out.setdefault(head, None)
            elif (bdev := bdev_named(kernel, path)) is not None:
                out[head] = disk_node(kernel, bdev)
            else:
                out[head] = _node(kernel, path, devt, mode)
        return out

    def child(name: str) -> Node | None:
        found = entries()
        if name not in found:
            return None
        return found[name] or _subtree(kernel, f"{prefix}{name}/", boot)

    return Dir(lambda: list(entries()), child, 0o755, boot)


def _char_dir(kernel: Kernel, boot: float) -> Dir:
    def child(name: str) -> Node | None:
        major, sep, minor = name.partition(":")
        if not (sep and major.isdigit() and minor.isdigit()):
            return None
        devt = (int(major) << 20) | int(minor)
        if find_cdev(kernel.api, devt) is None:  # the lookup chrdev_open() makes
            return None
        return _node(kernel, f"char/{name}", devt, 0o600)

    return Dir(lambda: [f"{d >> 20}:{d & 0xFFFFF}" for d in char_numbers(kernel)], child, 0o755, boot)


def dev_dir(kernel: Kernel, boot: float) -> Dir:
    nodes = _subtree(kernel, "", boot)

    def lst() -> list[str]:
        names = ["kmsg", *MEM_DEVICES, *HOST_FILES, *HOST_DIRS, *FD_LINKS, *kernel.devtmpfs_files, *nodes.list()]
        return names + (["char"] if char_numbers(kernel) else [])

    def child(name: str) -> Node | None:
        if name == "kmsg":
            return kmsg.dev_kmsg(kernel)
        if name in HOST_FILES:
            return _host_placeholder(name)
        if name in FD_LINKS:
            return Link(FD_LINKS[name], boot, fixed=True)
        if name in kernel.devtmpfs_files:
            return _shmem_node(kernel, name)
        if name in HOST_DIRS:
            return Dir(lambda: [], lambda n: None, 0o755 if name != "shm" else 0o1777, boot)
        if name in MEM_DEVICES:
            # /dev/null ends at once, so its size is the kernel's 0 (gcc compiles `-x c /dev/null`
            # and checks it read st_size bytes); the others never end
            size = 0 if name == "null" else SERVED_SIZE
            return File(None, 0o666, size, open=lambda caller, flags: MemDevice(name), device=True)
        if name == "char":
            return _char_dir(kernel, boot) if char_numbers(kernel) else None
        return nodes.child(name)

    return Dir(lst, child, 0o755, boot)
