"""The device model's core: struct device (drivers/base/core.c), and the state and helpers the
other parts share. Those live where the kernel keeps them: bus.py, class_.py, driver.py,
platform.py, miscdevice.py, char_dev.py (device numbers, cdevs), devres.py.

Registration succeeds and is recorded in Kernel.registry (kind, name, the kernel object, the
owning module, and what a view would show): buses, classes, devices, drivers, misc devices,
character device regions and cdevs.
"""

from __future__ import annotations

from errno import EINVAL

from ..vsprintf import VaListArgs
from . import KernelApi, VarArgs, kapi
from . import neg_errno as _err
from .devres import devres_release_all
from .printk import _level_of
from .sysfs import create_groups, remove_attrs

DYNAMIC_MINORS = 128  # 6.1's bitmap of dynamic misc minors (127 down)


# What the reference machine's built-in drivers hold before any module loads (the profile's
# machine.json, recorded there: tests/expected/real*/chardev.txt): /proc/devices' character
# majors with each region's name (in minor order within a major), its block majors, and
# /proc/misc newest first. A module's dynamic numbers come after them, as there.
def boot_chrdevs(profile) -> list[tuple[int, str]]:
    return [(major, name) for major, name in profile.machine["chrdevs"]]


def boot_blkdevs(profile) -> list[tuple[int, str]]:
    return [(major, name) for major, name in profile.machine["blkdevs"]]


def boot_misc(profile) -> list[tuple[int, str]]:
    return [(minor, name) for minor, name in profile.machine["misc"]]


def boot_chrdev_majors(profile) -> frozenset[int]:
    return frozenset(major for major, _name in boot_chrdevs(profile))


def _forget(k: KernelApi, addr: int, size: int) -> None:
    st = _state(k)
    for misc, minor in list(st["misc"].items()):
        if addr <= misc < addr + size and 0 <= DYNAMIC_MINORS - minor - 1 < DYNAMIC_MINORS:
            st["misc_bits"] &= ~(1 << (DYNAMIC_MINORS - minor - 1))
    for key in ("misc", "platform_drivers", "platform_devices", "bound"):
        for obj in [o for o in st[key] if addr <= o < addr + size]:
            del st[key][obj]
    for pdev, drv in list(st["bound"].items()):
        if addr <= drv < addr + size:
            del st["bound"][pdev]


def _state(k: KernelApi) -> dict:
    st = k.state.get("device")
    if st is None:
        k.free_hooks.append(_forget)
        taken = [DYNAMIC_MINORS - minor - 1 for minor, _name in boot_misc(k.kernel.profile) if minor < DYNAMIC_MINORS]
        st = k.state["device"] = {"misc_bits": sum(1 << i for i in taken), "misc": {},
                                  "pdev_ids": {}, "platform_drivers": {}, "platform_devices": {}, "bound": {}}
    return st


def _owner_name(k: KernelApi, owner: int) -> str:
    mod = k.kernel.module_by_struct(owner) if owner else None
    return mod.name if mod else k.caller_module_name()


# -- struct device ----------------------------------------------------------------------------------

def dev_off(k: KernelApi, member: str) -> int:
    if member == "kobj_name":
        return k.S.device.kobj + k.S.kobject.name
    return k.S.device[member]


def dev_name(k: KernelApi, dev: int) -> str:
    if not dev:
        return ""
    init = k.m.read_u64(dev + dev_off(k, "init_name"))
    if init:
        return k.cname(init)
    return k.cname(k.m.read_u64(dev + dev_off(k, "kobj_name")))


def dev_driver_string(k: KernelApi, dev: int) -> str:
    """drivers/base/core.c dev_driver_string()."""
    drv = k.m.read_u64(dev + dev_off(k, "driver"))
    if drv:
        return k.cname(k.m.read_u64(drv))
    bus = k.m.read_u64(dev + dev_off(k, "bus"))
    if bus:
        return k.cname(k.m.read_u64(bus))
    cls = k.m.read_u64(dev + dev_off(k, "class"))
    if cls:
        return k.cname(k.m.read_u64(cls))
    return ""


