"""Nothing hangs: every wait on the mount ends when its caller is signalled, and the daemon goes
down within seconds whatever readers and callbacks are in flight (issue 10).

A process blocked on a FUSE request that its daemon never answers sits in D state: neither
Ctrl-C nor kill -9 ends it. These tests block readers the ways a user would (a read at the end
of /dev/kmsg, `dmesg -w`, a module's /proc file whose show never returns) and check that a
signal ends each at once, that poll() wakes on a new record, and that `down` and SIGTERM leave
no process waiting.
"""

from __future__ import annotations

import json
import os
import select
import signal
import subprocess
import time

import pytest
from pkrun import daemon_at, pk, wait_for
from realref import PREBUILT

from pseudokernel.fs.mount import is_mounted

pytestmark = pytest.mark.skipif(not os.path.exists("/dev/fuse"), reason="needs /dev/fuse")


@pytest.fixture
def daemon(tmp_path):
    yield from daemon_at(tmp_path)


def _state(pid: int) -> str:
    """The process's state letter, or '' once it is gone (a zombie counts as gone)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            state = f.read().rsplit(")", 1)[1].split()[0]
    except OSError:
        return ""
    return "" if state in ("Z", "X") else state


def _blocked_on_mount(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/wchan") as f:
            return f.read() == "request_wait_answer"
    except OSError:
        return False


def _as_in_a_terminal() -> None:
    """A command typed at a shell has SIGINT at its default; one started in the background of
    a non-interactive shell (as CI may run us) inherits SIG_IGN and Ctrl-C would be ignored."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    signal.signal(signal.SIGQUIT, signal.SIG_DFL)


def _reader(path, *args: str) -> subprocess.Popen:
    """A reader blocked in a read of path (after whatever the file has now)."""
    p = subprocess.Popen(["cat", str(path), *args], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                         preexec_fn=_as_in_a_terminal)
    assert wait_for(lambda: _blocked_on_mount(p.pid), 20), "the reader never blocked"
    return p


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGINT, signal.SIGTERM])
def test_a_reader_blocked_at_the_end_of_dev_kmsg_ends_on_a_signal(daemon, sig):
    mount, _ = daemon
    p = _reader(mount / "dev/kmsg")
    p.send_signal(sig)
    # the mechanism is immediate (the next 50 ms look at the request); the bound is for a
    # loaded machine's scheduling, not for the daemon
    assert wait_for(lambda: _state(p.pid) == "", 5), f"reader still {_state(p.pid)} after the signal"
    p.wait(5)
    assert p.returncode == -sig
    assert (mount / "proc/modules").read_text() == ""  # the daemon goes on serving


def test_dev_kmsg_nonblocking_poll_and_follow(daemon):
    mount, drop = daemon
    fd = os.open(mount / "dev/kmsg", os.O_RDONLY | os.O_NONBLOCK)
    try:
        records = 0
        while True:
            try:
                os.read(fd, 8192)
                records += 1
            except BlockingIOError:  # devkmsg_read: -EAGAIN at the end for O_NONBLOCK
                break
        assert records > 0
        poller = select.poll()
        poller.register(fd, select.POLLIN)
        assert poller.poll(0) == []
        (drop / "hello.ko").write_bytes((PREBUILT / "hello.ko").read_bytes())
        events = poller.poll(20_000)  # woken by the record hello's init prints
        assert events and events[0][1] & select.POLLIN
        text = b""
        while b"hello world" not in text:
            try:
                text += os.read(fd, 8192)
            except BlockingIOError:  # the taint lines came first: wait for the next record
                assert poller.poll(20_000)
        assert text.endswith(b";hello: hello world (1 of 1)\n")
    finally:
        os.close(fd)


def test_dmesg_follows_the_log_live_and_exits_on_a_signal(daemon):
    """util-linux `dmesg -w` reads /dev/kmsg itself: it is bound over /dev/kmsg in a private
    mount namespace, as `pseudokernel shell` and the replayed scenarios do."""
    mount, drop = daemon
    p = subprocess.Popen(["unshare", "-m", "sh", "-c",
                          f"mount --bind {mount}/dev/kmsg /dev/kmsg && exec dmesg -w"],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, preexec_fn=_as_in_a_terminal)
    try:
        assert wait_for(lambda: _blocked_on_mount(p.pid), 20)
        (drop / "hello.ko").write_bytes((PREBUILT / "hello.ko").read_bytes())
        line = b""
        while b"hello world" not in line:
            line = p.stdout.readline()
            assert line, p.stderr.read()
        assert line.rstrip().endswith(b"hello: hello world (1 of 1)")
        p.send_signal(signal.SIGINT)
        assert p.wait(5) == -signal.SIGINT
    finally:
        p.kill()


def test_a_module_callback_that_never_returns_leaves_its_reader_killable(daemon):
    """procloop's /proc show spins until its parameter says stop: a real kernel's reader would
    be stuck in it. Through the mount the reader dies on kill -9, the module stays usable."""
    mount, drop = daemon
    (drop / "procloop.ko").write_bytes((PREBUILT / "procloop.ko").read_bytes())
    assert pk("wait", "procloop", mount=mount).returncode == 0
    p = _reader(mount / "proc/procloop")
    time.sleep(0.3)  # it is running the module's show now
    p.kill()
    assert wait_for(lambda: _state(p.pid) == "", 5)
    # nothing was left holding the CPU: a load and a parameter write go through
    assert pk("insmod", str(PREBUILT / "hello.ko"), mount=mount).returncode == 0
    (mount / "sys/module/procloop/parameters/stop").write_text("1\n")
    assert (mount / "proc/procloop").read_text() == "done\n"
    assert b"soft lockup" not in (mount / "dmesg").read_bytes()
    assert pk("rmmod", "procloop", mount=mount).returncode == 0


def _daemon_pid(mount) -> int:
    return json.loads(pk("status", "--json", mount=mount).stdout)["pid"]


@pytest.mark.parametrize("how", ["down", "sigterm"])
def test_going_down_with_blocked_readers_and_a_spinning_callback(daemon, how):
    mount, drop = daemon
    (drop / "procloop.ko").write_bytes((PREBUILT / "procloop.ko").read_bytes())
    assert pk("wait", "procloop", mount=mount).returncode == 0
    pid = _daemon_pid(mount)
    readers = [_reader(mount / "dev/kmsg") for _ in range(3)] + [_reader(mount / "proc/procloop")]
    t0 = time.monotonic()
    if how == "down":
        r = pk("down", mount=mount)
        assert r.returncode == 0, r.stderr
    else:
        os.kill(pid, signal.SIGTERM)
    assert wait_for(lambda: not is_mounted(str(mount)) and _state(pid) == "", 20)
    took = time.monotonic() - t0
    for p in readers:
        assert wait_for(lambda p=p: _state(p.pid) == "", 5), f"a reader was left {_state(p.pid)}"
    # the daemon's own bound is 5 s (SHUTDOWN_GRACE plus the unmount); report, don't time
    print(f"down with 4 blocked readers took {took:.2f}s")
    assert pk("status", mount=mount).returncode == 1
