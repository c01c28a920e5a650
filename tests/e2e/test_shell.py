"""The shell-script testing kit (scripts/pk.sh) and `pseudokernel shell`."""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

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


# -- sealed: every way of loading a module reaches the daemon, none the host kernel -------------


def _host_modules() -> str | None:
    try:
        with open("/proc/modules") as f:
            return f.read()
    except OSError:
        return None  # a host kernel without modules: a call that reached it would fail ENOSYS


@pytest.fixture(scope="module")
def sealed():
    """A daemon, and `run(script)`: the script sealed (`pseudokernel run -- sh -c script`)."""
    tmp = Path(tempfile.mkdtemp(prefix="pk-sealed-"))  # not pytest's: its parents are 0700,
    tmp.chmod(0o755)  # and the unprivileged caller of a test must reach the module file
    mount = tmp / "mnt"
    os.environ["PSEUDOKERNEL_STATE"] = str(tmp / "state")
    for tool in ("pk-syscall", "pk-ioctl"):
        subprocess.run(["gcc", "-O2", "-static", "-o", tmp / tool, ROOT / "tests" / "tools" / f"{tool}.c"], check=True)
    for name in ("hello.ko", "spin.ko", "chardev.ko"):
        (tmp / name).write_bytes((PREBUILT / name).read_bytes())
    subprocess.run(["xz", "-k", tmp / "hello.ko"], check=True)
    shutil.copytree(ROOT / "tests" / "modules" / "src" / "hello", tmp / "src")
    assert pk("up", "--drop", str(tmp / "drop"), "--budget", "3", mount=mount).returncode == 0

    def run(script: str) -> subprocess.CompletedProcess:
        return pk("run", "--", "sh", "-c", f"cd {tmp} && {script}", mount=mount)

    run.mount = mount
    yield run
    pk("down", mount=mount)
    shutil.rmtree(tmp, ignore_errors=True)


def _loaded(mount) -> list[str]:
    return [line.split()[0] for line in (mount / "proc" / "modules").read_text().splitlines()]


@pytest.mark.skipif(os.geteuid() != 0, reason="the shell's mount namespace needs root")
@pytest.mark.parametrize("how", [
    "insmod hello.ko",  # kmod, found on PATH
    "/sbin/insmod hello.ko",
    "busybox insmod hello.ko",  # static, its own finit_module
    "sudo insmod hello.ko",  # setuid, resets PATH
    "./pk-syscall finit hello.ko",  # static, the system call itself
    "./pk-syscall init hello.ko",  # init_module(2) from the program's memory
    "insmod hello.ko.xz",  # kmod inflates, then init_module(2)
])
def test_every_way_of_loading_reaches_the_daemon_not_the_host(sealed, how):
    host = _host_modules()
    r = sealed(f"{how} >/dev/null && grep -c '^hello ' /proc/modules && rmmod hello")
    assert (r.returncode, r.stdout, r.stderr) == (0, b"1\n", b"")
    assert "hello" not in _loaded(sealed.mount)
    assert _host_modules() == host


@pytest.mark.skipif(os.geteuid() != 0, reason="the shell's mount namespace needs root")
def test_the_sealed_machine_is_the_profiles(sealed):
    r = sealed("uname -r; uname -m; uname -s; ls /lib/modules; modinfo -F description ext4; "
               "modprobe ext4 && lsmod | cut -d' ' -f1 | sort | tr '\\n' ' '; echo; modprobe -r ext4; lsmod | wc -l")
    assert r.returncode == 0, r.stderr
    assert r.stdout.decode() == (
        "6.1.0-56-amd64\nx86_64\nLinux\n6.1.0-56-amd64\nFourth Extended Filesystem\n"
        "Module crc16 crc32c_generic ext4 jbd2 mbcache \n1\n"
    )


