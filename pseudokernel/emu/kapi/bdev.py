"""A disk opened and closed (block/bdev.c), its page cache, the requests that fill and write
it back, and the partition scan (block/partitions/core.c); blk_fops.py reads and writes through
them, readahead.py reads ahead.

A request goes to the driver's queue_rq (blk_mq.execute()) or, for a disk that takes bios, to
its submit_bio (bio.py). The block device's page cache is kept while the disk is open and
dropped at the last close after its dirty pages are written back (blkdev_flush_mapping()): a
page missing from the cache is read alone in one request (read_mapping_folio()); dirty pages
are written back in runs of contiguous pages merged up to the limits, as the writeback's plug
merges their bios.

The partition scan reads what each parser the profile's config builds in reads before it finds
no table of its kind (check_part[] in order, through the page cache); a disk that holds a
partition table is not parsed (recorded as an approximation).
"""

from __future__ import annotations

from errno import EINVAL, EIO, ENOSPC, ENXIO
from typing import TYPE_CHECKING

from ...bits import PAGE_SIZE, s32
from ...profile import versions
from . import KernelApi
from .bio import submit_bio_wait
from .blk_mq import REQ_OP_READ, REQ_OP_WRITE, REQ_SYNC, execute
from .blkdev import GD_DEAD, GD_NATIVE_CAPACITY_BIT, GD_NEED_PART_SCAN, GENHD_FL_HIDDEN, GENHD_FL_NO_PART
from .mm import virt_to_page

if TYPE_CHECKING:
    from .blkdev import Disk

FMODE_READ, FMODE_WRITE = 1, 2
SECTOR = 512
BIO_MAX_VECS = 256
VM_READAHEAD_PAGES = 32

# check_part[] (block/partitions/core.c) in order: the config option, and the sectors the parser
# reads from a disk that holds no table of its kind (acorn.c, efi.c's legacy MBR, sgi.c, ldm.c,
# msdos.c, osf.c, sun.c, amiga.c's RDB_ALLOCATION_LIMIT blocks, atari.c, mac.c, ultrix.c's label
# at (16384 - sizeof(label)) / 512, karma.c, sysv68.c)
PARSERS: tuple[tuple[str, tuple[int, ...]], ...] = (
    ("ACORN_PARTITION_ICS", (0,)), ("ACORN_PARTITION_POWERTEC", (0,)), ("ACORN_PARTITION_EESOX", (7,)),
    ("ACORN_PARTITION_CUMANA", (6,)), ("ACORN_PARTITION_ADFS", (6,)), ("CMDLINE_PARTITION", ()),
    ("EFI_PARTITION", (0,)), ("SGI_PARTITION", (0,)), ("LDM_PARTITION", (0,)), ("MSDOS_PARTITION", (0,)),
    ("OSF_PARTITION", (0,)), ("SUN_PARTITION", (0,)), ("AMIGA_PARTITION", tuple(range(16))),
    ("ATARI_PARTITION", (0,)), ("MAC_PARTITION", (0,)), ("ULTRIX_PARTITION", (31,)), ("KARMA_PARTITION", (0,)),
    ("SYSV68_PARTITION", (0,)),
)


# -- open and close -------------------------------------------------------------------------------

def _lbs(k: KernelApi, d: Disk) -> int:
    return k.m.read_u32(d.queue + k.S.request_queue.limits + k.S.queue_limits.logical_block_size) or SECTOR


def _limit(k: KernelApi, d: Disk, member: str) -> int:
    addr = d.queue + k.S.request_queue.limits + k.S.queue_limits[member]
    return k.m.read_u16(addr) if member == "max_segments" else k.m.read_u32(addr)


def size_bytes(k: KernelApi, d: Disk) -> int:
    return d.capacity(k) * SECTOR


def set_init_blocksize(k: KernelApi, d: Disk) -> None:
    """The largest power of two up to a page that divides the disk's size."""
    bsize, size = _lbs(k, d), size_bytes(k, d)
    while bsize < PAGE_SIZE and not size & bsize:
        bsize <<= 1
    d.blkbits = bsize.bit_length() - 1


