"""The block layer, driven in process by the ramdisk fixture (tests/modules/src/ramdisk): what
reaches the driver's queue_rq for each way of reading and writing, what the kernel prints on the
way, and what the views show. Its behaviour against the real kernel is its recordings
(tests/expected/real*/ramdisk*.txt, replayed by tests/kmod/test_real_tools)."""

from __future__ import annotations

import errno
import os
import re

import pytest
from realref import ko

from pseudokernel import vfs
from pseudokernel.emu.kapi.bio import alloc_bio
from pseudokernel.emu.kapi.blk_mq import __blk_rq_map_sg
from pseudokernel.emu.kapi.genhd import added_disks
from pseudokernel.emu.kapi.mm import virt_to_page
from pseudokernel.fs.block import disk_dir, disk_named, proc_partitions
from pseudokernel.fs.devices import attr_entries
from pseudokernel.fs.procfs import proc_devices
from pseudokernel.fs.tree import Reader
from pseudokernel.kernel import Caller
from pseudokernel.log import format_dmesg

CALLER = Caller(pid=4242, comm="dd")


def log_since(kernel, start: int) -> list[str]:
    text = format_dmesg(kernel.log.records(start)).decode()
    return re.sub(r"^\[ *\d+\.\d+\] ", "", text, flags=re.M).splitlines()


def requests(lines: list[str]) -> list[str]:
    return [line.removeprefix("ramdisk: ") for line in lines if re.match(r"ramdisk: (read|write) sector", line)]


def open_disk(kernel, flags: int) -> vfs.DiskFile:
    (disk,) = added_disks(kernel.api)
    return vfs.DiskFile.open(kernel, CALLER, disk, "/dev/pkram0", flags)


@pytest.fixture
def ramdisk(kernel):
    kernel.finit_module(ko("ramdisk"), "")
    yield kernel
    if kernel.find_module("ramdisk") is not None:
        kernel.delete_module("ramdisk")


def test_add_disk_scans_the_partitions_through_queue_rq(kernel):
    start = kernel.log.next_seq
    kernel.finit_module(ko("ramdisk"), "")
    lines = log_since(kernel, start)
    # the parsers read sectors 0..15 and 31: pages 0, 1 and 3 of the bdev's page cache
    assert requests(lines) == ["read sector 0, 4096 bytes", "read sector 8, 4096 bytes", "read sector 24, 4096 bytes"]
    assert "ramdisk: pkram0: 2048 sectors (1024 KiB)" in lines
    assert proc_partitions(kernel) == b"major minor  #blocks  name\n\n 254        0       1024 pkram0\n"
    assert proc_devices(kernel).decode().endswith("Block devices:\n254 pkram\n259 blkext\n")
    kernel.delete_module("ramdisk")
    assert proc_partitions(kernel) == b""
    assert "suspected memory leaks" not in "\n".join(log_since(kernel, start))


def test_a_disk_too_small_for_the_scan_says_so(kernel):
    start = kernel.log.next_seq
    kernel.finit_module(ko("ramdisk"), "size_kb=8")
    lines = log_since(kernel, start)
    # ultrix.c's sector 31 lies past the 16 sectors: the scan stops there
    assert " pkram0: unable to read partition table" in lines
    assert "pkram0: partition table beyond EOD, truncated" in lines
    kernel.delete_module("ramdisk")


def test_direct_io_is_one_request_per_bio_and_checks_alignment(ramdisk):
    f = open_disk(ramdisk, os.O_RDWR | os.O_DIRECT)
    start = ramdisk.log.next_seq
    assert f.write(b"x" * 8192, 4096) == 8192
    assert f.read(8192, 4096) == b"x" * 8192
    with pytest.raises(OSError) as e:
        f.read(100, 0)
    assert e.value.errno == errno.EINVAL
    assert f.read(4096, 1 << 20) == b""  # at the end
    with pytest.raises(OSError) as e:
        f.write(b"y" * 512, 1 << 20)
    assert e.value.errno == errno.ENOSPC
    f.release()
    assert requests(log_since(ramdisk, start)) == ["write sector 8, 8192 bytes", "read sector 8, 8192 bytes"]


def test_a_direct_read_past_max_sectors_is_split(ramdisk):
    f = open_disk(ramdisk, os.O_RDONLY | os.O_DIRECT)
    start = ramdisk.log.next_seq
    assert len(f.read(1 << 17, 0)) == 1 << 17
    f.release()
    # 256 sectors, max_sectors 255 (BLK_SAFE_MAX_SECTORS)
    assert requests(log_since(ramdisk, start)) == ["read sector 0, 130560 bytes", "read sector 255, 512 bytes"]


