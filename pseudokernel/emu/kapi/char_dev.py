"""Character device numbers and cdevs (fs/char_dev.c), with the majors the reference machine
hands out: a module's major must not collide with one a built-in driver holds at boot."""

from __future__ import annotations

from errno import EBUSY, EINVAL

from . import KernelApi, kapi
from . import neg_errno as _err
from .device import _kref_init, boot_chrdev_majors, dev_off, device_add, device_del, free_kernel_object

CHRDEV_MAJOR_MAX = 512
CHRDEV_MAJOR_HASH_SIZE = 255
CHRDEV_MAJOR_DYN_END = 234  # include/linux/fs.h: the bottom of the first range of dynamic majors
CHRDEV_MAJOR_DYN_EXT_START, CHRDEV_MAJOR_DYN_EXT_END = 511, 384


MINORMASK = (1 << 20) - 1


def _regions(k: KernelApi) -> list:
    """chrdevs[]: the modules' regions (registry records: major, baseminor, count)."""
    return k.registry.of_kind("chrdev")


def _alloc_major(k: KernelApi) -> int:
    """find_dynamic_major(): the highest free hash slot from 254 down to 234, then the
    extended range 511..384; a slot is taken by any major that hashes to it."""
    majors = set(boot_chrdev_majors(k.kernel.profile)) | {r.info["major"] for r in _regions(k)}
    slots = {m % CHRDEV_MAJOR_HASH_SIZE for m in majors}
    for major in range(CHRDEV_MAJOR_HASH_SIZE - 1, CHRDEV_MAJOR_DYN_END - 1, -1):
        if major not in slots:
            return major
    for major in range(CHRDEV_MAJOR_DYN_EXT_START, CHRDEV_MAJOR_DYN_EXT_END - 1, -1):
        if major not in majors:
            return major
    return 0


def _register_region(k: KernelApi, major: int, baseminor: int, count: int, name: int, fops: int = 0,
                     whole: bool = False) -> int:
    """__register_chrdev_region(): the major (a free one for 0), or a negative errno: EBUSY
    for a range that overlaps one of the major's, or (whole: __register_chrdev()'s 256 minors)
    a major a built-in driver holds (where register_chrdev_region() of a few minors of such a
    major is let through: which minors the built-in driver has is not recorded)."""
    label = k.cname(name)
    if major >= CHRDEV_MAJOR_MAX:
        k.log.printk(f"\x013CHRDEV \"{label}\" major requested ({major}) is greater than the maximum "
                     f"({CHRDEV_MAJOR_MAX - 1})\n")
        return _err(EINVAL)
    if count > MINORMASK + 1 - baseminor:
        k.log.printk(f"\x013CHRDEV \"{label}\" minor range requested ({baseminor}-{baseminor + count - 1}) is out "
                     f"of range of maximum range (0-{MINORMASK}) for a single major\n")
        return _err(EINVAL)
    if major == 0:
        major = _alloc_major(k)
        if not major:
            k.log.printk(f"\x013CHRDEV \"{label}\" dynamic allocation region is full\n")
            return _err(EBUSY)
    if whole and major in boot_chrdev_majors(k.kernel.profile):
        return _err(EBUSY)
    for r in _regions(k):
        i = r.info
        if i["major"] == major and i["baseminor"] < baseminor + count and baseminor < i["baseminor"] + i["count"]:
            return _err(EBUSY)
    k.registry.add("chrdev", label, major, k.caller_module_name(), major=major, baseminor=baseminor,
                   count=count, fops=fops)
    return major


def _unregister_region(k: KernelApi, major: int, baseminor: int, count: int) -> None:
    """__unregister_chrdev_region(): the region registered with these numbers."""
    for r in reversed(_regions(k)):
        if (r.info["major"], r.info["baseminor"], r.info["count"]) == (major, baseminor, count):
            k.registry.items.remove(r)
            return


@kapi("__register_chrdev")
def __register_chrdev(k: KernelApi, major: int, baseminor: int, count: int, name: int, fops: int) -> int:
    major &= 0xFFFFFFFF
    got = _register_region(k, major, baseminor & 0xFFFFFFFF, count & 0xFFFFFFFF, name, fops, whole=True)
    return got if got < 0 or major == 0 else 0


