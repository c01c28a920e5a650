"""Running `pseudokernel` as a user would, for the tests that drive the daemon and the mount."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path


def pk(*args: str, mount: Path, check: bool = False, input: bytes | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "pseudokernel", "--mount", str(mount), *args],
        capture_output=True,
        input=input,
        check=check,
        timeout=120,
    )


def wait_for(pred, timeout: float = 20.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():
            return True
        time.sleep(0.05)
    return False


def daemon_at(tmp_path: Path, *up_args: str) -> Iterator[tuple[Path, Path]]:
    """A daemon of its own for one test (a fixture body: `yield from daemon_at(tmp_path)`):
    its state, mount and drop folder under tmp_path; down and unmounted afterwards."""
    os.environ["PSEUDOKERNEL_STATE"] = str(tmp_path / "state")
    mount, drop = tmp_path / "mnt", tmp_path / "drop"
    r = pk("up", "--drop", str(drop), *up_args, mount=mount)
    assert r.returncode == 0, r.stderr
    yield mount, drop
    pk("down", mount=mount)
    subprocess.run(["fusermount3", "-u", "-z", str(mount)], capture_output=True)