def test_buffered_writes_are_written_back_at_the_last_close(ramdisk):
    f = open_disk(ramdisk, os.O_RDWR)
    start = ramdisk.log.next_seq
    assert f.write(b"hello\n", 512) == 6  # a partial page: read first
    assert f.write(b"z" * 8192, 8192) == 8192  # whole pages: not read
    assert requests(log_since(ramdisk, start)) == ["read sector 0, 4096 bytes"]
    f.flush()  # close(): the last opener's writeback, before close() returns
    f.release()
    # pages 0, 2 and 3 dirty: two runs
    assert requests(log_since(ramdisk, start))[1:] == ["write sector 0, 4096 bytes", "write sector 16, 8192 bytes"]


def test_fsync_writes_back_what_is_dirty(ramdisk):
    f = open_disk(ramdisk, os.O_WRONLY)
    start = ramdisk.log.next_seq
    f.write(b"q" * 4096, 4096)
    f.fsync()
    assert requests(log_since(ramdisk, start)) == ["write sector 8, 4096 bytes"]
    f.release()
    assert requests(log_since(ramdisk, start)) == ["write sector 8, 4096 bytes"]  # nothing left


def test_buffered_reads_read_ahead(ramdisk):
    f = open_disk(ramdisk, os.O_RDONLY)
    start = ramdisk.log.next_seq
    for i in range(6):
        f.read(4096, i * 4096)
    f.release()
    # 4 pages at the start, the mark on page 1: 8 from page 4, marked there: 16 from page 12
    assert requests(log_since(ramdisk, start)) == ["read sector 0, 16384 bytes", "read sector 32, 32768 bytes",
                                                   "read sector 96, 65536 bytes"]


def test_block_ioctls_answer_from_the_disk_and_the_driver(ramdisk):
    f = open_disk(ramdisk, os.O_RDONLY)
    assert f.ioctl(0x80081272, 0, None, 8) == (0, (1 << 20).to_bytes(8, "little"))  # BLKGETSIZE64
    assert f.ioctl(0x80081270, 0, None, 8)[1][:4] == (4096).to_bytes(4, "little")  # BLKBSZGET
    ret, geo = f.ioctl(0x0301, 0, None, 16)  # HDIO_GETGEO: the driver's getgeo
    assert ret == 0 and (geo[0], geo[1], int.from_bytes(geo[2:4], "little")) == (4, 16, 32)
    with pytest.raises(OSError) as e:
        f.ioctl(0x4B3A, 0, None, 0)
    assert e.value.errno == errno.ENOTTY
    f.release()


def test_an_open_disk_holds_its_module(ramdisk):
    f = open_disk(ramdisk, os.O_RDONLY)
    with pytest.raises(OSError) as e:
        ramdisk.delete_module("ramdisk")
    assert e.value.errno == errno.EWOULDBLOCK
    f.release()


def test_a_disk_that_takes_bios_gets_them_from_its_submit_bio(kernel, tree):
    """Debian's brd: blk_alloc_disk(), its own submit_bio, bio_endio()."""
    (brd,) = tree.glob("lib/modules/*/kernel/drivers/block/brd.ko*")
    kernel.finit_module(brd.read_bytes(), "rd_nr=1 rd_size=64")
    assert proc_partitions(kernel) == b"major minor  #blocks  name\n\n   1        0         64 ram0\n"
    ram0 = disk_dir(kernel, disk_named(kernel, "ram0"), attr_entries)
    assert "mq" not in ram0.list() and "queue" in ram0.list()
    assert ram0.child("queue").child("scheduler").read(Reader()) == b"none\n"
    f = open_disk(kernel, os.O_RDWR | os.O_DIRECT)
    assert f.write(b"brd!" * 1024, 8192) == 4096
    assert f.read(4096, 8192) == b"brd!" * 1024
    f.release()
    g = open_disk(kernel, os.O_RDONLY)
    assert g.read(8, 8192 + 4) == b"brd!brd!"
    g.release()
    start = kernel.log.next_seq
    kernel.delete_module("brd")
    assert proc_partitions(kernel) == b""
    assert not any("suspected memory leaks" in line for line in log_since(kernel, start))


def test_rq_map_sg_merges_what_is_physically_contiguous(ramdisk):
    api = ramdisk.api
    m, S = api.m, api.S
    (disk,) = added_disks(api)
    pages = m.kmalloc(3 * 4096, "", 0, kind="page")  # page aligned, contiguous
    other = m.kmalloc(4096, "", 0, kind="page")
    bio = alloc_bio(api, disk.part0, 0, 0, [(virt_to_page(pages), 0, 4096), (virt_to_page(pages + 4096), 0, 4096),
                                            (virt_to_page(other), 512, 1024)])
    rq = m.kmalloc(S.request.sizeof, "", 0)
    m.write(rq, bytes(S.request.sizeof))
    m.write_u64(rq + S.request.bio, bio)
    sgl, last = m.kmalloc(4 * S.scatterlist.sizeof, "", 0), m.kmalloc(8, "", 0)
    m.write(sgl, bytes(4 * S.scatterlist.sizeof))
    m.write_u64(last, 0)
    assert __blk_rq_map_sg(api, disk.queue, rq, sgl, last) == 2
    entries = [(m.read_u64(sg), m.read_u32(sg + 8), m.read_u32(sg + 12)) for sg in (sgl, sgl + 32)]
    assert entries == [(virt_to_page(pages), 0, 8192), (virt_to_page(other) | 2, 512, 1024)]  # SG_END
    assert m.read_u64(last) == sgl + 32


