"""`pseudokernel shell`: a shell whose /proc, /sys and /dev are the daemon's.

In a private mount namespace (unshare -m) the mount's proc/, sys/ and dev/ are bound over the
real ones, so plain `lsmod`, `modinfo`, `systool`, `dmesg` and `cat /proc/modules` read
pseudokernel, and `echo x > /dev/mydev; cat /dev/mydev` reach the module's device; the host's
terminal, ptys and shared memory (tty, ptmx, pts, shm, mqueue) are bound back over the places
dev/ keeps for them. `insmod`, `rmmod` and `modprobe` are this package's, which ask the daemon.
"""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

WRAPPED = ("insmod", "rmmod", "modprobe")


def wrapper_dir(mount: Path) -> str:
    """A directory of insmod/rmmod/modprobe scripts that call `pseudokernel --mount ...`."""
    d = tempfile.mkdtemp(prefix="pseudokernel-bin-")
    for tool in WRAPPED:
        path = os.path.join(d, tool)
        with open(path, "w") as f:
            f.write(f"#!/bin/sh\nexec {shlex.quote(sys.executable)} -m pseudokernel --mount {shlex.quote(str(mount))} "
                    f"{tool} \"$@\"\n")
        os.chmod(path, 0o755)
    return d


HOST_DEV = ("tty", "ptmx", "console", "pts", "shm", "mqueue")


def shell_argv(mount: Path, command: list[str], bindir: str) -> list[str]:
    hostdev = shlex.quote(os.path.join(bindir, "hostdev"))
    keep = [f"if [ -e {hostdev}/{n} ]; then mount --bind {hostdev}/{n} /dev/{n}; fi" for n in HOST_DEV]
    setup = " && ".join(
        [
            f"mount --bind {shlex.quote(str(mount / 'proc'))} /proc",
            f"mount --bind {shlex.quote(str(mount / 'sys'))} /sys",
            f"mkdir -p {hostdev}",
            f"mount --rbind /dev {hostdev}",
            f"mount --bind {shlex.quote(str(mount / 'dev'))} /dev",
            *keep,
        ]
    )
    inner = shlex.join(command) if command else 'exec "${SHELL:-/bin/sh}"'
    script = f'{setup} && export PATH={shlex.quote(bindir)}:"$PATH" && {inner}'
    return ["unshare", "--mount", "--propagation", "private", "/bin/sh", "-c", script]


def run_shell(mount: Path, command: list[str]) -> int:
    if not (mount / "proc" / "modules").exists():
        print(f"pseudokernel: no daemon is serving {mount}", file=sys.stderr)
        return 1
    if shutil.which("unshare") is None:
        print("pseudokernel: `unshare` (util-linux) is needed for the shell", file=sys.stderr)
        return 1
    bindir = wrapper_dir(mount)
    try:
        return subprocess.call(shell_argv(mount, command, bindir))
    finally:
        shutil.rmtree(bindir, ignore_errors=True)
