"""The device model and character devices (drivers/base/, drivers/char/misc.c, fs/char_dev.c).

Registration succeeds and is recorded in Kernel.registry (kind, name, the kernel object, the
owning module, and what a view would show): buses, classes, devices, drivers, misc devices,
character device regions and cdevs. Driver registration also fills Kernel.drivers, the
/sys/module/NAME/drivers/ links.

How faithful: the platform bus matches as the kernel's does (driver_override, id_table, name)
and probes, because modules create their own platform devices (snd-dummy, snd-aloop, ...) and
their init depends on the probe. PCI, USB, I2C, SPI and the other hardware buses probe nothing:
the devices of the reference machine (QEMU's i440FX, PIIX3/PIIX4, std VGA 1234:1111, e1000
8086:100e) are not emulated; a PCI driver whose id table matches one of them has that noted in
its registration (`would_bind`), not probed.
"""

from __future__ import annotations

from errno import EBUSY, EINVAL, ENODEV, ENOMEM

from . import KernelApi, VarArgs, kapi, kdata
from . import neg_errno as _err

MASK64 = (1 << 64) - 1
MISC_MAJOR = 10
MISC_DYNAMIC_MINOR = 255
DYNAMIC_MINORS = 128
# misc minors the reference kernel hands out at boot before any module: vga_arbiter,
# cpu_dma_latency (drivers/gpu/vga/vgaarb.c, kernel/power/qos.c)
BOOT_DYNAMIC_MISC = 2
CHRDEV_MAJOR_DYN_END = 234
CHRDEV_MAJOR_MAX = 512
# character majors the built-in drivers of the reference kernel hold before any module loads
# (/proc/devices: mem, tty, console, vcs, misc, input, fb, ptm, pts, and four dynamic ones:
# rtc, bsg, watchdog, dax); majors of modular drivers (usb 180, msr 202, ...) are free
BOOT_CHRDEV_MAJORS = {1, 4, 5, 7, 10, 13, 29, 128, 136, 251, 252, 253, 254}
REFERENCE_PCI = (  # (slot, vendor, device, subvendor, subdevice, class)
    ("0000:00:00.0", 0x8086, 0x1237, 0x1AF4, 0x1100, 0x060000),
    ("0000:00:01.0", 0x8086, 0x7000, 0x1AF4, 0x1100, 0x060100),
    ("0000:00:01.1", 0x8086, 0x7010, 0x1AF4, 0x1100, 0x010180),
    ("0000:00:01.3", 0x8086, 0x7113, 0x1AF4, 0x1100, 0x068000),
    ("0000:00:02.0", 0x1234, 0x1111, 0x1AF4, 0x1100, 0x030000),
    ("0000:00:03.0", 0x8086, 0x100E, 0x1AF4, 0x1100, 0x020000),
)


def _name(k: KernelApi, p: int) -> str:
    return k.cstr(p, 256).decode("utf-8", "replace") if p else ""


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
        st = k.state["device"] = {"misc_bits": (1 << BOOT_DYNAMIC_MISC) - 1, "misc": {}, "majors": set(BOOT_CHRDEV_MAJORS),
                                  "pdev_ids": {}, "platform_drivers": {}, "platform_devices": {}, "bound": {}}
    return st


def _owner_name(k: KernelApi, owner: int) -> str:
    mod = k.kernel.module_by_struct(owner) if owner else None
    return mod.name if mod else k.caller_module_name()


def _link_driver(k: KernelApi, owner: str, bus: str, name: str) -> None:
    """/sys/module/OWNER/drivers/BUS:NAME -> ../../../bus/BUS/drivers/NAME"""
    mod = k.kernel.find_module(owner) if owner else None
    if mod is not None and bus:
        k.kernel.drivers.setdefault(id(mod), {})[f"{bus}:{name}"] = f"../../../bus/{bus}/drivers/{name}"


def _unlink_driver(k: KernelApi, owner: str, bus: str, name: str) -> None:
    mod = k.kernel.find_module(owner) if owner else None
    if mod is not None:
        k.kernel.drivers.get(id(mod), {}).pop(f"{bus}:{name}", None)


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
        return _name(k, init)
    return _name(k, k.m.read_u64(dev + dev_off(k, "kobj_name")))