def blkdev_get(k: KernelApi, d: Disk, mode: int) -> int:
    """blkdev_get_by_dev() of the whole disk: the driver's module held, its open(), the block
    size at the first open, a pending partition scan. 0 or a negative errno."""
    if d.state_bit(k, GD_DEAD):
        return -ENXIO
    fops = k.m.read_u64(d.gendisk + k.S.gendisk.fops)
    owner = k.m.read_u64(fops + k.S.block_device_operations.owner) if fops else 0
    if owner and not k.kernel.try_module_get(owner):
        return -ENXIO
    op = d.fops(k, "open")
    if op:
        # 6.5: open(struct gendisk *, blk_mode_t) where 6.1 passed the block_device
        ret = s32(k.m.call(op, d.gendisk if k.profile.since(versions.BLK_OPEN_GENDISK) else d.part0, mode))
        if ret:
            if owner:
                k.kernel.module_put(owner)
            return ret
    if not d.openers:
        set_init_blocksize(k, d)
    if d.state_bit(k, GD_NEED_PART_SCAN):
        bdev_disk_changed(k, d)
    d.openers += 1
    _set_openers(k, d)
    return 0


def blkdev_put(k: KernelApi, d: Disk, mode: int) -> None:
    """The last close writes the dirty pages back and drops the cache; the driver's
    release(); the module is let go."""
    if d.openers == 1:
        sync_blockdev(k, d)
    d.openers = max(d.openers - 1, 0)
    _set_openers(k, d)
    if not d.openers:
        sync_blockdev(k, d)
        d.cache.clear()
    op = d.fops(k, "release")
    if op:
        k.m.call(op, d.gendisk, mode)
    fops = k.m.read_u64(d.gendisk + k.S.gendisk.fops)
    owner = k.m.read_u64(fops + k.S.block_device_operations.owner) if fops else 0
    if owner:
        k.kernel.module_put(owner)


def _set_openers(k: KernelApi, d: Disk) -> None:
    k.m.write_u32(d.part0 + k.S.block_device.bd_openers, d.openers)


# -- the page cache -------------------------------------------------------------------------------

def _pages(k: KernelApi, n: int) -> list[int]:
    return [k.m.kmalloc(PAGE_SIZE, "", 0, kind="page") for _ in range(n)]


def _request(k: KernelApi, d: Disk, op: int, flags: int, sector: int, chunks: list[bytes] | list[int],
             merges: int = 0) -> tuple[int, list[bytes]]:
    """One request over fresh pages: chunks are the bytes to write, or the lengths to read;
    merges: how many bios were merged into it. Its status, and for a read what each segment
    holds."""
    m = k.m
    lengths = [c if isinstance(c, int) else len(c) for c in chunks]
    pages = _pages(k, len(chunks))
    try:
        for page, c in zip(pages, chunks):
            if not isinstance(c, int):
                m.write(page, c)
        d.inflight[op & 1] += 1
        try:
            status = submit(k, d, op, flags, sector, [(virt_to_page(p), 0, n) for p, n in zip(pages, lengths)])
        finally:
            d.inflight[op & 1] -= 1
        if not status:
            d.stats[op & 1][0] += 1
            d.stats[op & 1][2] += sum(lengths) // SECTOR
            d.stats[op & 1][1] += merges
        got = [m.read(p, n) for p, n in zip(pages, lengths)] if op == REQ_OP_READ else []
        return status, got
    finally:
        for p in pages:
            k.kfree(p)


def submit(k: KernelApi, d: Disk, op: int, flags: int, sector: int, segments: list[tuple[int, int, int]]) -> int:
    """submit_bio_wait(): a request to the driver's queue_rq for a blk-mq disk, the bio itself
    to its submit_bio otherwise. The blk_status_t."""
    if k.m.read_u64(d.queue + k.S.request_queue.mq_ops):
        return execute(k, d.queue, d.part0, op, flags, sector, segments)
    return submit_bio_wait(k, d.fops(k, "submit_bio"), d.part0, op | flags, sector, segments)


def _page_bytes(k: KernelApi, d: Disk, index: int) -> int:
    """What of a page lies inside the disk (the blocks past the end are zeroed, not read)."""
    return max(min(PAGE_SIZE, size_bytes(k, d) - index * PAGE_SIZE), 0)


