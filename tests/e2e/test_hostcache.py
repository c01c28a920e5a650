"""The host kernel caches names, attributes and some contents of the mount (fs/hostcache.py):
no stat or read may see the kernel as it was before a change that has returned. Each test
first makes the host cache what it then changes, and reads it back at once."""

from __future__ import annotations

import errno
import json
import os
import re
import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from pkrun import pk
from realref import PREBUILT

from pseudokernel.fs.pm_qos import HOLD

pytestmark = pytest.mark.skipif(not os.path.exists("/dev/fuse"), reason="needs /dev/fuse")


@pytest.fixture(scope="module")
def mount(tmp_path_factory):
    base = tmp_path_factory.mktemp("hostcache")
    mnt = base / "mnt"
    os.environ["PSEUDOKERNEL_STATE"] = str(base / "state")
    r = pk("up", "--drop", str(base / "drop"), "--budget", "2", mount=mnt)
    assert r.returncode == 0, r.stderr.decode()
    yield mnt
    pk("down", mount=mnt)
    subprocess.run(["fusermount3", "-u", "-z", str(mnt)], capture_output=True)


def insmod(mnt: Path, name: str, *args: str) -> None:
    r = pk("insmod", str(PREBUILT / f"{name}.ko"), *args, mount=mnt)
    assert r.returncode == 0, r.stderr.decode()


def rmmod(mnt: Path, name: str) -> None:
    r = pk("rmmod", name, mount=mnt)
    assert r.returncode == 0, r.stderr.decode()