def dev_driver_string(k: KernelApi, dev: int) -> str:
    """drivers/base/core.c dev_driver_string()."""
    drv = k.m.read_u64(dev + dev_off(k, "driver"))
    if drv:
        return _name(k, k.m.read_u64(drv))
    bus = k.m.read_u64(dev + dev_off(k, "bus"))
    if bus:
        return _name(k, k.m.read_u64(bus))
    cls = k.m.read_u64(dev + dev_off(k, "class"))
    if cls:
        return _name(k, k.m.read_u64(cls))
    return ""


def dev_printk_info(k: KernelApi, dev: int) -> tuple[tuple[str, str], ...]:
    """The SUBSYSTEM= and DEVICE= dictionary of a dev_printk record (set_dev_info())."""
    if not dev:
        return ()
    bus = k.m.read_u64(dev + dev_off(k, "bus"))
    cls = k.m.read_u64(dev + dev_off(k, "class"))
    subsys = _name(k, k.m.read_u64(bus)) if bus else _name(k, k.m.read_u64(cls)) if cls else ""
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


@kapi("dev_driver_string")
def _dev_driver_string(k: KernelApi, dev: int) -> int:
    return k.static_string(dev_driver_string(k, dev))


@kapi("device_initialize")
def device_initialize(k: KernelApi, dev: int) -> None:
    _kref_init(k, dev)


@kapi("device_add")
def device_add(k: KernelApi, dev: int) -> int:
    init = k.m.read_u64(dev + dev_off(k, "init_name"))
    if init:
        set_dev_name(k, dev, _name(k, init))
        k.m.write_u64(dev + dev_off(k, "init_name"), 0)
    name = dev_name(k, dev)
    if not name:
        return _err(EINVAL)
    k.kernel_registry().add("device", name, dev, k.caller_module_name(), devt=k.m.read_u32(dev + dev_off(k, "devt")))
    return 0


@kapi("device_register")
def device_register(k: KernelApi, dev: int) -> int:
    device_initialize(k, dev)
    return device_add(k, dev)


@kapi("device_del", "device_unregister")
def device_del(k: KernelApi, dev: int) -> None:
    k.kernel_registry().remove("device", dev)


@kapi("get_device")
def get_device(k: KernelApi, dev: int) -> int:
    return dev


@kapi("put_device")
def put_device(k: KernelApi, dev: int) -> None:
    return None


def _device_create(k: KernelApi, cls: int, parent: int, devt: int, drvdata: int, name: str) -> int:
    dev = new_device(k, name, parent, devt, cls, drvdata)
    k.kernel_registry().add("device", name, dev, k.caller_module_name(), devt=devt,
                            cls=_name(k, k.m.read_u64(cls)) if cls else "")
    return dev


@kapi("device_create")
def device_create(k: KernelApi, cls: int, parent: int, devt: int, drvdata: int, fmt: int, args: VarArgs) -> int:
    return _device_create(k, cls, parent, devt & 0xFFFFFFFF, drvdata, k.format(fmt, args).decode("utf-8", "replace"))


@kapi("device_create_with_groups")
def device_create_with_groups(k: KernelApi, cls: int, parent: int, devt: int, drvdata: int, groups: int, fmt: int,
                              args: VarArgs) -> int:
    return _device_create(k, cls, parent, devt & 0xFFFFFFFF, drvdata, k.format(fmt, args).decode("utf-8", "replace"))


@kapi("device_destroy")
def device_destroy(k: KernelApi, cls: int, devt: int) -> None:
    reg = k.kernel_registry()
    for r in reversed(reg.of_kind("device")):
        if r.info.get("devt") == devt & 0xFFFFFFFF:
            reg.remove("device", r.obj)
            return


@kapi("device_create_file", "device_add_groups", "device_add_group", "sysfs_create_link")
def device_create_file(k: KernelApi, dev: int, attr: int) -> int:
    return 0


# -- classes and buses -----------------------------------------------------------------------------

