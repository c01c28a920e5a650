"""Buses (drivers/base/bus.c): a bus a module registers is recorded with its attributes (its
bus_groups, bus_create_file()), for /sys/bus/<bus> (fs/bus.py); the kernel's own bus_type
objects carry their names, which dev_driver_string() and the printk dictionary read."""

from __future__ import annotations

from . import KernelApi, kapi, kdata
from .sysfs import create_groups, kset_register, remove_attrs


@kapi("bus_register")
def bus_register(k: KernelApi, bus: int) -> int:
    name = k.cname(k.m.read_u64(bus))
    err = kset_register(k, "bus", "bus", name)
    if err:
        return err
    k.registry.add("bus", name, bus, k.caller_module_name())
    return create_groups(k, bus, "bus", k.m.read_u64(bus + k.S.bus_type.bus_groups))


@kapi("bus_unregister")
def bus_unregister(k: KernelApi, bus: int) -> None:
    remove_attrs(k, bus)
    k.registry.remove("bus", bus)


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
