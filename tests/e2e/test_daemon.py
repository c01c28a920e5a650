"""The daemon's life: up/down, SIGTERM, kill -9 and the stale mount it leaves, two daemons."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time

import pytest
from pkrun import pk, wait_for
from realref import PREBUILT

from pseudokernel.fs.mount import is_mounted

pytestmark = pytest.mark.skipif(not os.path.exists("/dev/fuse"), reason="needs /dev/fuse")


@pytest.fixture(autouse=True)
def state(tmp_path):
    os.environ["PSEUDOKERNEL_STATE"] = str(tmp_path / "state")


def status(mount) -> dict:
    return json.loads(pk("status", "--json", mount=mount).stdout)


def test_no_daemon_is_said_plainly(tmp_path):
    r = pk("insmod", str(PREBUILT / "hello.ko"), mount=tmp_path / "nothing")
    assert r.returncode == 1
    assert b"no pseudokernel daemon is serving" in r.stderr
    assert pk("lsmod", mount=tmp_path / "nothing").returncode == 1


def test_sigterm_leaves_no_mount(tmp_path):
    mount = tmp_path / "mnt"
    assert pk("up", "--drop", str(tmp_path / "drop"), mount=mount).returncode == 0
    pid = status(mount)["pid"]
    assert is_mounted(str(mount))
    os.kill(pid, signal.SIGTERM)
    assert wait_for(lambda: not is_mounted(str(mount)), 20)
    assert pk("status", mount=mount).returncode == 1


def test_kill_9_then_up_recovers_the_stale_mount_and_replays(tmp_path):
    mount, drop = tmp_path / "mnt", tmp_path / "drop"
    assert pk("up", "--drop", str(drop), mount=mount).returncode == 0
    (drop / "hello.ko").write_bytes((PREBUILT / "hello.ko").read_bytes())
    assert pk("wait", "hello", mount=mount).returncode == 0
    os.kill(status(mount)["pid"], signal.SIGKILL)
    time.sleep(0.5)
    with pytest.raises(OSError):
        os.listdir(mount)  # ENOTCONN: the mount outlived its daemon
    r = pk("up", "--drop", str(drop), mount=mount)
    assert r.returncode == 0, r.stderr
    assert b"recovered a stale mount" in r.stderr
    try:
        assert wait_for(lambda: "hello 16384 0 - Live" in (mount / "proc/modules").read_text())
    finally:
        pk("down", mount=mount)
        subprocess.run(["fusermount3", "-u", "-z", str(mount)], capture_output=True)



def test_a_mount_whose_daemon_is_gone_but_connection_stuck_is_cleared(tmp_path):
    """As after a kill -9 that lands while a thread of the daemon waits on a request (the
    process stays a zombie holding the connection): requests hang and a stat of the mount
    never returns. Here the daemon is stopped and its pid file names a dead process. `up`
    must not touch the mount: it aborts the connection (the waiting reader gets ECONNABORTED),
    unmounts and serves again."""
    mount, drop = tmp_path / "mnt", tmp_path / "drop"
    assert pk("up", "--drop", str(drop), mount=mount).returncode == 0
    pid = status(mount)["pid"]
    os.kill(pid, signal.SIGSTOP)
    try:
        reader = subprocess.Popen(["cat", str(mount / "proc/modules")], stdout=subprocess.DEVNULL,
                                  stderr=subprocess.PIPE)
        time.sleep(0.5)
        assert reader.poll() is None  # waiting on the stopped daemon
        dead = subprocess.Popen(["true"])
        dead.wait()
        state_dir = next((tmp_path / "state").iterdir())
        (state_dir / "daemon.pid").write_text(f"{dead.pid}\n")
        (state_dir / "control.sock").unlink()
        r = pk("up", "--drop", str(drop), mount=mount)
        assert r.returncode == 0, r.stderr
        assert b"recovered a stale mount" in r.stderr
        assert reader.wait(10) != 0 and b"connection abort" in reader.stderr.read()  # ECONNABORTED
        assert status(mount)["pid"] != pid  # a new daemon serves the mount
        assert pk("down", mount=mount).returncode == 0
    finally:
        os.kill(pid, signal.SIGKILL)
        pk("down", mount=mount)
        subprocess.run(["fusermount3", "-u", "-z", str(mount)], capture_output=True)


def test_two_daemons_side_by_side(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    try:
        assert pk("up", "--drop", str(tmp_path / "da"), mount=a).returncode == 0
        assert pk("up", "--drop", str(tmp_path / "db"), mount=b).returncode == 0
        assert pk("insmod", str(PREBUILT / "hello.ko"), mount=a).returncode == 0
        assert pk("insmod", str(PREBUILT / "exporter.ko"), mount=b).returncode == 0
        assert (a / "proc/modules").read_text().startswith("hello ")
        assert (b / "proc/modules").read_text().startswith("exporter ")
        env = dict(os.environ, PSEUDOKERNEL_MOUNT=str(b))
        out = subprocess.run([__import__("sys").executable, "-m", "pseudokernel", "lsmod"], env=env,
                             capture_output=True, text=True)
        assert out.stdout.splitlines()[1].startswith("exporter ")
    finally:
        pk("down", mount=a)
        pk("down", mount=b)
    assert not is_mounted(str(a)) and not is_mounted(str(b))


def test_log_file_has_levels(tmp_path):
    mount = tmp_path / "mnt"
    assert pk("up", "--drop", str(tmp_path / "drop"), "--log-level", "debug", mount=mount).returncode == 0
    try:
        pk("insmod", str(PREBUILT / "hello.ko"), mount=mount)
        log = open(status(mount)["log"]).read()
    finally:
        pk("down", mount=mount)
    assert " INFO pseudokernel.daemon: load " in log
