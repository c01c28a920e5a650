"""scripts/robustness on a short budget: the same checks as the documented long runs (no
exception in the daemon, no hung caller, no wrong size, every kill -9 recovered and replayed,
fds and threads back where they were), so a regression shows in CI and not only in a soak."""

from __future__ import annotations

import subprocess
import sys

from realref import ROOT


def robustness(*args: str, timeout: float) -> str:
    r = subprocess.run([sys.executable, str(ROOT / "scripts/robustness"), *args], capture_output=True, text=True,
                       timeout=timeout, cwd=ROOT)
    assert r.returncode == 0 and "findings: none" in r.stdout, r.stdout + r.stderr
    return r.stdout


def test_fuzzing_the_mount_finds_nothing():
    out = robustness("fuzz-mount", "--seconds", "15", "--workers", "3", "--seed", "11", timeout=180)
    assert "daemon exceptions: 0, hung workers: 0, wrong sizes: 0" in out


def test_kill_9_at_random_moments_is_recovered():
    out = robustness("faults", "--rounds", "3", "--seed", "5", timeout=300)
    assert '"rounds": 3, "stale mount cleared": 3, "replayed": 3, "left waiting": 0, "up failed": 0' in out


def test_a_short_soak_returns_to_its_starting_fds_and_threads():
    out = robustness("soak", "--cycles", "120", "--readers", "1", timeout=300)
    assert '"insmod hello: 0": 120' in out and '"modprobe xfs: 0": 3' in out
