"""The unload report (beyond the kernel): memory, registrations and locks a module left."""

from __future__ import annotations

import os
import re

import pytest
from pkrun import pk
from realref import ko

from pseudokernel.log import format_dmesg


def test_leaky_module_is_reported(kernel):
    kernel.finit_module(ko("leaky"))
    kernel.delete_module("leaky")
    report = kernel.last_report
    assert report[0] == "pseudokernel: leaky: 1 new suspected memory leaks at unload"
    assert report[1].startswith("unreferenced object 0xffff888") and report[1].endswith(" (size 48):")
    assert report[2] == "  hex dump (first 32 bytes):"
    assert report[3].startswith("    6e 65 76 65 72 20 66 72 65 65 64 00") and report[3].endswith("  never freed.....")
    # the allocation came from init, whose text is gone by now: like kmemleak, the raw address
    assert re.fullmatch(r"    \[<(ffffffffc[0-9a-f]{7})>\] 0x\1", report[6])
    assert report[-1].startswith("pseudokernel: leaky: lock 0xffffffffc")
    assert "taken at leaky_exit+" in report[-1] and report[-1].endswith(" still held at unload")
    text = format_dmesg(kernel.log.records()).decode()
    assert "] pseudokernel: leaky: 1 new suspected memory leaks at unload\n" in text


def test_clean_module_has_nothing_to_report(kernel):
    kernel.finit_module(ko("hello"))
    kernel.delete_module("hello")
    assert kernel.last_report == []


@pytest.mark.skipif(not os.path.exists("/dev/fuse"), reason="needs /dev/fuse")
def test_rmmod_report(tmp_path):
    from realref import PREBUILT

    mount = tmp_path / "mnt"
    os.environ["PSEUDOKERNEL_STATE"] = str(tmp_path / "state")
    assert pk("up", "--drop", str(tmp_path / "drop"), mount=mount).returncode == 0
    try:
        assert pk("insmod", str(PREBUILT / "leaky.ko"), mount=mount).returncode == 0
        r = pk("rmmod", "--report", "leaky", mount=mount)
        assert r.returncode == 0
        out = r.stdout.decode()
        assert out.startswith("pseudokernel: leaky: 1 new suspected memory leaks at unload\n")
        assert pk("insmod", str(PREBUILT / "hello.ko"), mount=mount).returncode == 0
        r = pk("rmmod", "--report", "hello", mount=mount)
        assert r.stdout == b"no leaks, registrations or held locks\n"
    finally:
        pk("down", mount=mount)