@kapi("__unregister_chrdev")
def __unregister_chrdev(k: KernelApi, major: int, baseminor: int, count: int, name: int) -> None:
    _unregister_region(k, major & 0xFFFFFFFF, baseminor & 0xFFFFFFFF, count & 0xFFFFFFFF)


@kapi("register_chrdev_region")
def register_chrdev_region(k: KernelApi, first: int, count: int, name: int) -> int:
    """Each major's part of the range is a region of its own (a range may span majors)."""
    first &= 0xFFFFFFFF
    end = first + (count & 0xFFFFFFFF)
    n = first
    while n < end:
        nxt = min(((n >> 20) + 1) << 20, end)
        got = _register_region(k, n >> 20, n & MINORMASK, nxt - n, name)
        if got < 0:
            while n > first:  # what was registered of the range goes again
                prev = max(((n - 1) >> 20) << 20, first)
                _unregister_region(k, prev >> 20, prev & MINORMASK, n - prev)
                n = prev
            return got
        n = nxt
    return 0


@kapi("alloc_chrdev_region")
def alloc_chrdev_region(k: KernelApi, dev: int, baseminor: int, count: int, name: int) -> int:
    got = _register_region(k, 0, baseminor & 0xFFFFFFFF, count & 0xFFFFFFFF, name)
    if got < 0:
        return got
    k.m.write_u32(dev, (got << 20) | (baseminor & MINORMASK))
    return 0


@kapi("unregister_chrdev_region")
def unregister_chrdev_region(k: KernelApi, first: int, count: int) -> None:
    first &= 0xFFFFFFFF
    end = first + (count & 0xFFFFFFFF)
    n = first
    while n < end:
        nxt = min(((n >> 20) + 1) << 20, end)
        _unregister_region(k, n >> 20, n & MINORMASK, nxt - n)
        n = nxt


@kapi("cdev_init")
def cdev_init(k: KernelApi, cdev: int, fops: int) -> None:
    k.m.write(cdev, bytes(k.S.cdev.sizeof))
    k.m.write_u64(cdev + k.S.cdev.ops, fops)
    _kref_init(k, cdev)


@kapi("cdev_alloc")
def cdev_alloc(k: KernelApi) -> int:
    return k.m.kmalloc(k.S.cdev.sizeof, k.caller_module_name(), k.caller, kind="cdev")


@kapi("cdev_add")
def cdev_add(k: KernelApi, cdev: int, dev: int, count: int) -> int:
    k.m.write_u32(cdev + k.S.cdev.dev, dev)
    k.m.write_u32(cdev + k.S.cdev.count, count)
    k.registry.add("cdev", f"{(dev & 0xFFFFFFFF) >> 20}:{dev & 0xFFFFF}", cdev, k.caller_module_name(),
                   devt=dev & 0xFFFFFFFF, count=count)
    return 0


@kapi("cdev_device_add")
def cdev_device_add(k: KernelApi, cdev: int, dev: int) -> int:
    devt = k.m.read_u32(dev + dev_off(k, "devt"))
    if devt:
        cdev_add(k, cdev, devt, 1)
    return device_add(k, dev)


@kapi("cdev_del")
def cdev_del(k: KernelApi, cdev: int) -> None:
    """cdev_del(): out of cdev_map, and its reference put; a name kobject_set_name() gave it
    goes with the last one (kobject_cleanup(): ldd3's scull names its cdevs), and a cdev
    cdev_alloc() made goes itself."""
    k.registry.remove("cdev", cdev)
    free_kernel_object(k, k.m.read_u64(cdev + k.S.cdev.kobj + k.S.kobject.name), "kobject-name")
    free_kernel_object(k, cdev, "cdev")  # cdev_dynamic_release(): one cdev_alloc() made


@kapi("cdev_device_del")
def cdev_device_del(k: KernelApi, cdev: int, dev: int) -> None:
    cdev_del(k, cdev)
    device_del(k, dev)