def dev_printk_info(k: KernelApi, dev: int) -> tuple[tuple[str, str], ...]:
    """The SUBSYSTEM= and DEVICE= dictionary of a dev_printk record (set_dev_info())."""
    if not dev:
        return ()
    bus = k.m.read_u64(dev + dev_off(k, "bus"))
    cls = k.m.read_u64(dev + dev_off(k, "class"))
    subsys = k.cname(k.m.read_u64(bus)) if bus else k.cname(k.m.read_u64(cls)) if cls else ""
    if not subsys:
        return ()
    devt = k.m.read_u32(dev + dev_off(k, "devt"))
    if devt:
        c = "b" if subsys == "block" else "c"
        device = f"{c}{devt >> 20}:{devt & 0xFFFFF}"
    elif subsys == "net":
        device = f"n{0}"
    else:
        device = f"+{subsys}:{dev_name(k, dev)}"
    return (("SUBSYSTEM", subsys), ("DEVICE", device))


def new_device(k: KernelApi, name: str, parent: int = 0, devt: int = 0, cls: int = 0, drvdata: int = 0) -> int:
    dev = k.m.kmalloc(k.S.device.sizeof, k.caller_module_name(), k.caller, kind="device")
    set_dev_name(k, dev, name)
    k.m.write_u64(dev + dev_off(k, "parent"), parent)
    k.m.write_u32(dev + dev_off(k, "devt"), devt)
    k.m.write_u64(dev + dev_off(k, "class"), cls)
    k.m.write_u64(dev + dev_off(k, "driver_data"), drvdata)
    _kref_init(k, dev)
    return dev


def _kref_init(k: KernelApi, dev: int) -> None:
    kobj = dev + k.S.device.kobj
    k.m.write_u32(kobj + k.S.kobject.kref, 1)


def set_dev_name(k: KernelApi, dev: int, name: str) -> None:
    data = name.encode() + b"\0"
    p = k.m.kmalloc(len(data), k.caller_module_name(), k.caller, kind="kobject-name")
    k.m.write(p, data)
    k.m.write_u64(dev + dev_off(k, "kobj_name"), p)


@kapi("dev_set_name")
def dev_set_name(k: KernelApi, dev: int, fmt: int, args: VarArgs) -> int:
    set_dev_name(k, dev, k.format(fmt, args).decode("utf-8", "replace"))
    return 0


@kapi("kobject_set_name")
def kobject_set_name(k: KernelApi, kobj: int, fmt: int, args: VarArgs) -> int:
    data = k.format(fmt, args) + b"\0"
    p = k.m.kmalloc(len(data), k.caller_module_name(), k.caller, kind="kobject-name")
    k.m.write(p, data)
    k.m.write_u64(kobj, p)
    return 0


@kapi("dev_get_drvdata")
def dev_get_drvdata(k: KernelApi, dev: int) -> int:
    return k.m.read_u64(dev + dev_off(k, "driver_data"))


@kapi("dev_err_probe")
def dev_err_probe(k: KernelApi, dev: int, err: int, fmt: int, args: VarArgs) -> int:
    """drivers/base/core.c: `error %pe: %pV` at KERN_ERR; -EPROBE_DEFER is only noted."""
    import errno as _errno


    e = err & 0xFFFFFFFF
    e = e - (1 << 32) if e >> 31 else e
    if e != -517:
        name = "-" + _errno.errorcode[-e] if -e in _errno.errorcode else str(e)
        dev_emit(k, 3, dev, b"error " + name.encode() + b": " + k.format(fmt, args))
    return err & 0xFFFFFFFF


@kapi("dev_driver_string")
def _dev_driver_string(k: KernelApi, dev: int) -> int:
    return k.static_string(dev_driver_string(k, dev))


@kapi("device_initialize")
def device_initialize(k: KernelApi, dev: int) -> None:
    _kref_init(k, dev)


def device_get_devnode(k: KernelApi, dev: int) -> tuple[str, int]:
    """drivers/base/core.c device_get_devnode() as devtmpfs asks it when the device is added:
    the node's name under /dev and the mode devnode() gave, 0 if none (the node is then
    0600, and the uevent has no DEVMODE). The type's or class's devnode() is the module's,
    run on the CPU."""
    m = k.m
    scratch = m.kmalloc(16, "", 0, kind="devnode")
    try:
        m.write(scratch, bytes(16))
        dtype = m.read_u64(dev + dev_off(k, "type"))
        cls = m.read_u64(dev + dev_off(k, "class"))
        fn = m.read_u64(dtype + k.S.device_type.devnode) if dtype else 0
        if fn:
            name = m.call(fn, dev, scratch, scratch + 4, scratch + 8)
        else:
            fn = m.read_u64(cls + k.S["class"].devnode) if cls else 0
            name = m.call(fn, dev, scratch) if fn else 0
        mode = m.read_u16(scratch) & 0o7777
        if name:
            text = k.cname(name)
            k.kfree(name)  # devtmpfs frees what devnode() allocated
            return text, mode
        return dev_name(k, dev).replace("!", "/"), mode
    finally:
        k.kfree(scratch)


