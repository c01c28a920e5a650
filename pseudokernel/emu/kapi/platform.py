"""The platform bus (drivers/base/platform.c): devices and drivers matched (driver_override,
id_table, name) and probed as the kernel does, since modules create their own platform devices
(snd-dummy, snd-aloop, ...) and their init depends on the probe."""

from __future__ import annotations

from errno import EBUSY, EEXIST, ENODEV

from ...bits import MASK64
from . import KernelApi, kapi
from . import neg_errno as _err
from .device import _kref_init, _state, dev_emit, dev_name, dev_off, free_kernel_object, set_dev_name
from .devres import devres_release_all
from .driver import _register_bus_driver, _unregister_bus_driver
from .sysfs import create_groups, remove_attrs

# -- the platform bus: matched and probed as the kernel does -----------------------------------------

def pd_off(k: KernelApi, m: str) -> int:
    return k.S.platform_device[m]


def _driver_override_off(k: KernelApi) -> int:
    """platform_device.driver_override (6.1); Debian's 6.12 has it in struct device instead, a
    struct whose first member is the name."""
    pd, dev = k.btf_struct("platform_device"), k.btf_struct("device")
    if pd is not None and "driver_override" not in pd.members and dev is not None and \
            "driver_override" in dev.members:
        return pd_off(k, "dev") + dev.members["driver_override"].offset
    return pd_off(k, "driver_override")


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
    drv_name = k.cname(k.m.read_u64(pdrv + pdrv_off(k, "driver")))
    override = k.m.read_u64(pdev + _driver_override_off(k))
    if override:
        return k.cname(override) == drv_name, 0
    pname = k.cname(k.m.read_u64(pdev + pd_off(k, "name")))
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
        if ret not in (-ENODEV, -6):  # ENXIO: call_driver_probe() says it before the cleanup
            drv_name = k.cname(k.m.read_u64(pdrv + pdrv_off(k, "driver")))
            if k.profile.version >= (6, 10):  # dev_err since "driver: core: Log probe failure as error and with device metadata"
                dev_emit(k, 3, dev, f"probe with driver {drv_name} failed with error {ret}\n".encode())
            else:
                k.log.printk(f"\x014{drv_name}: probe of {_pdev_name(k, pdev)} failed with error {ret}\n")
        devres_release_all(k, dev)  # really_probe()'s failure path
        k.m.write_u64(dev + dev_off(k, "driver"), 0)
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
    devres_release_all(k, pdev + pd_off(k, "dev"))  # device_unbind_cleanup()
    k.m.write_u64(pdev + pd_off(k, "dev") + dev_off(k, "driver"), 0)


@kapi("__platform_driver_register")
def __platform_driver_register(k: KernelApi, drv: int, owner: int) -> int:
    name = k.cname(k.m.read_u64(drv + pdrv_off(k, "driver")))
    st = _state(k)
    st["platform_drivers"][drv] = name
    _register_bus_driver(k, "platform", drv, name, owner)
    ddrv = drv + pdrv_off(k, "driver")
    k.m.write_u64(ddrv + k.S.device_driver.bus, _platform_bus(k))  # __platform_driver_register()
    k.m.write_u64(ddrv + k.S.device_driver.owner, owner)
    create_groups(k, ddrv, "drv", k.m.read_u64(ddrv + k.S.device_driver.groups))
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
    remove_attrs(k, drv + pdrv_off(k, "driver"))


def bind_store(k: KernelApi, drv: int, name: str) -> int:
    """drivers/base/bus.c bind_store(): the named device of the bus, if free and matching,
    probed by this driver."""
    st = _state(k)
    pdev = next((p for p, n in st["platform_devices"].items() if n == name), None)
    if pdev is None:
        return -ENODEV
    if pdev in st["bound"]:
        return -EBUSY
    ok, entry = _platform_match(k, pdev, drv)
    if not ok:
        return -ENODEV
    ret = _platform_probe(k, pdev, drv, entry)
    return ret if ret < 0 else 0


def unbind_store(k: KernelApi, drv: int, name: str) -> int:
    """unbind_store(): the named device, if this driver has it, is removed from it."""
    st = _state(k)
    pdev = next((p for p, n in st["platform_devices"].items() if n == name), None)
    if pdev is None or st["bound"].get(pdev) != drv:
        return -ENODEV
    _platform_remove(k, pdev)
    return 0


def platform_devices(k: KernelApi) -> dict[int, str]:
    """The module-made platform devices by struct platform_device: their names."""
    return dict(_state(k)["platform_devices"])


def bound_driver(k: KernelApi, pdev: int) -> int:
    return _state(k)["bound"].get(pdev, 0)


def _pdev_set_name(k: KernelApi, pdev: int) -> None:
    name = k.cname(k.m.read_u64(pdev + pd_off(k, "name")))
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
        return _err(EEXIST)
    st["platform_devices"][pdev] = name
    k.registry.add("platform_device", name, pdev, k.caller_module_name())
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


@kapi("platform_device_del")
def platform_device_del(k: KernelApi, pdev: int) -> None:
    if not pdev or pdev > MASK64 - 4096:
        return
    st = _state(k)
    _platform_remove(k, pdev)
    if st["platform_devices"].pop(pdev, None) is not None:
        k.registry.remove("platform_device", pdev)


@kapi("platform_device_unregister")
def platform_device_unregister(k: KernelApi, pdev: int) -> None:
    platform_device_del(k, pdev)
    platform_device_put(k, pdev)


@kapi("platform_device_put")
def platform_device_put(k: KernelApi, pdev: int) -> None:
    """The last reference to a device platform_device_alloc() made: platform_device_release()
    frees its name, data, resources and itself (a module's own struct is its own to free)."""
    if not pdev or pdev > MASK64 - 4096 or pdev in _state(k)["platform_devices"]:
        return
    devres_release_all(k, pdev + pd_off(k, "dev"))  # device_release()
    a = k.m.slab.live.get(pdev)
    if a is None or a.kind != "platform_device":
        return
    dev = pdev + pd_off(k, "dev")
    free_kernel_object(k, k.m.read_u64(dev + dev_off(k, "kobj_name")), "kobject-name")
    free_kernel_object(k, k.m.read_u64(dev + dev_off(k, "platform_data")), "platform_data")
    free_kernel_object(k, k.m.read_u64(pdev + pd_off(k, "resource")), "resource")
    k.kfree(pdev)


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


