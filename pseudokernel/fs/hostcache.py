"""What the host kernel keeps of the mount between requests, and the notifications that keep
it true.

The host caches names (entries), attributes and, for the files that allow it, contents, for
ATTR_TIMEOUT seconds (mount_options). The daemon knows every moment the kernel's state
changes: after each system call that may change it (a load, an unload, a file operation
that runs a module's code, a parameter write: Kernel.syscall's on_change), when a task goes
to sleep in the module (what it did so far is visible to others), and after each log record.
Then every path the host may hold and whose answer may differ is invalidated with libfuse 3's
fuse_invalidate_path() (attributes and cached pages of the node libfuse knows by that path),
before the system call's caller gets its answer. So a stat or a read that follows a change
never sees the state before it.

Which paths: the host only holds what a request taught it, and every such request names its
path here first (seen(), called before the answer is computed, so a change that lands while
it is being computed invalidates it too). A path is forgotten once invalidated: the next
request that caches it again names it again. Paths under /sys/module/NAME/ are a function
of that module's fingerprint (fs/sysfs.module_fingerprint); they are invalidated when it
moves, or when the module goes. A file of the machine's recorded /sys (File.fixed) never
changes: settled() drops it from the set. Every other path is invalidated at every change.

Names that went away are also dropped (fuse_lowlevel_notify_inval_entry) for /sys/module and
/proc, and the names of files sized by their content at each change (/proc's files, and
/dmesg and /proc/kmsg at each record): the host's sendfile() reads a page-cache
file up to the size it holds, which only a new lookup refreshes (an invalidated attribute is
asked again by a stat, not by a splice). That needs the node ID of the parent directory,
which is its st_ino (the high-level API without use_ino), asked by a `stat` process.

Deadlocks: a notification waits in the host for the node's locks (its pages for
inval_inode, the parent directory for inval_entry). Notifications are sent by one thread of
their own, never by a thread serving a request (whose own node the host may hold locked);
a request thread that caused a change waits for them in slices and gives up on a signal
(FUSE INTERRUPT) or when the daemon stops, as every wait of the daemon does.
"""

from __future__ import annotations

import ctypes
import errno
import subprocess
import threading
import time
from collections.abc import Callable

import mfusepy as fuse

from .. import sigpending
from . import pid

ATTR_TIMEOUT = 60.0  # seconds: a bound on a missed invalidation, not what keeps the cache true
# seconds after a lookup was answered during which the host may still be making the inode it
# describes: an invalidation that finds no inode then is tried again (see _notify). The
# system call that made the change waits for those tries: at 50 ms every rmmod paid 50 ms
# (kmod's rmmod has just looked /sys/module/NAME up); the host makes the inode as soon as
# the requester runs again, microseconds on an idle machine, milliseconds on a loaded one
LOOKUP_RACE = 0.01
FUSE_ROOT_ID = 1

_lib = fuse._libfuse
_lib.fuse_get_session.argtypes = [ctypes.c_void_p]
_lib.fuse_get_session.restype = ctypes.c_void_p
_lib.fuse_invalidate_path.argtypes = [ctypes.c_void_p, ctypes.c_char_p]
_lib.fuse_invalidate_path.restype = ctypes.c_int
_lib.fuse_lowlevel_notify_inval_entry.argtypes = [ctypes.c_void_p, ctypes.c_uint64, ctypes.c_char_p,
                                                  ctypes.c_size_t]
_lib.fuse_lowlevel_notify_inval_entry.restype = ctypes.c_int

MODULE_DIR = "/sys/module/"
# files whose content is fixed at boot: the host may keep them for good (kmod reads
# /proc/cmdline at every insmod and modprobe; dropping it at each change cost a lookup, an
# open and a read each time)
CONSTANT = frozenset({"/proc/cmdline", "/proc/version", "/proc/sys/kernel/osrelease", "/proc/sys/kernel/ostype",
                      "/proc/sys/kernel/version", "/proc/sys/kernel/random/boot_id", "/sys/module/compression",
                      # where a sealed machine mounts the host's procfs (fs/pid.py): an entry
                      # invalidated there would unmount it (d_invalidate() detaches what is
                      # mounted on the dentry), in every sealed machine at once
                      f"/proc/{pid.HOST}"})
