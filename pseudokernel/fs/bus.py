"""/sys/bus/platform and /sys/devices/platform for the platform drivers and devices modules
register (drivers/base/bus.c, platform.c): a driver's directory with bind, unbind, uevent, its
module link, a link per bound device and its attribute files; a device's directory with
driver, driver_override, modalias, power/, subsystem and uevent. Writing a device's name to
bind or unbind probes or removes it through the module's own probe and remove."""

from __future__ import annotations

import errno
from collections.abc import Callable
from typing import TYPE_CHECKING

from .. import vfs
from ..emu.kapi import platform
from .devices import attr_entries, nested_entries
from .input import input_dir
from .tree import Dir, Link, Node, StaticDir, attr_file, kernfs_order, power_dir

if TYPE_CHECKING:
    from ..kernel import Kernel


def _drivers(kernel: Kernel) -> dict[str, object]:
    return {r.name: r for r in kernel.registry.of_kind("driver") if r.info.get("bus") == "platform"}


def _devices(kernel: Kernel) -> dict[str, int]:
    return {name: pdev for pdev, name in platform.platform_devices(kernel.api).items()}


def _driver_of(kernel: Kernel, pdev: int) -> str:
    drv = platform.bound_driver(kernel.api, pdev)
    return next((r.name for r in _drivers(kernel).values() if r.obj == drv), "") if drv else ""


def _bind_file(kernel: Kernel, rec, op: Callable, path: str):
    def store(data: bytes) -> int:
        name = data.decode("utf-8", "replace").rstrip("\n")
        vfs.run_as_process(kernel, "write", path, lambda api: op(api, rec.obj, name),
                           lambda: rec in kernel.registry.items)
        return len(data)

    return attr_file(None, 0o200, store=store)


def driver_dir(kernel: Kernel, rec) -> Dir:
    path = f"/sys/bus/platform/drivers/{rec.name}"

    def entries() -> dict[str, Callable[[], Node]]:
        out: dict[str, Callable[[], Node]] = {
            "bind": lambda: _bind_file(kernel, rec, platform.bind_store, f"{path}/bind"),
            "unbind": lambda: _bind_file(kernel, rec, platform.unbind_store, f"{path}/unbind"),
            "uevent": lambda: attr_file(None, 0o200, store=len),
        }
        if rec.owner:
            out["module"] = lambda: Link(f"../../../../module/{rec.owner}")
        for name, pdev in _devices(kernel).items():
            if platform.bound_driver(kernel.api, pdev) == rec.obj:
                out[name] = lambda name=name: Link(f"../../../../devices/platform/{name}")
        out.update(attr_entries(kernel, rec.obj + kernel.api.S.platform_driver.driver, path))
        return out

    def child(name: str) -> Node | None:
        make = entries().get(name)
        return make() if make else None

    return Dir(lambda: kernfs_order(list(entries())), child, 0o755)


def device_dir(kernel: Kernel, name: str, pdev: int) -> Dir:
    def uevent(reader) -> bytes:
        drv = _driver_of(kernel, pdev)
        return (f"DRIVER={drv}\n" if drv else "").encode() + f"MODALIAS=platform:{name}\n".encode()

    def entries() -> dict[str, Callable[[], Node]]:
        out: dict[str, Callable[[], Node]] = {
            "driver_override": lambda: attr_file(lambda r: b"(null)\n", 0o644, store=len),
            "modalias": lambda: attr_file(lambda r: f"platform:{name}\n".encode()),
            "power": power_dir,
            "subsystem": lambda: Link("../../../bus/platform"),
            "uevent": lambda: attr_file(uevent, 0o644, store=len),
        }
        drv = _driver_of(kernel, pdev)
        if drv:
            out["driver"] = lambda: Link(f"../../../bus/platform/drivers/{drv}")
        dev = pdev + kernel.api.S.platform_device.dev
        out.update(attr_entries(kernel, dev, f"/sys/devices/platform/{name}"))
        out.update(nested_entries(kernel, f"/devices/platform/{name}"))
        return out

    def child(n: str) -> Node | None:
        make = entries().get(n)
        return make() if make else None

    return Dir(lambda: kernfs_order(list(entries())), child, 0o755)


def _no_such_device(data: bytes) -> int:
    raise OSError(errno.ENODEV, "no device of that name on the bus")


