"""The recorded scenarios, replayed with the real tools against the mount, on each kernel.

Each script of tests/expected/real/ ran on Debian's real 6.1 and 6.12 kernels under QEMU, with
busybox, kmod, util-linux and sysfsutils (tests/expected/real/). Here the same script runs
sealed (`pseudokernel run`): the daemon's proc/, sys/ and dev/ are bound over /proc, /sys and
/dev, and the module system calls of every program are the daemon's. insmod, rmmod, modprobe,
lsmod, modinfo, systool and dmesg are the real kmod, sysfsutils and util-linux tools, the shell
and file tools the same busybox. The outputs must be equal, but
for what differs between any two boots (addresses, timestamps, PIDs) and the machine's own
boot (the built-in modules in /sys/module, the boot log)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from realref import REAL, REFERENCES, Reference, Section, normalize, parse

SCENARIOS = REAL  # each scenario NAME.sh next to its recording NAME.txt
BUSYBOX = shutil.which("busybox")
REAL_TOOLS = {t: f"/sbin/{t}" for t in ("insmod", "rmmod", "modprobe", "lsmod", "modinfo", "depmod")} | {"dmesg": "/bin/dmesg"}
NEEDED = ["/sbin/lsmod", "/sbin/modinfo", "/bin/dmesg", "/usr/bin/systool", "/usr/bin/unshare"]

pytestmark = pytest.mark.skipif(
    not os.path.exists("/dev/fuse") or BUSYBOX is None or not all(os.path.exists(p) for p in NEEDED)
    or os.geteuid() != 0,
    reason="needs /dev/fuse, root (for unshare -m), busybox, kmod, util-linux and sysfsutils",
)

# sections whose output is the whole boot log of the real machine, or depends on its boot; and
# `dmesg -S`, which asks the syslog(2) system call: no file can stand in for it (the mount's
# proc/kmsg has that format for `dmesg -F`)
WHOLE_LOG = re.compile(r"^(dmesg|dmesg -r|dmesg \| tail|timeout 1 cat /dev/kmsg.*|/dev/kmsg .*|dmesg -S.*)$")
def comparable(s: Section) -> bool:
    return not WHOLE_LOG.match(s.command)


CASES = [pytest.param(ref, name, id=f"{ref.id}-{name}") for ref in REFERENCES for name in ref.scenarios()]


@pytest.fixture(scope="module")
def toolbox(tmp_path_factory) -> Path:
    """A bin/ with busybox's applets, plus insmod/rmmod/modprobe that call pseudokernel."""
    d = tmp_path_factory.mktemp("toolbox")
    # the C tools the scenarios run from their directory, built as scripts/record-reference does
    for src in (REAL.parent.parent / "tools").glob("pk-ioctl.c"):
        subprocess.run(["gcc", "-O2", "-static", "-o", d / src.stem, src], check=True)
    applets = subprocess.run([BUSYBOX, "--list"], capture_output=True, text=True).stdout.split()
    for a in applets:
        if a not in ("insmod", "rmmod", "modprobe", "lsmod", "modinfo", "depmod", "dmesg"):
            os.symlink(BUSYBOX, d / a)
    return d


def run_scenario(ref: Reference, name: str, mount: Path, toolbox: Path, workdir: Path) -> bytes:
    from variants import files

    for ko in ref.prebuilt.glob("*.ko"):
        shutil.copy(ko, workdir / ko.name)
    for fname, data in files(ref.prebuilt / "hello.ko").items():
        (workdir / fname).write_bytes(data)
    shutil.copy(toolbox / "pk-ioctl", workdir / "pk-ioctl")
    preamble = "".join(f'{n}() {{ {p} "$@"; }}\n' for n, p in REAL_TOOLS.items())
    script = workdir / "script.sh"
    script.write_text(preamble + (SCENARIOS / "lib.sh").read_text() + (SCENARIOS / f"{name}.sh").read_text())
    inner = f"cd {workdir} && PATH={toolbox}:/usr/sbin:/usr/bin:/sbin:/bin LANG=C LC_ALL=C exec {toolbox}/sh {script}"
    r = subprocess.run([sys.executable, "-m", "pseudokernel", "--mount", str(mount), "run", "--", "/bin/sh", "-c", inner],
                       capture_output=True, timeout=300, stdin=subprocess.DEVNULL)
    # the recording's script was /script.sh in the guest, run by busybox as sh (its comm)
    return (r.stdout + r.stderr).replace(str(script).encode(), b"/script.sh")


@pytest.mark.parametrize("ref,name", CASES)
def test_scenario_matches_the_real_kernel(ref, name, tmp_path, toolbox):
    from pkrun import pk

    mount, drop = tmp_path / "mnt", tmp_path / "drop"
    work = tmp_path / "ko"
    work.mkdir()
    os.environ["PSEUDOKERNEL_STATE"] = str(tmp_path / "state")
    append = re.search(r"^# qemu-append: (.*)$", (SCENARIOS / f"{name}.sh").read_text(), re.M)
    cmdline = "console=ttyS0 quiet panic=-1" + (" " + append.group(1) if append else "")
    r = pk("up", "--drop", str(drop), "--budget", "10", "--cmdline", cmdline, "--profile", ref.release, mount=mount)
    assert r.returncode == 0, r.stderr
    try:
        ours = parse(run_scenario(ref, name, mount, toolbox, work))
    finally:
        pk("down", mount=mount)
        subprocess.run(["fusermount3", "-u", "-z", str(mount)], capture_output=True)
    real = ref.sections(name)
    assert [s.command for s in ours] == [s.command for s in real]
    # a step the mount cannot reproduce is named in the scenario with its reason; so is a log
    # line pseudokernel prints elsewhere than the kernel (it is left out of both logs, the rest
    # of the log is compared)
    text = (SCENARIOS / f"{name}.sh").read_text()
    differs = re.findall(r"^# differs: (.*?) \(", text, re.M)
    moved = [line.encode() for line in re.findall(r"^# differs in order: (.*?) \(", text, re.M)]

    def kept(output: bytes) -> bytes:
        return b"".join(line for line in output.splitlines(True) if not any(m in line for m in moved))

    for a, b in zip(ours, real):
        if not comparable(b) or b.command in differs:
            continue
        assert (a.command, normalize(kept(a.output)), a.exit) == (b.command, normalize(kept(b.output)), b.exit)
