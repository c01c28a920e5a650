"""Buffered reads of a disk (mm/filemap.c filemap_read(), mm/readahead.c): the pages a read
needs come from the block device's page cache, and a miss reads ahead as the kernel does:
the initial window (4 pages for a one-page read, up to ra_pages), the next window when the
read reaches the marked page (PG_readahead), a small random read alone. The pages read ahead
together are one bio (mpage_readahead()), split into requests at the queue's max_sectors
(bio_split_to_limits(): 255 sectors by default, so a 32-page window is 255 + 1 sectors).
"""

from __future__ import annotations

from dataclasses import dataclass
from errno import EIO
from typing import TYPE_CHECKING

from ...bits import MASK64, PAGE_SIZE
from . import KernelApi
from .blk_mq import REQ_OP_READ
from .mm import virt_to_page
from .pagecache import SECTOR, VM_READAHEAD_PAGES, _buffer_error, _limit, _page_bytes, read_page, size_bytes, submit

if TYPE_CHECKING:
    from .blkdev import Disk

REQ_RAHEAD = 1 << 19  # blk_types.h __REQ_RAHEAD


@dataclass
class RaState:
    """struct file_ra_state of one open file."""

    start: int = 0
    size: int = 0
    async_size: int = 0
    prev_pos: int = -1
    ra_pages: int = VM_READAHEAD_PAGES


def get_init_ra_size(size: int, max_pages: int) -> int:
    new = 1 << max(size - 1, 0).bit_length()  # roundup_pow_of_two()
    if new <= max_pages // 32:
        return new * 4
    if new <= max_pages // 4:
        return new * 2
    return max_pages


def get_next_ra_size(ra: RaState, max_pages: int) -> int:
    cur = ra.size
    if cur < max_pages // 16:
        return 4 * cur
    if cur <= max_pages // 2:
        return 2 * cur
    return max_pages


def _mpage_read(k: KernelApi, d: Disk, run: list[int]) -> None:
    """One bio over contiguous pages, split at max_sectors: each piece a request."""
    pages = {i: k.m.kmalloc(PAGE_SIZE, "", 0, kind="page") for i in run}
    total = sum(_page_bytes(k, d, i) for i in run)
    max_bytes = max(_limit(k, d, "max_sectors"), 8) * SECTOR
    failed: set[int] = set()
    try:
        pos = run[0] * PAGE_SIZE
        end = pos + total
        while pos < end:
            n = min(max_bytes, end - pos)
            segs, covered, p = [], [], pos
            while p < pos + n:
                i, off = p // PAGE_SIZE, p % PAGE_SIZE
                length = min(PAGE_SIZE - off, pos + n - p)
                segs.append((virt_to_page(pages[i]), off, length))
                covered.append(i)
                p += length
            d.inflight[0] += 1
            try:
                status = submit(k, d, REQ_OP_READ, REQ_RAHEAD, pos // SECTOR, segs)
            finally:
                d.inflight[0] -= 1
            if status:
                failed.update(covered)
            else:
                d.stats[0][0] += 1
                d.stats[0][2] += n // SECTOR
            pos += n
        for i in run:
            if i in failed:
                _buffer_error(k, d, i)
            else:
                d.cache[i] = bytearray(k.m.read(pages[i], PAGE_SIZE))
    finally:
        for addr in pages.values():
            k.kfree(addr)


def do_page_cache_ra(k: KernelApi, d: Disk, ra: RaState, index: int, nr: int, lookahead: int) -> None:
    """Clipped to the end of the disk; the pages not cached read in runs, the lookahead mark
    on the page nr - lookahead."""
    isize = size_bytes(k, d)
    if not isize:
        return
    end_index = (isize - 1) // PAGE_SIZE
    if index > end_index:
        return
    nr = min(nr, end_index - index + 1)
    runs: list[list[int]] = []
    for i in range(nr):
        page = index + i
        if page in d.cache:
            runs.append([])
            continue
        if i == nr - lookahead:
            d.ra_marks.add(page)
        if not runs or not runs[-1]:
            runs.append([])
        runs[-1].append(page)
    for run in runs:
        if run:
            _mpage_read(k, d, run)


def _count_history_pages(d: Disk, index: int, max_pages: int) -> int:
    n = 0
    while n < max_pages and index - 1 - n >= 0 and index - 1 - n in d.cache:
        n += 1
    return n


def ondemand_readahead(k: KernelApi, d: Disk, ra: RaState, index: int, req_size: int, marker: bool) -> None:
    max_pages = ra.ra_pages
    initial = False
    if not index:
        initial = True
    elif index in (ra.start + ra.size - ra.async_size, ra.start + ra.size):
        ra.start += ra.size
        ra.size = max(ra.size, get_next_ra_size(ra, max_pages))
        ra.async_size = ra.size
    elif marker:
        start = next((i for i in range(index + 1, index + 1 + max_pages) if i not in d.cache), 0)
        if not start or start - index > max_pages:
            return
        ra.start = start
        ra.size = start - index + req_size
        ra.size = get_next_ra_size(ra, max_pages)
        ra.async_size = ra.size
    elif req_size > max_pages or (index - ((ra.prev_pos & MASK64) >> 12)) & MASK64 <= 1:
        initial = True  # a sequential miss (prev_pos starts at -1: none for a fresh file)
    else:
        size = _count_history_pages(d, index, max_pages)
        if size <= req_size:  # a small random read: as asked, no readahead state
            do_page_cache_ra(k, d, ra, index, req_size, 0)
            return
        if size >= index:
            size *= 2
        ra.start, ra.size, ra.async_size = index, min(size + req_size, max_pages), 1
    if initial:
        ra.start = index
        ra.size = get_init_ra_size(req_size, max_pages)
        ra.async_size = ra.size - req_size if ra.size > req_size else ra.size
    if index == ra.start and ra.size == ra.async_size:
        add = get_next_ra_size(ra, max_pages)
        if ra.size + add <= max_pages:
            ra.async_size = add
            ra.size += add
        else:
            ra.size, ra.async_size = max_pages, max_pages >> 1
    do_page_cache_ra(k, d, ra, ra.start, ra.size, ra.async_size)


def _batch(d: Disk, index: int, last_index: int) -> list[int]:
    out = []
    while index < last_index and index in d.cache:
        out.append(index)
        index += 1
    return out


def filemap_read(k: KernelApi, d: Disk, ra: RaState, pos: int, count: int) -> bytes | int:
    """What a buffered read of count bytes at pos returns (already cut at the end)."""
    out = bytearray()
    isize = size_bytes(k, d)
    d.ra_marks &= d.cache.keys()  # a page dropped from the cache took its flag along
    while count and pos < isize:
        index, last_index = pos // PAGE_SIZE, (pos + count + PAGE_SIZE - 1) // PAGE_SIZE
        batch = _batch(d, index, last_index)
        if not batch:
            ondemand_readahead(k, d, ra, index, last_index - index, False)
            batch = _batch(d, index, last_index)
        if not batch:  # filemap_create_folio(): the one page, read alone
            if not read_page(k, d, index):
                return bytes(out) if out else -EIO
            batch = [index]
        last = batch[-1]
        if last in d.ra_marks:  # filemap_readahead()
            d.ra_marks.discard(last)
            ondemand_readahead(k, d, ra, last, last_index - last, True)
        for i in batch:
            off = pos - i * PAGE_SIZE
            n = min(PAGE_SIZE - off, count, isize - pos)
            if n <= 0:
                break
            out += d.cache[i][off:off + n]
            pos += n
            count -= n
            ra.prev_pos = pos
    return bytes(out)
