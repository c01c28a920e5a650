"""The module system calls of sealed processes, answered by the daemon; uname by the profile.

The launcher of `pseudokernel shell` and `pseudokernel run` holds the seccomp listener of the
processes it started (seccomp.py). For each call it does what the system call does before
load_module() or delete_module() begin: may_init_module()'s capability check, fdget() of the
caller's own file (pidfd_getfd: the same open file, so the daemon's ETXTBSY and EBADF are the
kernel's), copy_module_from_user() and strndup_user() from the caller's memory; then it asks
the daemon as `pseudokernel insmod` does and the caller's call returns the daemon's answer.
Any program can make the call (kmod's tools of whatever version, busybox, a static binary):
kmod's work (finding, decompressing, ordering dependencies) stays kmod's.
"""

from __future__ import annotations

import ctypes
import errno
import os
import select
import sys

from . import process_vm, rawioctl, seccomp
from .client import NoDaemon, request
from .paths import socket_path
from .workers import Workers

CAP_SYS_MODULE = 16
CAP_SYS_ADMIN = 21
CAP_SYSLOG = 34
CAP_MKNOD = 27
AT_FDCWD = -100
PATH_MAX = 4096
S_IFMT, S_IFCHR = 0o170000, 0o020000
CONTINUE = object()  # a handler's answer: the call goes on to the host kernel as it was
KMALLOC_MAX_SIZE = 1 << 22  # SLUB's largest kmalloc() on x86-64 (order-10 pages)
ARGS_INLINE = 16 << 10  # module parameters longer than this travel in a memfd, not the JSON
SYSLOG_CLOSE, SYSLOG_OPEN, SYSLOG_READ, SYSLOG_READ_ALL, SYSLOG_READ_CLEAR, SYSLOG_SIZE_BUFFER = 0, 1, 2, 3, 4, 10
MODULE_NAME_LEN = 56
NEW_UTS_LEN = 65
OLD_UTS_LEN = 9
SYS_PIDFD_OPEN = 434
SYS_PIDFD_GETFD = 438
# the calls answered on the serving thread itself: a copy to the caller's memory, nothing that
# waits (every other call may wait for the daemon, and gets a thread of its own)
INSTANT = frozenset({"uname", "olduname", "oldolduname"})


class Uts:
    """What uname(2) tells a sealed process: the emulated kernel's release, version and machine;
    the host's node and domain names (the shell shares the host's UTS namespace)."""

    def __init__(self, release: str, version: str, machine: str = "x86_64") -> None:
        host = os.uname()
        try:
            with open("/proc/sys/kernel/domainname") as f:
                domain = f.read().strip()
        except OSError:
            domain = "(none)"
        self.fields = ["Linux", host.nodename, release, version, machine, domain]

    @classmethod
    def of_mount(cls, mount: str) -> Uts:
        def read(name: str) -> str:
            with open(os.path.join(mount, "proc", "sys", "kernel", name)) as f:
                return f.read().rstrip("\n")

        return cls(read("osrelease"), read("version"))

    def struct(self, call: str) -> bytes:
        """struct new_utsname, old_utsname (no domainname) or oldold_utsname (9-byte fields)."""
        width, count = {"uname": (NEW_UTS_LEN, 6), "olduname": (NEW_UTS_LEN, 5)}.get(call, (OLD_UTS_LEN, 5))
        return b"".join(f.encode()[: width - 1].ljust(width, b"\0") for f in self.fields[:count])


