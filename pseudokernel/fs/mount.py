"""The FUSE adapter: paths to view nodes, one content snapshot per open.

sysfs files report the kernel's size (4096) and procfs files their length. dmesg and
proc/kmsg go through the page cache, because util-linux `dmesg -F` mmaps its file (a
MAP_SHARED map of a direct_io file fails with ENODEV). /dev/kmsg hands out one record per
read(), as the kernel's devkmsg_read().

What the host kernel may cache (docs/design.md, "What the host caches"): names and
attributes of everything, for ATTR_TIMEOUT, and the contents of files that are a pure
function of the kernel's tracked state (File.cache: a module's sections/ and notes/); the
daemon invalidates them when that state changes (fs/hostcache.py). Every other file is
opened with direct_io, so each read asks the kernel, and its page-cache reads (sendfile()'s
splice, mmap), which would stop at the size the host holds, are refused, as the kernel
refuses splice on a file without splice_read: the reader falls back to read(). Permissions
are checked here (open, access), as kernfs does, rather than with default_permissions,
which would cost a request per directory of every path.
"""

from __future__ import annotations

import ctypes
import errno
import itertools
import logging
import os
import stat
import subprocess
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import mfusepy as fuse

from .. import rawioctl, sigpending
from ..kernel import Caller
from ..paths import mount_point, mounted_paths
from . import build_root, devtmpfs, kmsg, sysfs
from .hostcache import ATTR_TIMEOUT, MODULE_DIR, HostCache
from .pm_qos import WakeLatency
from .request import context, failed, interrupted, keep_thread_state, killable
from .tree import Dir, File, Link, Reader, lookup

if TYPE_CHECKING:
    from ..kernel import Kernel

log = logging.getLogger("pseudokernel.fs")


FUSE_CAP_ATOMIC_O_TRUNC = 1 << 3
_lib = fuse._libfuse
_lib.fuse_notify_poll.argtypes = [ctypes.c_void_p]
_lib.fuse_notify_poll.restype = ctypes.c_int
_lib.fuse_pollhandle_destroy.argtypes = [ctypes.c_void_p]
_lib.fuse_pollhandle_destroy.restype = None
POLLIN, POLLRDNORM = 0x001, 0x040
DEFAULT_POLLMASK = 0x145  # EPOLLIN | EPOLLOUT | EPOLLRDNORM | EPOLLWRNORM


SNAPSHOT_AGE = 0.5  # seconds a computed file content may serve a stat() and the open() after it


@dataclass
class Handle:
    node: File
    data: bytes = b""
    file: Any = None  # vfs.ModuleFile: a file a module serves, open until release
    seq: int = 0  # /dev/kmsg: the next record to hand out
    nonblock: bool = False
    closed: threading.Event | None = None  # /dev/kmsg: set at release, for a blocked reader


