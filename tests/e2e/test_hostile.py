"""Hostile modules (issue 6): an init that loops forever, recurses until the stack overflows,
writes to its read-only text, jumps to garbage, asks for 100 GB, or prints a 10 MB line.

Each ends in the report the real 6.1 kernel prints (tests/expected/real/hostile-*.txt,
recorded by scripts/record-reference; the loop is spin.ko's case, which the real kernel never
finishes), the daemon keeps answering while it runs, and the memory of what could be unwound
comes back.
"""

from __future__ import annotations

import errno
import os
import re
import subprocess
import threading

import pytest
from pkrun import pk, wait_for
from realref import PREBUILT, REAL, mask_memory_figures

from pseudokernel.module import LoadError

HOSTILE = (PREBUILT / "hostile.ko").read_bytes()


def memory(kernel) -> tuple:
    """What the emulated machine holds: live slab objects, vmalloc and module areas."""
    m = kernel.machine
    return frozenset(m.slab.live), m.vmalloc_area.used, m.modules_area.used


def mask(line: str) -> str:
    """A log line without what changes from boot to boot: timestamps, PIDs, addresses, stack
    contents, and the memory figures of show_mem()."""
    line = re.sub(r"^(<\d>)?\[ *\d+\.\d+\] ", "", line)
    line = re.sub(r"PID: \d+|insmod\[\d+\]", "PID: N", line)
    line = re.sub(r"\(____ptrval____\)|\b[0-9a-f]{16}\b|0x[0-9a-f]{6,}", "X", line)
    if line.startswith(("RSP:", "RAX:", "RDX:", "RBP:", "R10:", "R13:", "FS:", "CR2:", "Code:", "Kernel Offset:",
                        "PGD ")):
        return line.split(":", 1)[0].split(" ", 1)[0]  # machine-specific values
    return mask_memory_figures(line.encode()).decode()


def real_log(mode: str) -> list[str]:
    """The log of the recording: what dmesg printed, or what the console showed of a panic."""
    text = (REAL / f"hostile-{mode}.txt").read_text()
    text = text.split("=== console ===", 1)[1] if "=== console ===" in text else text.split("=== dmesg -r", 1)[1]
    lines = [mask(x) for x in text.splitlines()[1:] if x != "exit=0" and not x.startswith(" ")]
    return [x for x in lines if not re.match(r"^ \? ", x)]  # unreliable frames: not printed here


def our_log(kernel, seq: int) -> list[str]:
    out = []
    for r in kernel.log.records(seq):
        first = r.text.decode("utf-8", "replace").split("\n", 1)[0]
        out.append(mask(first))
    return out


def load(kernel, mode: str) -> int:
    try:
        kernel.finit_module(HOSTILE, f"mode={mode}")
    except LoadError as e:
        return e.errno
    return 0


@pytest.mark.parametrize("mode, err, stays", [
    ("recurse", errno.EFAULT, True),   # stack guard page, then a panic ("Fatal exception in interrupt")
    ("rotext", errno.EFAULT, True),    # Oops 0003: write to read-only text
    ("garbage", errno.EFAULT, True),   # Oops 0010: instruction fetch from nothing
    ("alloc", errno.ENOMEM, False),    # vmalloc error: size 107374182400, exceeds total pages
    ("bigline", 0, True),              # LIVE; the 10 MB line is cut at LOG_LINE_MAX
])
def test_hostile_init_ends_as_on_the_real_kernel(profile, mode, err, stays):
    from pseudokernel.kernel import Kernel

    kernel = Kernel(profile, cmdline="console=ttyS0 quiet panic=-1", seed=7)  # the reference machine's
    before = memory(kernel)
    seq = kernel.log.next_seq
    assert load(kernel, mode) == err
    mod = kernel.find_module("hostile")
    assert (mod is not None) == stays
    ours = our_log(kernel, seq)
    real = real_log(mode)
    ours = [x for x in ours if not x.startswith("pseudokernel: ")]
    # the real stack is deeper by a random offset (CONFIG_RANDOMIZE_KSTACK_OFFSET): as many
    # recursion frames as it takes, then the same lines
    frame = re.compile(r" recurse\+0x45/0x[0-9a-f]+ \[hostile\]")
    strip = (lambda lines: [x for x in lines if not frame.fullmatch(x)]) if mode == "recurse" else list
    assert strip(ours) == strip(real)
    if mode == "bigline":
        kernel.delete_module("hostile")
        assert memory(kernel) == before
    elif not stays:
        assert memory(kernel) == before


def test_the_10_mb_line_is_one_record_cut_at_log_line_max(kernel):
    seq = kernel.log.next_seq
    assert load(kernel, "bigline") == 0
    kernel.delete_module("hostile")  # its exit's line makes the cut record final, readable
    texts = [r.text for r in kernel.log.records(seq)]
    big = [t for t in texts if t.startswith(b"hostile: xxx")]
    assert len(big) == 1 and len(big[0]) == 1024 - 32 - 1 - 2  # LOG_LINE_MAX, NUL, the KERN_INFO prefix
    assert texts[-1] == b"hostile: exit"


def test_an_endless_init_is_stopped_and_everything_comes_back(kernel):
    before = memory(kernel)
    kernel.machine.budget = 0.5
    seq = kernel.log.next_seq
    assert load(kernel, "loop") == errno.ETIME
    assert kernel.find_module("hostile") is None
    texts = [r.text for r in kernel.log.records(seq)]
    assert any(t.startswith(b"watchdog: BUG: soft lockup - CPU#0 stuck for ") for t in texts)
    assert b"pseudokernel: hostile: init stopped after 0.5s; module unloaded" in texts
    assert memory(kernel) == before


@pytest.mark.skipif(not os.path.exists("/dev/fuse"), reason="needs /dev/fuse")
def test_the_mount_answers_while_an_init_spins(tmp_path):
    """A reader is not held up by a running init: proc/modules shows the module Loading."""
    mount, drop = tmp_path / "mnt", tmp_path / "drop"
    os.environ["PSEUDOKERNEL_STATE"] = str(tmp_path / "state")
    assert pk("up", "--drop", str(drop), "--budget", "6", mount=mount).returncode == 0
    try:
        result = {}
        t = threading.Thread(target=lambda: result.update(r=pk("insmod", str(PREBUILT / "hostile.ko"), "mode=loop",
                                                                   mount=mount)))
        t.start()
        assert wait_for(lambda: "hostile" in (mount / "proc/modules").read_text(), 5)
        seen = []
        while t.is_alive():
            line = (mount / "proc/modules").read_text()
            seen.append(line)
            (mount / "sys/module/hostile/initstate").exists()
            subprocess.run(["ls", str(mount / "sys/module")], check=True, capture_output=True)
        t.join()
        assert any(re.search(r"^hostile \d+ 1 - Loading 0x[0-9a-f]+ \(OE\+\)$", s, re.M) for s in seen), seen[-1]
        assert len(seen) > 10  # the reads went on while the init ran
        assert result["r"].returncode == 1
        assert "hostile" not in (mount / "proc/modules").read_text()
    finally:
        pk("down", mount=mount)
