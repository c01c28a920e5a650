"""End to end, as a user on a shell: a daemon, its FUSE mount, the drop folder, the CLI, and
real tools (cat, ls, find, grep, wc, util-linux dmesg) reading the files."""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from pathlib import Path

import pytest
from pkrun import pk, wait_for
from realref import PREBUILT

pytestmark = pytest.mark.skipif(not os.path.exists("/dev/fuse"), reason="needs /dev/fuse")


@pytest.fixture(scope="module")
def daemon(tmp_path_factory):
    base = tmp_path_factory.mktemp("e2e")
    mount, drop = base / "mnt", base / "drop"
    env_state = base / "state"
    os.environ["PSEUDOKERNEL_STATE"] = str(env_state)
    r = pk("up", "--drop", str(drop), "--budget", "2", mount=mount)
    assert r.returncode == 0, r.stderr.decode()
    yield mount, drop
    pk("down", mount=mount)
    subprocess.run(["fusermount3", "-u", "-z", str(mount)], capture_output=True)


def modules_file(mount: Path) -> str:
    return (mount / "proc" / "modules").read_text()


def test_drop_hello_and_read_it_back(daemon):
    mount, drop = daemon
    shutil.copy(PREBUILT / "hello.ko", drop / "hello.ko")
    assert wait_for(lambda: "hello 16384 0 - Live" in modules_file(mount))  # not while Loading
    line = next(line for line in modules_file(mount).splitlines() if line.startswith("hello "))
    assert line.startswith("hello 16384 0 - Live 0xffffffffc")
    assert line.endswith(" (OE)")
    sections = subprocess.run(["ls", "-A", mount / "sys/module/hello/sections"], capture_output=True, text=True)
    assert sections.stdout.split() == sorted(
        [".bss", ".data", ".exit.data", ".exit.text", ".gnu.linkonce.this_module", ".init.data", ".init.text",
         ".note.Linux", ".note.gnu.build-id", ".orc_unwind", ".orc_unwind_ip", ".return_sites", ".rodata",
         ".rodata.str1.1", ".strtab", ".symtab", "__mcount_loc", "__param"]
    )
    dmesg = (mount / "dmesg").read_text()
    assert "hello: loading out-of-tree module taints kernel." in dmesg
    assert "] hello: hello world (1 of 1)\n" in dmesg
    # the tools people use on /proc and /sys
    assert subprocess.run(["grep", "-c", "hello", mount / "proc/modules"], capture_output=True, text=True).stdout == "1\n"
    assert subprocess.run(["cat", mount / "sys/module/hello/initstate"], capture_output=True, text=True).stdout == "live\n"
    wc = subprocess.run(["wc", "-c", mount / "sys/module/hello/sections/.text"], capture_output=True, text=True)
    assert wc.returncode != 0  # hello has no .text: the kernel makes no file for an empty section
    found = subprocess.run(["find", mount / "sys/module/hello", "-type", "f"], capture_output=True, text=True)
    assert f"{mount}/sys/module/hello/parameters/count" in found.stdout.split()
    stat = os.stat(mount / "sys/module/hello/sections/.init.text")
    assert oct(stat.st_mode & 0o777) == "0o400" and stat.st_size == 19
    assert os.stat(mount / "sys/module/hello/coresize").st_size == 4096
    # unload by deleting the file: exit runs, the module leaves, its goodbye is logged
    (drop / "hello.ko").unlink()
    assert wait_for(lambda: "hello " not in modules_file(mount))
    assert "] hello: goodbye world\n" in (mount / "dmesg").read_text()
    assert not (mount / "sys/module/hello").exists()