LOG_FILES = (("/", "dmesg"), ("/proc", "kmsg"))


def _group(path: str) -> str:
    """'' for a path invalidated at every change, else the /sys/module directory it is under."""
    if path.startswith(MODULE_DIR):
        return path[len(MODULE_DIR):].split("/", 1)[0]
    return ""


def _join(parent: str, name: str) -> str:
    return parent.rstrip("/") + "/" + name


def _encode(name: str) -> bytes:
    return name.encode("utf-8", "surrogateescape")


class HostCache:
    """The paths the host may hold, and their invalidation when the kernel's state changes.

    fingerprint(name) is what /sys/module/<name>/ shows as a comparable value, None when no
    module has that directory; version() moves whenever a fingerprint may have (so a change
    that touched no module compares none: a device's read stays cheap with 500 module
    directories held); names(path) the names in a directory now (for /proc's names that
    went away)."""

    def __init__(self, mountpoint: str | None, fingerprint: Callable[[str], object],
                 names: Callable[[str], set[str]], version: Callable[[], object]) -> None:
        self.mountpoint = mountpoint
        self._fingerprint = fingerprint
        self._names = names
        self._version = version
        self._checked: object = None  # version() when the fingerprints were last compared
        self._lock = threading.Lock()
        self._volatile: set[str] = set()
        self._groups: dict[str, tuple[object, set[str]]] = {}  # name -> (fingerprint, paths)
        self._fuse: int | None = None  # struct fuse *, between init and destroy
        self._fuse_lock = threading.Lock()
        self._nodeids: dict[str, int | None] = {}
        self._nodeid_asked: dict[str, float] = {}
        self._inflight: dict[str, int] = {}  # lookups being answered, by path
        self._answered: dict[str, float] = {}  # when a lookup of the path was last answered
        self._queue: list[tuple[list[str], list[tuple[str, str]], list[tuple[str, str]], threading.Event]] = []
        self._wake = threading.Condition()
        self._thread: threading.Thread | None = None

    # -- the connection --------------------------------------------------------------------

    def attach(self, fuse_ptr: int) -> None:
        """Mounted: notifications may be sent from now on, by a thread of their own."""
        with self._fuse_lock:
            self._fuse = fuse_ptr
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="fuse-notify", daemon=True)
            self._thread.start()

    def detach(self) -> None:
        """Unmounting: no more notifications (libfuse frees its state after destroy)."""
        with self._fuse_lock:
            self._fuse = None
        with self._wake:
            for *_, done in self._queue:
                done.set()
            self._queue.clear()
            self._wake.notify_all()

    # -- what the host learns --------------------------------------------------------------

    def seen(self, path: str, lookup: bool = False) -> None:
        """A request is about to tell the host about path (its attributes, its listing, its
        content): invalidate it at the next change that may concern it. A lookup (getattr)
        may make the host a new inode: answered() says when its answer is sent."""
        group = _group(path)
        with self._lock:
            if lookup:
                self._inflight[path] = self._inflight.get(path, 0) + 1
            if path in CONSTANT:
                return
            if not group:
                self._volatile.add(path)
                return
            entry = self._groups.get(group)
            if entry is not None:
                entry[1].add(path)
                return
        # the fingerprint asks the kernel (its mutex): never under this lock. A change that
        # lands before the path is added makes the answer newer than the fingerprint: the
        # next change finds them different and invalidates the path, once too often.
        fp = self._fingerprint(group)
        with self._lock:
            self._groups.setdefault(group, (fp, set()))[1].add(path)

    def settled(self, path: str) -> None:
        """path turned out to be fixed for good (File.fixed: the machine's recorded /sys):
        no change concerns it, so none invalidates it (10,000 such paths after a walk)."""
        with self._lock:
            self._volatile.discard(path)

    def answered(self, path: str, ok: bool) -> None:
        """The lookup seen(path, lookup=True) announced returns (ok: with attributes)."""
        with self._lock:
            n = self._inflight.pop(path, 1) - 1
            if n:
                self._inflight[path] = n
            if ok:
                now = time.monotonic()
                if len(self._answered) > 4096:
                    self._answered = {p: t for p, t in self._answered.items() if now - t < LOOKUP_RACE}
                self._answered[path] = now

    def _racing(self, path: str) -> bool:
        """Whether the host may be making an inode for path right now (FUSE orders nothing
        between a lookup's answer and a notification: one that lands first finds no inode,
        and the answer then sets the attributes from before the change)."""
        t = self._answered.get(path)
        return path in self._inflight or (t is not None and time.monotonic() - t < LOOKUP_RACE)

    # -- what changed ----------------------------------------------------------------------

    def changed(self, wait: bool = True) -> None:
        """The kernel's state may have changed: invalidate what the host may hold of it, and
        (wait) return once the host has been told, or the caller is signalled. Not waiting is
        for callers that may hold a lock a request served meanwhile needs: the host waits for
        that request before it takes a notification."""
        entries: list[tuple[str, str]] = []
        version = self._version()  # before the fingerprints: a move after it is seen next time
        with self._lock:
            paths = list(self._volatile)
            self._volatile.clear()
            recorded = [(group, fp) for group, (fp, _) in self._groups.items()] if version != self._checked else []
            self._checked = version
        moved = [(group, fp, now) for group, fp in recorded if (now := self._fingerprint(group)) != fp]
        with self._lock:
            for group, fp, now in moved:
                entry = self._groups.pop(group, None)
                paths.extend(entry[1] if entry is not None else ())
                if now is None and fp is not None:
                    entries.append(("/sys/module", group))  # the module went away
        top = [p[len("/proc/"):] for p in paths if p.startswith("/proc/") and p.count("/") == 2]
        if top:
            listed = self._names("/proc")
            entries.extend(("/proc", name) for name in top if name not in listed)
        # a file sized by its content (/proc's, dmesg) is read by sendfile() up to the size the
        # host holds: its name is dropped, so the next open looks it up and learns the new size
        sized = [(parent or "/", name) for parent, _, name in (p.rpartition("/") for p in paths
                                                                if p.startswith("/proc/") or p == "/dmesg")]
        sized = [e for e in sized if e not in entries]
        if paths or entries or sized:
            self._send(paths, entries, wait, sized)

    def log_changed(self) -> None:
        """A log record was stored: dmesg and /proc/kmsg grew, if the host holds them. Sent
        without waiting (printk runs under the kernel's locks); the system call that printed
        waits for it at its end (changed(): one queue, in order)."""
        with self._lock:
            held = [(d, n) for d, n in LOG_FILES if _join(d, n) in self._volatile]
            paths = [_join(d, n) for d, n in held]
            self._volatile.difference_update(paths)
        if paths:
            self._send(paths, held, wait=False)

    # -- sending ---------------------------------------------------------------------------

    def _send(self, paths: list[str], entries: list[tuple[str, str]], wait: bool,
              sized: list[tuple[str, str]] = ()) -> None:
        done = threading.Event()
        with self._wake:
            if self._thread is None or self._fuse is None:
                return
            self._queue.append((paths, entries, list(sized), done))
            self._wake.notify()
        while wait and not done.wait(sigpending.POLL):
            if sigpending.signal_pending() or sigpending.stopping():
                return  # the notifications go on without this caller

    def _run(self) -> None:
        while True:
            with self._wake:
                while not self._queue:
                    self._wake.wait()
                paths, entries, sized, done = self._queue.pop(0)
            try:
                self._notify(paths, entries, sized)
            except Exception:  # a notification must never take the daemon down
                pass
            finally:
                done.set()

    def _notify(self, paths: list[str], entries: list[tuple[str, str]], sized: list[tuple[str, str]] = ()) -> None:
        """-ENOENT from fuse_invalidate_path: the host holds no inode for the path, or is
        making one from a lookup answered meanwhile; that one is tried again until the inode
        exists (then invalidated, and its name dropped again if it was to be) or the lookup
        is LOOKUP_RACE old."""
        with self._fuse_lock:
            f = self._fuse
            if not f:
                return
            racing = [p for p in paths if _lib.fuse_invalidate_path(f, _encode(p)) == -errno.ENOENT
                      and self._racing(p)]
            session = _lib.fuse_get_session(f)
            # a sized file's name is dropped again only if a lookup of it is being answered now
            # (one answered a moment ago is already in the host: retrying until it is old
            # cost every load 50 ms, since kmod had just read /proc/cmdline)
            for parent, name in sized:
                self._inval_entry(session, parent, name)
                if _join(parent, name) in self._inflight and _join(parent, name) not in racing:
                    racing.append(_join(parent, name))
                    entries.append((parent, name))
            for parent, name in entries:
                path = _join(parent, name)
                # dropped (0): the host had the name, so a lookup answered before has landed
                # (its dentry is what went; one still being made would have found none), and
                # only one being answered now can bring it back. Not found: one answered a
                # moment ago may be making it yet. (Retrying after a drop that worked cost
                # every rmmod 7 ms: kmod's rmmod has just looked its module's directory up.)
                err = self._inval_entry(session, parent, name)
                again = path in self._inflight if err == 0 else self._racing(path)
                if again and path not in racing:
                    racing.append(path)
            names = {_join(parent, name): (parent, name) for parent, name in entries}
            delay, deadline = 0.001, time.monotonic() + 4 * LOOKUP_RACE
            while racing and time.monotonic() < deadline:
                time.sleep(delay)
                delay = min(2 * delay, 0.02)
                still = []
                for path in racing:
                    if _lib.fuse_invalidate_path(f, _encode(path)) == 0:
                        if path in names:
                            self._inval_entry(session, *names[path])
                    elif self._racing(path):
                        still.append(path)
                racing = still

    def _inval_entry(self, session: int, parent: str, name: str) -> int | None:
        """Drop the host's name parent/name: 0 if it had it, -ENOENT if not, None when the
        directory's node ID is not known (nothing could be asked)."""
        raw = _encode(name)
        err = None
        for retry in (False, True):
            nodeid = self._nodeid(parent, fresh=retry)
            if nodeid is None:
                return err
            err = _lib.fuse_lowlevel_notify_inval_entry(session, nodeid, raw, len(raw))
            if err != -errno.ENOENT or not self._nodeid_may_be_stale(parent):
                return err
            # the host may have dropped the directory and libfuse given it a new ID
        return err

    def _nodeid(self, path: str, fresh: bool = False) -> int | None:
        """The node ID of a directory of the mount, asked of the host by a `stat` process: a
        thread of the daemon must never make a request to its own mount, since a kill -9 that
        lands while libfuse holds that request leaves the thread waiting for an answer no one
        will give and the mount dead for good (found by scripts/robustness faults)."""
        if path == "/":
            return FUSE_ROOT_ID
        if not self.mountpoint:
            return None
        if fresh or self._nodeids.get(path) is None and self._nodeid_may_be_stale(path):
            self._nodeid_asked[path] = time.monotonic()
            try:
                r = subprocess.run(["stat", "-c", "%i", self.mountpoint + path], capture_output=True, timeout=5)
                self._nodeids[path] = int(r.stdout) if r.returncode == 0 else None
            except (OSError, ValueError, subprocess.TimeoutExpired):
                self._nodeids[path] = None
        return self._nodeids[path]

    def _nodeid_may_be_stale(self, path: str) -> bool:
        return path != "/" and time.monotonic() - self._nodeid_asked.get(path, 0.0) >= 1.0