def _mbr(*entries: tuple[int, int, int]) -> bytes:
    """Sector 0 with primary entries (type, start, size)."""
    table = b"".join(bytes([0, 0, 0, 0, t, 0, 0, 0]) + s.to_bytes(4, "little") + n.to_bytes(4, "little")
                     for t, s, n in entries)
    return bytes(446) + table.ljust(64, b"\0") + b"\x55\xaa"


def test_an_msdos_table_makes_partitions_and_rereading_checks_them(kernel):
    kernel.finit_module(ko("ramdisk"), "")
    f = open_disk(kernel, os.O_RDWR | os.O_DIRECT)
    # p2 runs past the end of the 2048 sectors, p3 starts past it
    f.write(_mbr((0x83, 64, 960), (0x83, 1024, 2048), (0x83, 4096, 8)), 0)
    start = kernel.log.next_seq
    assert f.ioctl(0x125F, 0, None, 0) == (0, b"")  # BLKRRPART
    lines = log_since(kernel, start)
    assert " pkram0: p1 p2 p3" in lines
    assert "pkram0: p2 size 2048 extends beyond EOD, truncated" in lines
    assert "pkram0: p3 start 4096 is beyond EOD, truncated" in lines
    assert proc_partitions(kernel).decode().splitlines()[2:] == [
        " 254        0       1024 pkram0", " 254        1        480 pkram0p1", " 254        2        512 pkram0p2"]
    (p1,) = [r for r in kernel.registry.of_kind("part") if r.name == "pkram0p1"]
    g = vfs.DiskFile.open(kernel, CALLER, p1.info["disk"], "/dev/pkram0p1", os.O_RDONLY, p1.info["part"])
    with pytest.raises(OSError) as e:
        f.ioctl(0x125F, 0, None, 0)
    assert e.value.errno == errno.EBUSY  # a partition is open
    g.release()
    f.write(bytes(512), 0)
    assert f.ioctl(0x125F, 0, None, 0) == (0, b"")
    assert kernel.registry.of_kind("part") == []
    f.release()
    kernel.delete_module("ramdisk")


def test_a_disk_without_numbers_of_its_own_gets_blkext_ones(kernel):
    """device_add_disk() with major 0: blk_alloc_ext_minor(), freed with the disk."""
    from pseudokernel.emu.kapi import blk_mq, genhd

    api = kernel.api
    m, S = api.m, api.S

    def zalloc(size: int) -> int:
        addr = m.kmalloc(size, "", 0)
        m.write(addr, bytes(size))
        return addr

    tagset, ops, fops = zalloc(S.blk_mq_tag_set.sizeof), zalloc(S.blk_mq_ops.sizeof), zalloc(S.block_device_operations.sizeof)
    m.write_u64(ops + S.blk_mq_ops.queue_rq, api.function("_printk"))  # never called: the disk has no size
    m.write_u64(tagset + S.blk_mq_tag_set.ops, ops)
    m.write_u32(tagset + S.blk_mq_tag_set.nr_hw_queues, 1)
    m.write_u32(tagset + S.blk_mq_tag_set.queue_depth, 4)
    assert blk_mq.blk_mq_alloc_tag_set(api, tagset) == 0
    disks = []
    for name in (b"pkx0", b"pkx1"):
        disk = genhd.__blk_mq_alloc_disk(api, tagset, 0, 0, 0)
        m.write(disk + S.gendisk.disk_name, name + b"\0")
        m.write_u64(disk + S.gendisk.fops, fops)
        assert genhd.device_add_disk(api, 0, disk, 0) == 0
        disks.append(disk)
    assert [(r.name, r.info["devt"]) for r in kernel.registry.of_kind("disk")] == [
        ("pkx0", 259 << 20), ("pkx1", (259 << 20) | 1)]
    assert proc_partitions(kernel) == b"major minor  #blocks  name\n\n"  # no size: not listed
    genhd.del_gendisk(api, disks[0])
    genhd.put_disk(api, disks[0])
    disk = genhd.__blk_mq_alloc_disk(api, tagset, 0, 0, 0)
    m.write(disk + S.gendisk.disk_name, b"pkx2\0")
    m.write_u64(disk + S.gendisk.fops, fops)
    assert genhd.device_add_disk(api, 0, disk, 0) == 0
    assert kernel.registry.of_kind("disk")[-1].info["devt"] == 259 << 20  # the freed minor again
