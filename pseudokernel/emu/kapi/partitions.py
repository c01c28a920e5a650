"""The partition scan (block/partitions/core.c, msdos.c): check_part[] in the order the
profile's config builds them in, each reading its sectors through the page cache; an MS-DOS
table's primary partitions become block devices of the disk (add_partition()), named
<disk>p<N> (or <disk><N>), numbered after the disk's first minor, each in /proc/partitions,
/dev and /sys/block/<disk>/. The other parsers read what they read on a disk that holds no table
of their kind and find none; extended partitions and BSD/Unixware/Minix sub-tables are not
parsed (recorded as approximations).
"""

from __future__ import annotations

from errno import EBUSY, EIO, ENOSPC
from typing import TYPE_CHECKING

from ...bits import PAGE_SIZE
from . import KernelApi
from .blkdev import DISK_MAX_PARTS, GD_NATIVE_CAPACITY_BIT, GD_NEED_PART_SCAN, GENHD_FL_NO_PART, Part
from .pagecache import SECTOR, _lbs, read_page, sync_blockdev

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


MSDOS_MAGIC = b"\x55\xaa"
AIX_MAGIC = b"\xc9\xc2\xd4\xc1"  # "IBMA" in EBCDIC
EXTENDED = (0x05, 0x0F, 0x85)
EFI_PMBR_OSTYPE_EFI_GPT = 0xEE
DM6_PARTITION, EZD_PARTITION = 0x54, 0x55
SUBTABLES = {0x82: "SOLARIS_X86_PARTITION", 0xA5: "BSD_DISKLABEL", 0xA6: "BSD_DISKLABEL", 0xA9: "BSD_DISKLABEL",
             0xB7: "BSD_DISKLABEL", 0x63: "UNIXWARE_DISKLABEL", 0x81: "MINIX_SUBPARTITION"}


def put_partition(state: dict, n: int, start: int, size: int) -> None:
    if n < state["limit"]:
        state["parts"][n] = (start, size)
        state["pp_buf"] += f" {state['name']}{n}"


def msdos_partition(k: KernelApi, d: Disk, state: dict) -> int:
    """msdos.c msdos_partition(): the four primary entries of sector 0 (1), or 0 when it holds no
    table (no 55 AA, a boot indicator other than 0 or 0x80, a protective GPT entry); -1 when
    the sector cannot be read."""
    data = read_part_sector(k, d, 0, state)
    if data is None:
        return -1
    if data[:4] == AIX_MAGIC:
        k._record_unhandled("msdos_partition (an AIX disk: not parsed)")
        return 0
    if data[510:512] != MSDOS_MAGIC:
        return 0
    entries = [data[0x1BE + 16 * i:0x1BE + 16 * (i + 1)] for i in range(4)]
    if any(e[0] not in (0, 0x80) for e in entries):
        return 0  # (a FAT file system's boot sector without a table is not recognised either)
    if any(e[4] == EFI_PMBR_OSTYPE_EFI_GPT for e in entries):
        return 0
    ssize = _lbs(k, d) // SECTOR
    for slot, e in enumerate(entries, 1):
        start, size = int.from_bytes(e[8:12], "little") * ssize, int.from_bytes(e[12:16], "little") * ssize
        if not size:
            continue
        if e[4] in EXTENDED:
            k._record_unhandled("msdos_partition (an extended partition: not parsed)")
            continue
        put_partition(state, slot, start, size)
        state["pp_buf"] += {DM6_PARTITION: "[DM]", EZD_PARTITION: "[EZD]"}.get(e[4], "")
    state["pp_buf"] += "\n"
    for e in entries:
        option = SUBTABLES.get(e[4])
        if option and k.profile.config.get("CONFIG_" + option) == "y":
            k._record_unhandled(f"msdos_partition ({option} sub-table: not parsed)")
    return 1


def check_partition(k: KernelApi, d: Disk) -> dict | int:
    """The parsers in order until one finds its table: the state with its partitions, 0 when
    none did, or a negative errno when reads failed (ENOSPC: beyond the end)."""
    name = d.name(k)
    state: dict = {"beyond_eod": False, "parts": {}, "limit": DISK_MAX_PARTS, "pp_buf": f" {name}:",
                   "name": "p" if name[-1:].isdigit() else name}
    err = 0
    cfg = k.profile.config
    for option, sectors in PARSERS:
        if cfg.get("CONFIG_" + option) != "y":
            continue
        if option == "MSDOS_PARTITION":
            res = msdos_partition(k, d, state)
            if res > 0:
                k.log.info(state["pp_buf"])
                return state
            err = -EIO if res < 0 else err
            continue
        for n in sectors:
            if read_part_sector(k, d, n, state) is None:
                err = -EIO
                break
    if state["beyond_eod"]:
        err = -ENOSPC
    if err:
        k.log.info(f" {name}: unable to read partition table\n")
    return err


