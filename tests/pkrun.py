"""Running `pseudokernel` as a user would, for the tests that drive the daemon and the mount."""

from __future__ import annotations

import subprocess
import sys
import time
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
