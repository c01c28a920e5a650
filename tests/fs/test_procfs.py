"""Files a module puts in /proc, read through its own callbacks on the CPU (issue 5).

What each read shows is compared with the real kernel's in test_real_tools (scenario procfs);
here: the seq_file machinery itself, and that reading gives every byte of memory back.
"""

from __future__ import annotations

import errno

import pytest
from realref import PREBUILT

from pseudokernel.fs import build_root
from pseudokernel.fs.tree import Reader, lookup

PROCFS = PREBUILT / "procfs.ko"


def big_expected() -> bytes:
    """What procfs.ko's "big" file holds (its big_show()): 300 records, every 7th from the
    fourth skipped, record 150 wider than a page."""
    out = []
    for i in range(300):
        if i % 7 == 3:
            continue
        if i == 150:
            out.append(b"%03d %5000s|\n" % (i, b"wide"))
        else:
            out.append(b"%03d %-32s|\n" % (i, b"odd" if i % 2 else b"even"))
    return b"".join(out)


def read(kernel, path: str) -> bytes:
    return lookup(build_root(kernel), path).read(Reader())


@pytest.fixture
def procfs(kernel):
    kernel.finit_module(PROCFS.read_bytes())
    yield kernel
    if kernel.find_module("procfs"):
        kernel.delete_module("procfs")


def test_each_kind_of_entry_reads_through_its_callbacks(procfs):
    assert read(procfs, "/proc/pk_procfs/single") == b"single: read 1, items 3\nsecond line\n!\n"
    assert read(procfs, "/proc/pk_top") == b"single: read 2, items 3\nsecond line\n!\n"
    assert read(procfs, "/proc/pk_procfs/ops") == b"the proc_ops entry: private set\ndecimal 1234567 negative -42\n"
    assert read(procfs, "/proc/pk_procfs/items") == b"0\talpha\n1\tbeta\n2\tgamma\n"
    assert read(procfs, "/proc/pk_procfs/raw") == b"raw bytes from proc_read\n"


def test_records_beyond_a_page_skips_and_an_oversized_record(procfs):
    """seq_read_iter(): the buffer doubles for the 5 KiB record, SEQ_SKIP drops a record,
    and the 128 KiB reads of cat take the file in one piece."""
    assert read(procfs, "/proc/pk_procfs/big") == big_expected()


def test_reading_gives_its_memory_back(procfs):
    slab = procfs.machine.slab
    read(procfs, "/proc/pk_procfs/big")  # warm: the slab classes exist
    before = dict(slab.live)
    for path in ("single", "ops", "items", "raw", "big") * 20:
        read(procfs, f"/proc/pk_procfs/{path}")
    assert slab.live.keys() == before.keys()


def test_entries_go_with_the_module_and_nothing_leaks(procfs):
    procfs.delete_module("procfs")
    assert procfs.last_report == []
    root = build_root(procfs)
    assert "pk_procfs" not in lookup(root, "/proc").list()
    assert lookup(root, "/proc/pk_top") is None
    assert b"procfs: 0 reads of single" in [r.text for r in procfs.log.records()]


def test_a_file_the_module_did_not_give_a_read_fails_like_the_kernel(procfs, monkeypatch):
    """A proc_ops without proc_read: pde_read() fails the read with -EIO."""
    from pseudokernel.emu.kapi import seq_file

    rec = next(r for r in procfs.registry.of_kind("proc") if r.name == "raw")
    monkeypatch.setattr(seq_file, "_proc_op", lambda k, ops, name: 0)
    with pytest.raises(OSError) as e:
        procfs.read_module_file(rec)
    assert e.value.errno == errno.EIO
