"""The block device's page cache (mm/filemap.c for a bdev): the requests that fill it and
write it back. A request goes to the driver's queue_rq (blk_mq.execute()) or, for a disk that
takes bios, to its submit_bio (bio.py). The cache is kept while the disk is open and dropped at
the last close after its dirty pages are written back (bdev.py); a page missing from it is read
alone in one request (read_mapping_folio()); dirty pages are written back in runs of contiguous
pages merged up to the limits, as the writeback's plug merges their bios. The pages read ahead
come from readahead.py."""

from __future__ import annotations

from errno import EIO
from typing import TYPE_CHECKING

from ...bits import PAGE_SIZE
from . import KernelApi
from .bio import submit_bio_wait
from .blk_mq import REQ_OP_READ, REQ_OP_WRITE, REQ_SYNC, execute
from .mm import virt_to_page

if TYPE_CHECKING:
    from .blkdev import Disk

SECTOR = 512
VM_READAHEAD_PAGES = 32


def _lbs(k: KernelApi, d: Disk) -> int:
    return k.m.read_u32(d.queue + k.S.request_queue.limits + k.S.queue_limits.logical_block_size) or SECTOR


def _limit(k: KernelApi, d: Disk, member: str) -> int:
    addr = d.queue + k.S.request_queue.limits + k.S.queue_limits[member]
    return k.m.read_u16(addr) if member == "max_segments" else k.m.read_u32(addr)


def size_bytes(k: KernelApi, d: Disk) -> int:
    return d.capacity(k) * SECTOR


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
