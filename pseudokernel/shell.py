"""`pseudokernel shell` and `pseudokernel run -- CMD`: a sealed machine whose kernel is the daemon.

The command runs in a private mount namespace where the mount's proc/, sys/ and dev/ are bound
over the real ones (the host's terminal, ptys and shared memory are bound back over the places
dev/ keeps for them), and /lib/modules holds only the emulated release's tree (modtree.py)
under a writable layer. It carries a seccomp filter (seccomp.py) whose module system calls and
uname the launcher answers through the daemon (bridge.py): the real kmod tools, busybox, sudo or
a program of the user's own load into pseudokernel, never into the host kernel.
"""

from __future__ import annotations

import _signal as signal  # signal.py wraps these in enums: 8 ms of every call
import _thread
import ctypes
import os
import sys

HOST_DEV = ("tty", "ptmx", "console", "pts", "shm", "mqueue")
HOST_PROC = ".host"  # fs/pid.HOST (not imported: every `pseudokernel insmod` starts here)


MS_BIND, MS_REC, MS_PRIVATE = 0x1000, 0x4000, 0x40000


def _mount(source: str | None, target: str, fstype: str | None = None, flags: int = 0, data: str | None = None) -> None:
    from .seccomp import libc

    args = [v.encode() if v is not None else None for v in (source, target, fstype)]
    if libc.mount(*args, ctypes.c_ulong(flags), data.encode() if data is not None else None) != 0:
        e = ctypes.get_errno()
        raise OSError(e, f"mount {source} on {target}: {os.strerror(e)}")


def build_namespace(mount: str, hostdev: str, release: str, layers: tuple[list[str], str, str]) -> None:
    """In the child's new mount namespace: /lib/modules, /proc, /sys and /dev of the sealed
    machine (mount(2) itself: a `mount` process per step cost the launcher 60 ms)."""
    lower, upper, work = layers
    modules = f"/lib/modules/{release}"
    _mount(None, "/", None, MS_REC | MS_PRIVATE)
    os.makedirs("/lib/modules", exist_ok=True)
    _mount("pseudokernel-modules", "/lib/modules", "tmpfs", 0, "mode=755")
    os.mkdir(modules)
    if lower:
        lowerdir = ":".join(lower)
        _mount("pseudokernel-modules", modules, "overlay", 0, f"lowerdir={lowerdir},upperdir={upper},workdir={work}")
    else:
        _mount(upper, modules, None, MS_BIND)
    # the processes are the host's: its procfs under the mount's /proc, where /proc/PID and
    # /proc/self lead (fs/pid.py); bound before the host's /proc is covered
    _mount("/proc", os.path.join(mount, "proc", HOST_PROC), None, MS_BIND | MS_REC)
    _mount(os.path.join(mount, "proc"), "/proc", None, MS_BIND | MS_REC)
    _mount(os.path.join(mount, "sys"), "/sys", None, MS_BIND)
    os.makedirs(hostdev, exist_ok=True)
    _mount("/dev", hostdev, None, MS_BIND | MS_REC)
    _mount(os.path.join(mount, "dev"), "/dev", None, MS_BIND)
    for name in HOST_DEV:
        if os.path.exists(f"{hostdev}/{name}"):
            _mount(f"{hostdev}/{name}", f"/dev/{name}", None, MS_BIND)


CLONE_NEWNS = 0x00020000
CLONE_NEWUSER = 0x10000000


def enter_namespaces() -> None:
    """In the child, before exec: a mount namespace of its own. A user who is not root gets a
    user namespace too, where it is root of the sealed machine (uid 0 mapped to itself): that is
    what lets it mount there, and what the bridge counts as CAP_SYS_MODULE."""
    from .seccomp import libc

    uid, gid = os.geteuid(), os.getegid()
    flags = CLONE_NEWNS | (CLONE_NEWUSER if uid != 0 else 0)
    if libc.unshare(flags) != 0:
        import ctypes

        raise OSError(ctypes.get_errno(), "unshare")
    if uid != 0:
        for name, text in (("setgroups", "deny"), ("uid_map", f"0 {uid} 1"), ("gid_map", f"0 {gid} 1")):
            with open(f"/proc/self/{name}", "w") as f:
                f.write(text)