@pytest.mark.skipif(os.geteuid() != 0, reason="the shell's mount namespace needs root")
def test_depmod_and_modprobe_of_a_users_module(sealed):
    """What a module author does on a Debian machine with the headers installed: kbuild's
    modules_install into the writable layer over the package's tree (it skips depmod there, as
    Debian's headers have no System.map), the real depmod -a, modprobe by name; the next shell
    of the same daemon still has the module."""
    build = "make -s -C /lib/modules/$(uname -r)/build M=$PWD/src modules modules_install >/dev/null 2>&1"
    r = sealed(f"{build}; depmod -a && grep ^extra/ /lib/modules/$(uname -r)/modules.dep && "
               "modprobe hello who=kbuild && grep hello /proc/modules | cut -d' ' -f1-4 && dmesg | tail -1")
    assert r.returncode == 0, r.stderr
    lines = r.stdout.decode().splitlines()
    assert lines[:2] == ["extra/hello.ko:", "hello 16384 0 -"]
    assert lines[2].endswith("hello: hello kbuild (1 of 1)")
    r = sealed("modprobe -r hello && modinfo -F name hello && grep -c . /lib/modules/$(uname -r)/modules.dep")
    assert r.returncode == 0, r.stderr
    assert r.stdout.decode().split() == ["hello", "4024"]


@pytest.mark.skipif(os.geteuid() != 0, reason="the shell's mount namespace needs root")
def test_what_the_kernel_refuses_a_sealed_caller(sealed):
    r = sealed("setpriv --reuid=65534 --regid=65534 --clear-groups insmod hello.ko; "
               "setpriv --reuid=65534 --regid=65534 --clear-groups ./pk-syscall delete hello; "
               "./pk-syscall finit /dev/null; ./pk-syscall finit hello.ko '' 8; ./pk-syscall finit hello.ko.xz; "
               "./pk-syscall delete nothere")
    assert r.stdout.decode() == (
        "delete_module: -1 EPERM (Operation not permitted)\n"
        "finit_module: -1 EINVAL (Invalid argument)\n"
        "finit_module: -1 EINVAL (Invalid argument)\n"
        "finit_module: -1 ENOEXEC (Exec format error)\n"
        "delete_module: -1 ENOENT (No such file or directory)\n"
    )
    assert r.stderr.decode() == "insmod: ERROR: could not insert module hello.ko: Operation not permitted\n"


@pytest.mark.skipif(os.geteuid() != 0, reason="the shell's mount namespace needs root")
def test_run_exits_with_the_commands_status_and_a_caller_stays_killable(sealed):
    assert sealed("exit 7").returncode == 7
    assert sealed("kill -9 $$").returncode == -9  # killed: so is `pseudokernel run`, as a caller expects
    # init loops until the budget (3 s) ends it: the caller interrupted meanwhile goes at once
    r = sealed("timeout -s INT 0.5 insmod spin.ko; echo $?")
    assert r.stdout == b"124\n"


@pytest.mark.skipif(os.geteuid() != 0, reason="the shell's mount namespace needs root")
def test_the_processes_are_the_hosts_with_procfs_own_checks(sealed):
    """ps, /proc/self, bash's <(...) through /dev/fd, /dev/stdin, free: the sealed machine's
    processes are the host's, each /proc/PID the host procfs's own (fs/pid.py), still there
    after a load and an unload changed /proc."""
    nobody = "setpriv --reuid=65534 --regid=65534 --clear-groups"
    r = sealed("insmod hello.ko && rmmod hello && sh -c 'echo $$; exec readlink /proc/self'; "
               "sh -c 'echo $$/task/$$; exec readlink /proc/thread-self'; "
               "ps -o comm= -p $$; bash -c 'cat <(echo substituted)'; echo in | cat /dev/stdin; "
               "ls -a /proc | grep -c host; free | grep -c ^Mem:; test -e /proc/$$/fd/0 && echo fd; "
               f"{nobody} ls /proc/1/fd/; echo ls=$?")
    lines = r.stdout.decode().splitlines()
    assert lines[0] == lines[1] and lines[2] == lines[3], lines
    assert lines[4:] == ["sh", "substituted", "in", "0", "1", "fd", "ls=2"], r.stderr
    assert r.stderr == b"ls: cannot access '/proc/1/fd/': Permission denied\n"


def test_outside_the_seal_proc_leads_to_the_hosts_processes(sealed):
    proc = sealed.mount / "proc"
    names = os.listdir(proc)
    assert str(os.getpid()) in names and "self" in names and ".host" not in names
    assert os.readlink(proc / "self") == str(os.getpid())
    assert os.readlink(proc / str(os.getpid())) == f"/proc/{os.getpid()}"
    assert (proc / "self" / "status").read_text().splitlines()[0].startswith("Name:")
    assert os.readlink(sealed.mount / "dev" / "stdin") == "/proc/self/fd/0"
    assert not (proc / "99999999").exists()


