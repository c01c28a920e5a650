"""A disk opened and closed (block/bdev.c): the driver's open and release, its module held,
the block size at the first open, a pending partition scan (partitions.py); the last close
writes the page cache back and drops it (pagecache.py). A partition's open opens its disk.
"""

from __future__ import annotations

from errno import EBUSY, EINVAL, ENXIO
from typing import TYPE_CHECKING

from ...bits import PAGE_SIZE, s32
from ...profile import versions
from . import KernelApi
from .blkdev import GD_DEAD, GD_NEED_PART_SCAN, GENHD_FL_HIDDEN, GENHD_FL_NO_PART
from .pagecache import _lbs, size_bytes, sync_blockdev
from .partitions import bdev_disk_changed

if TYPE_CHECKING:
    from .blkdev import Disk, Part

FMODE_READ, FMODE_WRITE = 1, 2


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


def disk_scan_partitions(k: KernelApi, d: Disk, mode: int = FMODE_READ) -> int:
    """The scan add_disk() and BLKRRPART make: the disk opened and closed (EBUSY while a
    partition of it is open)."""
    if d.flags(k) & (GENHD_FL_NO_PART | GENHD_FL_HIDDEN):
        return -EINVAL
    if d.open_partitions:
        return -EBUSY
    d.set_state_bit(k, GD_NEED_PART_SCAN)
    ret = blkdev_get(k, d, mode)
    if ret:
        return ret
    blkdev_put(k, d, mode)
    return 0


def blkdev_get_part(k: KernelApi, d: Disk, part: Part, mode: int) -> int:
    """A partition's first open opens its disk (blkdev_get_part())."""
    if not part.openers:
        if k.registry.find("part", part.bdev) is None:
            return -ENXIO
        ret = blkdev_get(k, d, mode)
        if ret:
            return ret
        d.open_partitions += 1
    part.openers += 1
    return 0


def blkdev_put_part(k: KernelApi, d: Disk, part: Part, mode: int) -> None:
    part.openers -= 1
    if not part.openers:
        d.open_partitions -= 1
        blkdev_put(k, d, mode)
