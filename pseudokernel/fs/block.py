"""What a disk shows of itself: /sys/block, the disk's directory under devices/virtual/block
(block/blkdev.c's disk_attrs, block/blk-sysfs.c's queue/, block/disk-events.c), /proc/partitions
(show_partition()) and its node in dev/ (a regular file of the disk's size: FUSE serves no block
device inodes; reads, writes and ioctls go through the block layer to the driver).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from .. import vfs
from ..emu.kapi import blkdev
from ..emu.kapi.blk_mq import builtin_elevators
from ..emu.kapi.pagecache import VM_READAHEAD_PAGES
from ..profile import versions
from .tree import Dir, File, Link, Node, StaticDir, attr_file, kernfs_order, power_dir

if TYPE_CHECKING:
    from ..emu.kapi import KernelApi, Registration
    from ..kernel import Caller, Kernel

QUEUE_FLAG_NONROT = 6  # 6.1's queue_flags bit
BLK_FEAT_ROTATIONAL = 1 << 2  # 6.11's limits.features bit
DISK_EVENT_FLAG_UEVENT = 1 << 1
EVENT_NAMES = ("media_change", "eject_request")


def disks(kernel: Kernel) -> list[Registration]:
    return kernel.registry.of_kind("disk")


def disk_named(kernel: Kernel, name: str) -> Registration | None:
    return next((r for r in disks(kernel) if r.name == name), None)


def bdev_named(kernel: Kernel, name: str) -> Registration | None:
    """A disk or a partition by its device name (a node of dev/)."""
    return next((r for r in kernel.registry.items if r.kind in ("disk", "part") and r.name == name), None)


def part_dir(kernel: Kernel, d: blkdev.Disk, part: blkdev.Part) -> Dir:
    """block/partitions/core.c part_attrs: what a partition shows of itself."""
    def show(text: Callable[[], str]) -> Callable[[], File]:
        return lambda: attr_file(lambda r: text().encode())

    entries: dict[str, Callable[[], Node]] = {
        "alignment_offset": show(lambda: "0\n"),
        "dev": show(lambda: f"{part.devt >> 20}:{part.devt & 0xFFFFF}\n"),
        "discard_alignment": show(lambda: "0\n"),
        "holders": lambda: Dir(lambda: [], lambda n: None, 0o755),
        "inflight": show(lambda: f"{0:8d} {0:8d}\n"),
        "partition": show(lambda: f"{part.partno}\n"),
        "power": power_dir,
        "ro": show(lambda: f"{int(vfs.peek(kernel, lambda api: d.state_bit(api, blkdev.GD_READ_ONLY)))}\n"),
        "size": show(lambda: f"{part.size}\n"),
        "start": show(lambda: f"{part.start}\n"),
        "stat": show(lambda: " ".join(f"{0:8d}" for _ in range(17)) + "\n"),
        "subsystem": lambda: Link("../../../../../class/block"),
        "trace": lambda: Dir(lambda: [], lambda n: None, 0o755),
        "uevent": lambda: attr_file(lambda r: (f"MAJOR={part.devt >> 20}\nMINOR={part.devt & 0xFFFFF}\n"
                                               f"DEVNAME={part.name}\nDEVTYPE=partition\nDISKSEQ={d.diskseq}\n"
                                               f"PARTN={part.partno}\n").encode(), 0o644, store=lambda data: len(data)),
    }
    static = StaticDir(entries, 0o755).as_dir()
    return Dir(lambda: kernfs_order(static.list()), static.child, 0o755)


def _show(kernel: Kernel, d: blkdev.Disk, fn: Callable[[KernelApi, blkdev.Disk], str], mode: int = 0o444) -> Callable:
    return lambda: attr_file(lambda r: vfs.peek(kernel, lambda api: fn(api, d)).encode(), mode)


def _limit(api: KernelApi, d: blkdev.Disk, member: str) -> int:
    addr = d.queue + api.S.request_queue.limits + api.S.queue_limits[member]
    return api.m.read_u16(addr) if member == "max_segments" else api.m.read_u32(addr)


def _rotational(api: KernelApi, d: blkdev.Disk) -> bool:
    if api.profile.since(versions.BLK_FEATURES_IN_LIMITS):
        off = api.S.btf("queue_limits").members["features"].offset
        return bool(api.m.read_u32(d.queue + api.S.request_queue.limits + off) & BLK_FEAT_ROTATIONAL)
    return not api.m.read_u64(d.queue + api.S.request_queue.queue_flags) >> QUEUE_FLAG_NONROT & 1


def scheduler(api: KernelApi, d: blkdev.Disk) -> str:
    """elv_iosched_show(): the elevators registered, the queue's in brackets."""
    if not _is_mq(api, d):
        return "none\n"
    cur = d.elevator(api)
    names = builtin_elevators(api)
    if api.profile.since(versions.ELV_NONE_FIRST):
        return ("[none] " if cur is None else "none ") + "".join(f"[{n}] " if n == cur else f"{n} " for n in names) + "\n"
    out = "[none] " if cur is None else ""
    out += "".join(f"[{n}] " if n == cur else f"{n} " for n in names)
    return (out + "none\n") if cur is not None else out + "\n"