@pytest.mark.skipif(os.geteuid() != 0, reason="the shell's mount namespace needs root")
def test_an_ioctl_whose_argument_is_a_number_reaches_the_module_as_one(sealed):
    """_IOWR(.., int) with an index for argument (chardev2's IOCTL_GET_NTH_BYTE): the seal makes
    it (rawioctl.py), where the host's FUSE would fail with EFAULT copying from it; the same
    call on a host file is the host's (ENOTTY), and a pointer argument still goes through FUSE."""
    r = sealed("insmod chardev.ko && ./pk-ioctl /dev/pkmisc setstr abc && ./pk-ioctl /dev/pkmisc nth 2 && "
               "./pk-ioctl /dev/pkmisc double 4; python3 -c 'import fcntl, os; "
               "fcntl.ioctl(os.open(\"/etc/hostname\", 0), 0xc0046b06, 5)' 2>&1 | tail -1; rmmod chardev")
    assert r.stdout.decode().splitlines() == [
        "ioctl(0x40086b04) = 0", "ioctl(0xc0046b06, 2) = 99", "ioctl(0xc0046b03) = 0", "int: 8",
        "OSError: [Errno 25] Inappropriate ioctl for device"], r.stderr


@pytest.mark.skipif(os.geteuid() != 0, reason="the shell's mount namespace needs root")
def test_mknod_in_dev_makes_a_node_for_a_drivers_number(sealed):
    """The textbooks' `mknod /dev/NAME c MAJOR MINOR` for a register_chrdev() with no device:
    the seal answers it (FUSE cannot make a device inode), the node opens the driver's cdev;
    mknod elsewhere, or of another type, is the host's."""
    r = sealed("insmod chardev.ko && M=$(grep pkbare /proc/devices | cut -d' ' -f1) && cd /dev && "
               "mknod pkb c $M 3 && ls -l /dev/pkb | cut -c1-10 && cat /dev/pkb; echo cat=$?; "
               "mknod /dev/pkb c $M 3; echo again=$?; rm /dev/pkb && ls /dev/pkb; mknod /dev/null c 1 3; "
               f"echo null=$?; cd {sealed.mount.parent} && mknod pkfifo p && ls -l pkfifo | cut -c1 && rm pkfifo; "
               "rmmod chardev && dmesg | grep -c 'pkbare: open minor 3'")
    assert r.stdout.decode().split() == ["-rw-r--r--", "cat=1", "again=1", "null=1", "p", "1"], r.stderr
    assert r.stderr.decode().splitlines() == [
        "cat: /dev/pkb: Invalid argument",  # no read in pkbare's fops: -EINVAL from the module's cdev
        "mknod: /dev/pkb: File exists",
        "ls: cannot access '/dev/pkb': No such file or directory",
        "mknod: /dev/null: File exists"]
    assert not (sealed.mount / "dev" / "pkb").exists()


@pytest.mark.skipif(os.geteuid() != 0, reason="the shell's mount namespace needs root")
def test_syslog_reads_the_emulated_log_not_the_hosts(sealed):
    """busybox dmesg and `dmesg -S` ask syslog(2): the seal answers with the daemon's log, and
    refuses an unprivileged reader as Debian's kernel does (dmesg_restrict)."""
    nobody = "setpriv --reuid=65534 --regid=65534 --clear-groups"
    r = sealed(f"insmod hello.ko && busybox dmesg | tail -1 && dmesg -S | tail -1 && rmmod hello; "
               f"{nobody} busybox dmesg; {nobody} dmesg -S")
    out = r.stdout.decode().splitlines()
    assert out[0].endswith("] hello: hello world (1 of 1)") and out[1] == out[0], r.stderr
    assert r.stderr.decode() == ("dmesg: klogctl: Operation not permitted\n"
                                 "dmesg: read kernel buffer failed: Operation not permitted\n")