def _bus_files(kernel: Kernel, obj: int, path: str) -> dict[str, Callable[[], Node]]:
    """bus.c's own files of every bus, and the attributes a module gave its bus. Writing a
    name to drivers_probe probes that device: none this machine knows by name is on the bus
    but a platform device (bind does that), so ENODEV, as for an unknown name."""
    out: dict[str, Callable[[], Node]] = {
        "drivers_autoprobe": lambda: attr_file(lambda r: b"1\n", 0o644, store=len),
        "drivers_probe": lambda: attr_file(None, 0o200, store=_no_such_device),
        "uevent": lambda: attr_file(None, 0o200, store=len),
    }
    out.update(attr_entries(kernel, obj, path) if obj else {})
    return out


def _module_bus_dir(kernel: Kernel, rec, boot: float) -> Dir:
    """/sys/bus/<bus> of a bus a module registered: its devices (links to where they are)
    and drivers (bind and unbind find no device of theirs: ENODEV), its files."""
    path = f"/sys/bus/{rec.name}"

    def devices() -> dict[str, str]:
        return {r.name: r.info["path"] for r in kernel.registry.of_kind("device")
                if r.info.get("bus") == rec.obj and r.info.get("path")}

    def drivers() -> dict[str, object]:
        return {r.name: r for r in kernel.registry.of_kind("driver") if r.info.get("bus") == rec.name}

    def driver(d) -> Dir:
        entries: dict[str, Callable[[], Node]] = {
            "bind": lambda: attr_file(None, 0o200, store=_no_such_device),
            "unbind": lambda: attr_file(None, 0o200, store=_no_such_device),
            "uevent": lambda: attr_file(None, 0o200, store=len),
        }
        if d.owner:
            entries["module"] = lambda: Link(f"../../../../module/{d.owner}")
        entries.update(attr_entries(kernel, d.obj, f"{path}/drivers/{d.name}"))
        return _sorted(StaticDir(entries, 0o755).as_dir(), boot)

    entries = {
        "devices": lambda: Dir(lambda: kernfs_order(list(devices())),
                               lambda n: Link("../../.." + devices()[n]) if n in devices() else None, 0o755, boot),
        "drivers": lambda: Dir(lambda: kernfs_order(list(drivers())),
                               lambda n: driver(drivers()[n]) if n in drivers() else None, 0o755, boot),
    }
    return _sorted(StaticDir({**entries, **_bus_files(kernel, rec.obj, path)}, 0o755, boot).as_dir(), boot)


def _sorted(d: Dir, boot: float) -> Dir:
    return Dir(lambda: kernfs_order(d.list()), d.child, 0o755, boot)


def bus_dir(kernel: Kernel, boot: float) -> Dir:
    def devices() -> Dir:
        return Dir(lambda: kernfs_order(list(_devices(kernel))),
                   lambda n: Link(f"../../../devices/platform/{n}") if n in _devices(kernel) else None, 0o755, boot)

    def drivers() -> Dir:
        return Dir(lambda: kernfs_order(list(_drivers(kernel))),
                   lambda n: driver_dir(kernel, _drivers(kernel)[n]) if n in _drivers(kernel) else None, 0o755, boot)

    def buses() -> dict[str, object]:
        return {r.name: r for r in kernel.registry.of_kind("bus")}

    def child(name: str) -> Node | None:
        if name == "platform":
            files = _bus_files(kernel, 0, "/sys/bus/platform")
            return _sorted(StaticDir({"devices": devices, "drivers": drivers, **files}, 0o755, boot).as_dir(), boot)
        rec = buses().get(name)
        return _module_bus_dir(kernel, rec, boot) if rec is not None else None

    return Dir(lambda: kernfs_order(["platform", *buses()]), child, 0o755, boot)


def _i8042() -> Dir:
    """The reference machine's keyboard controller, as far as its keyboard's input device."""
    def chain(names: list[str], leaf: Callable[[], Node]) -> Callable[[], Node]:
        if not names:
            return leaf
        return lambda: StaticDir({names[0]: chain(names[1:], leaf)}, 0o755).as_dir()

    return chain(["serio0", "input", "input0"], lambda: input_dir(None, None))()


def platform_devices_dir(kernel: Kernel, boot: float) -> Dir:
    def child(n: str) -> Node | None:
        if n == "i8042":
            return _i8042()
        return device_dir(kernel, n, _devices(kernel)[n]) if n in _devices(kernel) else None

    return Dir(lambda: kernfs_order(["i8042", *_devices(kernel)]), child, 0o755, boot)
