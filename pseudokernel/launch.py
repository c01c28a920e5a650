"""Starting a daemon in the background and clearing what a killed one left: the `up` and
`down` side of the daemon's life, run by the CLI (the daemon itself is daemon.py)."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

from .paths import StatePaths, state_paths


def recover_stale_mount(mount: str) -> bool:
    """A mount left behind by a killed daemon: its connection aborted (a thread of the dead
    daemon, or any reader, may still wait on it), then unmounted lazily so `up` can mount
    again. A mount whose daemon still runs is left alone. Nothing here touches the mount itself:
    a stat of a dead daemon's mount can wait for good."""
    from .fs.mount import abort_connection, is_mounted

    if not is_mounted(mount) or daemon_alive(state_paths(mount)):
        return False
    abort_connection(mount)
    subprocess.run(["fusermount3", "-u", "-z", mount], capture_output=True)
    subprocess.run(["umount", "-l", mount], capture_output=True)
    return True


def daemon_alive(paths: StatePaths) -> bool:
    """The daemon of this state directory runs (not gone, not a zombie kept by a stuck thread)."""
    try:
        pid = int(paths.pidfile.read_text())
        with open(f"/proc/{pid}/stat") as f:
            state = f.read().rsplit(")", 1)[1].split()[0]
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            is_ours = b"pseudokernel" in f.read()
    except (OSError, ValueError, IndexError):
        return False
    return is_ours and state not in ("Z", "X")


def start_background(argv: list[str], paths: StatePaths, timeout: float = 60.0) -> tuple[bool, str]:
    """Start `pseudokernel up --foreground ...` detached; wait until it answers as ready."""
    from .client import send_request

    paths.dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    out = open(paths.dir / "daemon.stderr", "ab")
    proc = subprocess.Popen(
        [sys.executable, "-m", "pseudokernel", *argv],
        stdin=subprocess.DEVNULL,
        stdout=out,
        stderr=out,
        start_new_session=True,
        close_fds=True,
    )
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            return False, _tail(paths.dir / "daemon.stderr") or _tail(paths.log)
        try:
            st = send_request(str(paths.socket), {"op": "status"}, timeout=2)
            if st.get("ready"):
                return True, ""
        except (OSError, ConnectionError, ValueError):
            pass
        time.sleep(0.05)
    proc.send_signal(signal.SIGTERM)
    return False, "the daemon did not become ready in time"


def _tail(path: Path, n: int = 20) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-n:])
    except OSError:
        return ""
