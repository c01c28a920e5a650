"""What a gendisk is to the rest of the block layer (include/linux/blkdev.h): its flags and
state bits, and the Disk the block layer keeps beside its structs."""

from __future__ import annotations

from dataclasses import dataclass, field

from . import KernelApi
from .blk_mq import queue

GENHD_FL_REMOVABLE, GENHD_FL_HIDDEN, GENHD_FL_NO_PART = 1, 2, 4
GD_NEED_PART_SCAN, GD_READ_ONLY, GD_DEAD, GD_NATIVE_CAPACITY_BIT, GD_ADDED = 0, 1, 2, 3, 4
GD_SUPPRESS_PART_SCAN, GD_OWNS_QUEUE = 5, 6
DISK_MAX_PARTS = 256
MINORMASK = (1 << 20) - 1


@dataclass
class Part:
    """A partition: its number, start and size in sectors, its block_device, its number."""

    partno: int
    start: int
    size: int
    bdev: int
    devt: int
    name: str
    openers: int = 0


@dataclass
class Disk:
    """What the block layer keeps of a gendisk beside its structs: the bdev's page cache
    (page index -> 4096 bytes; dirty pages to write back), its openers, its block size, the
    reads and writes in flight."""

    gendisk: int
    queue: int
    part0: int
    owner: str
    diskseq: int
    openers: int = 0
    blkbits: int = 9
    cache: dict[int, bytearray] = field(default_factory=dict)
    dirty: set[int] = field(default_factory=set)
    ra_marks: set[int] = field(default_factory=set)  # cached pages with PG_readahead
    inflight: list[int] = field(default_factory=lambda: [0, 0])
    parts: dict[int, Part] = field(default_factory=dict)
    open_partitions: int = 0
    stats: list[list[int]] = field(default_factory=lambda: [[0, 0, 0], [0, 0, 0]])  # [ios, merges, sectors]

    def device(self, k: KernelApi) -> int:
        """disk_to_dev(): the struct device inside part0."""
        return self.part0 + k.S.block_device.bd_device

    def name(self, k: KernelApi) -> str:
        return k.cname(self.gendisk + k.S.gendisk.disk_name)

    def devt(self, k: KernelApi) -> int:
        G = k.S.gendisk
        return (k.m.read_s32(self.gendisk + G.major) << 20) | k.m.read_s32(self.gendisk + G.first_minor)

    def capacity(self, k: KernelApi) -> int:
        return k.m.read_u64(self.part0 + k.S.block_device.bd_nr_sectors)

    def flags(self, k: KernelApi) -> int:
        return k.m.read_s32(self.gendisk + k.S.gendisk.flags)

    def state_bit(self, k: KernelApi, bit: int) -> bool:
        return bool(k.m.read_u64(self.gendisk + k.S.gendisk.state) >> bit & 1)

    def set_state_bit(self, k: KernelApi, bit: int, on: bool = True) -> None:
        addr = self.gendisk + k.S.gendisk.state
        v = k.m.read_u64(addr)
        k.m.write_u64(addr, v | 1 << bit if on else v & ~(1 << bit))

    def fops(self, k: KernelApi, name: str) -> int:
        fops = k.m.read_u64(self.gendisk + k.S.gendisk.fops)
        return k.m.read_u64(fops + k.S.block_device_operations[name]) if fops else 0

    def elevator(self, k: KernelApi) -> str | None:
        qs = queue(k, self.queue)
        return qs.elevator if qs is not None else None
