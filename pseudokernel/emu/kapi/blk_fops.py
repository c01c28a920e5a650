"""Reads, writes and ioctls of an open disk (block/fops.c blkdev_read_iter(),
blkdev_write_iter(), blkdev_direct_IO(); block/ioctl.c).

With O_DIRECT, each read or write is one bio over the caller's bytes (pos and size aligned to
the logical block size, else EINVAL), split at the queue's max_sectors and max_segments as
blk_bio_segment_split() does. Without it, through the page cache (bdev.py, readahead.py).
"""

from __future__ import annotations

from errno import EFBIG, EINVAL, EIO, ENOSPC, ENOTTY, EPERM
from typing import TYPE_CHECKING

from ...bits import PAGE_SIZE, s32
from . import KernelApi
from .bdev import disk_scan_partitions
from .blk_mq import BLK_ERRORS, REQ_IDLE, REQ_OP_READ, REQ_OP_WRITE, REQ_SYNC
from .blkdev import GD_DEAD, GD_READ_ONLY
from .pagecache import SECTOR, VM_READAHEAD_PAGES, _lbs, _limit, _page_bytes, _request, read_page, size_bytes, sync_blockdev
from .read_write import ioctl_arg, ioctl_out
from .readahead import RaState, filemap_read

if TYPE_CHECKING:
    from .blkdev import Disk, Part

BIO_MAX_VECS = 256


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


def _extent(k: KernelApi, d: Disk, part: Part | None) -> tuple[int, int]:
    """Where the device starts on the disk and how long it is, in bytes: a partition's I/O is
    shifted by its start (blk_partition_remap())."""
    return (part.start * SECTOR, part.size * SECTOR) if part is not None else (0, size_bytes(k, d))


def blkdev_read(k: KernelApi, d: Disk, pos: int, size: int, direct: bool, ra: RaState | None = None,
                part: Part | None = None) -> bytes | int:
    """blkdev_read_iter(): nothing at or past the end, a read cut at it; without O_DIRECT
    through the page cache with the open file's readahead state (a partition's through the
    disk's: the kernel gives it its own, the same pages when it starts on a page boundary)."""
    if d.state_bit(k, GD_DEAD):
        return -EIO
    base, end = _extent(k, d, part)
    if pos >= end or not size:
        return b""
    size = min(size, end - pos)
    if direct:
        if (pos | size) & (_lbs(k, d) - 1):
            return -EINVAL
        return _direct(k, d, False, base + pos, None, size)
    pos += base
    return filemap_read(k, d, ra if ra is not None else RaState(), pos, size)


def blkdev_write(k: KernelApi, d: Disk, pos: int, data: bytes, direct: bool, part: Part | None = None) -> int:
    """blkdev_write_iter(): EPERM on a read-only disk, ENOSPC at the end, a write cut at it."""
    if d.state_bit(k, GD_DEAD):
        return -EIO
    if d.state_bit(k, GD_READ_ONLY):
        return -EPERM
    if not data:
        return 0
    base, end = _extent(k, d, part)
    if pos >= end:
        return -ENOSPC
    data = data[:end - pos]
    if direct and (pos | len(data)) & (_lbs(k, d) - 1):
        return -EINVAL
    pos += base
    if direct:
        return _direct(k, d, True, pos, data, len(data))
    bsize = 1 << d.blkbits
    for i in range(pos // PAGE_SIZE, (pos + len(data) - 1) // PAGE_SIZE + 1):
        lo, hi = max(pos, i * PAGE_SIZE), min(pos + len(data), (i + 1) * PAGE_SIZE)
        if i not in d.cache:
            whole = lo == i * PAGE_SIZE and hi - lo >= _page_bytes(k, d, i)
            partial_blocks = lo % bsize or hi % bsize
            if not whole and partial_blocks and not read_page(k, d, i):
                return -EIO
            d.cache.setdefault(i, bytearray(PAGE_SIZE))
        d.cache[i][lo - i * PAGE_SIZE:hi - i * PAGE_SIZE] = data[lo - pos:hi - pos]
        d.dirty.add(i)
    return len(data)


# -- ioctls ---------------------------------------------------------------------------------------

def _int(v: int, size: int = 4) -> bytes:
    return (v & ((1 << 8 * size) - 1)).to_bytes(size, "little")


def blkdev_ioctl(k: KernelApi, d: Disk, cmd: int, arg: int = 0, data: bytes | None = None, out_size: int = 0,
                 mode: int = 1, part: Part | None = None) -> tuple[int, bytes]:
    """block/ioctl.c blkdev_ioctl(): what the block layer answers itself, else the driver's
    ioctl(bdev, mode, cmd, arg) with a user copy of the command's bytes as for a character
    device (read_write.vfs_ioctl()). (return value, the bytes put at the argument)."""
    L = lambda member: _limit(k, d, member)  # noqa: E731
    cap = d.capacity(k) if part is None else part.size
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
    if cmd == 0x125F:  # BLKRRPART: a partition cannot; the disk is opened again for the scan
        return (-EINVAL if part is not None else disk_scan_partitions(k, d, mode)), b""
    if cmd == 0x0301:  # HDIO_GETGEO
        return hdio_getgeo(k, d)
    fn = d.fops(k, "ioctl")
    if not fn:
        return -ENOTTY, b""
    arg, own = ioctl_arg(k, arg, data, out_size)
    ret = s32(k.m.call(fn, d.part0, mode, cmd & 0xFFFFFFFF, arg & (2**64 - 1)))
    if ret < 0:
        return ret, b""
    return ret, ioctl_out(k, arg, own, out_size)


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
