"""Character device numbers and cdevs (fs/char_dev.c), with the majors the reference machine
hands out: a module's major must not collide with one a built-in driver holds at boot."""

from __future__ import annotations

from errno import EBUSY

from . import KernelApi, kapi
from . import neg_errno as _err
from .device import _kref_init, _state, boot_chrdev_majors, dev_off, device_add, device_del

CHRDEV_MAJOR_MAX = 512
CHRDEV_MAJOR_HASH_SIZE = 255
CHRDEV_MAJOR_DYN_END = 234  # include/linux/fs.h: the bottom of the first range of dynamic majors
CHRDEV_MAJOR_DYN_EXT_START, CHRDEV_MAJOR_DYN_EXT_END = 511, 384


def _alloc_major(k: KernelApi) -> int:
    """find_dynamic_major(): the highest free hash slot from 254 down to 234, then the
    extended range 511..384; a slot is taken by any major that hashes to it."""
    majors = _state(k)["majors"]
    slots = {m % CHRDEV_MAJOR_HASH_SIZE for m in majors}
    for major in range(CHRDEV_MAJOR_HASH_SIZE - 1, CHRDEV_MAJOR_DYN_END - 1, -1):
        if major not in slots:
            return major
    for major in range(CHRDEV_MAJOR_DYN_EXT_START, CHRDEV_MAJOR_DYN_EXT_END - 1, -1):
        if major not in majors:
            return major
    return 0


@kapi("__register_chrdev")
def __register_chrdev(k: KernelApi, major: int, baseminor: int, count: int, name: int, fops: int) -> int:
    major &= 0xFFFFFFFF
    st = _state(k)
    if major == 0:
        major = _alloc_major(k)
        if not major:
            return _err(EBUSY)
        ret = major
    else:
        if major in st["majors"]:
            return _err(EBUSY)
        ret = 0
    st["majors"].add(major)
    k.registry.add("chrdev", k.cname(name), major, k.caller_module_name(), major=major,
                   baseminor=baseminor, count=count, fops=fops)
    return ret


@kapi("__unregister_chrdev")
def __unregister_chrdev(k: KernelApi, major: int, baseminor: int, count: int, name: int) -> None:
    major &= 0xFFFFFFFF
    _state(k)["majors"].discard(major)
    k.registry.remove("chrdev", major)


@kapi("register_chrdev_region")
def register_chrdev_region(k: KernelApi, first: int, count: int, name: int) -> int:
    major = (first & 0xFFFFFFFF) >> 20
    st = _state(k)
    if major in st["majors"] and major not in boot_chrdev_majors(k.kernel.profile):
        return _err(EBUSY)
    st["majors"].add(major)
    k.registry.add("chrdev", k.cname(name), major, k.caller_module_name(), major=major,
                   baseminor=first & 0xFFFFF, count=count)
    return 0


@kapi("alloc_chrdev_region")
def alloc_chrdev_region(k: KernelApi, dev: int, baseminor: int, count: int, name: int) -> int:
    major = _alloc_major(k)
    if not major:
        return _err(EBUSY)
    _state(k)["majors"].add(major)
    k.m.write_u32(dev, (major << 20) | (baseminor & 0xFFFFF))
    k.registry.add("chrdev", k.cname(name), major, k.caller_module_name(), major=major,
                   baseminor=baseminor, count=count)
    return 0


@kapi("unregister_chrdev_region")
def unregister_chrdev_region(k: KernelApi, first: int, count: int) -> None:
    major = (first & 0xFFFFFFFF) >> 20
    _state(k)["majors"].discard(major)
    k.registry.remove("chrdev", major)


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
    k.registry.remove("cdev", cdev)


@kapi("cdev_device_del")
def cdev_device_del(k: KernelApi, cdev: int, dev: int) -> None:
    cdev_del(k, cdev)
    device_del(k, dev)