@kapi("__class_create")
def __class_create(k: KernelApi, owner: int, name: int, key: int) -> int:
    cls = k.m.kmalloc(k.S["class"].sizeof, _owner_name(k, owner), k.caller, kind="class")
    k.m.write_u64(cls + k.S["class"].name, name)
    k.m.write_u64(cls + k.S["class"].owner, owner)
    k.kernel_registry().add("class", _name(k, name), cls, _owner_name(k, owner))
    return cls


@kapi("__class_register")
def __class_register(k: KernelApi, cls: int, key: int) -> int:
    name = _name(k, k.m.read_u64(cls))
    reg = k.kernel_registry()
    if any(r.name == name for r in reg.of_kind("class")):
        return _err(EEXIST_)
    reg.add("class", name, cls, _owner_name(k, k.m.read_u64(cls + k.S["class"].owner)))
    return 0


EEXIST_ = 17


@kapi("class_destroy", "class_unregister")
def class_destroy(k: KernelApi, cls: int) -> None:
    if cls and cls < (1 << 64) - 4096:
        k.kernel_registry().remove("class", cls)


@kapi("bus_register")
def bus_register(k: KernelApi, bus: int) -> int:
    k.kernel_registry().add("bus", _name(k, k.m.read_u64(bus)), bus, k.caller_module_name())
    return 0


@kapi("bus_unregister")
def bus_unregister(k: KernelApi, bus: int) -> None:
    k.kernel_registry().remove("bus", bus)


# -- drivers ---------------------------------------------------------------------------------------

def _bus_name(k: KernelApi, drv: int) -> str:
    bus = k.m.read_u64(drv + k.S.device_driver.bus)
    return _name(k, k.m.read_u64(bus)) if bus else ""


@kapi("driver_register")
def driver_register(k: KernelApi, drv: int) -> int:
    name = _name(k, k.m.read_u64(drv))
    bus = _bus_name(k, drv)
    owner = _owner_name(k, k.m.read_u64(drv + k.S.device_driver.owner))
    reg = k.kernel_registry()
    if any(r.name == name and r.info.get("bus") == bus for r in reg.of_kind("driver")):
        return _err(EBUSY)
    reg.add("driver", name, drv, owner, bus=bus)
    _link_driver(k, owner, bus, name)
    return 0


@kapi("driver_unregister")
def driver_unregister(k: KernelApi, drv: int) -> None:
    r = k.kernel_registry().remove("driver", drv)
    if r is not None:
        _unlink_driver(k, r.owner, r.info.get("bus", ""), r.name)


def _register_bus_driver(k: KernelApi, bus: str, drv_struct: int, name: str, owner: int, **info) -> int:
    owner_name = _owner_name(k, owner)
    k.kernel_registry().add("driver", name, drv_struct, owner_name, bus=bus, **info)
    _link_driver(k, owner_name, bus, name)
    return 0


def _unregister_bus_driver(k: KernelApi, drv_struct: int) -> None:
    r = k.kernel_registry().remove("driver", drv_struct)
    if r is not None:
        _unlink_driver(k, r.owner, r.info.get("bus", ""), r.name)


def pci_ids(k: KernelApi, table: int, limit: int = 4096) -> list[tuple[int, ...]]:
    out = []
    size = k.S.pci_device_id.sizeof
    for i in range(limit):
        raw = k.m.read(table + i * size, 24)
        vals = tuple(int.from_bytes(raw[j:j + 4], "little") for j in range(0, 24, 4))
        if not any(vals):
            break
        out.append(vals)
    return out


def pci_match(ids: list[tuple[int, ...]]) -> list[str]:
    """Which devices of the reference machine an id table would bind (pci_match_one_device)."""
    ANY = 0xFFFFFFFF
    out = []
    for slot, ven, dev, sv, sd, cls in REFERENCE_PCI:
        for v, d, s1, s2, c, cm in ids:
            if (v in (ANY, ven) and d in (ANY, dev) and s1 in (ANY, sv) and s2 in (ANY, sd)
                    and not ((c ^ cls) & cm)):
                out.append(slot)
                break
    return out


