"""Disks (block/genhd.c): block majors (register_blkdev, /proc/devices' "Block devices:"), a
gendisk's life (__blk_mq_alloc_disk, set_capacity, device_add_disk, del_gendisk, put_disk) and
the disk sequence numbers.

A gendisk, its part0 block_device (whose struct device is the disk's device in sysfs) and its
request_queue are in emulated memory, laid out as the profile's BTF says, so that the driver's
inline helpers (get_capacity(), disk->private_data, rq->q->queuedata) read what the kernel
would have written. What the views need beyond the structs (the page cache, the openers, the
scheduler) is a Disk, registered as kind "disk" from device_add_disk() to del_gendisk().
"""

from __future__ import annotations

from errno import EBUSY, EINVAL, ENOMEM

from ...bits import MASK64
from ...profile import versions
from . import KernelApi, kapi
from . import neg_errno as _err
from .bdev import disk_scan_partitions
from .blk_mq import elevator_init_mq, queue, queue_alloc, queue_free
from .blkdev import (
    DISK_MAX_PARTS,
    GD_ADDED,
    GD_DEAD,
    GD_NEED_PART_SCAN,
    GD_OWNS_QUEUE,
    GD_READ_ONLY,
    GD_SUPPRESS_PART_SCAN,
    GENHD_FL_HIDDEN,
    GENHD_FL_NO_PART,
    MINORMASK,
    Disk,
)
from .device import boot_blkdevs, set_dev_name
from .partitions import BLOCK_EXT_MAJOR, alloc_ext_minor, drop_partitions, free_ext_minor
from .sysfs import create_groups, remove_attrs

BLKDEV_MAJOR_HASH_SIZE = 255
BLKDEV_MAJOR_MAX = 512


def _st(k: KernelApi) -> dict:
    st = k.state.get("genhd")
    if st is None:
        st = k.state["genhd"] = {"disks": {}, "diskseq": 0, "class": 0}
        k.free_hooks.append(forget_module)
    return st


def block_class(k: KernelApi) -> int:
    """The kernel's block_class, which disks' devices belong to (dev_printk's SUBSYSTEM=block)."""
    st = _st(k)
    if not st["class"]:
        cls = k.m.kmalloc(k.S["class"].sizeof, "", 0, kind="class")
        k.m.write(cls, bytes(k.S["class"].sizeof))
        k.m.write_u64(cls + k.S["class"].name, k.static_string("block"))
        st["class"] = cls
    return st["class"]


def disk_of(k: KernelApi, gendisk: int) -> Disk | None:
    return _st(k)["disks"].get(gendisk)


def added_disks(k: KernelApi) -> list[Disk]:
    """The disks device_add_disk() made visible, in the order they came."""
    return [r.info["disk"] for r in k.registry.of_kind("disk")]


# -- block majors ---------------------------------------------------------------------------------

def blkdev_majors(k: KernelApi) -> list[tuple[int, str]]:
    """major_names[]: the reference machine's built-in majors, then the modules'."""
    return boot_blkdevs(k.kernel.profile) + [(r.info["major"], r.name) for r in k.registry.of_kind("blkdev")]


@kapi("__register_blkdev")
def __register_blkdev(k: KernelApi, major: int, name: int, probe: int) -> int:
    """A dynamic major is the highest free slot of the 255-entry hash from 254 down: a slot is
    taken by any major that hashes to it (259 % 255 = 4 for blkext)."""
    major &= 0xFFFFFFFF
    text = k.cname(name)
    taken = blkdev_majors(k)
    ret = 0
    if major == 0:
        slots = {m % BLKDEV_MAJOR_HASH_SIZE for m, _n in taken}
        major = next((i for i in range(BLKDEV_MAJOR_HASH_SIZE - 1, 0, -1) if i not in slots), 0)
        if not major:
            k.log.printk(f"__register_blkdev: failed to get major for {text}\n".encode())
            return _err(EBUSY)
        ret = major
    if major >= BLKDEV_MAJOR_MAX:
        k.log.err(f"__register_blkdev: major requested ({major}) is greater than the maximum "
                  f"({BLKDEV_MAJOR_MAX - 1}) for {text}\n")
        return _err(EINVAL)
    if any(m == major for m, _n in taken):
        k.log.printk(f"register_blkdev: cannot get major {major} for {text}\n".encode())
        return _err(EBUSY)
    k.registry.add("blkdev", text[:15], major, k.caller_module_name(), major=major, probe=probe)
    return ret


