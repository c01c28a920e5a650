"""The partition scan (block/partitions/core.c, msdos.c): check_part[] in the order the
profile's config builds them in, each reading its sectors through the page cache; an MS-DOS
table's primary partitions become block devices of the disk (add_partition()), named
<disk>p<N> (or <disk><N>), numbered after the disk's first minor, each in /proc/partitions,
/dev and /sys/block/<disk>/. The other parsers read what they read on a disk that holds no table
of their kind and find none; extended partitions and BSD/Unixware/Minix sub-tables are not
parsed (recorded as approximations).
"""

from __future__ import annotations

from errno import EIO, ENOSPC
from typing import TYPE_CHECKING

from ...bits import PAGE_SIZE
from . import KernelApi
from .blkdev import GD_NATIVE_CAPACITY_BIT, GD_NEED_PART_SCAN, GENHD_FL_NO_PART
from .pagecache import SECTOR, read_page, sync_blockdev

if TYPE_CHECKING:
    from .blkdev import Disk

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