@kapi("__pci_register_driver")
def __pci_register_driver(k: KernelApi, drv: int, owner: int, mod_name: int) -> int:
    name = _name(k, k.m.read_u64(drv + k.S.pci_driver.name))
    table = k.m.read_u64(drv + k.S.pci_driver.id_table)
    ids = pci_ids(k, table) if table else []
    return _register_bus_driver(k, "pci", drv, name, owner, ids=ids, would_bind=pci_match(ids))


@kapi("pci_unregister_driver")
def pci_unregister_driver(k: KernelApi, drv: int) -> None:
    _unregister_bus_driver(k, drv)


@kapi("i2c_register_driver")
def i2c_register_driver(k: KernelApi, owner: int, drv: int) -> int:
    name = _name(k, k.m.read_u64(drv + k.S.i2c_driver.driver))
    return _register_bus_driver(k, "i2c", drv, name, owner)


@kapi("i2c_del_driver")
def i2c_del_driver(k: KernelApi, drv: int) -> None:
    _unregister_bus_driver(k, drv)


@kapi("__spi_register_driver")
def __spi_register_driver(k: KernelApi, owner: int, sdrv: int) -> int:
    name = _name(k, k.m.read_u64(sdrv + k.S.spi_driver.driver))
    return _register_bus_driver(k, "spi", sdrv, name, owner)


@kapi("__serio_register_driver")
def __serio_register_driver(k: KernelApi, drv: int, owner: int, mod_name: int) -> int:
    return _register_bus_driver(k, "serio", drv, _name(k, k.m.read_u64(drv + k.S.serio_driver.driver)), owner)


@kapi("serio_unregister_driver", "acpi_bus_unregister_driver", "pnp_unregister_driver", "__acpi_unregister_driver")
def serio_unregister_driver(k: KernelApi, drv: int) -> None:
    _unregister_bus_driver(k, drv)


@kapi("acpi_bus_register_driver")
def acpi_bus_register_driver(k: KernelApi, drv: int) -> int:
    return _register_bus_driver(k, "acpi", drv, _name(k, drv), 0)


@kapi("pnp_register_driver")
def pnp_register_driver(k: KernelApi, drv: int) -> int:
    return _register_bus_driver(k, "pnp", drv, _name(k, k.m.read_u64(drv)), 0)


# -- the platform bus: matched and probed as the kernel does -----------------------------------------

def pd_off(k: KernelApi, m: str) -> int:
    return k.S.platform_device[m]


def pdrv_off(k: KernelApi, m: str) -> int:
    return k.S.platform_driver[m]


def _platform_id_match(k: KernelApi, table: int, name: str) -> int:
    size = k.S.platform_device_id.sizeof
    for i in range(1024):
        entry = table + i * size
        ename = k.m.read(entry, 20).split(b"\0", 1)[0]
        if not ename:
            return 0
        if ename.decode("utf-8", "replace") == name:
            return entry
    return 0


def _platform_match(k: KernelApi, pdev: int, pdrv: int) -> tuple[bool, int]:
    drv_name = _name(k, k.m.read_u64(pdrv + pdrv_off(k, "driver")))
    override = k.m.read_u64(pdev + pd_off(k, "driver_override"))
    if override:
        return _name(k, override) == drv_name, 0
    pname = _name(k, k.m.read_u64(pdev + pd_off(k, "name")))
    table = k.m.read_u64(pdrv + pdrv_off(k, "id_table"))
    if table:
        entry = _platform_id_match(k, table, pname)
        return bool(entry), entry
    return pname == drv_name, 0


def _platform_probe(k: KernelApi, pdev: int, pdrv: int, entry: int) -> int:
    st = _state(k)
    dev = pdev + pd_off(k, "dev")
    if entry:
        k.m.write_u64(pdev + pd_off(k, "id_entry"), entry)
    k.m.write_u64(dev + dev_off(k, "driver"), pdrv + pdrv_off(k, "driver"))
    probe = k.m.read_u64(pdrv + pdrv_off(k, "probe"))
    ret = 0
    if probe:
        ret = k.m.call(probe, pdev) & 0xFFFFFFFF
        ret = ret - (1 << 32) if ret >> 31 else ret
    if ret:
        k.m.write_u64(dev + dev_off(k, "driver"), 0)
        if ret not in (-ENODEV, -6):  # ENXIO
            drv_name = _name(k, k.m.read_u64(pdrv + pdrv_off(k, "driver")))
            k.log.printk(f"\x014{drv_name}: probe of {_pdev_name(k, pdev)} failed with error {ret}\n")
        return ret
    st["bound"][pdev] = pdrv
    return 0