@kapi("device_add")
def device_add(k: KernelApi, dev: int) -> int:
    init = k.m.read_u64(dev + dev_off(k, "init_name"))
    if init:
        set_dev_name(k, dev, k.cname(init))
        k.m.write_u64(dev + dev_off(k, "init_name"), 0)
    name = dev_name(k, dev)
    if not name:
        return _err(EINVAL)
    devt = k.m.read_u32(dev + dev_off(k, "devt"))
    node = device_get_devnode(k, dev) if devt else ("", 0)
    cls = k.m.read_u64(dev + dev_off(k, "class"))
    rec = k.registry.add("device", name, dev, k.caller_module_name(), devt=devt, devnode=node[0], devmode=node[1],
                         cls=k.cname(k.m.read_u64(cls)) if cls else "", bus=k.m.read_u64(dev + dev_off(k, "bus")))
    rec.info["path"] = device_path(k, dev)
    if cls:
        create_groups(k, dev, "dev", k.m.read_u64(cls + k.S["class"].dev_groups))
    return create_groups(k, dev, "dev", k.m.read_u64(dev + dev_off(k, "groups")))


@kapi("device_register")
def device_register(k: KernelApi, dev: int) -> int:
    device_initialize(k, dev)
    return device_add(k, dev)


@kapi("device_del")
def device_del(k: KernelApi, dev: int) -> None:
    k.registry.remove("device", dev)
    remove_attrs(k, dev)


@kapi("device_unregister")
def device_unregister(k: KernelApi, dev: int) -> None:
    """device_del() and the last put_device()."""
    device_del(k, dev)
    release_device(k, dev)


def _release_callback(k: KernelApi, dev: int) -> int:
    """device_release(): dev->release, else its type's, else its class's dev_release."""
    m = k.m
    fn = m.read_u64(dev + dev_off(k, "release"))
    dtype = m.read_u64(dev + dev_off(k, "type"))
    if not fn and dtype:
        fn = m.read_u64(dtype + k.S.device_type.release)
    cls = m.read_u64(dev + dev_off(k, "class"))
    if not fn and cls:
        fn = m.read_u64(cls + k.S["class"].dev_release)
    return fn


def release_device(k: KernelApi, dev: int) -> None:
    """The last put_device(): the name the kernel allocated goes (kobject_cleanup()), then the
    device: the kernel's own when it allocated it (device_create(), misc_register()), else
    the release callback, the module's, which frees the struct the device is in."""
    devres_release_all(k, dev)
    remove_attrs(k, dev)
    free_kernel_object(k, k.m.read_u64(dev + dev_off(k, "kobj_name")), "kobject-name")
    a = k.m.slab.live.get(dev)
    if a is not None and a.kind == "device":
        k.kfree(dev)  # device_create_release()
    else:
        fn = _release_callback(k, dev)
        if fn:
            k.m.call(fn, dev)  # a device inside the module's own struct: its release frees that


def free_kernel_object(k: KernelApi, addr: int, kind: str) -> None:
    """kfree() of an object the kernel allocated for a module, and only of such (so the unload
    report does not count what the kernel frees on the module's behalf)."""
    a = k.m.slab.live.get(addr) if addr else None
    if a is not None and a.kind == kind:
        k.kfree(addr)


@kapi("get_device")
def get_device(k: KernelApi, dev: int) -> int:
    return dev


@kapi("put_device")
def put_device(k: KernelApi, dev: int) -> None:
    return None


def _device_create(k: KernelApi, cls: int, parent: int, devt: int, drvdata: int, name: str,
                   groups: int = 0) -> int:
    dev = new_device(k, name, parent, devt, cls, drvdata)
    if cls:
        create_groups(k, dev, "dev", k.m.read_u64(cls + k.S["class"].dev_groups))
    create_groups(k, dev, "dev", groups)
    node = device_get_devnode(k, dev) if devt else ("", 0)
    rec = k.registry.add("device", name, dev, k.caller_module_name(), devt=devt,
                         cls=k.cname(k.m.read_u64(cls)) if cls else "", devnode=node[0], devmode=node[1])
    rec.info["path"] = device_path(k, dev)
    return dev