def run_sealed(mount: str | os.PathLike, command: list[str], trace: str | None = None,
               gdb: int | None = None) -> int:
    """Run `command` (a shell if empty) sealed; its exit status, or the launcher dies of the
    signal that killed it. Every `pseudokernel insmod` pays for this function's imports: fork
    and _socket, not subprocess and socket (which import selectors, enum ... ~10 ms)."""
    import _socket

    from . import seccomp
    from .bridge import Bridge, Uts
    from .modtree import layers
    from .paths import state_dir

    mount = os.fspath(mount)
    if not os.path.exists(os.path.join(mount, "proc", "modules")):
        print(f"pseudokernel: no daemon is serving {mount}", file=sys.stderr)
        return 1
    uts = Uts.of_mount(mount)
    release = uts.fields[2]
    state = state_dir(mount)
    hostdev = os.path.join(state, "shell", f"hostdev.{os.getpid()}")
    tree = layers(release, state)
    argv = command or [os.environ.get("SHELL") or "/bin/sh"]
    ours, theirs = _socket.socketpair(_socket.AF_UNIX, _socket.SOCK_STREAM)
    unblocked = signal.pthread_sigmask(signal.SIG_BLOCK, RELAYED | {signal.SIGCHLD})
    try:
        pid = os.fork()
        if pid == 0:  # the child: never returns
            ours.close()
            _child(theirs, unblocked, lambda: build_namespace(mount, hostdev, release, tree), argv)
        theirs.close()
        try:
            listener, why = seccomp.receive_listener(ours)
        finally:
            ours.close()
        if listener is None:
            _, status = os.waitpid(pid, 0)
            print(f"pseudokernel: cannot start the sealed command: {why}", file=sys.stderr)
            return os.waitstatus_to_exitcode(status)
        try:
            userns = os.stat(f"/proc/{pid}/ns/user").st_ino
        except OSError:  # the command is over already; nothing will ask
            userns = 0
        bridge = Bridge(mount, listener, uts, userns, trace, gdb)
        done = _thread.allocate_lock()
        done.acquire()
        _thread.start_new_thread(_serve, (bridge, done))
        try:
            status = _wait_relaying(pid)
        finally:
            bridge.stop()
            # the command is gone: the launcher goes too, whatever the bridge is doing (a
            # thread of it may wait for the daemon, e.g. on gdb, for as long as we live)
            if done.acquire(timeout=2.0):
                bridge.close()
                os.close(listener)
            try:
                os.rmdir(hostdev)
            except OSError:
                pass
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, unblocked)
    if status < 0:  # killed: so dies the launcher, as the command's caller expects of it
        if -status not in (signal.SIGKILL, signal.SIGSTOP):
            signal.signal(-status, signal.SIG_DFL)
        os.kill(os.getpid(), -status)
        return 128 - status
    return status


def _child(sock, mask, build, argv: list[str]) -> None:
    """After fork: namespaces, the filter, exec. What fails is told over the socket (after the
    listener, an exec error) and the child exits 127 as a shell's command not found does."""
    from . import seccomp

    code = 127
    try:
        signal.pthread_sigmask(signal.SIG_SETMASK, mask)
        # Python ignores SIGPIPE and SIGXFSZ; a command inherits what the caller's shell gave
        # pseudokernel, the defaults (`yes | head` ends yes by SIGPIPE, as subprocess's
        # restore_signals does)
        for sig in (signal.SIGPIPE, signal.SIGXFSZ):
            signal.signal(sig, signal.SIG_DFL)
        enter_namespaces()
        build()
        seccomp.install(sock)
        os.execvp(argv[0], argv)  # the socket is close-on-exec: the launcher reads its end
    except OSError as e:
        try:
            sock.send(f"{argv[0]}: {e.strerror or e}".encode() if e.filename is None else
                      f"{e.filename}: {e.strerror}".encode())
        except OSError:
            pass
        code = 127 if e.errno in (2, 13) else 1
    finally:
        os._exit(code)


def _serve(bridge, done) -> None:
    try:
        bridge.serve()
    finally:
        done.release()


RELAYED = {signal.SIGINT, signal.SIGTERM, signal.SIGQUIT, signal.SIGHUP}
SI_KERNEL = 0x80


def _wait_relaying(pid: int) -> int:
    """Wait for the command; pass on what a process sent the launcher (kill, a CI runner's
    SIGTERM). What the terminal sent (Ctrl-C, ^\\) reached the command already: its whole
    foreground group got it. Returns the exit status, or -N when signal N killed it."""
    while True:
        info = signal.sigwaitinfo(RELAYED | {signal.SIGCHLD})
        if info.si_signo == signal.SIGCHLD:
            done, status = os.waitpid(pid, os.WNOHANG)
            if done:
                return os.waitstatus_to_exitcode(status)
        elif info.si_code != SI_KERNEL:
            try:
                os.kill(pid, info.si_signo)
            except ProcessLookupError:
                pass
