"""A module's device nodes used through the mount by real processes (issue 11): a read that
blocks until another process writes, Ctrl-C on such a read, poll() woken by the write, the
module held while a file is open, ioctls with _IOC sizes, and the node's number where no
device was created. pkpipe.ko is a small pipe (wait_event_interruptible in its read);
chardev.ko's behaviour against the real kernel is its recording (tests/kmod/test_real_tools)."""

from __future__ import annotations

import fcntl
import os
import select
import signal
import struct
import subprocess
import time

import pytest
from pkrun import daemon_at, pk, wait_for
from realref import PREBUILT

pytestmark = pytest.mark.skipif(not os.path.exists("/dev/fuse"), reason="needs /dev/fuse")


@pytest.fixture
def pipe(tmp_path):
    for mount, _drop in daemon_at(tmp_path):
        assert pk("insmod", str(PREBUILT / "pkpipe.ko"), mount=mount).returncode == 0
        yield mount


def _as_in_a_terminal() -> None:
    """Ctrl-C as typed at a terminal: SIGINT at its default (a background CI job ignores it)."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _dmesg(mount) -> str:
    return (mount / "dmesg").read_text()


def _refcnt(mount, name: str) -> int:
    return int((mount / "sys" / "module" / name / "refcnt").read_text())


def test_a_read_blocks_until_another_process_writes(pipe):
    node = pipe / "dev" / "pkpipe"
    reader = subprocess.Popen(["cat", str(node)], stdout=subprocess.PIPE, preexec_fn=_as_in_a_terminal)
    assert wait_for(lambda: "waits for data" in _dmesg(pipe))
    assert reader.poll() is None  # asleep in the module's read
    assert _refcnt(pipe, "pkpipe") == 1  # the open file holds the module
    subprocess.run(["sh", "-c", f"echo woken > {node}"], check=True, timeout=10)
    assert wait_for(lambda: "cat read 6 bytes" in _dmesg(pipe))
    # cat wrote what it read and reads again, asleep: Ctrl-C ends it (a SIGINT sent before
    # the first read's answer reached cat would end that read instead, and nothing is written)
    assert wait_for(lambda: _dmesg(pipe).count("waits for data") >= 2)
    reader.send_signal(signal.SIGINT)
    out, _ = reader.communicate(timeout=10)
    assert out == b"woken\n"
    assert wait_for(lambda: "interrupted" in _dmesg(pipe))
    assert wait_for(lambda: _refcnt(pipe, "pkpipe") == 0)
    assert pk("rmmod", "pkpipe", mount=pipe).returncode == 0


def test_ctrl_c_ends_a_blocked_read_with_eintr(pipe):
    # the read returns EINTR to the process, whose handler runs (Python's raises)
    code = ("import os, signal, sys\n"
            "signal.signal(signal.SIGINT, signal.default_int_handler)\n"
            "fd = os.open(sys.argv[1], os.O_RDONLY)\n"
            "try:\n    os.read(fd, 10)\nexcept KeyboardInterrupt:\n    print('EINTR')\n")
    proc = subprocess.Popen(["python3", "-c", code, str(pipe / "dev" / "pkpipe")], stdout=subprocess.PIPE)
    assert wait_for(lambda: "waits for data" in _dmesg(pipe))
    t0 = time.monotonic()
    proc.send_signal(signal.SIGINT)
    out, _ = proc.communicate(timeout=10)
    assert time.monotonic() - t0 < 5
    assert out == b"EINTR\n"
    assert "python3 (" in _dmesg(pipe) and "interrupted" in _dmesg(pipe)


def test_poll_is_woken_by_a_write_and_nonblocking_reads_say_eagain(pipe):
    node = str(pipe / "dev" / "pkpipe")
    fd = os.open(node, os.O_RDONLY | os.O_NONBLOCK)
    try:
        with pytest.raises(BlockingIOError):
            os.read(fd, 10)
        p = select.poll()
        p.register(fd, select.POLLIN)
        assert p.poll(0) == []
        writer = subprocess.Popen(["sh", "-c", f"sleep 0.5; echo x > {node}"])
        assert p.poll(10_000) == [(fd, select.POLLIN)]
        writer.wait(timeout=10)
        assert os.read(fd, 10) == b"x\n"
    finally:
        os.close(fd)


def test_the_module_cannot_go_while_its_file_is_open(pipe):
    fd = os.open(pipe / "dev" / "pkpipe", os.O_WRONLY)
    try:
        r = pk("rmmod", "pkpipe", mount=pipe)
        assert r.returncode == 1
        assert "is in use" in r.stderr.decode()
    finally:
        os.close(fd)
    assert wait_for(lambda: _refcnt(pipe, "pkpipe") == 0)
    assert pk("rmmod", "pkpipe", mount=pipe).returncode == 0
    assert not (pipe / "dev" / "pkpipe").exists()


def test_ioctl_and_numbers_of_a_character_device(tmp_path):
    for mount, _drop in daemon_at(tmp_path):
        assert pk("insmod", str(PREBUILT / "chardev.ko"), mount=mount).returncode == 0
        fd = os.open(mount / "dev" / "pkmisc", os.O_RDWR)
        try:
            os.write(fd, b"hello")
            buf = bytearray(4)
            assert fcntl.ioctl(fd, 0x80046B01, buf) == 0  # _IOR('k', 1, int): the length
            assert struct.unpack("<i", buf)[0] == 5
            buf = bytearray(struct.pack("<i", 21))
            fcntl.ioctl(fd, 0xC0046B03, buf)  # _IOWR('k', 3, int): doubled in place
            assert struct.unpack("<i", buf)[0] == 42
            with pytest.raises(OSError) as e:
                fcntl.ioctl(fd, 0x6B09)
            assert e.value.errno == 25  # ENOTTY
        finally:
            os.close(fd)
        devices = (mount / "proc" / "devices").read_text()
        assert "246 pkchar\n" in devices and "245 pkbare\n" in devices
        assert "124 pkmisc\n" in (mount / "proc" / "misc").read_text()
        # register_chrdev() made no node: the number is reachable under dev/char
        assert "245:0" in os.listdir(mount / "dev" / "char")
        assert (mount / "dev" / "char" / "246:1").read_bytes() == b"pkchar1 opened 1 times\n"
        assert pk("rmmod", "chardev", mount=mount).returncode == 0
        assert "unreferenced object" not in _dmesg(mount)  # what the kernel allocated it freed
        assert not (mount / "dev" / "char").exists()


def test_the_shell_has_the_module_devices_in_dev(pipe):
    """`pseudokernel shell`: a script written for a real machine reaches the module's device
    by its /dev path, and the machine's own /dev/null still works beside it."""
    script = "echo hi > /dev/pkpipe && head -c 3 /dev/pkpipe && echo gone > /dev/null && ls /dev"
    r = pk("shell", "sh", "-c", script, mount=pipe)
    assert r.returncode == 0, r.stderr
    out = r.stdout.decode().split("\n")
    assert out[0] == "hi"
    assert {"pkpipe", "null", "kmsg", "tty", "pts"} <= set(out[1:])


