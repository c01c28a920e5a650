"""Bios (block/bio.c, block/blk-core.c): the bio a read or write becomes, and the disks that
take bios themselves (a driver's submit_bio, as brd and zram have: blk_alloc_disk()) rather than
requests. The bio ends when the driver calls bio_endio() (at once, or later from its own
deferred work, which the waiting task lets run); bi_status says how.
"""

from __future__ import annotations

from dataclasses import dataclass

from . import KernelApi, kapi
from .sched import wait_until

BLK_STS_TIMEOUT = 3


@dataclass
class BioWait:
    bio: int
    done: bool = False
    status: int = 0


def _st(k: KernelApi) -> dict[int, BioWait]:
    return k.state.setdefault("bio", {})


def alloc_bio(k: KernelApi, part0: int, op: int, sector: int, segments: list[tuple[int, int, int]]) -> int:
    """bio_init() with inline vecs over (page, offset, length) segments: a kernel object the
    caller frees."""
    m, S = k.m, k.S
    B, V = S.bio, S.bio_vec
    size = B.sizeof + V.sizeof * len(segments)
    bio = m.kmalloc(size, "", 0, kind="bio")
    m.write(bio, bytes(size))
    vecs = bio + B.sizeof
    for i, (page, off, length) in enumerate(segments):
        m.write_u64(vecs + i * V.sizeof + V.bv_page, page)
        m.write_u32(vecs + i * V.sizeof + V.bv_len, length)
        m.write_u32(vecs + i * V.sizeof + V.bv_offset, off)
    m.write_u64(bio + B.bi_bdev, part0)
    m.write_u32(bio + B.bi_opf, op)
    m.write_u64(bio + B.bi_iter + S.bvec_iter.bi_sector, sector)
    m.write_u32(bio + B.bi_iter + S.bvec_iter.bi_size, sum(length for _p, _o, length in segments))
    m.write_u16(bio + B.bi_vcnt, len(segments))
    m.write_u16(bio + B.bi_max_vecs, len(segments))
    m.write_u32(bio + B.__bi_cnt, 1)
    m.write_u32(bio + B.__bi_remaining, 1)
    m.write_u64(bio + B.bi_io_vec, vecs)
    return bio


def submit_bio_wait(k: KernelApi, submit: int, part0: int, op: int, sector: int,
                    segments: list[tuple[int, int, int]]) -> int:
    """A bio handed to the disk's submit_bio() and waited for: its blk_status_t."""
    bio = alloc_bio(k, part0, op, sector, segments)
    w = _st(k)[bio] = BioWait(bio)
    try:
        k.m.call(submit, bio)
        if not w.done and not wait_until(k, lambda: w.done, None):
            return BLK_STS_TIMEOUT
        return w.status
    finally:
        _st(k).pop(bio, None)
        k.kfree(bio)


@kapi("bio_endio")
def bio_endio(k: KernelApi, bio: int) -> None:
    """The bio is done with the status the driver left in it."""
    w = _st(k).get(bio)
    if w is not None:
        w.status = k.m.read_u8(bio + k.S.bio.bi_status)
        w.done = True