def _pdev_name(k: KernelApi, pdev: int) -> str:
    return dev_name(k, pdev + pd_off(k, "dev"))


def _platform_remove(k: KernelApi, pdev: int) -> None:
    st = _state(k)
    pdrv = st["bound"].pop(pdev, None)
    if pdrv is None:
        return
    for member in ("remove_new", "remove"):
        fn = k.m.read_u64(pdrv + pdrv_off(k, member))
        if fn:
            k.m.call(fn, pdev)
            break
    k.m.write_u64(pdev + pd_off(k, "dev") + dev_off(k, "driver"), 0)


@kapi("__platform_driver_register")
def __platform_driver_register(k: KernelApi, drv: int, owner: int) -> int:
    name = _name(k, k.m.read_u64(drv + pdrv_off(k, "driver")))
    st = _state(k)
    st["platform_drivers"][drv] = name
    _register_bus_driver(k, "platform", drv, name, owner)
    for pdev in list(st["platform_devices"]):
        if pdev not in st["bound"]:
            ok, entry = _platform_match(k, pdev, drv)
            if ok:
                _platform_probe(k, pdev, drv, entry)
    return 0


@kapi("__platform_driver_probe")
def __platform_driver_probe(k: KernelApi, drv: int, probe: int, module: int) -> int:
    """platform_driver_probe(): register, bind what exists now, and fail with -ENODEV if
    nothing did."""
    k.m.write_u64(drv + pdrv_off(k, "probe"), probe)
    __platform_driver_register(k, drv, module)
    st = _state(k)
    if drv not in st["bound"].values():
        platform_driver_unregister(k, drv)
        return _err(ENODEV)
    return 0


@kapi("__platform_register_drivers")
def __platform_register_drivers(k: KernelApi, drivers: int, count: int, owner: int) -> int:
    for i in range(count & 0xFFFFFFFF):
        __platform_driver_register(k, k.m.read_u64(drivers + 8 * i), owner)
    return 0


@kapi("platform_unregister_drivers")
def platform_unregister_drivers(k: KernelApi, drivers: int, count: int) -> None:
    for i in reversed(range(count & 0xFFFFFFFF)):
        platform_driver_unregister(k, k.m.read_u64(drivers + 8 * i))


@kapi("platform_driver_unregister")
def platform_driver_unregister(k: KernelApi, drv: int) -> None:
    st = _state(k)
    for pdev, d in list(st["bound"].items()):
        if d == drv:
            _platform_remove(k, pdev)
    st["platform_drivers"].pop(drv, None)
    _unregister_bus_driver(k, drv)


def _pdev_set_name(k: KernelApi, pdev: int) -> None:
    name = _name(k, k.m.read_u64(pdev + pd_off(k, "name")))
    pid = k.m.read_s32(pdev + pd_off(k, "id"))
    if pid == -1:
        full = name
    elif pid == -2:  # PLATFORM_DEVID_AUTO
        st = _state(k)
        n = st["pdev_ids"].get("auto", 0)
        st["pdev_ids"]["auto"] = n + 1
        k.m.write_u32(pdev + pd_off(k, "id"), n)
        k.m.write_u8(pdev + pd_off(k, "id_auto"), 1)
        full = f"{name}.{n}.auto"
    else:
        full = f"{name}.{pid}"
    set_dev_name(k, pdev + pd_off(k, "dev"), full)