def _unlock_native_capacity(k: KernelApi, d: Disk) -> bool:
    """disk_unlock_native_capacity(): the rest of the line that said what is beyond the end."""
    if not d.fops(k, "unlock_native_capacity") or d.state_bit(k, GD_NATIVE_CAPACITY_BIT):
        k.log.printk(b"\x01ctruncated\n")
        return False
    d.set_state_bit(k, GD_NATIVE_CAPACITY_BIT)
    k.log.printk(b"\x01cenabling native capacity\n")
    k.m.call(d.fops(k, "unlock_native_capacity"), d.gendisk)
    return True


def bdev_disk_changed(k: KernelApi, d: Disk) -> int:
    """The partitions dropped and scanned again (blk_add_partitions()): what a read past the
    end says; each partition found within the disk added. -EBUSY while one is open."""
    if d.open_partitions:
        return -EBUSY
    d.set_state_bit(k, GD_NEED_PART_SCAN, False)
    sync_blockdev(k, d)
    d.cache.clear()
    drop_partitions(k, d)
    if not d.capacity(k) or d.flags(k) & GENHD_FL_NO_PART:
        return 0
    state = check_partition(k, d)
    if state == -ENOSPC:
        k.log.warn(f"{d.name(k)}: partition table beyond EOD, ")
        _unlock_native_capacity(k, d)
    if not isinstance(state, dict):
        return 0
    cap = d.capacity(k)
    for n in sorted(state["parts"]):
        start, size = state["parts"][n]
        if start >= cap:
            k.log.warn(f"{d.name(k)}: p{n} start {start} is beyond EOD, ")
            if _unlock_native_capacity(k, d):
                return 0
            continue
        if start + size > cap:
            k.log.warn(f"{d.name(k)}: p{n} size {size} extends beyond EOD, ")
            if _unlock_native_capacity(k, d):
                return 0
            size = cap - start
        add_partition(k, d, n, start, size)
    return 0


def add_partition(k: KernelApi, d: Disk, partno: int, start: int, size: int) -> None:
    """block/partitions/core.c add_partition(): a block_device of the disk, named <disk>p<N>
    after a disk whose name ends in a digit, numbered after its first minor while the minors
    last, then in blkext (259)."""
    m, S = k.m, k.S
    B = S.block_device
    bdev = m.kmalloc(B.sizeof, "", 0, kind="block_device")
    m.write(bdev, bytes(B.sizeof))
    m.write_u64(bdev + B.bd_start_sect, start)
    m.write_u64(bdev + B.bd_nr_sectors, size)
    m.write_u8(bdev + B.bd_partno, partno)
    m.write_u64(bdev + B.bd_disk, d.gendisk)
    m.write_u64(bdev + B.bd_queue, d.queue)
    dname = d.name(k)
    name = f"{dname}p{partno}" if dname[-1:].isdigit() else f"{dname}{partno}"
    G = S.gendisk
    if partno < m.read_s32(d.gendisk + G.minors):
        devt = (m.read_s32(d.gendisk + G.major) << 20) | (m.read_s32(d.gendisk + G.first_minor) + partno)
    else:
        devt = (BLOCK_EXT_MAJOR << 20) | alloc_ext_minor(k)
    m.write_u32(bdev + B.bd_dev, devt)
    dev = bdev + B.bd_device
    m.write_u32(dev + S.device.devt, devt)
    m.write_u64(dev + S.device.parent, d.device(k))
    name_addr = k.static_string(name)
    m.write_u64(dev + S.device.kobj + S.kobject.name, name_addr)
    part = Part(partno, start, size, bdev, devt, name)
    d.parts[partno] = part
    k.registry.add("part", name, bdev, d.owner, disk=d, part=part, devt=devt)


def drop_partitions(k: KernelApi, d: Disk) -> None:
    """blk_drop_partitions(): each partition's device goes, its ext minor with it."""
    for part in list(d.parts.values()):
        k.registry.remove("part", part.bdev)
        if part.devt >> 20 == BLOCK_EXT_MAJOR:
            free_ext_minor(k, part.devt & 0xFFFFF)
        k.kfree(part.bdev)
    d.parts.clear()


BLOCK_EXT_MAJOR = 259


def _ext_minors(k: KernelApi) -> set[int]:
    return k.state.setdefault("blk_ext_minors", set())


def alloc_ext_minor(k: KernelApi) -> int:
    """blk_alloc_ext_minor(): the lowest free minor of blkext."""
    used = _ext_minors(k)
    n = next(i for i in range(len(used) + 1) if i not in used)
    used.add(n)
    return n


def free_ext_minor(k: KernelApi, minor: int) -> None:
    _ext_minors(k).discard(minor)