def _is_mq(api: KernelApi, d: blkdev.Disk) -> bool:
    """queue_is_mq(): a queue of requests, not one whose driver takes the bios."""
    return bool(api.m.read_u64(d.queue + api.S.request_queue.mq_ops))


def queue_dir(kernel: Kernel, d: blkdev.Disk) -> Dir:
    """block/blk-sysfs.c: the queue attributes that read the limits, flags and scheduler."""
    def lim(member: str, fmt: Callable[[int], int] = lambda v: v) -> Callable:
        return _show(kernel, d, lambda api, dd: f"{fmt(_limit(api, dd, member))}\n")

    entries = {
        "hw_sector_size": lim("logical_block_size"),
        "logical_block_size": lim("logical_block_size"),
        "physical_block_size": lim("physical_block_size"),
        "minimum_io_size": lim("io_min"),
        "optimal_io_size": lim("io_opt"),
        "max_hw_sectors_kb": lim("max_hw_sectors", lambda v: v >> 1),
        "max_sectors_kb": lim("max_sectors", lambda v: v >> 1),
        "max_segments": lim("max_segments"),
        "max_segment_size": lim("max_segment_size"),
        "rotational": _show(kernel, d, lambda api, dd: f"{int(_rotational(api, dd))}\n"),
        "nr_requests": _show(kernel, d, lambda api, dd: f"{api.m.read_u32(dd.queue + api.S.request_queue.nr_requests)}\n"),
        "scheduler": _show(kernel, d, scheduler),
        "read_ahead_kb": _show(kernel, d, lambda api, dd: f"{VM_READAHEAD_PAGES * 4}\n"),
    }
    return StaticDir(entries, 0o755).as_dir()


def _stat(api: KernelApi, d: blkdev.Disk) -> str:
    """part_stat_show(): the I/O counted per direction (times are not kept: 0)."""
    r, w = d.stats[0], d.stats[1]
    fields = [r[0], r[1], r[2], 0, w[0], w[1], w[2], 0, sum(d.inflight), 0, 0, 0, 0, 0, 0, 0, 0]
    return " ".join(f"{v:8d}" for v in fields) + "\n"


def _capability(api: KernelApi, d: blkdev.Disk) -> str:
    if api.profile.since(versions.DISK_CAPABILITY_DEPRECATED):
        key = f"capability:{d.gendisk:x}"
        if key not in api.state.setdefault("dev_warn_once", set()):
            api.state["dev_warn_once"].add(key)
            from ..emu.kapi.device import dev_printk_info
            api.log.printk(f"\x014block {d.name(api)}: the capability attribute has been deprecated.\n".encode(),
                           dev_info=dev_printk_info(api, d.device(api)))
        return "0\n"
    return f"{d.flags(api):x}\n"