@kapi("platform_device_alloc")
def platform_device_alloc(k: KernelApi, name: int, pid: int) -> int:
    size = k.S.platform_device.sizeof
    pdev = k.m.kmalloc(size + 64, k.caller_module_name(), k.caller, kind="platform_device")
    data = k.cstr(name, 256) + b"\0"
    k.m.write(pdev + size, data[:63] + b"\0")
    k.m.write_u64(pdev + pd_off(k, "name"), pdev + size)
    k.m.write_u32(pdev + pd_off(k, "id"), pid)
    dev = pdev + pd_off(k, "dev")
    _kref_init(k, dev)
    k.m.write_u64(dev + dev_off(k, "bus"), _platform_bus(k))
    return pdev


def _platform_bus(k: KernelApi) -> int:
    return k.data_symbol("platform_bus_type")


@kapi("platform_device_add")
def platform_device_add(k: KernelApi, pdev: int) -> int:
    st = _state(k)
    dev = pdev + pd_off(k, "dev")
    k.m.write_u64(dev + dev_off(k, "bus"), _platform_bus(k))
    _pdev_set_name(k, pdev)
    name = _pdev_name(k, pdev)
    if any(_pdev_name(k, p) == name for p in st["platform_devices"]):
        k.log.printk(f"\x013sysfs: cannot create duplicate filename '/devices/platform/{name}'\n")
        return _err(EEXIST_)
    st["platform_devices"][pdev] = name
    k.kernel_registry().add("platform_device", name, pdev, k.caller_module_name())
    for drv in list(st["platform_drivers"]):
        ok, entry = _platform_match(k, pdev, drv)
        if ok:
            _platform_probe(k, pdev, drv, entry)
            break
    return 0


@kapi("platform_device_register")
def platform_device_register(k: KernelApi, pdev: int) -> int:
    _kref_init(k, pdev + pd_off(k, "dev"))
    return platform_device_add(k, pdev)


@kapi("platform_device_add_data")
def platform_device_add_data(k: KernelApi, pdev: int, data: int, size: int) -> int:
    p = 0
    if data and size:
        p = k.m.kmalloc(size, k.caller_module_name(), k.caller, kind="platform_data")
        k.m.write(p, k.m.read(data, size))
    k.m.write_u64(pdev + pd_off(k, "dev") + dev_off(k, "platform_data"), p)
    return 0


@kapi("platform_device_add_resources")
def platform_device_add_resources(k: KernelApi, pdev: int, res: int, num: int) -> int:
    size = k.S.resource.sizeof * (num & 0xFFFFFFFF)
    p = 0
    if res and size:
        p = k.m.kmalloc(size, k.caller_module_name(), k.caller, kind="resource")
        k.m.write(p, k.m.read(res, size))
    k.m.write_u64(pdev + pd_off(k, "resource"), p)
    k.m.write_u32(pdev + pd_off(k, "num_resources"), num)
    return 0


@kapi("platform_device_register_full")
def platform_device_register_full(k: KernelApi, info: int) -> int:
    pdi = k.S.platform_device_info
    name = k.m.read_u64(info + pdi.name)
    pdev = platform_device_alloc(k, name, k.m.read_s32(info + pdi.id) & 0xFFFFFFFF)
    k.m.write_u64(pdev + pd_off(k, "dev") + dev_off(k, "parent"), k.m.read_u64(info + pdi.parent))
    res, num = k.m.read_u64(info + pdi.res), k.m.read_u32(info + pdi.num_res)
    if res and num:
        platform_device_add_resources(k, pdev, res, num)
    data, size = k.m.read_u64(info + pdi.data), k.m.read_u64(info + pdi.size_data)
    if data and size:
        platform_device_add_data(k, pdev, data, size)
    ret = platform_device_add(k, pdev)
    return ret if ret else pdev


@kapi("platform_device_del", "platform_device_unregister")
def platform_device_unregister(k: KernelApi, pdev: int) -> None:
    if not pdev or pdev > MASK64 - 4096:
        return
    st = _state(k)
    _platform_remove(k, pdev)
    if st["platform_devices"].pop(pdev, None) is not None:
        k.kernel_registry().remove("platform_device", pdev)


@kapi("platform_device_put")
def platform_device_put(k: KernelApi, pdev: int) -> None:
    return None