def _buffer_error(k: KernelApi, d: Disk, index: int) -> None:
    """fs/buffer.c buffer_io_error() for each block of a page that failed to read."""
    bsize = 1 << d.blkbits
    for blk in range(_page_bytes(k, d, index) // bsize):
        k.log.err(f"Buffer I/O error on dev {d.name(k)}, logical block {index * PAGE_SIZE // bsize + blk}, "
                  "async page read\n")


def read_page(k: KernelApi, d: Disk, index: int) -> bool:
    """A page missing from the cache read alone, in one request (read_mapping_folio(),
    filemap_create_folio(), a partial write's block_write_begin())."""
    if index in d.cache or not _page_bytes(k, d, index):
        return True
    status, got = _request(k, d, REQ_OP_READ, 0, index * PAGE_SIZE // SECTOR, [_page_bytes(k, d, index)])
    if status:
        _buffer_error(k, d, index)
        return False
    d.cache[index] = bytearray(got[0].ljust(PAGE_SIZE, b"\0"))
    return True


def _runs(k: KernelApi, d: Disk, indices: list[int]) -> list[list[int]]:
    """Contiguous pages, cut where a request would pass max_sectors or max_segments."""
    per = max(min(_limit(k, d, "max_sectors") * SECTOR // PAGE_SIZE, _limit(k, d, "max_segments")), 1)
    runs: list[list[int]] = []
    for i in sorted(indices):
        if runs and runs[-1][-1] == i - 1 and len(runs[-1]) < per:
            runs[-1].append(i)
        else:
            runs.append([i])
    return runs


def sync_blockdev(k: KernelApi, d: Disk, first: int = 0, last: int | None = None) -> int:
    """Write the dirty pages back (in [first, last]): 0 or -EIO."""
    todo = [i for i in sorted(d.dirty) if i >= first and (last is None or i <= last)]
    err = 0
    for run in _runs(k, d, todo):
        status, _ = _request(k, d, REQ_OP_WRITE, REQ_SYNC, run[0] * PAGE_SIZE // SECTOR,
                             [bytes(d.cache[i][:_page_bytes(k, d, i)]) for i in run], merges=len(run) - 1)
        d.dirty.difference_update(run)
        if status:
            err = -EIO
    return err


def read_part_sector(k: KernelApi, d: Disk, n: int, state: dict) -> bytes | None:
    """block/partitions/core.c read_part_sector(): through the page cache; past the end it
    marks the scan as having read beyond it."""
    if n >= d.capacity(k):
        state["beyond_eod"] = True
        return None
    index = n * SECTOR // PAGE_SIZE
    if not read_page(k, d, index):
        return None
    off = n * SECTOR % PAGE_SIZE
    return bytes(d.cache[index][off:off + SECTOR])


def check_partition(k: KernelApi, d: Disk) -> int:
    """The parsers in order; each reads its sectors and finds no table of its kind. 0, or a
    negative errno when reads failed (ENOSPC: beyond the end)."""
    state: dict = {"beyond_eod": False}
    err = 0
    cfg = k.profile.config
    for option, sectors in PARSERS:
        if cfg.get("CONFIG_" + option) != "y":
            continue
        for n in sectors:
            data = read_part_sector(k, d, n, state)
            if data is None:
                err = -EIO
                break
            if n == 0 and data[510:512] == b"\x55\xaa" and option == "MSDOS_PARTITION":
                k._record_unhandled("check_partition (an MS-DOS partition table: not parsed)")
    if state["beyond_eod"]:
        err = -ENOSPC
    if err:
        k.log.info(f" {d.name(k)}: unable to read partition table\n")
    return err


def bdev_disk_changed(k: KernelApi, d: Disk) -> None:
    """blk_add_partitions() of a whole disk: the scan, and what a read past the end says."""
    d.set_state_bit(k, GD_NEED_PART_SCAN, False)
    sync_blockdev(k, d)
    d.cache.clear()
    if not d.capacity(k) or d.flags(k) & GENHD_FL_NO_PART:
        return
    if check_partition(k, d) == -ENOSPC:
        k.log.warn(f"{d.name(k)}: partition table beyond EOD, ")
        if not d.fops(k, "unlock_native_capacity") or d.state_bit(k, GD_NATIVE_CAPACITY_BIT):
            k.log.printk(b"\x01ctruncated\n")
        else:
            d.set_state_bit(k, GD_NATIVE_CAPACITY_BIT)
            k.log.printk(b"\x01cenabling native capacity\n")
            k.m.call(d.fops(k, "unlock_native_capacity"), d.gendisk)


def disk_scan_partitions(k: KernelApi, d: Disk) -> int:
    """The scan add_disk() makes: the disk opened for reading and closed."""
    if d.flags(k) & (GENHD_FL_NO_PART | GENHD_FL_HIDDEN):
        return -EINVAL
    d.set_state_bit(k, GD_NEED_PART_SCAN)
    ret = blkdev_get(k, d, FMODE_READ)
    if ret:
        return ret
    blkdev_put(k, d, FMODE_READ)
    return 0