@pytest.mark.skipif(os.geteuid() != 0, reason="the shell's mount namespace needs root")
def test_dmesg_clears_and_sets_the_console_level_of_the_emulated_kernel(sealed):
    """`dmesg -C` and `-c` move syslog's clear point (do_syslog CLEAR, READ_CLEAR): a later
    `dmesg -S` starts after it, /dev/kmsg still has everything; `-n`, `-D` and `-E` set the
    console level /proc/sys/kernel/printk shows (CONSOLE_LEVEL, _OFF, _ON)."""
    r = sealed("insmod hello.ko who=one && dmesg -C && dmesg -S | wc -l && rmmod hello && insmod hello.ko who=two "
               "&& dmesg -c | tail -1 && dmesg -S | wc -l && dmesg -r | grep -c 'hello one' && rmmod hello; "
               "dmesg -n 2; cut -f1 /proc/sys/kernel/printk; dmesg -D; cut -f1 /proc/sys/kernel/printk; "
               "dmesg -E; cut -f1 /proc/sys/kernel/printk")
    out = r.stdout.decode().splitlines()
    assert out[0] == "0" and out[1].endswith("] hello: hello two (1 of 1)") and out[2] == "0", r.stderr
    assert out[3] == "1"  # /dev/kmsg (dmesg -r) is not cleared
    # the console level: 4 at boot ("quiet"), 2 after -n 2, CONSOLE_LOGLEVEL_MIN while off
    assert out[4:] == ["2", "1", "2"]


@pytest.mark.skipif(os.geteuid() != 0, reason="the shell's mount namespace needs root")
def test_the_callers_memory_is_copied_as_the_kernel_copies_it(sealed):
    """copy_to_user() into a read-only page and strndup_user() of an unreadable one fault
    with EFAULT (the seal must not force its way past the caller's page protections)."""
    script = (
        "import ctypes, mmap, os\n"
        "libc = ctypes.CDLL(None, use_errno=True)\n"
        "libc.syscall.restype = ctypes.c_long\n"
        "libc.mmap.restype = ctypes.c_void_p\n"
        "def page(prot):\n"
        "    return libc.mmap(None, 4096, prot, mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS, -1, 0)\n"
        "ro, none = page(mmap.PROT_READ), page(0)\n"
        "print(libc.syscall(63, ctypes.c_void_p(ro)), os.strerror(ctypes.get_errno()))\n"
        "fd = os.open('hello.ko', os.O_RDONLY)\n"
        "print(libc.syscall(313, fd, ctypes.c_void_p(none), 0), os.strerror(ctypes.get_errno()))\n"
        "print(ctypes.string_at(ro, 1) == b'\\0')\n"
    )
    r = sealed(f"{sys.executable} -c {shlex.quote(script)}")
    assert r.stdout.decode().splitlines() == ["-1 Bad address", "-1 Bad address", "True"], r.stderr


@pytest.mark.skipif(os.geteuid() != 0, reason="the shell's mount namespace needs root")
def test_long_parameters_reach_the_module_and_too_long_ones_get_enomem(sealed):
    """strndup_user(uargs) copies any length memdup_user() can allocate: 24 KB of parameters
    (p_int given 3,000 times) load, travelling to the daemon beside the request; past
    KMALLOC_MAX_SIZE (4 MiB) the load fails with ENOMEM where the kernel copies them."""
    script = (
        "import ctypes, os\n"
        "libc = ctypes.CDLL(None, use_errno=True)\n"
        "libc.syscall.restype = ctypes.c_long\n"
        "fd = os.open('params.ko', os.O_RDONLY)\n"
        "for n in (3_000, 700_000):\n"
        "    rc = libc.syscall(313, fd, ctypes.c_char_p(b'p_int=7 ' * n), 0)\n"
        "    print(rc, os.strerror(ctypes.get_errno()) if rc else 'ok')\n"
        "    if rc == 0:\n"
        "        print(open('/sys/module/params/parameters/p_int').read().strip())\n"
        "        print(libc.syscall(176, b'params', 0))\n"
    )
    r = sealed(f"cp {PREBUILT}/params.ko . && {sys.executable} -c {shlex.quote(script)}")
    assert r.stdout.decode().splitlines() == ["0 ok", "7", "0", "-1 Cannot allocate memory"], r.stderr
