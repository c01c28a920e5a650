"""`pseudokernel shell` and `pseudokernel run -- CMD`: a sealed machine whose kernel is the daemon.

The command runs in a private mount namespace where the mount's proc/, sys/ and dev/ are bound
over the real ones (the host's terminal, ptys and shared memory are bound back over the places
dev/ keeps for them), and /lib/modules holds only the emulated release's tree (modtree.py)
under a writable layer. It carries a seccomp filter (seccomp.py) whose module system calls and
uname the launcher answers through the daemon (bridge.py): the real kmod tools, busybox, sudo or
a program of the user's own load into pseudokernel, never into the host kernel.
"""

from __future__ import annotations

import os
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import threading
from pathlib import Path

HOST_DEV = ("tty", "ptmx", "console", "pts", "shm", "mqueue")


def namespace_setup(mount: Path, hostdev: str, release: str, layers: tuple[list[Path], Path, Path]) -> str:
    """The shell commands run first in the new mount namespace."""
    q = shlex.quote
    lower, upper, work = layers
    modules = f"/lib/modules/{release}"
    if lower:
        opts = f"lowerdir={':'.join(str(p) for p in lower)},upperdir={upper},workdir={work}"
        tree = f"mount -t overlay pseudokernel-modules -o {q(opts)} {q(modules)}"
    else:
        tree = f"mount --bind {q(str(upper))} {q(modules)}"
    keep = [f"if [ -e {q(hostdev)}/{n} ]; then mount --bind {q(hostdev)}/{n} /dev/{n}; fi" for n in HOST_DEV]
    return " && ".join(
        [
            "mkdir -p /lib/modules",
            "mount -t tmpfs -o mode=755 pseudokernel-modules /lib/modules",
            f"mkdir {q(modules)}",
            tree,
            f"mount --bind {q(str(mount / 'proc'))} /proc",
            f"mount --bind {q(str(mount / 'sys'))} /sys",
            f"mkdir -p {q(hostdev)}",
            f"mount --rbind /dev {q(hostdev)}",
            f"mount --bind {q(str(mount / 'dev'))} /dev",
            *keep,
        ]
    )


def shell_argv(setup: str, command: list[str]) -> list[str]:
    inner = 'exec "$@"' if command else 'exec "${SHELL:-/bin/sh}"'
    return ["unshare", "--mount", "--propagation", "private", "/bin/sh", "-c", f"{setup} && {inner}", "sh", *command]


def run_sealed(mount: Path, command: list[str]) -> int:
    """Run `command` (a shell if empty) sealed; its exit status (128+N if killed by signal N)."""
    from . import seccomp
    from .bridge import Bridge, Uts
    from .modtree import layers
    from .paths import state_paths

    if not (mount / "proc" / "modules").exists():
        print(f"pseudokernel: no daemon is serving {mount}", file=sys.stderr)
        return 1
    if shutil.which("unshare") is None:
        print("pseudokernel: `unshare` (util-linux) is needed for the shell", file=sys.stderr)
        return 1
    uts = Uts.of_mount(str(mount))
    release = uts.fields[2]
    scratch = state_paths(mount).dir / "shell"
    hostdev = str(scratch / f"hostdev.{os.getpid()}")
    setup = namespace_setup(mount, hostdev, release, layers(release, state_paths(mount).dir))
    ours, theirs = socket.socketpair()
    try:
        child = subprocess.Popen(shell_argv(setup, command), preexec_fn=lambda: seccomp.install(theirs.fileno()))
    except (OSError, subprocess.SubprocessError) as e:
        print(f"pseudokernel: cannot start the sealed command: {e}", file=sys.stderr)
        return 1
    finally:
        theirs.close()
    try:
        listener = seccomp.receive_listener(ours)
    finally:
        ours.close()
    bridge = Bridge(str(mount), listener, uts)
    serving = threading.Thread(target=bridge.serve, daemon=True)
    serving.start()
    # the terminal's ^C and ^\ are the command's: the launcher waits for it to finish
    old = [signal.signal(s, signal.SIG_IGN) for s in (signal.SIGINT, signal.SIGQUIT)]
    try:
        status = child.wait()
    finally:
        signal.signal(signal.SIGINT, old[0])
        signal.signal(signal.SIGQUIT, old[1])
        bridge.stop()
        serving.join()
        bridge.close()
        os.close(listener)
        try:
            os.rmdir(hostdev)
        except OSError:
            pass
    return 128 - status if status < 0 else status
