"""A disk opened, read, written and asked ioctls, as a process does through its node
(block/bdev.c, block/fops.c, block/ioctl.c), and the partition scan (block/partitions/core.c).

Reads and writes become requests to the driver's queue_rq (blk_mq.execute()). With O_DIRECT,
each read or write is one bio over the caller's bytes (pos and size aligned to the logical
block size, else EINVAL), split at the queue's max_sectors and max_segments as
blk_bio_segment_split() does. Without it, they go through the block device's page cache, kept
while the disk is open and dropped at the last close after its dirty pages are written back
(blkdev_flush_mapping()): a page missing from the cache is read in one request of the disk's
block size or a page, dirty pages are written back in runs of contiguous pages merged up to the
limits, as the writeback's plug merges them. Readahead is not modelled: a buffered read reads
the pages it needs, where the kernel reads a window ahead (4 pages first, from the start).

The partition scan reads what each parser the profile's config builds in reads before it finds
no table of its kind (check_part[] in order, through the page cache); a disk that holds a
partition table is not parsed (recorded as an approximation).
"""

from __future__ import annotations

from errno import EFBIG, EINVAL, EIO, ENOSPC, ENOTTY, ENXIO, EPERM
from typing import TYPE_CHECKING

from ...bits import PAGE_SIZE, s32
from ...profile import versions
from . import KernelApi
from .blk_mq import BLK_ERRORS, REQ_IDLE, REQ_OP_READ, REQ_OP_WRITE, REQ_SYNC, execute
from .genhd import GD_DEAD, GD_NATIVE_CAPACITY_BIT, GD_NEED_PART_SCAN, GD_READ_ONLY, GENHD_FL_HIDDEN, GENHD_FL_NO_PART
from .mm import virt_to_page

if TYPE_CHECKING:
    from .genhd import Disk

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


def _request(k: KernelApi, d: Disk, op: int, flags: int, sector: int, chunks: list[bytes] | list[int]) -> tuple[int, list[bytes]]:
    """One request over fresh pages: chunks are the bytes to write, or the lengths to read.
    Its status, and for a read what each segment holds."""
    m = k.m
    lengths = [c if isinstance(c, int) else len(c) for c in chunks]
    pages = _pages(k, len(chunks))
    try:
        for page, c in zip(pages, chunks):
            if not isinstance(c, int):
                m.write(page, c)
        d.inflight[op & 1] += 1
        try:
            status = execute(k, d.queue, d.part0, op, flags, sector,
                             [(virt_to_page(p), 0, n) for p, n in zip(pages, lengths)])
        finally:
            d.inflight[op & 1] -= 1
        if not status:
            d.stats[op & 1][0] += 1
            d.stats[op & 1][1] += sum(lengths) // SECTOR
        got = [m.read(p, n) for p, n in zip(pages, lengths)] if op == REQ_OP_READ else []
        return status, got
    finally:
        for p in pages:
            k.kfree(p)


def _page_bytes(k: KernelApi, d: Disk, index: int) -> int:
    """What of a page lies inside the disk (the blocks past the end are zeroed, not read)."""
    return max(min(PAGE_SIZE, size_bytes(k, d) - index * PAGE_SIZE), 0)


def _buffer_error(k: KernelApi, d: Disk, index: int) -> None:
    """fs/buffer.c buffer_io_error() for each block of a page that failed to read."""
    bsize = 1 << d.blkbits
    for blk in range(_page_bytes(k, d, index) // bsize):
        k.log.err(f"Buffer I/O error on dev {d.name(k)}, logical block {index * PAGE_SIZE // bsize + blk}, "
                  "async page read\n")


def read_pages(k: KernelApi, d: Disk, indices: list[int], plugged: bool) -> bool:
    """Pages missing from the cache read in: one request each (read_mapping_folio()), or runs
    of contiguous pages merged up to the limits when the reads are plugged (readahead)."""
    want = [i for i in indices if i not in d.cache and _page_bytes(k, d, i)]
    ok = True
    for run in _runs(k, d, want) if plugged else [[i] for i in want]:
        status, got = _request(k, d, REQ_OP_READ, 0, run[0] * PAGE_SIZE // SECTOR,
                               [_page_bytes(k, d, i) for i in run])
        for i, data in zip(run, got):
            if status:
                _buffer_error(k, d, i)
                ok = False
            else:
                d.cache[i] = bytearray(data.ljust(PAGE_SIZE, b"\0"))
    return ok


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
                             [bytes(d.cache[i][:_page_bytes(k, d, i)]) for i in run])
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
    if not read_pages(k, d, [index], plugged=False):
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


