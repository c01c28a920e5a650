"""The FUSE adapter: paths to view nodes, one content snapshot per open.

sysfs files report the kernel's size (4096) and procfs files their length, and both are opened
with direct_io so each open reads the kernel anew; dmesg and proc/kmsg go through the page
cache, because util-linux `dmesg -F` mmaps its file (a MAP_SHARED map of a direct_io file fails
with ENODEV). /dev/kmsg hands out one record per read(), as the kernel's devkmsg_read().
"""

from __future__ import annotations

import errno
import itertools
import logging
import os
import threading
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import mfusepy as fuse

from ..log import format_kmsg_record
from .tree import Dir, File, Link, Reader, build_root, lookup

if TYPE_CHECKING:
    from ..kernel import Kernel

log = logging.getLogger("pseudokernel.fs")


@dataclass
class Handle:
    node: File
    data: bytes = b""
    seq: int = 0  # /dev/kmsg: the next record to hand out
    nonblock: bool = False
    closed: threading.Event = field(default_factory=threading.Event)


class KernelFS(fuse.Operations):
    """Read-only but for parameter files (and uevent), whose writes go to the Kernel."""

    use_ns = True

    def __init__(self, kernel: Kernel, owner_uid: int | None = None) -> None:
        self.kernel = kernel
        self.boot = time.time()
        self.root = build_root(kernel, self.boot)
        self.uid = os.getuid() if owner_uid is None else owner_uid
        self.gid = os.getgid()
        self.handles: dict[int, Handle] = {}
        self._fh = itertools.count(1)

    # -- helpers ---------------------------------------------------------------------------

    def _node(self, path: str):
        try:
            node = lookup(self.root, path)
        except OSError as e:
            raise fuse.FuseOSError(e.errno or errno.EIO) from None
        if node is None:
            raise fuse.FuseOSError(errno.ENOENT)
        return node

    def _reader(self) -> Reader:
        uid, _gid, _pid = fuse.fuse_get_context()
        return Reader(uid, uid == 0 or uid == self.uid)

    # -- attributes and directories --------------------------------------------------------

    def getattr(self, path: str, fh: Any = None) -> dict[str, Any]:
        node = self._node(path)
        t = int((node.mtime or self.boot) * 1e9)
        attrs = {
            "st_mode": node.st_mode,
            "st_uid": self.uid,
            "st_gid": self.gid,
            "st_atime": t,
            "st_mtime": t,
            "st_ctime": t,
            "st_nlink": 1,
            "st_size": 0,
        }
        if isinstance(node, Dir):
            attrs["st_nlink"] = 2 + self._subdirs(node)
        elif isinstance(node, Link):
            attrs["st_size"] = 0  # kernfs symlinks report no size
        elif node.size is None:
            attrs["st_size"] = len(self._content(node))
        else:
            attrs["st_size"] = node.size
        return attrs

    @staticmethod
    def _subdirs(node: Dir) -> int:
        """kernfs counts a directory's links as 2 plus its subdirectories."""
        n = 0
        for name in node.list():
            try:
                if isinstance(node.child(name), Dir):
                    n += 1
            except OSError:
                pass
        return n

    def readdir(self, path: str, fh: Any) -> list[str]:
        node = self._node(path)
        if not isinstance(node, Dir):
            raise fuse.FuseOSError(errno.ENOTDIR)
        return [".", ".."] + node.list()

    def readlink(self, path: str) -> str:
        node = self._node(path)
        if not isinstance(node, Link):
            raise fuse.FuseOSError(errno.EINVAL)
        return node.target

    def statfs(self, path: str) -> dict[str, int]:
        return {"f_bsize": 4096, "f_frsize": 4096, "f_namemax": 255}

    # -- files -----------------------------------------------------------------------------

    def _content(self, node: File) -> bytes:
        if node.read is None:
            return b""
        try:
            return node.read(self._reader())
        except OSError as e:
            raise fuse.FuseOSError(e.errno or errno.EIO) from None

    def open(self, path: str, fi: Any) -> int:
        node = self._node(path)
        if not isinstance(node, File):
            raise fuse.FuseOSError(errno.EISDIR)
        acc = fi.flags & os.O_ACCMODE
        # kernfs (KERNFS_ROOT_EXTRA_OPEN_PERM_CHECK): even root cannot open a file for writing
        # that has no write bit or no store op, nor for reading one without a read bit or show
        if acc != os.O_RDONLY and (not node.mode & 0o222 or (node.write is None and not node.stream)):
            raise fuse.FuseOSError(errno.EACCES)
        if acc != os.O_WRONLY and (not node.mode & 0o444 or (node.read is None and not node.stream)):
            raise fuse.FuseOSError(errno.EACCES)
        h = Handle(node, nonblock=bool(fi.flags & os.O_NONBLOCK))
        if node.stream:
            records = self.kernel.log.records()
            h.seq = records[0].seq if records else self.kernel.log.next_seq
        elif acc != os.O_WRONLY:
            h.data = self._content(node)
        fi.direct_io = 1 if node.direct else 0
        fi.keep_cache = 0
        fh = next(self._fh)
        self.handles[fh] = h
        fi.fh = fh
        return 0

    def read(self, path: str, size: int, offset: int, fi: Any) -> bytes:
        h = self.handles.get(fi.fh)
        if h is None:
            raise fuse.FuseOSError(errno.EBADF)
        if h.node.stream:
            return self._read_record(h, size)
        return h.data[offset : offset + size]

    def _read_record(self, h: Handle, size: int) -> bytes:
        """devkmsg_read(): one record per call; EAGAIN or wait at the end; EPIPE if overrun."""
        klog = self.kernel.log
        while True:
            records = klog.records(h.seq)
            if records:
                rec = records[0]
                if rec.seq > h.seq:
                    h.seq = rec.seq
                    raise fuse.FuseOSError(errno.EPIPE)
                text = format_kmsg_record(rec)
                if len(text) > size:
                    raise fuse.FuseOSError(errno.EINVAL)
                h.seq = rec.seq + 1
                return text
            if h.nonblock:
                raise fuse.FuseOSError(errno.EAGAIN)
            if h.closed.is_set():
                return b""
            klog.wait_for(h.seq, 1.0)

    def write(self, path: str, data: bytes, offset: int, fi: Any) -> int:
        h = self.handles.get(fi.fh)
        if h is None or h.node.write is None:
            raise fuse.FuseOSError(errno.EACCES)
        try:
            return h.node.write(data)
        except OSError as e:
            raise fuse.FuseOSError(e.errno or errno.EIO) from None

    def truncate(self, path: str, length: int, fh: Any = None) -> int:
        node = self._node(path)
        if isinstance(node, File) and node.write is not None:
            return 0  # `echo v > file` truncates first: sysfs ignores it
        raise fuse.FuseOSError(errno.EACCES)

    def release(self, path: str, fi: Any) -> int:
        h = self.handles.pop(fi.fh, None)
        if h is not None:
            h.closed.set()
        return 0

    # -- the rest is read-only -------------------------------------------------------------

    def _rofs(self, *args: Any) -> int:
        raise fuse.FuseOSError(errno.EROFS)

    create = mkdir = rmdir = unlink = rename = symlink = link = chmod = chown = utimens = mknod = _rofs


