"""`pseudokernel insmod --gdb PORT` driven by the real gdb: init stops before its first
instruction, gdb breaks in hello_init with its source line, steps, reads the module's memory and
lets init finish; a wait nobody answers ends with the insmod that asked."""

from __future__ import annotations

import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from pkrun import daemon_at, pk, wait_for

PREBUILT = Path(__file__).resolve().parents[1] / "modules" / "prebuilt"
pytestmark = pytest.mark.skipif(shutil.which("gdb") is None, reason="needs gdb (scripts/install --test)")


@pytest.fixture
def daemon(tmp_path):
    yield from daemon_at(tmp_path)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def insmod_gdb(mount: Path, port: int, *args: str) -> subprocess.Popen:
    # SIGINT as at a terminal: a test run started in the background by a non-interactive shell
    # (a CI runner's) inherits it ignored, and an ignored SIGINT is ignored by insmod too
    return subprocess.Popen([sys.executable, "-m", "pseudokernel", "--mount", str(mount), "insmod", "--gdb", str(port),
                             str(PREBUILT / "hello.ko"), *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))


def gdbinit(mount: Path, name: str) -> str:
    """`pseudokernel gdbinit NAME` once the module exists (COMING: its init waits for gdb)."""
    out = []

    def ready() -> bool:
        r = pk("gdbinit", name, mount=mount)
        out[:] = [r.stdout.decode().strip()] if r.returncode == 0 else []
        return bool(out)

    assert wait_for(ready), "the module never came"
    return out[0]


def gdb(port: int, *commands: str) -> str:
    argv = ["gdb", "-batch", "-nx", "-ex", f"target remote :{port}"]
    for c in commands:
        argv += ["-ex", c]
    r = subprocess.run(argv, capture_output=True, text=True, timeout=60)
    return r.stdout + r.stderr


def module_line(mount: Path, name: str) -> str:
    lines = (mount / "proc" / "modules").read_text().splitlines()
    return next((line for line in lines if line.startswith(name + " ")), "")


def test_break_step_and_continue_in_init(daemon):
    mount, _ = daemon
    port = free_port()
    insmod = insmod_gdb(mount, port, "count=7", "who=gdb")
    try:
        symbols = gdbinit(mount, "hello")
        assert symbols.startswith(f"add-symbol-file {PREBUILT / 'hello.ko'} ")
        sections = dict(re.findall(r"-s (\S+) (0x[0-9a-f]+)", symbols))
        assert {".init.text", ".data", ".exit.text", ".bss"} <= sections.keys()
        assert "Loading" in module_line(mount, "hello")  # COMING, init not run
        out = gdb(port, symbols, "break hello_init", "continue", "bt", "info registers rip", "next", "p count",
                  "continue")
        status = insmod.wait(30)
    finally:
        insmod.kill()
    assert re.search(r"Breakpoint 1, hello_init \(\) at \S*hello\.c:\d+", out), out
    assert re.search(r"^#0 +hello_init \(\) at \S*hello\.c:\d+", out, re.M), out
    rip = int(re.search(r"^rip +(0x[0-9a-f]+)", out, re.M).group(1), 16)
    init_text = int(sections[".init.text"], 16)
    assert init_text <= rip < init_text + 4096
    assert "$1 = 7" in out
    assert "exited normally" in out
    assert status == 0, insmod.stderr.read()
    assert " Live " in module_line(mount, "hello")
    assert (mount / "dmesg").read_text().count("hello: hello gdb (") == 7
    # once LIVE, init's memory is gone: gdbinit leaves it out
    assert ".init.text" not in pk("gdbinit", "hello", mount=mount).stdout.decode()