def uevent(api: KernelApi, d: blkdev.Disk) -> str:
    """dev_uevent() and disk_uevent()."""
    devt = d.devt(api)
    return f"MAJOR={devt >> 20}\nMINOR={devt & 0xFFFFF}\nDEVNAME={d.name(api)}\nDEVTYPE=disk\nDISKSEQ={d.diskseq}\n"


def disk_dir(kernel: Kernel, rec: Registration, attr_entries: Callable) -> Dir:
    """devices/virtual/block/<disk>; attr_entries: the attributes the driver's groups add
    (fs/devices.py's, given by the caller, which builds its class directories on this)."""
    d: blkdev.Disk = rec.info["disk"]
    G = blkdev
    flag = lambda bit: lambda api, dd: f"{int(bool(dd.flags(api) & bit))}\n"  # noqa: E731
    entries: dict[str, Callable[[], Node]] = {
        "alignment_offset": _show(kernel, d, lambda api, dd: "0\n"),
        "bdi": lambda: Link(f"../../bdi/{d.devt(kernel.api) >> 20}:{d.devt(kernel.api) & 0xFFFFF}"),
        "capability": _show(kernel, d, _capability),
        "dev": _show(kernel, d, lambda api, dd: f"{dd.devt(api) >> 20}:{dd.devt(api) & 0xFFFFF}\n"),
        "discard_alignment": _show(kernel, d, lambda api, dd: "0\n"),
        "diskseq": _show(kernel, d, lambda api, dd: f"{dd.diskseq}\n"),
        "events": _show(kernel, d, _events),
        "events_async": _show(kernel, d, lambda api, dd: ""),
        "events_poll_msecs": _show(kernel, d, lambda api, dd: "-1\n", 0o644),
        "ext_range": _show(kernel, d, lambda api, dd: f"{1 if dd.flags(api) & G.GENHD_FL_NO_PART else G.DISK_MAX_PARTS}\n"),
        "hidden": _show(kernel, d, flag(G.GENHD_FL_HIDDEN)),
        "holders": lambda: Dir(lambda: [], lambda n: None, 0o755),
        "inflight": _show(kernel, d, lambda api, dd: f"{dd.inflight[0]:8d} {dd.inflight[1]:8d}\n"),
        "integrity": lambda: StaticDir({n: _show(kernel, d, lambda api, dd, v=v: v, 0o644 if n in WRITABLE else 0o444)
                                        for n, v in INTEGRITY.items()}, 0o755).as_dir(),
        "mq": lambda: StaticDir({"0": lambda: StaticDir({
            "cpu_list": _show(kernel, d, lambda api, dd: "0\n"),
            "nr_reserved_tags": _show(kernel, d, lambda api, dd: f"{_tagset(api, dd, 'reserved_tags')}\n"),
            "nr_tags": _show(kernel, d, lambda api, dd: f"{_tagset(api, dd, 'queue_depth')}\n"),
        }, 0o755).as_dir()}, 0o755).as_dir(),
        "power": power_dir,
        "queue": lambda: queue_dir(kernel, d),
        "range": _show(kernel, d, lambda api, dd: f"{api.m.read_s32(dd.gendisk + api.S.gendisk.minors)}\n"),
        "removable": _show(kernel, d, flag(G.GENHD_FL_REMOVABLE)),
        "ro": _show(kernel, d, lambda api, dd: f"{int(dd.state_bit(api, G.GD_READ_ONLY))}\n"),
        "size": _show(kernel, d, lambda api, dd: f"{dd.capacity(api)}\n"),
        "slaves": lambda: Dir(lambda: [], lambda n: None, 0o755),
        "stat": _show(kernel, d, _stat),
        "subsystem": lambda: Link("../../../../class/block"),
        "trace": lambda: Dir(lambda: [], lambda n: None, 0o755),
        "uevent": lambda: attr_file(lambda r: vfs.peek(kernel, lambda api: uevent(api, d)).encode(), 0o644,
                                    store=lambda data: len(data)),
    }
    if not vfs.peek(kernel, lambda api: _is_mq(api, d)):
        del entries["mq"]  # blk_mq_sysfs_register() is for request queues only
    if kernel.profile.since(versions.DISK_PARTSCAN_ATTR):
        entries["partscan"] = _show(kernel, d, lambda api, dd: f"{int(_partscan(dd, api))}\n")
    entries.update(attr_entries(kernel, vfs.peek(kernel, lambda api: d.device(api)),
                                f"/sys/devices/virtual/block/{rec.name}"))
    static = StaticDir(entries, 0o755).as_dir()

    def child(name: str) -> Node | None:
        part = next((p for p in d.parts.values() if p.name == name), None)
        return part_dir(kernel, d, part) if part is not None else static.child(name)

    return Dir(lambda: kernfs_order(static.list() + [p.name for p in d.parts.values()]), child, 0o755)