@kapi("unregister_blkdev")
def unregister_blkdev(k: KernelApi, major: int, name: int) -> None:
    """Only the entry of that major and name goes (the kernel WARNs on a mismatch)."""
    rec = k.registry.find("blkdev", major & 0xFFFFFFFF)
    if rec is not None and rec.name == k.cname(name)[:15]:
        k.registry.items.remove(rec)


# -- allocation -----------------------------------------------------------------------------------

def _zalloc(k: KernelApi, size: int, owner: str, kind: str) -> int:
    addr = k.m.kmalloc(size, owner, k.caller, kind=kind)
    if addr:
        k.m.write(addr, bytes(size))
    return addr


def disk_alloc(k: KernelApi, q: int) -> int:
    """__alloc_disk_node(): the gendisk and its part0, the next disk sequence number."""
    m, S = k.m, k.S
    owner = k.caller_module_name()
    disk = _zalloc(k, S.gendisk.sizeof, owner, "gendisk")
    part0 = _zalloc(k, S.block_device.sizeof, owner, "block_device") if disk else 0
    if not part0:
        k.kfree(disk)
        return 0
    st = _st(k)
    st["diskseq"] += 1
    m.write_u64(disk + S.gendisk.part0, part0)
    m.write_u64(disk + S.gendisk.queue, q)
    m.write_u64(disk + S.gendisk.diskseq, st["diskseq"])
    m.write_u64(part0 + S.block_device.bd_disk, disk)
    m.write_u64(part0 + S.block_device.bd_queue, q)
    m.write_u64(q + S.request_queue.disk, disk)
    dev = part0 + S.block_device.bd_device
    m.write_u32(dev + S.device.kobj + S.kobject.kref, 1)
    m.write_u64(dev + S.device["class"], block_class(k))
    st["disks"][disk] = Disk(disk, q, part0, owner, st["diskseq"])
    return disk


@kapi("__blk_mq_alloc_disk")
def __blk_mq_alloc_disk(k: KernelApi, tagset: int, a1: int, a2: int, a3: int) -> int:
    """block/blk-mq.c: a queue on the set and a disk that owns it. 6.1 passes (set, queuedata,
    lkclass), 6.9 on (set, lim, queuedata, lkclass)."""
    lim, queuedata = (a1, a2) if k.profile.since(versions.BLK_MQ_ALLOC_DISK_LIMITS) else (0, a1)
    return _disk_owning(k, queue_alloc(k, tagset, queuedata, lim))


def _disk_owning(k: KernelApi, q: int) -> int:
    """A disk that owns its new queue q (GD_OWNS_QUEUE: del_gendisk() tears it down)."""
    if q > MASK64 - 4095:  # IS_ERR()
        return q
    disk = disk_alloc(k, q)
    if not disk:
        queue_free(k, q)
        return _err(ENOMEM)
    disk_of(k, disk).set_state_bit(k, GD_OWNS_QUEUE)
    return disk


@kapi("__blk_alloc_disk")
def __blk_alloc_disk(k: KernelApi, a0: int, a1: int, a2: int) -> int:
    """block/genhd.c: a queue for a driver that takes bios (its submit_bio) and a disk owning
    it. 6.1 passes (node, lkclass), 6.9 on (lim, node, lkclass)."""
    lim = a0 if k.profile.since(versions.BLK_MQ_ALLOC_DISK_LIMITS) else 0
    return _disk_owning(k, queue_alloc(k, 0, 0, lim))


@kapi("blk_mq_alloc_disk_for_queue")
def blk_mq_alloc_disk_for_queue(k: KernelApi, q: int, lkclass: int) -> int:
    """A disk on a queue the driver made (blk_mq_init_queue()) and keeps."""
    return disk_alloc(k, q) or 0


@kapi("set_capacity")
def set_capacity(k: KernelApi, disk: int, sectors: int) -> None:
    k.m.write_u64(k.m.read_u64(disk + k.S.gendisk.part0) + k.S.block_device.bd_nr_sectors, sectors & MASK64)


@kapi("set_capacity_and_notify")
def set_capacity_and_notify(k: KernelApi, disk: int, size: int) -> int:
    """The capacity, and a line when a live disk's changes (the uevent goes nowhere here)."""
    d = disk_of(k, disk)
    old = d.capacity(k) if d is not None else 0
    set_capacity(k, disk, size)
    if d is None or not d.state_bit(k, GD_ADDED) or old == size & MASK64 or (not old and not size):
        return 0
    k.log.info(f"{d.name(k)}: detected capacity change from {old} to {size & MASK64}\n")
    return 1


