"""The queue's limits (block/blk-settings.c): the defaults a queue gets, and the setters a 6.1
driver calls on its queue (6.9 on, drivers pass queue_limits to the allocation instead)."""

from __future__ import annotations

from ...bits import PAGE_SIZE
from . import KernelApi, kapi

BLK_SAFE_MAX_SECTORS = 255
BLK_MAX_SEGMENTS = 128
BLK_MAX_SEGMENT_SIZE = 65536
BLK_DEF_MAX_SECTORS = 2560


def set_default_limits(k: KernelApi, lim: int) -> None:
    """blk_set_default_limits() / blk_validate_limits(): what a driver left 0 gets the default."""
    L, m = k.S.queue_limits, k.m
    defaults = (("logical_block_size", 512, 4), ("physical_block_size", 0, 4), ("io_min", 0, 4),
                ("max_hw_sectors", BLK_SAFE_MAX_SECTORS, 4), ("max_segments", BLK_MAX_SEGMENTS, 2),
                ("max_segment_size", BLK_MAX_SEGMENT_SIZE, 4))
    for member, value, width in defaults:
        rd, wr = (m.read_u32, m.write_u32) if width == 4 else (m.read_u16, m.write_u16)
        if not rd(lim + L[member]) and value:
            wr(lim + L[member], value)
    lbs = m.read_u32(lim + L.logical_block_size)
    if m.read_u32(lim + L.physical_block_size) < lbs:
        m.write_u32(lim + L.physical_block_size, lbs)
    if m.read_u32(lim + L.io_min) < m.read_u32(lim + L.physical_block_size):
        m.write_u32(lim + L.io_min, m.read_u32(lim + L.physical_block_size))
    if not m.read_u32(lim + L.max_sectors):
        m.write_u32(lim + L.max_sectors, min(m.read_u32(lim + L.max_hw_sectors), BLK_DEF_MAX_SECTORS))


def _set_limit(k: KernelApi, q: int, member: str, value: int, width: int = 4) -> None:
    addr = q + k.S.request_queue.limits + k.S.queue_limits[member]
    (k.m.write_u32 if width == 4 else k.m.write_u16)(addr, value)


@kapi("blk_queue_logical_block_size")
def blk_queue_logical_block_size(k: KernelApi, q: int, size: int) -> None:
    L = k.S.queue_limits
    lim = q + k.S.request_queue.limits
    _set_limit(k, q, "logical_block_size", size & 0xFFFFFFFF)
    for member in ("physical_block_size", "io_min"):
        if k.m.read_u32(lim + L[member]) < size & 0xFFFFFFFF:
            _set_limit(k, q, member, size & 0xFFFFFFFF)


@kapi("blk_queue_physical_block_size")
def blk_queue_physical_block_size(k: KernelApi, q: int, size: int) -> None:
    lim = q + k.S.request_queue.limits
    L = k.S.queue_limits
    size = max(size & 0xFFFFFFFF, k.m.read_u32(lim + L.logical_block_size))
    _set_limit(k, q, "physical_block_size", size)
    if k.m.read_u32(lim + L.io_min) < size:
        _set_limit(k, q, "io_min", size)


@kapi("blk_queue_max_hw_sectors")
def blk_queue_max_hw_sectors(k: KernelApi, q: int, sectors: int) -> None:
    sectors = max(sectors & 0xFFFFFFFF, PAGE_SIZE >> 9)
    _set_limit(k, q, "max_hw_sectors", sectors)
    _set_limit(k, q, "max_sectors", min(sectors, 2560))


@kapi("blk_queue_max_segments")
def blk_queue_max_segments(k: KernelApi, q: int, n: int) -> None:
    _set_limit(k, q, "max_segments", max(n & 0xFFFF, 1), 2)


@kapi("blk_queue_max_segment_size")
def blk_queue_max_segment_size(k: KernelApi, q: int, n: int) -> None:
    _set_limit(k, q, "max_segment_size", max(n & 0xFFFFFFFF, PAGE_SIZE))


@kapi("blk_queue_io_min")
def blk_queue_io_min(k: KernelApi, q: int, n: int) -> None:
    _set_limit(k, q, "io_min", n & 0xFFFFFFFF)


@kapi("blk_queue_io_opt")
def blk_queue_io_opt(k: KernelApi, q: int, n: int) -> None:
    _set_limit(k, q, "io_opt", n & 0xFFFFFFFF)


@kapi("blk_queue_flag_set")
def blk_queue_flag_set(k: KernelApi, flag: int, q: int) -> None:
    addr = q + k.S.request_queue.queue_flags
    k.m.write_u64(addr, k.m.read_u64(addr) | (1 << (flag & 63)))


@kapi("blk_queue_flag_clear")
def blk_queue_flag_clear(k: KernelApi, flag: int, q: int) -> None:
    addr = q + k.S.request_queue.queue_flags
    k.m.write_u64(addr, k.m.read_u64(addr) & ~(1 << (flag & 63)))