@kapi("platform_get_resource")
def platform_get_resource(k: KernelApi, pdev: int, typ: int, num: int) -> int:
    n = k.m.read_u32(pdev + pd_off(k, "num_resources"))
    res = k.m.read_u64(pdev + pd_off(k, "resource"))
    size = k.S.resource.sizeof
    flags_off = k.S.resource.flags
    for i in range(n):
        r = res + i * size
        if (k.m.read_u64(r + flags_off) & 0x1F00) == typ and num == 0:
            return r
        if (k.m.read_u64(r + flags_off) & 0x1F00) == typ:
            num -= 1
    return 0


@kapi("platform_get_irq", "platform_get_irq_optional", "platform_get_irq_byname", "platform_irq_count")
def platform_get_irq(k: KernelApi, pdev: int, num: int) -> int:
    return _err(6)  # -ENXIO: no IRQ resource


# -- misc devices and character devices --------------------------------------------------------------

@kapi("misc_register")
def misc_register(k: KernelApi, misc: int) -> int:
    """drivers/char/misc.c: a dynamic minor counts down from 127; the device is misc/<name>."""
    md = k.S.miscdevice
    st = _state(k)
    minor = k.m.read_u32(misc + md.minor)
    dynamic = minor == MISC_DYNAMIC_MINOR
    if dynamic:
        bits = st["misc_bits"]
        i = 0
        while bits >> i & 1:
            i += 1
        if i >= DYNAMIC_MINORS:
            return _err(EBUSY)
        minor = DYNAMIC_MINORS - i - 1
        st["misc_bits"] |= 1 << i
        k.m.write_u32(misc + md.minor, minor)
    elif minor in st["misc"].values():
        return _err(EBUSY)
    name = _name(k, k.m.read_u64(misc + md.name))
    dev = new_device(k, name, k.m.read_u64(misc + md.parent), (MISC_MAJOR << 20) | minor, 0, misc)
    k.m.write_u64(misc + md.this_device, dev)
    st["misc"][misc] = minor
    k.kernel_registry().add("misc", name, misc, k.caller_module_name(), minor=minor,
                            fops=k.m.read_u64(misc + md.fops), device=dev)
    return 0


@kapi("misc_deregister")
def misc_deregister(k: KernelApi, misc: int) -> None:
    st = _state(k)
    minor = st["misc"].pop(misc, None)
    if minor is None:
        return
    k.kernel_registry().remove("misc", misc)
    i = DYNAMIC_MINORS - minor - 1
    if 0 <= i < DYNAMIC_MINORS:
        st["misc_bits"] &= ~(1 << i)


def _alloc_major(k: KernelApi) -> int:
    st = _state(k)
    for major in range(CHRDEV_MAJOR_DYN_END, 0, -1):
        if major not in st["majors"]:
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
    k.kernel_registry().add("chrdev", _name(k, name), major, k.caller_module_name(), major=major,
                            baseminor=baseminor, count=count, fops=fops)
    return ret


@kapi("__unregister_chrdev")
def __unregister_chrdev(k: KernelApi, major: int, baseminor: int, count: int, name: int) -> None:
    major &= 0xFFFFFFFF
    _state(k)["majors"].discard(major)
    k.kernel_registry().remove("chrdev", major)


@kapi("register_chrdev_region")
def register_chrdev_region(k: KernelApi, first: int, count: int, name: int) -> int:
    major = (first & 0xFFFFFFFF) >> 20
    st = _state(k)
    if major in st["majors"] and major not in BOOT_CHRDEV_MAJORS:
        return _err(EBUSY)
    st["majors"].add(major)
    k.kernel_registry().add("chrdev", _name(k, name), major, k.caller_module_name(), major=major,
                            baseminor=first & 0xFFFFF, count=count)
    return 0


@kapi("alloc_chrdev_region")
def alloc_chrdev_region(k: KernelApi, dev: int, baseminor: int, count: int, name: int) -> int:
    major = _alloc_major(k)
    if not major:
        return _err(EBUSY)
    _state(k)["majors"].add(major)
    k.m.write_u32(dev, (major << 20) | (baseminor & 0xFFFFF))
    k.kernel_registry().add("chrdev", _name(k, name), major, k.caller_module_name(), major=major,
                            baseminor=baseminor, count=count)
    return 0