@kapi("device_create")
def device_create(k: KernelApi, cls: int, parent: int, devt: int, drvdata: int, fmt: int, args: VarArgs) -> int:
    return _device_create(k, cls, parent, devt & 0xFFFFFFFF, drvdata, k.format(fmt, args).decode("utf-8", "replace"))


@kapi("device_create_with_groups")
def device_create_with_groups(k: KernelApi, cls: int, parent: int, devt: int, drvdata: int, groups: int, fmt: int,
                              args: VarArgs) -> int:
    return _device_create(k, cls, parent, devt & 0xFFFFFFFF, drvdata, k.format(fmt, args).decode("utf-8", "replace"),
                          groups)


@kapi("device_destroy")
def device_destroy(k: KernelApi, cls: int, devt: int) -> None:
    reg = k.registry
    for r in reversed(reg.of_kind("device")):
        if r.info.get("devt") == devt & 0xFFFFFFFF:
            reg.remove("device", r.obj)
            release_device(k, r.obj)
            return


# -- dev_printk ---------------------------------------------------------------------------------------

def dev_emit(k: KernelApi, level: int, dev: int, text: bytes) -> int:
    """__dev_printk(): 'driver device: message' with the SUBSYSTEM/DEVICE dictionary."""
    if not dev:
        return k.log.printk(bytes((1, 0x30 + level)) + b"(NULL device *): " + text)
    head = f"{dev_driver_string(k, dev)} {dev_name(k, dev)}: ".encode()
    return k.log.printk(bytes((1, 0x30 + level)) + head + text, dev_info=dev_printk_info(k, dev))


def _dev_level(level: int):
    def handler(k: KernelApi, dev: int, fmt: int, args: VarArgs) -> None:
        dev_emit(k, level, dev, k.format(fmt, args))

    return handler


# KERN_EMERG (0) .. KERN_INFO (6); dev_dbg() is dynamic debug's
for _lvl, _name in enumerate(("_dev_emerg", "_dev_alert", "_dev_crit", "_dev_err", "_dev_warn", "_dev_notice",
                              "_dev_info")):
    kapi(_name)(_dev_level(_lvl))


@kapi("_dev_printk")
def _dev_printk(k: KernelApi, level: int, dev: int, fmt: int, args: VarArgs) -> None:
    dev_emit(k, _level_of(k, level), dev, k.format(fmt, args))


@kapi("dev_printk_emit")
def dev_printk_emit(k: KernelApi, level: int, dev: int, fmt: int, args: VarArgs) -> int:
    return k.log.printk(bytes((1, 0x30 + (level & 7))) + k.format(fmt, args), dev_info=dev_printk_info(k, dev))


@kapi("dev_vprintk_emit")
def dev_vprintk_emit(k: KernelApi, level: int, dev: int, fmt: int, va: int) -> int:
    args = VaListArgs(k.m, va)
    text = k.format(fmt, args)
    k.m.write(va, args.tag_bytes())
    return k.log.printk(bytes((1, 0x30 + (level & 7))) + text, dev_info=dev_printk_info(k, dev))


def device_path(k: KernelApi, dev: int) -> str | None:
    """The device's directory under /sys (drivers/base/core.c get_device_parent()): a class
    device with no parent lives in /devices/virtual/<class>; under a parent that is a class
    device, in the parent's directory; under another device (a platform device), in a "glue"
    directory named for its class there. None for a device this machine does not know."""
    for r in k.registry.of_kind("platform_device"):
        if r.obj + k.S.platform_device.dev == dev:
            return f"/devices/platform/{r.name}"
    cls, name = _class_and_name(k, dev)
    if name is None:
        return None
    parent = k.m.read_u64(dev + dev_off(k, "parent"))
    up = device_path(k, parent) if parent else None
    if up is None:
        return f"/devices/virtual/{cls}/{name}" if cls else f"/devices/{name}"
    return f"{up}/{name}" if not cls or _class_and_name(k, parent)[0] else f"{up}/{cls}/{name}"


def _class_and_name(k: KernelApi, dev: int) -> tuple[str, str | None]:
    """A registered device's class and name: a module's class device, or an input device."""
    for r in k.registry.items:
        if r.kind == "device" and r.obj == dev:
            return r.info.get("cls", ""), r.name
        if r.kind == "input" and r.obj + k.S.input_dev.dev == dev:
            return "input", r.info["number"]
    return "", None