def test_down_ends_a_read_blocked_in_a_module(tmp_path):
    """`pseudokernel down` with a reader asleep in the module's read: the reader gets end of
    file (as /dev/kmsg's do) and the daemon is gone within seconds, no process left waiting."""
    for mount, _drop in daemon_at(tmp_path):
        assert pk("insmod", str(PREBUILT / "pkpipe.ko"), mount=mount).returncode == 0
        reader = subprocess.Popen(["cat", str(mount / "dev" / "pkpipe")], stdout=subprocess.PIPE)
        assert wait_for(lambda m=mount: "waits for data" in _dmesg(m))
        t0 = time.monotonic()
        assert pk("down", mount=mount).returncode == 0
        assert time.monotonic() - t0 < 10
        assert reader.wait(timeout=10) == 0


def test_an_oops_in_the_modules_call_kills_the_caller(tmp_path):
    """The real kernel ends the task its oops happened in: the process whose write, read or
    /proc read ran the module's faulting code dies of the signal (SIGSEGV after a BUG, SIGKILL
    after a page fault); others go on, and so does the daemon."""
    for mount, _drop in daemon_at(tmp_path):
        assert pk("insmod", str(PREBUILT / "usercopy.ko"), mount=mount).returncode == 0
        node = str(mount / "dev" / "pk_usercopy")
        ok = subprocess.run(["dd", f"of={node}", "bs=8", "seek=1", "count=1"], input=b"ABCDEFGH", capture_output=True)
        assert ok.returncode == 0
        bug = subprocess.run(["dd", f"of={node}", "bs=9", "count=1"], input=b"ABCDEFGHI", capture_output=True)
        assert bug.returncode == -signal.SIGSEGV, bug.stderr  # hardened usercopy's BUG
        assert "kernel BUG at mm/usercopy.c:101!" in _dmesg(mount)
        assert pk("insmod", str(PREBUILT / "hostile.ko"), "mode=procoops", mount=mount).returncode == 0
        oops = subprocess.run(["cat", str(mount / "proc" / "pk_hostile")], capture_output=True)
        assert oops.returncode == -signal.SIGKILL  # a NULL dereference in its show
        assert pk("rmmod", "usercopy", mount=mount).returncode == 0  # the dead callers' files were closed