# blk-integrity.c's attributes of a disk without an integrity profile
INTEGRITY = {"device_is_integrity_capable": "0\n", "format": "none\n", "protection_interval_bytes": "0\n",
             "read_verify": "0\n", "tag_size": "0\n", "write_generate": "0\n"}
WRITABLE = ("read_verify", "write_generate")


def _events(api: KernelApi, d: blkdev.Disk) -> str:
    G = api.S.gendisk
    if not api.m.read_u16(d.gendisk + G.event_flags) & DISK_EVENT_FLAG_UEVENT:
        return ""
    events = api.m.read_u16(d.gendisk + G.events)
    return " ".join(n for i, n in enumerate(EVENT_NAMES) if events >> i & 1) + "\n"


def _tagset(api: KernelApi, d: blkdev.Disk, member: str) -> int:
    tagset = api.m.read_u64(d.queue + api.S.request_queue.tag_set)
    return api.m.read_u32(tagset + api.S.blk_mq_tag_set[member]) if tagset else 0


def _partscan(d: blkdev.Disk, api: KernelApi) -> bool:
    return not d.flags(api) & (blkdev.GENHD_FL_NO_PART | blkdev.GENHD_FL_HIDDEN) \
        and not d.state_bit(api, blkdev.GD_SUPPRESS_PART_SCAN)


def sys_block_dir(kernel: Kernel, boot: float) -> Dir:
    """/sys/block: a link to each disk's directory."""
    def child(name: str) -> Node | None:
        return Link(f"../devices/virtual/block/{name}") if disk_named(kernel, name) else None

    return Dir(lambda: kernfs_order([r.name for r in disks(kernel)]), child, 0o755, boot)


def proc_partitions(kernel: Kernel) -> bytes:
    """show_partition(): the header once a disk exists, then each visible disk with a size."""
    recs = disks(kernel)
    if not recs:
        return b""

    def lines(api: KernelApi) -> str:
        out = "major minor  #blocks  name\n\n"
        for r in recs:
            d: blkdev.Disk = r.info["disk"]
            cap = d.capacity(api)
            if not cap or d.flags(api) & blkdev.GENHD_FL_HIDDEN:
                continue
            devt = d.devt(api)
            out += f"{devt >> 20:4d}  {devt & 0xFFFFF:7d} {cap >> 1:10d} {r.name}\n"
            for n in sorted(d.parts):
                p = d.parts[n]
                if p.size:
                    out += f"{p.devt >> 20:4d}  {p.devt & 0xFFFFF:7d} {p.size >> 1:10d} {p.name}\n"
        return out

    return vfs.peek(kernel, lines).encode()


def disk_node(kernel: Kernel, rec: Registration) -> File:
    """dev/<disk> or dev/<partition>: a regular file as long as the device; opening it opens
    the disk (through the partition)."""
    d: blkdev.Disk = rec.info["disk"]
    part: blkdev.Part | None = rec.info.get("part")

    def open_(caller: Caller, flags: int) -> vfs.DiskFile:
        return vfs.DiskFile.open(kernel, caller, d, f"/dev/{rec.name}", flags, part)

    size = part.size * 512 if part is not None else vfs.peek(kernel, lambda api: d.capacity(api) * 512)
    return File(None, 0o600, size, open=open_, device=True)