@kapi("unregister_chrdev_region")
def unregister_chrdev_region(k: KernelApi, first: int, count: int) -> None:
    major = (first & 0xFFFFFFFF) >> 20
    _state(k)["majors"].discard(major)
    k.kernel_registry().remove("chrdev", major)


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
    k.kernel_registry().add("cdev", f"{(dev & 0xFFFFFFFF) >> 20}:{dev & 0xFFFFF}", cdev, k.caller_module_name(),
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
    k.kernel_registry().remove("cdev", cdev)


@kapi("cdev_device_del")
def cdev_device_del(k: KernelApi, cdev: int, dev: int) -> None:
    cdev_del(k, cdev)
    device_del(k, dev)


# -- device resources (devres): allocated with the device, freed with it ----------------------------

@kapi("devm_kmalloc")
def devm_kmalloc(k: KernelApi, dev: int, size: int, gfp: int) -> int:
    return k.kmalloc(size, gfp, kind="devm")


@kapi("devm_kfree")
def devm_kfree(k: KernelApi, dev: int, p: int) -> None:
    k.kfree(p)


@kapi("devm_kstrdup", "devm_kstrdup_const")
def devm_kstrdup(k: KernelApi, dev: int, s: int, gfp: int) -> int:
    if not s:
        return 0
    data = k.cstr(s) + b"\0"
    p = k.kmalloc(len(data), gfp, kind="devm")
    k.m.write(p, data)
    return p


@kapi("devm_kasprintf")
def devm_kasprintf(k: KernelApi, dev: int, gfp: int, fmt: int, args: VarArgs) -> int:
    data = k.format(fmt, args) + b"\0"
    p = k.kmalloc(len(data), gfp, kind="devm")
    k.m.write(p, data)
    return p


@kapi("devm_kmemdup")
def devm_kmemdup(k: KernelApi, dev: int, src: int, length: int, gfp: int) -> int:
    p = k.kmalloc(length, gfp, kind="devm")
    if p and length:
        k.m.write(p, k.m.read(src, length))
    return p


@kapi("dev_get_drvdata")
def dev_get_drvdata(k: KernelApi, dev: int) -> int:
    return k.m.read_u64(dev + dev_off(k, "driver_data"))


@kapi("__devm_add_action", "devm_add_action")
def devm_add_action(k: KernelApi, dev: int, action: int, data: int) -> int:
    return 0


@kapi("dev_err_probe")
def dev_err_probe(k: KernelApi, dev: int, err: int, fmt: int, args: VarArgs) -> int:
    """drivers/base/core.c: `error %pe: %pV` at KERN_ERR; -EPROBE_DEFER is only noted."""
    import errno as _errno

    from .printk import dev_emit

    e = err & 0xFFFFFFFF
    e = e - (1 << 32) if e >> 31 else e
    if e != -517:
        name = "-" + _errno.errorcode[-e] if -e in _errno.errorcode else str(e)
        dev_emit(k, 3, dev, b"error " + name.encode() + b": " + k.format(fmt, args))
    return err & 0xFFFFFFFF


__all__ = ["dev_name", "dev_driver_string", "dev_printk_info", "ENOMEM"]


# -- the kernel's own buses: their names, for dev_driver_string() and the printk dictionary ----------

def _bus_init(name: str):
    def init(k: KernelApi, addr: int) -> None:
        k.m.write_u64(addr + k.S.bus_type.name, k.static_string(name))

    return init


for _sym, _bus in (("platform_bus_type", "platform"), ("pci_bus_type", "pci"), ("i2c_bus_type", "i2c"),
                   ("spi_bus_type", "spi"), ("serio_bus", "serio"), ("pnp_bus_type", "pnp"),
                   ("acpi_bus_type", "acpi"), ("mdio_bus_type", "mdio_bus"), ("amba_bustype", "amba"),
                   ("cpu_subsys", "cpu"), ("gameport_bus", "gameport"), ("scsi_bus_type", "scsi")):
    kdata(_sym, size=184)(_bus_init(_bus))