def read(path: Path) -> bytes:
    """open, fstat, read to the end, close: what cat does."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fstat(fd)
        out = b""
        while chunk := os.read(fd, 65536):
            out += chunk
        return out
    finally:
        os.close(fd)


def sendfile(path: Path) -> bytes | None:
    """What busybox cat does: sendfile() from the file (through the host's page cache);
    None when the mount refuses it (the reader then falls back to read())."""
    r, w = os.pipe()
    fd = os.open(path, os.O_RDONLY)
    try:
        out = b""
        while True:
            try:
                n = os.sendfile(w, fd, None, 65536)
            except OSError as e:
                assert e.errno == errno.EINVAL, e
                return None
            if not n:
                return out
            out += os.read(r, n)
    finally:
        os.close(fd)
        os.close(r)
        os.close(w)


def modules(mnt: Path) -> dict[str, str]:
    return {line.split()[0]: line for line in read(mnt / "proc/modules").decode().splitlines()}


def test_a_parameter_written_reads_back_at_once(mount):
    insmod(mount, "hello", "count=1")
    try:
        count = mount / "sys/module/hello/parameters/count"
        for value in (b"7", b"12", b"-3", b"7"):
            assert read(count) and os.stat(count).st_size == 4096  # cached name and attributes
            with open(count, "wb") as f:
                f.write(value)
            assert read(count) == value + b"\n"
            assert sendfile(count) in (None, value + b"\n")
            assert os.stat(count).st_size == 4096
    finally:
        rmmod(mount, "hello")


def test_an_unloaded_module_is_gone_at_once(mount):
    insmod(mount, "hello")
    d = mount / "sys/module/hello"
    section = d / "sections/.init.text"
    assert read(section).startswith(b"0x") and read(d / "initstate") == b"live\n"  # contents cached
    assert os.stat(d).st_nlink > 2 and os.stat(section).st_size == 19
    rmmod(mount, "hello")
    for path in (d, section, d / "initstate", d / "sections"):
        with pytest.raises(FileNotFoundError):
            os.stat(path)
    with pytest.raises(FileNotFoundError):
        read(section)
    assert "hello" not in os.listdir(mount / "sys/module")


def test_proc_modules_right_after_a_load_and_an_unload(mount):
    path = mount / "proc/modules"
    before = read(path)
    os.stat(path)  # a read leaves the host's atime stale: this stat asks again
    assert os.stat(path).st_size == len(before)  # and this one is the host's
    insmod(mount, "hello")
    try:
        # busybox cat's sendfile() first, before anything asks the size: it reads up to the size
        # the host holds, which the invalidation of the name made it look up again
        first = sendfile(path)
        assert first is None or first.startswith(b"hello 16384 0 - Live"), first
        size = os.stat(path).st_size
        now = read(path)
        assert b"hello 16384 0 - Live" in now and size == len(now)
        assert sendfile(path) in (None, now)
    finally:
        rmmod(mount, "hello")
    assert sendfile(path) in (None, before)
    size = os.stat(path).st_size
    assert read(path) == before and size == len(before)
    assert sendfile(path) in (None, before)


def test_refcnt_and_holders_move_with_a_user(mount):
    insmod(mount, "exporter")
    ex = mount / "sys/module/exporter"
    try:
        assert read(ex / "refcnt") == b"0\n" and os.listdir(ex / "holders") == []
        insmod(mount, "importer")
        assert read(ex / "refcnt") == b"1\n"
        assert os.listdir(ex / "holders") == ["importer"]
        assert modules(mount)["exporter"].split()[3] == "importer,"
        rmmod(mount, "importer")
        assert read(ex / "refcnt") == b"0\n" and os.listdir(ex / "holders") == []
    finally:
        rmmod(mount, "exporter")


def test_a_module_loaded_again_shows_its_new_sections(mount):
    """Cached section addresses belong to one load of the module: after an unload and a load
    elsewhere in memory, they are the new ones (as /proc/modules, never cached, says)."""

    def offsets() -> dict[str, int]:
        base = int(re.search(r" 0x([0-9a-f]+)", modules(mount)["hello"]).group(1), 16)
        sections = mount / "sys/module/hello/sections"
        return {name: int(read(sections / name), 16) - base for name in os.listdir(sections)}

    insmod(mount, "hello")
    first = offsets()
    rmmod(mount, "hello")
    insmod(mount, "exporter")  # takes the memory hello had
    try:
        insmod(mount, "hello")
        assert offsets() == first
        rmmod(mount, "hello")
    finally:
        rmmod(mount, "exporter")


def test_what_module_code_shows_is_never_cached(mount):
    insmod(mount, "kobj")
    try:
        ro = mount / "sys/kernel/pkkobj/ro"
        first = read(ro)
        assert re.fullmatch(rb"read \d+ of pkkobj/ro\n", first)
        n = int(first.split()[1])
        assert read(ro) == f"read {n + 1} of pkkobj/ro\n".encode()  # its show() ran again
        assert os.stat(ro).st_size == 4096
        value = mount / "sys/kernel/pkkobj/value"
        assert read(value) == b"5\n"
        with open(value, "wb") as f:
            f.write(b"42")
        assert read(value) == b"42\n"
    finally:
        rmmod(mount, "kobj")
    with pytest.raises(FileNotFoundError):
        os.stat(mount / "sys/kernel/pkkobj/ro")


def test_dmesg_grows_at_once(mount):
    size = os.stat(mount / "dmesg").st_size
    assert len(read(mount / "dmesg")) == size
    os.stat(mount / "dmesg")
    insmod(mount, "hello")
    rmmod(mount, "hello")
    size = os.stat(mount / "dmesg").st_size  # before any read
    text = read(mount / "dmesg")
    assert text.endswith(b"hello: goodbye world\n") and size == len(text)
    assert sendfile(mount / "dmesg") == text  # page-cache reads of dmesg are served (mmap)


@contextmanager
def looking(mount, names: tuple[str, ...]) -> Iterator[None]:
    """Two other threads looking names up again and again (stat) while the block runs."""
    stop = threading.Event()

    def look() -> None:
        while not stop.is_set():
            for name in names:
                try:
                    os.stat(mount / name)
                except OSError:
                    pass

    lookers = [threading.Thread(target=look) for _ in range(2)]
    for t in lookers:
        t.start()
    try:
        yield
    finally:
        stop.set()
        for t in lookers:
            t.join()


def test_lookups_racing_with_changes_keep_no_old_attributes(mount):
    """Another process looking dmesg and /proc/modules up again and again while modules load
    and unload: the host makes new inodes from lookups answered while a change lands."""
    with looking(mount, ("dmesg", "proc/modules")):
        for _ in range(15):
            insmod(mount, "hello")
            rmmod(mount, "hello")
            for name in ("dmesg", "proc/modules"):
                size = os.stat(mount / name).st_size
                assert size == len(read(mount / name)), name


def test_a_module_directory_looked_up_while_it_goes_is_gone_after(mount):
    """Another process looking /sys/module/hello and a file in it up again and again while
    hello loads and unloads (as kmod's rmmod does just before delete_module): once rmmod has
    returned, the host holds no name for the directory or its files."""
    with looking(mount, ("sys/module/hello", "sys/module/hello/refcnt")):
        for _ in range(15):
            insmod(mount, "hello")
            assert (mount / "sys/module/hello/refcnt").exists()
            rmmod(mount, "hello")
            assert not (mount / "sys/module/hello").exists()
            assert not (mount / "sys/module/hello/refcnt").exists()


def test_files_fixed_at_boot_are_never_dropped():
    """/proc/cmdline and its kind never change: the host keeps them across changes (kmod
    reads /proc/cmdline at every insmod); /proc/modules is dropped at the next change."""
    from pseudokernel.fs.hostcache import HostCache

    hc = HostCache(None, lambda group: None, lambda path: set(), lambda: 0)
    for path in ("/proc/cmdline", "/proc/version", "/proc/modules"):
        hc.seen(path)
    assert hc._volatile == {"/proc/modules"}


def test_the_machines_recorded_sys_is_never_dropped(kernel):
    """A file of the reference machine's recorded /sys is fixed for good (File.fixed): the
    mount settles it as it answers it, so no change drops it (after a walk of /sys, a change
    would otherwise invalidate 10,000 paths); a live path beside it is still dropped."""
    from pseudokernel.fs.mount import KernelFS

    fs = KernelFS(kernel)  # its requests answered in-process, as libfuse's threads would call them
    assert fs.getattr("/sys/devices/virtual/mem/null/dev")["st_size"] == 4096
    fs.getattr("/sys/class/misc")
    fh = fs.open("/sys/devices/virtual/mem/zero/uevent", type("fi", (), {"flags": 0, "fh": 0})())
    assert fh == 0
    assert fs.cache._volatile == {"/sys/class/misc"}


def test_a_kept_listing_follows_the_kernel(kernel):
    """A /sys/module directory's listing is kept for the kernel's generation (mount._listing):
    a load that adds a holder shows in the next readdir and st_nlink at once, an unload
    removes it."""
    from pseudokernel.fs.mount import KernelFS

    fs = KernelFS(kernel, pm_qos=False)
    kernel.finit_module((PREBUILT / "exporter.ko").read_bytes())
    names = lambda p: [n for n, _, _ in fs.readdir(p, None)][2:]  # noqa: E731
    assert names("/sys/module/exporter/holders") == []
    nlink = fs.getattr("/sys/module/exporter")["st_nlink"]
    kernel.finit_module((PREBUILT / "importer.ko").read_bytes())
    assert names("/sys/module/exporter/holders") == ["importer"]
    assert "importer" in names("/sys/module")
    assert fs.getattr("/sys/module/importer")["st_nlink"] >= 2
    kernel.delete_module("importer")
    assert names("/sys/module/exporter/holders") == []
    assert "importer" not in names("/sys/module")
    assert fs.getattr("/sys/module/exporter")["st_nlink"] == nlink
    kernel.delete_module("exporter")


def _holds_pm_qos(pid: int) -> bool:
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            if os.readlink(fd) == "/dev/cpu_dma_latency":
                return True
        except FileNotFoundError:
            pass  # closed since the listing (a request's file, released)
    return False


def test_the_daemon_asks_for_shallow_idle_states_while_busy(mount):
    """fs/pm_qos.py: while requests come, the daemon holds /dev/cpu_dma_latency open (and the
    host's CPU latency limit is 0: the CPUs poll rather than halt); a moment after the last,
    it holds it no more."""

    pid = json.loads(pk("status", "--json", mount=mount).stdout)["pid"]
    time.sleep(HOLD * 2)
    assert not _holds_pm_qos(pid)
    end = time.monotonic() + 1.0
    held, limits = set(), set()
    while time.monotonic() < end:
        read(mount / "proc" / "modules")
        held.add(_holds_pm_qos(pid))
        fd = os.open("/dev/cpu_dma_latency", os.O_RDONLY)
        limits.add(int.from_bytes(os.read(fd, 4), "little", signed=True))
        os.close(fd)
    assert held == {True} and limits == {0}
    deadline = time.monotonic() + 10 * HOLD
    while _holds_pm_qos(pid) and time.monotonic() < deadline:
        time.sleep(HOLD / 4)
    assert not _holds_pm_qos(pid)
