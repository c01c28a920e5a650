"""`pseudokernel shell` and `pseudokernel run -- CMD`: a sealed machine whose kernel is the daemon.

The command runs in a private mount namespace where the mount's proc/, sys/ and dev/ are bound
over the real ones (the host's terminal, ptys and shared memory are bound back over the places
dev/ keeps for them), and /lib/modules holds only the emulated release's tree (modtree.py)
under a writable layer. It carries a seccomp filter (seccomp.py) whose module system calls and
uname the launcher answers through the daemon (bridge.py): the real kmod tools, busybox, sudo or
a program of the user's own load into pseudokernel, never into the host kernel.
"""

from __future__ import annotations

import ctypes
import os
import signal
import socket
import subprocess
import sys
import threading
from pathlib import Path

HOST_DEV = ("tty", "ptmx", "console", "pts", "shm", "mqueue")


MS_BIND, MS_REC, MS_PRIVATE = 0x1000, 0x4000, 0x40000


def _mount(source: str | None, target: str, fstype: str | None = None, flags: int = 0, data: str | None = None) -> None:
    from .seccomp import libc

    args = [v.encode() if v is not None else None for v in (source, target, fstype)]
    if libc.mount(*args, ctypes.c_ulong(flags), data.encode() if data is not None else None) != 0:
        e = ctypes.get_errno()
        raise OSError(e, f"mount {source} on {target}: {os.strerror(e)}")


def build_namespace(mount: Path, hostdev: str, release: str, layers: tuple[list[Path], Path, Path]) -> None:
    """In the child's new mount namespace: /lib/modules, /proc, /sys and /dev of the sealed
    machine (mount(2) itself: a `mount` process per step cost the launcher 60 ms)."""
    lower, upper, work = layers
    modules = f"/lib/modules/{release}"
    _mount(None, "/", None, MS_REC | MS_PRIVATE)
    os.makedirs("/lib/modules", exist_ok=True)
    _mount("pseudokernel-modules", "/lib/modules", "tmpfs", 0, "mode=755")
    os.mkdir(modules)
    if lower:
        lowerdir = ":".join(str(p) for p in lower)
        _mount("pseudokernel-modules", modules, "overlay", 0, f"lowerdir={lowerdir},upperdir={upper},workdir={work}")
    else:
        _mount(str(upper), modules, None, MS_BIND)
    _mount(str(mount / "proc"), "/proc", None, MS_BIND)
    _mount(str(mount / "sys"), "/sys", None, MS_BIND)
    os.makedirs(hostdev, exist_ok=True)
    _mount("/dev", hostdev, None, MS_BIND | MS_REC)
    _mount(str(mount / "dev"), "/dev", None, MS_BIND)
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


def run_sealed(mount: Path, command: list[str]) -> int:
    """Run `command` (a shell if empty) sealed; its exit status (128+N if killed by signal N)."""
    from . import seccomp
    from .bridge import Bridge, Uts
    from .modtree import layers
    from .paths import state_paths

    if not (mount / "proc" / "modules").exists():
        print(f"pseudokernel: no daemon is serving {mount}", file=sys.stderr)
        return 1
    uts = Uts.of_mount(str(mount))
    release = uts.fields[2]
    scratch = state_paths(mount).dir / "shell"
    hostdev = str(scratch / f"hostdev.{os.getpid()}")
    tree = layers(release, state_paths(mount).dir)
    ours, theirs = socket.socketpair()
    unblocked = signal.pthread_sigmask(signal.SIG_BLOCK, RELAYED | {signal.SIGCHLD})

    def in_child() -> None:
        try:
            signal.pthread_sigmask(signal.SIG_SETMASK, unblocked)
            enter_namespaces()
            build_namespace(mount, hostdev, release, tree)
            seccomp.install(theirs.fileno())
        except OSError as e:
            theirs.send(f"{e.strerror or e}".encode())
            raise

    argv = command or [os.environ.get("SHELL") or "/bin/sh"]
    try:
        try:
            child = subprocess.Popen(argv, preexec_fn=in_child)
        except (OSError, subprocess.SubprocessError) as e:
            ours.setblocking(False)
            try:
                why = ours.recv(4096).decode(errors="replace")
            except BlockingIOError:
                why = ""
            if why in ("", "L"):  # the seal was on: exec itself failed
                why = str(e)
            print(f"pseudokernel: cannot start the sealed command: {why}", file=sys.stderr)
            return 127 if isinstance(e, FileNotFoundError) else 1
        finally:
            theirs.close()
        try:
            listener = seccomp.receive_listener(ours)
        finally:
            ours.close()
        try:
            userns = os.stat(f"/proc/{child.pid}/ns/user").st_ino
        except OSError:  # the command is over already; nothing will ask
            userns = 0
        bridge = Bridge(str(mount), listener, uts, userns)
        serving = threading.Thread(target=bridge.serve, daemon=True)
        serving.start()
        try:
            status = _wait_relaying(child)
        finally:
            bridge.stop()
            serving.join()
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


RELAYED = {signal.SIGINT, signal.SIGTERM, signal.SIGQUIT, signal.SIGHUP}


def _wait_relaying(child: subprocess.Popen) -> int:
    """Wait for the command; pass on what a process sent the launcher (kill, a CI runner's
    SIGTERM). What the terminal sent (Ctrl-C, ^\\) reached the command already: its whole
    foreground group got it."""
    while True:
        info = signal.sigwaitinfo(RELAYED | {signal.SIGCHLD})
        if info.si_signo == signal.SIGCHLD:
            status = child.poll()
            if status is not None:
                return status
        elif info.si_code != SI_KERNEL:
            try:
                os.kill(child.pid, info.si_signo)
            except ProcessLookupError:
                pass


SI_KERNEL = 0x80