class Caller:
    """The process that made the call: its memory, its credentials, its files."""

    def __init__(self, n: seccomp.Notification) -> None:
        self.pid = n.pid
        self.mask = 0xFFFFFFFF if n.compat else (1 << 64) - 1

    def capable(self, userns: int, cap: int = 16) -> bool:
        """capable(CAP_SYS_MODULE) in the sealed machine's user namespace (the launcher's, or the
        one it made for a user who is not root): a process that gained the capability in a user
        namespace of its own does not have it."""
        try:
            if os.stat(f"/proc/{self.pid}/ns/user").st_ino != userns:
                return False
        except OSError:
            return False
        return bool(_effective_caps(self.pid) >> cap & 1)

    def read(self, addr: int, size: int) -> bytes:
        """copy_from_user(): EFAULT when any byte cannot be read. process_vm_readv, not
        /proc/PID/mem: the latter forces its way past page protections, the kernel's copy does
        not."""
        out = bytearray()
        while len(out) < size:
            chunk = process_vm.read(self.pid, (addr + len(out)) & self.mask, min(1 << 20, size - len(out)))
            if not chunk:
                raise OSError(errno.EFAULT, "bad address")
            out += chunk
        return bytes(out)

    def read_into(self, fd: int, addr: int, size: int) -> None:
        """copy_chunked_from_user() into a file: a module image can be large."""
        done = 0
        while done < size:
            n = min(1 << 22, size - done)
            os.write(fd, self.read(addr + done, n))
            done += n

    def string(self, addr: int, limit: int) -> bytes:
        """strncpy_from_user(): up to the NUL or `limit` bytes, a page at a time (a string that
        ends before an unmapped page is fine)."""
        if not addr & self.mask:
            raise OSError(errno.EFAULT, "NULL")
        return process_vm.read_cstr(self.read, addr & self.mask, limit)

    def write(self, addr: int, data: bytes) -> None:
        """copy_to_user(): EFAULT where the caller's memory is not writable (a read-only page
        too: process_vm_writev honours the protections, as the kernel's copy does)."""
        if process_vm.write(self.pid, addr & self.mask, data) != len(data):
            raise OSError(errno.EFAULT, "bad address")

    def umask(self) -> int:
        """The process's umask, which a node it makes loses (do_mknodat())."""
        try:
            with open(f"/proc/{self.pid}/status") as f:
                return next(int(line.split()[1], 8) for line in f if line.startswith("Umask:"))
        except (OSError, StopIteration, ValueError):
            return 0o022

    def file(self, fd: int) -> int:
        """fdget(): our own reference to the caller's open file (EBADF if it has none)."""
        pidfd = libc_syscall(SYS_PIDFD_OPEN, self.pid, 0)
        try:
            return libc_syscall(SYS_PIDFD_GETFD, pidfd, fd & 0xFFFFFFFF, 0)
        finally:
            os.close(pidfd)


class _CapHeader(ctypes.Structure):
    _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]


class _CapData(ctypes.Structure):
    _fields_ = [("effective", ctypes.c_uint32), ("permitted", ctypes.c_uint32), ("inheritable", ctypes.c_uint32)]


_LINUX_CAPABILITY_VERSION_3 = 0x20080522


def _effective_caps(pid: int) -> int:
    """The task's effective capabilities, what /proc/PID/status shows as CapEff, by capget(2):
    one system call where the status file costs the kernel its whole rendering and us a text
    parse (0.25 ms of every load). 0 when the task is gone."""
    head = _CapHeader(_LINUX_CAPABILITY_VERSION_3, pid)
    data = (_CapData * 2)()
    if seccomp.libc.capget(ctypes.byref(head), data) != 0:
        return 0
    return data[0].effective | data[1].effective << 32


def libc_syscall(nr: int, *args: int) -> int:
    r = seccomp.libc.syscall(ctypes.c_long(nr), *(ctypes.c_long(a) for a in args))
    if r < 0:
        e = ctypes.get_errno()
        raise OSError(e, os.strerror(e))
    return r


