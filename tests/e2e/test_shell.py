"""The shell-script testing kit (scripts/pk.sh) and `pseudokernel shell`."""

from __future__ import annotations

import os
import subprocess

import pytest
from pkrun import pk
from realref import PREBUILT, ROOT

pytestmark = pytest.mark.skipif(not os.path.exists("/dev/fuse"), reason="needs /dev/fuse")


@pytest.mark.parametrize("script", sorted(p.name for p in (ROOT / "tests" / "shell").glob("*.t")))
def test_tap_examples_pass(script, tmp_path):
    env = dict(os.environ, PSEUDOKERNEL_STATE=str(tmp_path / "state"))
    env.pop("PSEUDOKERNEL_MOUNT", None)
    env.pop("PK", None)
    r = subprocess.run(["sh", str(ROOT / "tests" / "shell" / script)], capture_output=True, text=True, env=env,
                       timeout=300)
    lines = r.stdout.splitlines()
    plan = int(lines[0].split("..")[1])
    assert [line.split(" - ")[0] for line in lines[1:]] == [f"ok {i}" for i in range(1, plan + 1)], r.stdout
    assert r.returncode == 0


@pytest.mark.skipif(os.geteuid() != 0, reason="unshare -m needs root")
def test_shell_sees_pseudokernel_as_proc_and_sys(tmp_path):
    mount = tmp_path / "mnt"
    os.environ["PSEUDOKERNEL_STATE"] = str(tmp_path / "state")
    assert pk("up", "--drop", str(tmp_path / "drop"), mount=mount).returncode == 0
    try:
        r = pk("shell", "sh", "-c", f"insmod {PREBUILT}/hello.ko && cat /proc/modules && lsmod && "
               "cat /sys/module/hello/initstate && dmesg | tail -1", mount=mount)
        out = r.stdout.decode()
        assert r.returncode == 0, r.stderr
        assert out.startswith("hello 16384 0 - Live 0x")
        assert "Module                  Size  Used by\nhello                  16384  0\n" in out
        assert "live\n" in out and out.rstrip().endswith("hello: hello world (1 of 1)")
    finally:
        pk("down", mount=mount)