class KernelFS(fuse.Operations):
    """Read-only but for parameter files (and uevent), whose writes go to the Kernel."""

    use_ns = True

    def __init__(self, kernel: Kernel, mountpoint: str | None = None, owner_uid: int | None = None,
                 pm_qos: bool = True) -> None:
        self.kernel = kernel
        self.wake = WakeLatency(pm_qos)
        self.mountpoint = mountpoint
        self.boot = time.time()
        self.root = build_root(kernel, self.boot)
        self.uid = os.getuid() if owner_uid is None else owner_uid
        self.gid = os.getgid()
        self.handles: dict[int, Handle] = {}
        self._nodes: dict[str, Any] = {}  # path -> node, and "" -> the generation they are of
        self._listings: dict[str, list[tuple[str, int]]] = {}  # /sys/module dirs: see _listing()
        self._fh = itertools.count(1)
        # fstat() reaches getattr without the file handle: the size a process sees of a file it
        # has open is that of the content it reads, its latest open's (by path and pid)
        self._opened: dict[tuple[str, int], int] = {}
        # content of size=None files by (path, privileged): ((generation, log seq), time, bytes)
        self._snapshots: dict[tuple[str, bool], tuple[tuple[int, int], float, bytes]] = {}
        self.cache = HostCache(mountpoint, lambda name: sysfs.module_fingerprint(kernel, name), self._names,
                               lambda: sysfs.modules_version(kernel))
        kernel.on_change.append(self.cache.changed)
        kernel.log.watchers.append(self.cache.log_changed)
        self._pollers: list[int] = []  # poll handles of /dev/kmsg readers waiting for a record
        self._served_pollers: list[tuple[set[int], int]] = []  # (wait queues, poll handle)
        self._poll_lock = threading.Lock()
        kernel.log.watchers.append(self._wake_pollers)
        kernel.api.wake_hooks.append(self._wake_queue)

    # -- the host kernel's cache -----------------------------------------------------------

    def init_with_config(self, conn: Any, config: Any) -> None:
        """Mounted. No atomic O_TRUNC: `echo v > attr` then truncates with a SETATTR, whose
        reply carries the attribute's size (4096), instead of the host setting its size to 0
        at open, which a rejected write would leave for the next sendfile() to stop at."""
        if conn is not None:
            conn.want &= ~FUSE_CAP_ATOMIC_O_TRUNC
        self.cache.attach(_lib.fuse_get_context().contents.fuse)

    def destroy(self, path: str) -> None:
        self.wake.close()
        self.cache.detach()
        if self.cache.changed in self.kernel.on_change:
            self.kernel.on_change.remove(self.cache.changed)
        if self.cache.log_changed in self.kernel.log.watchers:
            self.kernel.log.watchers.remove(self.cache.log_changed)

    def _names(self, path: str) -> set[str]:
        try:
            node = lookup(self.root, path)
        except OSError:
            return set()
        return set(node.list()) if isinstance(node, Dir) else set()

    # -- helpers ---------------------------------------------------------------------------

    def _entered(self) -> None:
        """A request's first step (fs/pm_qos.py)."""
        keep_thread_state()
        self.wake.busy()

    def _node(self, path: str):
        self._entered()
        try:
            node = self._lookup(path)
        except OSError as e:
            raise fuse.FuseOSError(e.errno or errno.EIO) from None
        if node is None:
            raise fuse.FuseOSError(errno.ENOENT)
        return node

    def _lookup(self, path: str) -> File | Dir | Link | None:
        """lookup(), with the nodes found kept while the kernel's generation stays: building
        the directories on a path again for every request was most of a request's cost. A
        node reads the kernel when it is read, so only which nodes exist is kept, and every
        change of the kernel moves the generation."""
        gen = self.kernel.generation
        nodes = self._nodes
        if nodes.get("") != gen:
            nodes = self._nodes = {"": gen}
            self._listings = {}
        node = nodes.get(path)
        if node is None:
            parent, _, name = path.rstrip("/").rpartition("/")
            if not name:
                return self.root
            up = self._lookup(parent or "/")
            node = up.child(name) if isinstance(up, Dir) else None
            if node is not None and self.kernel.generation == gen:
                nodes[path] = node
        return node

    def _opener(self, path: str) -> tuple[str, int]:
        return path, context()[2]

    def _reader(self) -> Reader:
        uid, _gid, _pid = context()
        return Reader(uid, uid == 0 or uid == self.uid)

    def _caller(self) -> Caller:
        uid, gid, pid = context()
        try:
            with open(f"/proc/{pid}/comm", "rb") as f:
                comm = f.read().rstrip(b"\n").decode("utf-8", "replace")
        except OSError:
            comm = "?"
        return Caller(pid, comm, uid, gid, mm=pid)

    def _may(self, node: File | Dir | Link, want: int, who: tuple[int, int, int] | None = None) -> bool:
        """generic_permission(): want is a mask of 4 (read), 2 (write), 1 (exec/search);
        root passes, others get the owner's, the group's or the others' bits."""
        uid, gid, _pid = who or context()
        if uid == 0:
            return True
        mode = node.st_mode & 0o777
        bits = mode >> 6 if uid == self.uid else mode >> 3 if gid == self.gid else mode
        return bits & want == want

    # -- attributes and directories --------------------------------------------------------

    @killable
    def getattr(self, path: str, fh: Any = None) -> dict[str, Any]:
        self.cache.seen(path, lookup=True)  # a lookup or a stat: the host keeps the answer
        attrs = None
        try:
            attrs = self._getattr(path, fh)
            return attrs
        finally:
            self.cache.answered(path, attrs is not None)

    def _getattr(self, path: str, fh: Any) -> dict[str, Any]:
        node = self._node(path)
        if getattr(node, "fixed", False):
            self.cache.settled(path)
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
            listing = self._listing(path, node) if node.subdirs is None and path.startswith(MODULE_DIR) else None
            attrs["st_nlink"] = 2 + node.count_subdirs(listing)
        elif isinstance(node, Link):
            attrs["st_size"] = 0  # kernfs symlinks report no size
        elif node.size is None:
            h = self.handles.get(getattr(fh, "fh", 0) if fh is not None else self._opened.get(self._opener(path), 0))
            attrs["st_size"] = len(h.data) if h is not None else len(self._snapshot(path, node))
        else:
            attrs["st_size"] = node.size
        return attrs

    def readdir(self, path: str, fh: Any) -> list[tuple[str, int, int]]:
        """Names with their types (d_type), so that `find -type f` need not stat each."""
        self.cache.seen(path)
        node = self._node(path)
        if not isinstance(node, Dir):
            raise fuse.FuseOSError(errno.ENOTDIR)
        entries = self._listing(path, node) if path.startswith(MODULE_DIR) else node.entries()
        return [(".", node.st_mode, 0), ("..", stat.S_IFDIR, 0)] + [(name, mode, 0) for name, mode in entries]

    def _listing(self, path: str, node: Dir) -> list[tuple[str, int]]:
        """A /sys/module directory's (name, mode) entries, kept with its nodes while the
        kernel's generation stays (what exists there moves only with it): a walk lists each
        directory, and stats it after (st_nlink counts its subdirectories), and listing one
        sorted and built every child again, a quarter of the daemon's work in the walk."""
        gen = self.kernel.generation
        listings = self._listings
        entries = listings.get(path)
        if entries is None:
            entries = node.entries()
            if self.kernel.generation == gen and self._nodes.get("") == gen:
                listings[path] = entries
        return entries

    def access(self, path: str, amode: int) -> int:
        node = self._node(path)
        if amode and not self._may(node, amode & 7):
            raise fuse.FuseOSError(errno.EACCES)
        return 0

    def readlink(self, path: str) -> str:
        node = self._node(path)
        if not isinstance(node, Link):
            raise fuse.FuseOSError(errno.EINVAL)
        return node.target if isinstance(node.target, str) else node.target(context()[2])

    def statfs(self, path: str) -> dict[str, int]:
        return {"f_bsize": 4096, "f_frsize": 4096, "f_namemax": 255}

    # -- files -----------------------------------------------------------------------------

    def _content(self, node: File, reader: Reader | None = None) -> bytes:
        if node.read is None:
            return b""
        try:
            return node.read(reader or self._reader())
        except OSError as e:
            raise failed(e) from None

    def _snapshot(self, path: str, node: File, for_open: bool = False) -> bytes:
        """The content of a file whose size is its length, computed once for the stat()s and
        the open() that follows them while the kernel has not changed (one snapshot: the size
        the reader saw is the length it reads). The open takes it: the next open reads anew,
        as a module's show function runs once per read of the real file."""
        reader = self._reader()
        key = (path, reader.privileged)
        gen, now = (self.kernel.generation, self.kernel.log.next_seq), time.monotonic()
        hit = self._snapshots.pop(key, None) if for_open else self._snapshots.get(key)
        if hit is not None and hit[0] == gen and now - hit[1] < SNAPSHOT_AGE:
            return hit[2]
        data = self._content(node, reader)
        if not for_open:
            if len(self._snapshots) > 64:
                self._snapshots.clear()
            self._snapshots[key] = (gen, now, data)
        return data

    @killable
    def open(self, path: str, fi: Any) -> int:
        self.cache.seen(path)
        node = self._node(path)
        if not isinstance(node, File):
            raise fuse.FuseOSError(errno.EISDIR)
        if node.fixed:
            self.cache.settled(path)
        acc = fi.flags & os.O_ACCMODE
        # kernfs (KERNFS_ROOT_EXTRA_OPEN_PERM_CHECK): even root cannot open a file for writing
        # that has no write bit or no store op, nor for reading one without a read bit or show
        served = node.open is not None and (node.device or acc != os.O_RDONLY)
        if not served and acc != os.O_RDONLY and (not node.mode & 0o222 or (node.write is None and not node.stream)):
            raise fuse.FuseOSError(errno.EACCES)
        if not served and acc != os.O_WRONLY and (not node.mode & 0o444 or (node.read is None and not node.stream)):
            raise fuse.FuseOSError(errno.EACCES)
        who = context()
        if not self._may(node, {os.O_RDONLY: 4, os.O_WRONLY: 2}.get(acc, 6), who):
            raise fuse.FuseOSError(errno.EACCES)
        h = Handle(node, nonblock=bool(fi.flags & os.O_NONBLOCK))
        if served:
            try:
                h.file = node.open(self._caller(), fi.flags)
            except OSError as e:
                raise failed(e) from None
            fi.nonseekable = 0 if h.file.seekable else 1
        elif node.stream:
            records = self.kernel.log.records()
            h.seq = records[0].seq if records else self.kernel.log.next_seq
            h.closed = threading.Event()
        elif acc != os.O_WRONLY:
            reader = Reader(who[0], who[0] == 0 or who[0] == self.uid)
            h.data = self._snapshot(path, node, for_open=True) if node.size is None else self._content(node, reader)
        # the host keeps a cached file's pages from one open to the next (they are dropped
        # when its state changes), and every other's pages (dmesg's) at no open
        fi.direct_io = 1 if node.direct and not node.cache else 0
        fi.keep_cache = 1 if node.cache else 0
        # FOPEN_NOFLUSH: close() sends no FLUSH (a round trip for every file a walk reads)
        # unless the file writes back at close (a disk)
        fi.noflush = 0 if getattr(h.file, "flush", None) is not None else 1
        fh = next(self._fh)
        self.handles[fh] = h
        self._opened[(path, who[2])] = fh
        fi.fh = fh
        return 0

    @killable
    def read(self, path: str, size: int, offset: int, fi: Any) -> bytes:
        self._entered()
        h = self.handles.get(fi.fh)
        if h is None:
            raise fuse.FuseOSError(errno.EBADF)
        if h.file is not None:
            if not fi.lock_owner:
                # a read for the page cache (sendfile()'s splice, mmap), which would stop at
                # the size the host last saw: refused, as the kernel refuses splice on a
                # device without splice_read, so busybox cat falls back to read()
                raise fuse.FuseOSError(errno.EINVAL)
            if sigpending.stopping():
                return b""  # the daemon is going down: end of file, as for /dev/kmsg's readers
            try:
                return self._served(h.file.read, size, offset)
            except fuse.FuseOSError as e:
                if e.errno == errno.EINTR and sigpending.stopping():
                    return b""
                raise
        if h.node.stream:
            return self._served(kmsg.read_record, self.kernel.log, h, size)
        if not fi.lock_owner and h.node.direct and not h.node.cache:
            # a page-cache read of a direct_io file: the host would keep what it read, and
            # stop at a size it may hold from before a change (module code, a load)
            raise fuse.FuseOSError(errno.EINVAL)
        return h.data[offset : offset + size]

    @staticmethod
    def _served(op: Callable, *args: Any) -> Any:
        try:
            return op(*args)
        except OSError as e:
            raise failed(e) from None

    def poll(self, path: str, fh: Any, ph: Any, reventsp: Any) -> int:
        """devkmsg_poll(): readable when a record past the reader's position exists (an
        overrun reader too: its read says EPIPE). Otherwise the host is told when one comes
        (fuse_notify_poll on the handle it left, from the log's watchers)."""
        h = self.handles.get(fh.fh)
        if h is None:
            raise fuse.FuseOSError(errno.EBADF)
        if h.file is not None:
            return self._poll_served(h, ph, reventsp)
        if not h.node.stream:
            reventsp[0] = DEFAULT_POLLMASK  # what the host gives a file without poll
            if ph:
                _lib.fuse_pollhandle_destroy(ph)
            return 0
        with self._poll_lock:
            ready = self.kernel.log.next_seq > h.seq
            if ph:
                if ready:
                    _lib.fuse_pollhandle_destroy(ph)
                else:
                    self._pollers.append(ph)
        reventsp[0] = POLLIN | POLLRDNORM if ready else 0
        return 0

    def _poll_served(self, h: Handle, ph: Any, reventsp: Any) -> int:
        """The module's poll; not ready: the host is told at the next wake-up of a queue its
        poll_wait() named (KernelApi.wake_hooks)."""
        mask = self._served(h.file.poll, 0xFFFF)
        reventsp[0] = mask
        if ph:
            if mask & (POLLIN | POLLRDNORM | 0x4) or not h.file.poll_queues:
                _lib.fuse_pollhandle_destroy(ph)
            else:
                with self._poll_lock:
                    self._served_pollers.append((set(h.file.poll_queues), ph))
        return 0

    def _wake_queue(self, wq: int) -> None:
        with self._poll_lock:
            woken = [ph for queues, ph in self._served_pollers if wq in queues]
            self._served_pollers = [(q, ph) for q, ph in self._served_pollers if wq not in q]
        for ph in woken:
            _lib.fuse_notify_poll(ph)
            _lib.fuse_pollhandle_destroy(ph)

    def ioctl(self, path: str, cmd: int, arg: Any, fh: Any, flags: int, data: Any) -> int:
        """A restricted FUSE ioctl: the host copies the command's _IOC_SIZE bytes in for
        _IOC_WRITE and out for _IOC_READ; the module sees them at a user address."""
        self._entered()
        h = self.handles.get(getattr(fh, "fh", fh))
        if h is None or h.file is None:
            raise fuse.FuseOSError(errno.ENOTTY)
        direction, size = (cmd >> 30) & 3, (cmd >> 16) & 0x3FFF
        inbuf = ctypes.string_at(data, size) if direction & 1 and size and data else None
        out_size = size if direction & 2 else 0
        raw = rawioctl.unpack(inbuf) if cmd & 0xFFFFFFFF == rawioctl.RAW_IOCTL and inbuf else None
        if raw is not None:  # the seal's: the caller's command with its argument as a number
            uid, opener = context()[0], getattr(h.file, "caller", None)
            if uid != 0 and (opener is None or uid != opener.uid):
                raise fuse.FuseOSError(errno.EPERM)
            (cmd, arg), inbuf, out_size = raw, None, 0
        with sigpending.interruptible(interrupted):
            ret, out = self._served(h.file.ioctl, cmd, arg or 0, inbuf, out_size)
        if out and data:
            ctypes.memmove(data, out, len(out))
        return ret

    def _wake_pollers(self) -> None:
        """A record was stored: every poll handle waiting for one is notified, once."""
        with self._poll_lock:
            waiting, self._pollers = self._pollers, []
        for ph in waiting:
            _lib.fuse_notify_poll(ph)
            _lib.fuse_pollhandle_destroy(ph)

    @killable
    def write(self, path: str, data: bytes, offset: int, fi: Any) -> int:
        self._entered()
        h = self.handles.get(fi.fh)
        if h is not None and h.file is not None:
            return self._served(h.file.write, data, offset)
        if h is None or h.node.write is None:
            raise fuse.FuseOSError(errno.EACCES)
        try:
            return h.node.write(data)  # a parameter's store: Kernel.param_store moves the generation
        except OSError as e:
            raise failed(e) from None

    def create(self, path: str, mode: int, fi: Any) -> int:
        """open(O_CREAT) of a name nothing holds in dev/: devtmpfs makes a regular file
        (devtmpfs.ShmemFile); anywhere else the mount makes nothing."""
        parent, _, name = path.rpartition("/")
        if parent != "/dev":
            return self._rofs()
        if not self._may(self._node(parent), 3):
            raise fuse.FuseOSError(errno.EACCES)
        err = devtmpfs.create_file(self.kernel, name, mode)
        if err:
            raise fuse.FuseOSError(err)
        self.kernel._changed(wait=False)  # the create holds dev/: the host is told after it
        return self.open(path, fi)

    def unlink(self, path: str) -> int:
        """rm of a node mknod made, or a file written, in /dev (a driver's own nodes stay)."""
        name = path.removeprefix("/dev/")
        if self.kernel.devtmpfs_nodes.pop(name, None) is None and self.kernel.devtmpfs_files.pop(name, None) is None:
            return self._rofs()
        self.kernel._changed(wait=False)  # the unlink holds dev/: the host is told after it
        return 0

    def truncate(self, path: str, length: int, fh: Any = None) -> int:
        node = self._node(path)
        if isinstance(node, File) and node.truncate is not None:
            try:
                node.truncate(length)
            except OSError as e:
                raise fuse.FuseOSError(e.errno or errno.EIO) from None
            return 0
        if isinstance(node, File) and (node.write is not None or node.open is not None):
            return 0  # `echo v > file` truncates first: sysfs, procfs and devices ignore it
        raise fuse.FuseOSError(errno.EACCES)

    def flush(self, path: str, fi: Any) -> int:
        """close() of a descriptor, answered before close() returns (FUSE's release comes
        later, from the host, asynchronously): a disk's last close writes back there, as the
        kernel's __fput() does before the process goes on."""
        self._entered()
        h = self.handles.get(fi.fh)
        if h is not None and getattr(h.file, "flush", None) is not None:
            self._served(h.file.flush)
        return 0

    def fsync(self, path: str, datasync: int, fi: Any) -> int:
        """fsync(2): a disk writes its dirty pages back (blkdev_fsync()); the rest hold none."""
        self._entered()
        h = self.handles.get(fi.fh)
        if h is not None and getattr(h.file, "fsync", None) is not None:
            self._served(h.file.fsync)
        return 0

    def release(self, path: str, fi: Any) -> int:
        self._entered()
        h = self.handles.pop(fi.fh, None)
        if h is not None:
            if h.closed is not None:
                h.closed.set()
            if h.file is not None:
                try:
                    h.file.release()
                except OSError:
                    pass  # reported by the kernel; the process has closed the file already
        for key in [key for key, fh in self._opened.items() if fh == fi.fh]:
            self._opened.pop(key, None)
        return 0

    # -- the rest is read-only -------------------------------------------------------------

    def _rofs(self, *args: Any) -> int:
        raise fuse.FuseOSError(errno.EROFS)

    mkdir = rmdir = rename = symlink = link = chmod = chown = utimens = mknod = _rofs


