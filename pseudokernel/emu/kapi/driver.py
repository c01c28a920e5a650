"""Driver registration (drivers/base/driver.c and the buses' *_register_driver): recorded with
the owning module, with the /sys/module/NAME/drivers/ links (Kernel.drivers).

PCI, USB, I2C, SPI and the other hardware buses probe nothing: the devices of the reference
machine (QEMU's i440FX, PIIX3/PIIX4, std VGA 1234:1111, e1000 8086:100e) are not emulated; a PCI
driver whose id table matches one of them has that noted in its registration (`would_bind`),
not probed. The platform bus does probe (platform.py)."""

from __future__ import annotations

from errno import EBUSY

from . import KernelApi, kapi
from . import neg_errno as _err
from .device import _owner_name

REFERENCE_PCI = (  # (slot, vendor, device, subvendor, subdevice, class)
    ("0000:00:00.0", 0x8086, 0x1237, 0x1AF4, 0x1100, 0x060000),
    ("0000:00:01.0", 0x8086, 0x7000, 0x1AF4, 0x1100, 0x060100),
    ("0000:00:01.1", 0x8086, 0x7010, 0x1AF4, 0x1100, 0x010180),
    ("0000:00:01.3", 0x8086, 0x7113, 0x1AF4, 0x1100, 0x068000),
    ("0000:00:02.0", 0x1234, 0x1111, 0x1AF4, 0x1100, 0x030000),
    ("0000:00:03.0", 0x8086, 0x100E, 0x1AF4, 0x1100, 0x020000),
)


def _link_driver(k: KernelApi, owner: str, bus: str, name: str) -> None:
    """/sys/module/OWNER/drivers/BUS:NAME -> ../../../bus/BUS/drivers/NAME"""
    mod = k.kernel.find_module(owner) if owner else None
    if mod is not None and bus:
        k.kernel.drivers.setdefault(id(mod), {})[f"{bus}:{name}"] = f"../../../bus/{bus}/drivers/{name}"


def _unlink_driver(k: KernelApi, owner: str, bus: str, name: str) -> None:
    mod = k.kernel.find_module(owner) if owner else None
    if mod is not None:
        k.kernel.drivers.get(id(mod), {}).pop(f"{bus}:{name}", None)


# -- drivers ---------------------------------------------------------------------------------------

def _bus_name(k: KernelApi, drv: int) -> str:
    bus = k.m.read_u64(drv + k.S.device_driver.bus)
    return k.cname(k.m.read_u64(bus)) if bus else ""


@kapi("driver_register")
def driver_register(k: KernelApi, drv: int) -> int:
    name = k.cname(k.m.read_u64(drv))
    bus = _bus_name(k, drv)
    owner = _owner_name(k, k.m.read_u64(drv + k.S.device_driver.owner))
    reg = k.registry
    if any(r.name == name and r.info.get("bus") == bus for r in reg.of_kind("driver")):
        return _err(EBUSY)
    reg.add("driver", name, drv, owner, bus=bus)
    _link_driver(k, owner, bus, name)
    return 0


@kapi("driver_unregister")
def driver_unregister(k: KernelApi, drv: int) -> None:
    r = k.registry.remove("driver", drv)
    if r is not None:
        _unlink_driver(k, r.owner, r.info.get("bus", ""), r.name)


def _register_bus_driver(k: KernelApi, bus: str, drv_struct: int, name: str, owner: int, **info) -> int:
    owner_name = _owner_name(k, owner)
    k.registry.add("driver", name, drv_struct, owner_name, bus=bus, **info)
    _link_driver(k, owner_name, bus, name)
    return 0


def _unregister_bus_driver(k: KernelApi, drv_struct: int) -> None:
    r = k.registry.remove("driver", drv_struct)
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
    name = k.cname(k.m.read_u64(drv + k.S.pci_driver.name))
    table = k.m.read_u64(drv + k.S.pci_driver.id_table)
    ids = pci_ids(k, table) if table else []
    return _register_bus_driver(k, "pci", drv, name, owner, ids=ids, would_bind=pci_match(ids))


@kapi("pci_unregister_driver")
def pci_unregister_driver(k: KernelApi, drv: int) -> None:
    _unregister_bus_driver(k, drv)


@kapi("i2c_register_driver")
def i2c_register_driver(k: KernelApi, owner: int, drv: int) -> int:
    name = k.cname(k.m.read_u64(drv + k.S.i2c_driver.driver))
    return _register_bus_driver(k, "i2c", drv, name, owner)


@kapi("i2c_del_driver")
def i2c_del_driver(k: KernelApi, drv: int) -> None:
    _unregister_bus_driver(k, drv)


@kapi("__spi_register_driver")
def __spi_register_driver(k: KernelApi, owner: int, sdrv: int) -> int:
    name = k.cname(k.m.read_u64(sdrv + k.S.spi_driver.driver))
    return _register_bus_driver(k, "spi", sdrv, name, owner)


@kapi("__serio_register_driver")
def __serio_register_driver(k: KernelApi, drv: int, owner: int, mod_name: int) -> int:
    return _register_bus_driver(k, "serio", drv, k.cname(k.m.read_u64(drv + k.S.serio_driver.driver)), owner)


@kapi("serio_unregister_driver", "acpi_bus_unregister_driver", "pnp_unregister_driver", "__acpi_unregister_driver")
def serio_unregister_driver(k: KernelApi, drv: int) -> None:
    _unregister_bus_driver(k, drv)


@kapi("acpi_bus_register_driver", "__acpi_bus_register_driver")  # 6.12: (driver, owner)
def acpi_bus_register_driver(k: KernelApi, drv: int) -> int:
    return _register_bus_driver(k, "acpi", drv, k.cname(drv), 0)


@kapi("pnp_register_driver")
def pnp_register_driver(k: KernelApi, drv: int) -> int:
    return _register_bus_driver(k, "pnp", drv, k.cname(k.m.read_u64(drv)), 0)