def test_util_linux_dmesg_reads_the_mount(daemon):
    mount, _ = daemon
    if shutil.which("dmesg") is None:
        pytest.skip("util-linux dmesg is not installed")
    out = subprocess.run(["dmesg", "-F", mount / "proc/kmsg"], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert "Linux version 6.1.0-56-amd64" in out.stdout.splitlines()[0]
    raw = subprocess.run(["dmesg", "-r", "-F", mount / "proc/kmsg"], capture_output=True, text=True)
    assert raw.stdout.splitlines()[0].startswith("<5>[")


def test_insmod_tool_messages_and_status(daemon):
    mount, _ = daemon
    r = pk("insmod", str(PREBUILT / "unknown_sym.ko"), mount=mount)
    assert r.returncode == 1
    assert r.stderr.decode() == (
        f"insmod: ERROR: could not insert module {PREBUILT / 'unknown_sym.ko'}: Unknown symbol in module\n"
    )
    r = pk("insmod", "/nonexistent.ko", mount=mount)
    assert (r.returncode, r.stderr) == (1, b"insmod: ERROR: could not load module /nonexistent.ko: No such file or directory\n")
    r = pk("insmod", str(PREBUILT / "hello.ko"), "count=5", mount=mount)
    assert r.returncode == 0, r.stderr
    assert (mount / "dmesg").read_text().count("hello: hello world (") >= 5
    r = pk("insmod", str(PREBUILT / "hello.ko"), mount=mount)
    assert r.stderr == f"insmod: ERROR: could not insert module {PREBUILT / 'hello.ko'}: File exists\n".encode()
    r = pk("rmmod", "hello", mount=mount)
    assert r.returncode == 0, r.stderr
    assert "] hello: goodbye world\n" in (mount / "dmesg").read_text()


@pytest.mark.parametrize(
    "content, message",
    [
        (lambda ko: ko[:1000], "Invalid ELF section header overflow"),
        (lambda ko: b"this is a text file, not a kernel module\n", "Invalid ELF header len 41"),
        (lambda ko: b"\x7fELF" + bytes(60), "Invalid ELF header type: 0 != 1"),
    ],
)
def test_broken_files_fail_cleanly(daemon, tmp_path, content, message):
    mount, _ = daemon
    bad = tmp_path / "bad.ko"
    bad.write_bytes(content((PREBUILT / "hello.ko").read_bytes()))
    r = pk("insmod", str(bad), mount=mount)
    assert r.returncode == 1
    assert r.stderr.decode() == f"insmod: ERROR: could not insert module {bad}: Invalid module format\n"
    assert (mount / "dmesg").read_text().rstrip("\n").endswith(message)
    assert pk("status", mount=mount).returncode == 0  # still serving


def test_oops_kills_insmod_and_the_daemon_lives(daemon):
    mount, _ = daemon
    r = pk("insmod", str(PREBUILT / "oops.ko"), mount=mount)
    assert r.returncode == -9  # killed, as the oops kills the insmod task
    assert "oops 28672 1 - Loading " in modules_file(mount)
    assert "BUG: kernel NULL pointer dereference, address: 0000000000000000" in (mount / "dmesg").read_text()
    assert pk("status", mount=mount).returncode == 0


def test_endless_init_is_stopped(daemon):
    mount, _ = daemon
    t0 = time.monotonic()
    r = pk("insmod", str(PREBUILT / "spin.ko"), mount=mount)
    assert time.monotonic() - t0 < 30
    assert r.returncode == 1
    assert r.stderr.decode().endswith(": Timer expired\n")
    text = (mount / "dmesg").read_text()
    assert "watchdog: BUG: soft lockup - CPU#0 stuck for 2s! [insmod:" in text
    assert "spin" not in modules_file(mount)


def test_parameter_file_write_runs_the_set_op(daemon):
    mount, _ = daemon
    assert pk("insmod", str(PREBUILT / "params.ko"), mount=mount).returncode == 0
    p = mount / "sys/module/params/parameters"
    (p / "p_int").write_text("12345\n")
    assert (p / "p_int").read_text() == "12345\n"
    with pytest.raises(OSError) as e:
        (p / "p_byte").write_text("999\n")
    assert e.value.errno == 34  # ERANGE, from param_set_byte
    with pytest.raises(PermissionError):
        (p / "p_ushort").write_text("1\n")
    assert not (p / "p_hidden").exists()
    assert pk("rmmod", "params", mount=mount).returncode == 0


def test_sysfs_lists_directories_in_kernfs_order(daemon):
    """`find` shows readdir order, which on sysfs is kernfs's (name hash, name) order."""
    from realref import section

    mount, _ = daemon
    assert pk("insmod", str(PREBUILT / "hello.ko"), mount=mount).returncode == 0
    assert pk("insmod", str(PREBUILT / "params.ko"), mount=mount).returncode == 0
    try:
        for d in ("/sys/module/hello", "/sys/module/hello/sections", "/sys/module/params/parameters"):
            real = section("order", f"find {d} -maxdepth 1").output.decode()
            ours = subprocess.run(["find", f"{mount}{d}", "-maxdepth", "1"], capture_output=True, text=True).stdout
            assert ours.replace(str(mount), "") == real
    finally:
        pk("rmmod", "hello", "params", mount=mount)


def test_a_file_open_for_writing_is_text_file_busy(daemon, tmp_path):
    """deny_write_access(): finit_module() of a file someone still has open for writing."""
    mount, _ = daemon
    path = tmp_path / "busy.ko"
    with open(path, "wb") as f:
        f.write((PREBUILT / "hello.ko").read_bytes())
        f.flush()
        r = pk("insmod", str(path), mount=mount)
    assert r.returncode == 1
    assert r.stderr.decode() == f"insmod: ERROR: could not insert module {path}: Text file busy\n"


def test_another_user_cannot_reach_the_daemon(daemon):
    """The state directory (socket included) is private to the daemon's owner."""
    from conftest import run_as_nobody

    mount, _ = daemon
    hello = PREBUILT / "hello.ko"
    r = run_as_nobody(["-m", "pseudokernel", "--mount", str(mount), "insmod", hello], files=(hello,),
                      env=dict(os.environ), timeout=60)
    assert r.returncode == 1
    assert r.stderr.endswith(b": it belongs to another user\n") or b"no pseudokernel daemon" in r.stderr
    assert "hello " not in modules_file(mount)