def mount_options(allow_other: bool = False) -> dict[str, Any]:
    """Names and attributes cached by the host and invalidated at each change of the kernel
    (fs/hostcache.py); missing names never: a name a module creates is there at once."""
    opts: dict[str, Any] = {
        "fsname": "pseudokernel",
        "subtype": "pseudokernel",
        "attr_timeout": ATTR_TIMEOUT,
        "entry_timeout": ATTR_TIMEOUT,
        "negative_timeout": 0,
    }
    if allow_other:
        opts["allow_other"] = True
    return opts


def serve(kernel: Kernel, mountpoint: str, allow_other: bool = False, foreground: bool = True) -> None:
    """Mount and serve until unmounted (blocks)."""
    ops = KernelFS(kernel, mountpoint)
    fuse.FUSE(ops, mountpoint, raw_fi=True, foreground=foreground, nothreads=False, **mount_options(allow_other))


def is_mounted(path: str) -> bool:
    return mount_point(path) in mounted_paths()


def abort_connection(path: str) -> bool:
    """Abort the FUSE connection of the mount at path (fusectl's abort file, the kernel's own
    way out of a dead daemon): requests in flight fail with ECONNABORTED, later ones ENOTCONN: no
    process stays waiting on it, however its daemon died."""
    dev = mounted_paths().get(mount_point(path))
    if dev is None:
        return False
    conns = "/sys/fs/fuse/connections"
    if os.path.isdir(conns) and not os.listdir(conns):  # fusectl is not mounted yet
        subprocess.run(["mount", "-t", "fusectl", "fusectl", conns], capture_output=True)
    try:
        with open(f"{conns}/{dev.split(':')[1]}/abort", "w") as f:
            f.write("1")
        return True
    except OSError:
        return False