@kapi("set_disk_ro")
def set_disk_ro(k: KernelApi, disk: int, read_only: int) -> None:
    d = disk_of(k, disk)
    if d is not None:
        d.set_state_bit(k, GD_READ_ONLY, bool(read_only & 0xFF))


@kapi("get_disk_ro")
def get_disk_ro(k: KernelApi, disk: int) -> int:
    d = disk_of(k, disk)
    return int(d is not None and d.state_bit(k, GD_READ_ONLY))


# -- adding and removing --------------------------------------------------------------------------

@kapi("device_add_disk")
def device_add_disk(k: KernelApi, parent: int, disk: int, groups: int) -> int:
    """block/genhd.c device_add_disk(): the elevator, the numbers (a driver's major needs its
    minors), the device in sysfs and /dev, the partition scan through the driver's queue_rq."""
    m, G = k.m, k.S.gendisk
    d = disk_of(k, disk)
    if d is None:
        return _err(EINVAL)
    qs = queue(k, d.queue)
    if qs is not None:
        elevator_init_mq(k, qs)
    major, minors = m.read_s32(disk + G.major), m.read_s32(disk + G.minors)
    first = m.read_s32(disk + G.first_minor)
    if not major:  # no numbers of its own: the disk and its partitions in blkext (259)
        if minors:
            return _err(EINVAL)
        major, first = BLOCK_EXT_MAJOR, alloc_ext_minor(k)
        m.write_u32(disk + G.major, major)
        m.write_u32(disk + G.first_minor, first)
    elif not minors:
        return _err(EINVAL)
    if minors > DISK_MAX_PARTS:
        k.log.err(f"block: can't allocate more than {DISK_MAX_PARTS} partitions\n")
        m.write_u32(disk + G.minors, DISK_MAX_PARTS)
    if first > MINORMASK or first + minors > MINORMASK + 1:
        return _err(EINVAL)
    dev = d.device(k)
    hidden = d.flags(k) & GENHD_FL_HIDDEN
    devt = 0 if hidden else (major << 20) | first
    m.write_u32(dev + k.S.device.devt, devt)
    set_dev_name(k, dev, d.name(k))
    m.write_u32(d.part0 + k.S.block_device.bd_dev, (major << 20) | first)
    if groups:
        create_groups(k, dev, "device", groups)
    k.registry.add("disk", d.name(k), disk, d.owner, disk=d, devt=devt)
    if not hidden:
        if d.capacity(k) and not d.flags(k) & GENHD_FL_NO_PART and not d.state_bit(k, GD_SUPPRESS_PART_SCAN):
            d.set_state_bit(k, GD_NEED_PART_SCAN)
        if d.capacity(k):
            disk_scan_partitions(k, d)
    d.set_state_bit(k, GD_ADDED)
    return 0


@kapi("del_gendisk")
def del_gendisk(k: KernelApi, disk: int) -> None:
    """The disk leaves sysfs, /dev and /proc/partitions; what is dirty in its cache is lost
    as on a dead disk; the scheduler goes."""
    d = disk_of(k, disk)
    if d is None or not d.state_bit(k, GD_ADDED):
        return
    d.set_state_bit(k, GD_DEAD)
    d.cache.clear()
    d.dirty.clear()
    drop_partitions(k, d)
    remove_attrs(k, d.device(k))
    k.registry.remove("disk", disk)
    qs = queue(k, d.queue)
    if qs is not None:
        from .blk_mq import elevator_exit
        elevator_exit(k, qs)
    d.set_state_bit(k, GD_ADDED, False)


@kapi("put_disk")
def put_disk(k: KernelApi, disk: int) -> None:
    """The last reference: the disk, its part0 and the queue it owns are freed."""
    d = _st(k)["disks"].pop(disk, None)
    if d is None:
        return
    if d.state_bit(k, GD_OWNS_QUEUE):
        queue_free(k, d.queue)
    if k.m.read_s32(disk + k.S.gendisk.major) == BLOCK_EXT_MAJOR:
        free_ext_minor(k, k.m.read_s32(disk + k.S.gendisk.first_minor))  # blk_free_ext_minor()
    name = d.device(k) + k.S.device.kobj + k.S.kobject.name
    k.kfree(k.m.read_u64(name))  # the device's name, which its release frees
    k.kfree(d.part0)
    k.kfree(disk)


def forget_module(k: KernelApi, addr: int, size: int) -> None:
    """Module memory went: a disk whose operations lived there can no longer be opened."""
    for rec in [r for r in k.registry.of_kind("disk")]:
        fops = k.m.read_u64(rec.obj + k.S.gendisk.fops)
        if addr <= fops < addr + size:
            k.registry.items.remove(rec)