class Bridge:
    """Answers the listener's notifications until every sealed process is gone or stop()."""

    def __init__(self, mount: str, listener: int, uts: Uts, userns: int, trace: str | None = None,
                 gdb: int | None = None) -> None:
        self.mount = mount
        self._sock = socket_path(mount)  # the daemon's for this mount, for the launcher's life
        self.userns = userns
        self.trace = trace  # None, "text" or "json": each load's steps, on standard error
        self.gdb = gdb  # a port: each load's init waits for gdb there (gdbstub.py)
        self._syslog: dict | None = None  # the log's size and dmesg_restrict, asked once
        self.listener = listener
        self.uts = uts
        self._stop_r, self._stop_w = os.pipe()
        self.answered: list[str] = []  # the calls answered, in order (the tests look)
        self._workers = Workers()  # each call that may wait on a thread of its own

    def stop(self) -> None:
        """End serve() (the launcher's command has finished); close() once it has returned."""
        os.write(self._stop_w, b"x")

    def close(self) -> None:
        for fd in (self._stop_r, self._stop_w):
            os.close(fd)

    def serve(self) -> None:
        poller = select.poll()
        poller.register(self.listener, select.POLLIN)
        poller.register(self._stop_r, select.POLLIN)
        while True:
            events = dict(poller.poll())
            if self._stop_r in events:
                return
            ev = events.get(self.listener, 0)
            if ev & select.POLLIN:
                try:
                    n = seccomp.receive(self.listener)
                except OSError:  # the listener is broken: the calls still waiting fail with ENOSYS
                    return
                if n is None:
                    continue
                if n.name in INSTANT:  # never waits: a thread's start would cost more than it
                    self.answer(n)
                else:
                    self._workers.submit(self.answer, n)
            elif ev & (select.POLLHUP | select.POLLERR):
                return  # no process carries the filter any more

    def answer(self, n: seccomp.Notification) -> None:
        """One call: its answer, never an exception (a broken call must not stop the bridge)."""
        caller = Caller(n)
        cont = False
        try:
            value = getattr(self, n.name)(n, caller)
            err = 0
            if value is CONTINUE:
                value, cont = 0, True
        except OSError as e:
            value, err = -1, e.errno or errno.EIO
        except NoDaemon:
            value, err = -1, errno.ENOSYS  # no kernel behind the seal: as if the call did not exist
        except Exception:  # noqa: BLE001 - a bug of ours: the caller gets an error, not a hang
            value, err = -1, errno.EIO
        self.answered.append(n.name)
        seccomp.respond(self.listener, n, value, err, cont)

    def _request(self, msg: dict, fds: list[int] = ()) -> dict:
        return request(self.mount, msg, fds, sock=self._sock)

    def _checked(self, n: seccomp.Notification) -> None:
        """What was read by pid belongs to the caller that asked (the pid was not reused)."""
        if not seccomp.still_waiting(self.listener, n):
            raise OSError(errno.ESRCH, "the caller is gone")

    def _load(self, n: seccomp.Notification, caller: Caller, fd: int, uargs: int, flags: int, image: bool) -> int:
        # strndup_user(uargs, ~0UL >> 1): any length memdup_user() can kmalloc(); load_module()
        # fails where it copies them, EFAULT for a bad pointer, ENOMEM for a longer string
        args: str | int | None
        try:
            raw = caller.string(uargs, KMALLOC_MAX_SIZE)
            args = raw.decode("utf-8", "surrogateescape") if len(raw) < KMALLOC_MAX_SIZE else errno.ENOMEM
        except OSError:
            args = None
        self._checked(n)
        msg = {"op": "insmod", "args": args, "flags": flags, "init_module": image,
               "filename": _fd_path(fd) if not image else "", "trace": bool(self.trace)}
        if self.gdb is not None:
            msg["gdb"] = self.gdb
        msg["pid"] = os.getpid()  # a wait for gdb (insmod --gdb, up --gdb) lasts as long as we do
        fds = [fd]
        if isinstance(args, str) and len(args) > ARGS_INLINE:  # past the request's size: a memfd
            fds.append(os.memfd_create("uargs"))
            os.write(fds[1], raw)
            msg.update(args="", args_fd=True)
        try:
            reply = self._request(msg, fds)
        finally:
            for extra in fds[1:]:
                os.close(extra)
        if self.trace and "trace" in reply:
            self._print_trace(reply["trace"])
        if reply.get("signal") and seccomp.still_waiting(self.listener, n):
            os.kill(n.pid, reply["signal"])  # the oops ended the task inside its system call
        return _result(reply)

    def _print_trace(self, steps: list[dict]) -> None:
        import json

        from .print_trace import format_trace

        text = json.dumps(steps) + "\n" if self.trace == "json" else format_trace(steps)
        sys.stderr.write(text)
        sys.stderr.flush()

    def finit_module(self, n: seccomp.Notification, caller: Caller) -> int:
        fd_arg, uargs, flags = n.args[0], n.args[1], n.args[2] & 0xFFFFFFFF
        if not caller.capable(self.userns):
            raise OSError(errno.EPERM, "CAP_SYS_MODULE")
        if flags & ~7:
            raise OSError(errno.EINVAL, "flags")
        fd = caller.file(fd_arg)
        try:
            return self._load(n, caller, fd, uargs, flags, image=False)
        finally:
            os.close(fd)

    def init_module(self, n: seccomp.Notification, caller: Caller) -> int:
        umod, size, uargs = n.args[0], n.args[1] & caller.mask, n.args[2]
        if not caller.capable(self.userns):
            raise OSError(errno.EPERM, "CAP_SYS_MODULE")
        if size < 64:
            raise OSError(errno.ENOEXEC, "shorter than an ELF header")
        if size > os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE"):
            raise OSError(errno.ENOMEM, "vmalloc")
        fd = os.memfd_create("init_module")
        try:
            caller.read_into(fd, umod, size)
            return self._load(n, caller, fd, uargs, 0, image=True)
        finally:
            os.close(fd)

    def delete_module(self, n: seccomp.Notification, caller: Caller) -> int:
        if not caller.capable(self.userns):
            raise OSError(errno.EPERM, "CAP_SYS_MODULE")
        name = caller.string(n.args[0], MODULE_NAME_LEN - 1).decode("utf-8", "surrogateescape")
        self._checked(n)
        return _result(self._request({"op": "rmmod", "name": name, "flags": n.args[1] & 0xFFFFFFFF}))

    def syslog(self, n: seccomp.Notification, caller: Caller) -> int:
        """do_syslog(): the emulated kernel's log for `dmesg -S`, `-c`, `-C`, `-n` and busybox
        dmesg, not the host's, after check_syslog_permissions(); the daemon does the rest
        (syslog.py; the destructive read is not emulated: ENOSYS)."""
        kind, buf, size = _s32(n.args[0]), n.args[1] & caller.mask, _s32(n.args[2])
        if self._syslog is None:
            self._syslog = self._request({"op": "status"}).get("syslog") or {}
        restricted = self._syslog.get("dmesg_restrict", 1) or kind not in (SYSLOG_READ_ALL, SYSLOG_SIZE_BUFFER)
        if restricted and not (caller.capable(self.userns, CAP_SYSLOG) or caller.capable(self.userns, CAP_SYS_ADMIN)):
            raise OSError(errno.EPERM, "syslog")
        if not 0 <= kind <= SYSLOG_SIZE_BUFFER:
            raise OSError(errno.EINVAL, "syslog")
        if kind in (SYSLOG_CLOSE, SYSLOG_OPEN):
            return 0
        if kind == SYSLOG_SIZE_BUFFER:
            return int(self._syslog.get("log_buf_len", 0))
        if kind in (SYSLOG_READ, SYSLOG_READ_ALL, SYSLOG_READ_CLEAR) and (not buf or size < 0):
            raise OSError(errno.EINVAL, "syslog")
        self._checked(n)
        reply = self._request({"op": "syslog", "action": kind, "size": size})
        _result(reply)
        data = str(reply.get("data", "")).encode("latin-1")
        if data:
            caller.write(buf, data)
        return int(reply.get("ret", 0))

    def mknodat(self, n: seccomp.Notification, caller: Caller) -> int | object:
        """A character node made in /dev, the mount's dev/: the daemon keeps it (devtmpfs.py),
        since FUSE cannot make one (the host wants a device inode back). Any other node, or
        one elsewhere, is the host kernel's to make (CONTINUE)."""
        dirfd, path, mode, dev = (AT_FDCWD, *n.args[:3]) if n.name == "mknod" else n.args[:4]
        name = caller.string(path, PATH_MAX).decode("utf-8", "surrogateescape")
        if mode & S_IFMT != S_IFCHR:
            return CONTINUE
        if not name.startswith("/"):
            where = "cwd" if _s32(dirfd) == AT_FDCWD else f"fd/{_s32(dirfd)}"
            try:
                name = os.path.join(os.readlink(f"/proc/{caller.pid}/{where}"), name)
            except OSError:
                return CONTINUE
        name = os.path.normpath(name)
        if os.path.dirname(name) != "/dev":
            return CONTINUE
        if not caller.capable(self.userns, CAP_MKNOD):
            raise OSError(errno.EPERM, "CAP_MKNOD")
        umask = caller.umask()
        self._checked(n)
        devt = (os.major(dev & 0xFFFFFFFF) << 20) | os.minor(dev & 0xFFFFFFFF)
        return _result(self._request({"op": "mknod", "name": os.path.basename(name), "devt": devt,
                                      "mode": mode & 0o7777 & ~umask}))

    mknod = mknodat

    def ioctl(self, n: seccomp.Notification, caller: Caller) -> int | object:
        """An ioctl whose command has an _IOC size and whose argument is below mmap_min_addr
        (the filter lets the others by: their argument is a pointer, which FUSE copies) on one
        of the mount's files, with an argument that is not memory of the caller's: made here as
        rawioctl.RAW_IOCTL on our copy of the file, so the module gets the number, where the
        host's FUSE would fail with EFAULT copying from it. A readable argument, or any other
        file, goes on to the host kernel as it was (CONTINUE)."""
        fd, cmd, arg = _s32(n.args[0]), n.args[1] & 0xFFFFFFFF, n.args[2] & caller.mask
        try:
            caller.read(arg, (cmd >> 16) & 0x3FFF)
            return CONTINUE
        except OSError:
            pass
        try:
            f = caller.file(fd)
        except OSError:
            return CONTINUE  # no such file: the host's EBADF
        try:
            try:
                if os.fstat(f).st_dev != os.stat(self.mount).st_dev:
                    return CONTINUE
            except OSError:
                return CONTINUE  # the daemon went away meanwhile: the host answers as for any file
            self._checked(n)
            buf = ctypes.create_string_buffer(rawioctl.pack(cmd, arg), rawioctl.REQUEST.size)
            ret = seccomp.libc.ioctl(f, ctypes.c_ulong(rawioctl.RAW_IOCTL), buf)
            if ret < 0:
                e = ctypes.get_errno()
                raise OSError(e, os.strerror(e))
            return ret
        finally:
            os.close(f)

    def uname(self, n: seccomp.Notification, caller: Caller) -> int:
        caller.write(n.args[0], self.uts.struct(n.name))
        return 0

    olduname = oldolduname = uname


def _s32(v: int) -> int:
    """An int argument of the call (the register's low 32 bits, signed)."""
    v &= 0xFFFFFFFF
    return v - (1 << 32) if v & 0x80000000 else v


def _result(reply: dict) -> int:
    e = int(reply.get("errno") or 0)
    if e:
        raise OSError(e, os.strerror(e))
    return 0


def _fd_path(fd: int) -> str:
    """The path of the file the caller gave (our copy of its fd is the same open file)."""
    try:
        return os.readlink(f"/proc/self/fd/{fd}")
    except OSError:
        return ""