def mount_options(allow_other: bool = False) -> dict[str, Any]:
    """No attribute or entry caching: every stat and lookup sees the kernel as it is now."""
    opts: dict[str, Any] = {
        "fsname": "pseudokernel",
        "subtype": "pseudokernel",
        "default_permissions": True,
        "attr_timeout": 0,
        "entry_timeout": 0,
        "negative_timeout": 0,
    }
    if allow_other:
        opts["allow_other"] = True
    return opts


def serve(kernel: Kernel, mountpoint: str, allow_other: bool = False, foreground: bool = True) -> None:
    """Mount and serve until unmounted (blocks)."""
    ops = KernelFS(kernel)
    fuse.FUSE(ops, mountpoint, raw_fi=True, foreground=foreground, nothreads=False, **mount_options(allow_other))


def is_mounted(path: str) -> bool:
    real = os.path.realpath(path)
    try:
        with open("/proc/self/mountinfo") as f:
            for line in f:
                fields = line.split()
                if len(fields) > 4 and fields[4].replace("\\040", " ") == real:
                    return True
    except OSError:
        pass
    return False


def is_stale(path: str) -> bool:
    """A FUSE mount whose daemon died answers ENOTCONN."""
    try:
        os.stat(path)
        return False
    except OSError as e:
        return e.errno == errno.ENOTCONN