def test_detach_lets_init_run_on(daemon):
    mount, _ = daemon
    port = free_port()
    insmod = insmod_gdb(mount, port)
    try:
        gdbinit(mount, "hello")
        out = gdb(port, "info registers rip", "detach")
        assert insmod.wait(30) == 0, out
    finally:
        insmod.kill()
    assert " Live " in module_line(mount, "hello")


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_a_wait_nobody_answers_ends_with_the_insmod(daemon, sig):
    """Ctrl-C or kill of the insmod waiting for gdb: it dies of the signal at once, the daemon
    lets init run on (as for any insmod killed during its load) and stays healthy."""
    mount, _ = daemon
    port = free_port()
    insmod = insmod_gdb(mount, port)
    try:
        gdbinit(mount, "hello")
        time.sleep(0.5)
        assert insmod.poll() is None  # still waiting
        t0 = time.monotonic()
        insmod.send_signal(sig)
        assert insmod.wait(10) == -sig
        assert time.monotonic() - t0 < 2
    finally:
        insmod.kill()
    assert wait_for(lambda: " Live " in module_line(mount, "hello"), 10)
    assert pk("rmmod", "hello", mount=mount).returncode == 0
    # the port is free again and the next load is as usual
    r = pk("insmod", str(PREBUILT / "hello.ko"), mount=mount)
    assert r.returncode == 0, r.stderr
    with socket.socket() as s:
        s.bind(("127.0.0.1", port))


def test_a_port_in_use_fails_the_insmod(daemon):
    mount, _ = daemon
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen(1)
        r = pk("insmod", "--gdb", str(s.getsockname()[1]), str(PREBUILT / "hello.ko"), mount=mount)
    assert r.returncode == 1
    assert b"Address already in use" in r.stderr
    assert module_line(mount, "hello") == ""


@pytest.fixture
def short_budget(tmp_path):
    yield from daemon_at(tmp_path, "--budget", "3")


def test_interrupt_a_running_init_and_outlast_its_budget(short_budget):
    """spin.ko's init loops until `stop` is set: gdb's Ctrl-C stops it in spin_init, a stop
    longer than the init's budget (3 s here) does not count against it, and a memory write
    from gdb ends the loop."""
    mount, _ = short_budget
    port = free_port()
    insmod = subprocess.Popen([sys.executable, "-m", "pseudokernel", "--mount", str(mount), "insmod", "--gdb",
                               str(port), str(PREBUILT / "spin.ko")], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        symbols = gdbinit(mount, "spin")
        argv = ["gdb", "-batch", "-nx", "-ex", f"target remote :{port}", "-ex", symbols, "-ex", "echo running\\n",
                "-ex", "continue", "-ex", "bt 1", "-ex", "shell sleep 4", "-ex", "echo running\\n", "-ex", "continue",
                "-ex", "set var stop = 1", "-ex", "continue"]
        g = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        out = ""
        for _ in range(2):  # Ctrl-C a second after each continue: 1 s + 4 s stopped + 1 s > 3 s
            while "running" not in (line := g.stdout.readline()):
                assert line, out
                out += line
            out += line
            time.sleep(1)
            g.send_signal(signal.SIGINT)
        out += g.communicate(timeout=60)[0]
        status = insmod.wait(30)
    finally:
        insmod.kill()
    assert out.count("received signal SIGINT") == 2, out
    assert re.search(r"^#0 +.*spin_init \(\) at \S*spin\.c:\d+", out, re.M), out
    assert "exited normally" in out, out
    assert status == 0, insmod.stderr.read()
    assert " Live " in module_line(mount, "spin")



@pytest.fixture
def armed(tmp_path):
    port = free_port()
    for mount, drop in daemon_at(tmp_path, "--gdb", str(port)):
        yield mount, drop, port


def test_up_gdb_arms_every_init(armed):
    """`up --gdb PORT`: a module dropped in the folder waits for gdb too."""
    mount, drop, port = armed
    shutil.copy(PREBUILT / "hello.ko", drop / "hello.ko")
    symbols = gdbinit(mount, "hello")
    assert "Loading" in module_line(mount, "hello")
    out = gdb(port, symbols, "break hello_init", "continue", "continue")
    assert re.search(r"Breakpoint 1, hello_init \(\) at \S*hello\.c:\d+", out), out
    assert wait_for(lambda: " Live " in module_line(mount, "hello"), 10)