# -- reads and writes -----------------------------------------------------------------------------

def _errno(status: int) -> int:
    return -BLK_ERRORS.get(status, (EIO, ""))[0] or -EIO


def _direct(k: KernelApi, d: Disk, write: bool, pos: int, data: bytes | None, size: int) -> bytes | int:
    """blkdev_direct_IO(): bios of up to BIO_MAX_VECS pages, each split at the queue's limits
    (get_max_io_size(): max_sectors, kept to physical blocks)."""
    first, last = pos // PAGE_SIZE, (pos + size - 1) // PAGE_SIZE
    if sync_blockdev(k, d, first, last):
        return -EIO
    if write:
        for i in range(first, last + 1):
            d.cache.pop(i, None)
    pbs = max(_limit(k, d, "physical_block_size") // SECTOR, 1)
    max_sectors = _limit(k, d, "max_sectors") or 255
    max_segs = _limit(k, d, "max_segments") or 128
    out = bytearray()
    done = 0
    while done < size:
        sector = (pos + done) // SECTOR
        start = sector & (pbs - 1)
        end = (start + max_sectors) & ~(pbs - 1)
        n = min((end - start if end > start else max_sectors) * SECTOR, max_segs * PAGE_SIZE,
                BIO_MAX_VECS * PAGE_SIZE, size - done)
        chunks = [min(PAGE_SIZE, n - o) for o in range(0, n, PAGE_SIZE)]
        if write:
            payload = [data[done + o:done + o + c] for o, c in zip(range(0, n, PAGE_SIZE), chunks)]
            status, _ = _request(k, d, REQ_OP_WRITE, REQ_SYNC | REQ_IDLE, sector, payload)
        else:
            status, got = _request(k, d, REQ_OP_READ, 0, sector, chunks)
            out += b"".join(got)
        if status:
            return _errno(status)
        done += n
    return bytes(out) if not write else size


def blkdev_read(k: KernelApi, d: Disk, pos: int, size: int, direct: bool) -> bytes | int:
    """blkdev_read_iter(): nothing at or past the end, a read cut at it."""
    if d.state_bit(k, GD_DEAD):
        return -EIO
    end = size_bytes(k, d)
    if pos >= end or not size:
        return b""
    size = min(size, end - pos)
    if direct:
        if (pos | size) & (_lbs(k, d) - 1):
            return -EINVAL
        return _direct(k, d, False, pos, None, size)
    first, last = pos // PAGE_SIZE, (pos + size - 1) // PAGE_SIZE
    if not read_pages(k, d, list(range(first, last + 1)), plugged=True):
        return -EIO
    data = b"".join(bytes(d.cache[i]) for i in range(first, last + 1))
    off = pos - first * PAGE_SIZE
    return data[off:off + size]


def blkdev_write(k: KernelApi, d: Disk, pos: int, data: bytes, direct: bool) -> int:
    """blkdev_write_iter(): EPERM on a read-only disk, ENOSPC at the end, a write cut at it."""
    if d.state_bit(k, GD_DEAD):
        return -EIO
    if d.state_bit(k, GD_READ_ONLY):
        return -EPERM
    if not data:
        return 0
    end = size_bytes(k, d)
    if pos >= end:
        return -ENOSPC
    data = data[:end - pos]
    if direct:
        if (pos | len(data)) & (_lbs(k, d) - 1):
            return -EINVAL
        return _direct(k, d, True, pos, data, len(data))
    bsize = 1 << d.blkbits
    for i in range(pos // PAGE_SIZE, (pos + len(data) - 1) // PAGE_SIZE + 1):
        lo, hi = max(pos, i * PAGE_SIZE), min(pos + len(data), (i + 1) * PAGE_SIZE)
        if i not in d.cache:
            whole = lo == i * PAGE_SIZE and hi - lo >= _page_bytes(k, d, i)
            partial_blocks = lo % bsize or hi % bsize
            if not whole and partial_blocks and not read_pages(k, d, [i], plugged=False):
                return -EIO
            d.cache.setdefault(i, bytearray(PAGE_SIZE))
        d.cache[i][lo - i * PAGE_SIZE:hi - i * PAGE_SIZE] = data[lo - pos:hi - pos]
        d.dirty.add(i)
    return len(data)


# -- ioctls ---------------------------------------------------------------------------------------

def _int(v: int, size: int = 4) -> bytes:
    return (v & ((1 << 8 * size) - 1)).to_bytes(size, "little")


def blkdev_ioctl(k: KernelApi, d: Disk, cmd: int) -> tuple[int, bytes]:
    """block/ioctl.c blkdev_common_ioctl() for what the block layer answers itself: (return
    value, the bytes it puts at the argument)."""
    L = lambda member: _limit(k, d, member)  # noqa: E731
    cap = d.capacity(k)
    answers = {
        0x80081272: lambda: _int(cap * SECTOR, 8),  # BLKGETSIZE64
        0x80081270: lambda: _int(1 << d.blkbits),  # BLKBSZGET: put_int() under a size_t command
        0x1268: lambda: _int(L("logical_block_size")),  # BLKSSZGET
        0x127B: lambda: _int(L("physical_block_size")),  # BLKPBSZGET
        0x1278: lambda: _int(L("io_min")),  # BLKIOMIN
        0x1279: lambda: _int(L("io_opt")),  # BLKIOOPT
        0x127A: lambda: _int(0),  # BLKALIGNOFF
        0x125E: lambda: _int(int(d.state_bit(k, GD_READ_ONLY))),  # BLKROGET
        0x1263: lambda: _int(VM_READAHEAD_PAGES * PAGE_SIZE // SECTOR, 8),  # BLKRAGET
        0x1265: lambda: _int(VM_READAHEAD_PAGES * PAGE_SIZE // SECTOR, 8),  # BLKFRAGET
    }
    if cmd == 0x1260:  # BLKGETSIZE
        return (0, _int(cap, 8)) if cap <= (1 << 64) - 1 else (-EFBIG, b"")
    if cmd in answers:
        return 0, answers[cmd]()
    if cmd == 0x1261:  # BLKFLSBUF
        ret = sync_blockdev(k, d)
        d.cache.clear()
        return ret, b""
    if cmd == 0x125F:  # BLKRRPART
        bdev_disk_changed(k, d)
        return 0, b""
    if cmd == 0x0301:  # HDIO_GETGEO
        return hdio_getgeo(k, d)
    return -ENOTTY, b""


def hdio_getgeo(k: KernelApi, d: Disk) -> tuple[int, bytes]:
    """blkdev_getgeo(): the driver's getgeo() fills a zeroed hd_geometry."""
    fn = d.fops(k, "getgeo")
    if not fn:
        return -ENOTTY, b""
    H = k.S.hd_geometry
    geo = k.m.kmalloc(H.sizeof, "", 0, kind="hd_geometry")
    try:
        k.m.write(geo, bytes(H.sizeof))
        ret = s32(k.m.call(fn, d.part0, geo))
        return ret, k.m.read(geo, H.sizeof) if not ret else b""
    finally:
        k.kfree(geo)
