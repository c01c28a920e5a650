"""/sys/class and /sys/devices/virtual as drivers/base/class.c and core.c build them for the
devices of a class: each device a directory under devices/virtual/<class>/ (a class device
with no parent) with dev, uevent, power/ and the subsystem link; each class a directory of
links to its devices. Misc devices are class "misc", the reference machine's built-in ones
included (emu/kapi/device.py BOOT_MISC).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from .. import vfs
from ..emu.kapi.device import BOOT_MISC
from ..emu.kapi.sysfs import attrs_of
from .tree import Dir, File, Link, Node, StaticDir, attr_file, kernfs_order

if TYPE_CHECKING:
    from ..kernel import Kernel

MISC_MAJOR = 10
# power/ of a device without runtime PM (drivers/base/power/sysfs.c): name -> content, None
# for a file whose read fails (autosuspend_delay_ms: -EIO without autosuspend)
POWER = {
    "async": b"disabled\n", "autosuspend_delay_ms": None, "control": b"auto\n", "runtime_active_kids": b"0\n",
    "runtime_active_time": b"0\n", "runtime_enabled": b"disabled\n", "runtime_status": b"unsupported\n",
    "runtime_suspended_time": b"0\n", "runtime_usage": b"0\n",
}
POWER_MODES = {"async": 0o644, "autosuspend_delay_ms": 0o644, "control": 0o644}


@dataclass
class ClassDevice:
    name: str
    cls: str
    devt: int
    devnode: str
    devmode: int
    obj: int = 0  # the struct device (0: a built-in device)
    ifindex: int = 0  # a network device's


def attr_entries(kernel: Kernel, owner: int, path: str) -> dict[str, Callable[[], Node]]:
    """The attribute files a module put on an object (a kobject, a device, a class, a driver),
    its named groups as subdirectories: each read runs the show, each write the store."""
    out: dict[str, Callable[[], Node]] = {}
    groups: dict[str, list] = {}
    for r in attrs_of(kernel.api, owner):
        if r.info["subdir"]:
            groups.setdefault(r.info["subdir"], []).append(r)
        else:
            out[r.name] = lambda r=r: _attr_node(kernel, r, f"{path}/{r.name}")
    for sub, recs in groups.items():
        def subdir(recs=recs, sub=sub) -> Dir:
            d = StaticDir({r.name: (lambda r=r: _attr_node(kernel, r, f"{path}/{sub}/{r.name}")) for r in recs}, 0o755)
            return d.as_dir()
        out[sub] = subdir
    return out


def _attr_node(kernel: Kernel, rec, path: str) -> File:
    return attr_file(lambda reader: vfs.attr_read(kernel, rec, path), rec.info["mode"],
                     store=lambda data: vfs.attr_write(kernel, rec, data, path))


def class_devices(kernel: Kernel) -> list[ClassDevice]:
    """Every device of a class, in the order they were added: the built-in misc devices,
    then what modules made."""
    out = [ClassDevice(name, "misc", (MISC_MAJOR << 20) | minor, name, 0) for minor, name in reversed(BOOT_MISC)]
    out += [ClassDevice("lo", "net", 0, "", 0, ifindex=1)]
    for r in kernel.registry.items:
        if r.kind == "netdev":
            out.append(ClassDevice(r.name, "net", 0, "", 0, ifindex=r.info["ifindex"]))
        elif r.kind == "misc":
            out.append(ClassDevice(r.name, "misc", (MISC_MAJOR << 20) | r.info["minor"], r.info["devnode"],
                                   r.info["devmode"]))
        elif r.kind == "device" and r.info.get("cls"):
            out.append(ClassDevice(r.name, r.info["cls"], r.info.get("devt", 0), r.info.get("devnode", ""),
                                   r.info.get("devmode", 0), r.obj))
    return out


def classes(kernel: Kernel) -> list[str]:
    names = ["misc", "net"] + [r.name for r in kernel.registry.of_kind("class")]
    return list(dict.fromkeys(names))


def uevent(d: ClassDevice) -> bytes:
    """dev_uevent(): the numbers, the node's name and the mode its devnode() gave; a network
    device's interface name and index (net-sysfs.c netdev_uevent())."""
    if d.cls == "net":
        return f"INTERFACE={d.name}\nIFINDEX={d.ifindex}\n".encode()
    if not d.devt >> 20:
        return b""
    out = f"MAJOR={d.devt >> 20}\nMINOR={d.devt & 0xFFFFF}\nDEVNAME={d.devnode}\n"
    if d.devmode:
        out += f"DEVMODE={d.devmode & 0o777:#o}\n".replace("0o", "0")
    return out.encode()


def _power_dir() -> Dir:
    def attr(name: str) -> File:
        content = POWER[name]
        if content is None:
            def show(reader):
                raise OSError(5, name)  # EIO
        else:
            def show(reader, content=content):
                return content
        return attr_file(show, POWER_MODES.get(name, 0o444))

    return StaticDir({name: (lambda n=name: attr(n)) for name in POWER}, 0o755).as_dir()


def device_dir(kernel: Kernel, d: ClassDevice) -> Dir:
    entries: dict[str, object] = attr_entries(kernel, d.obj, f"/sys/devices/virtual/{d.cls}/{d.name}") if d.obj else {}
    if d.devt >> 20:
        entries["dev"] = lambda: attr_file(lambda r: f"{d.devt >> 20}:{d.devt & 0xFFFFF}\n".encode())
    entries["power"] = _power_dir
    entries["subsystem"] = lambda: Link(f"../../../../class/{d.cls}")
    entries["uevent"] = lambda: attr_file(lambda r: uevent(d), 0o644, store=lambda data: len(data))
    static = StaticDir(entries, 0o755).as_dir()
    return Dir(lambda: kernfs_order(static.list()), static.child, 0o755)


def _by_class(kernel: Kernel, cls: str) -> dict[str, ClassDevice]:
    return {d.name: d for d in class_devices(kernel) if d.cls == cls}


def _class_obj(kernel: Kernel, cls: str) -> int:
    rec = next((r for r in kernel.registry.of_kind("class") if r.name == cls), None)
    return rec.obj if rec else 0


def class_dir(kernel: Kernel, boot: float) -> Dir:
    def one(cls: str) -> Dir:
        def files() -> dict[str, Callable[[], Node]]:
            obj = _class_obj(kernel, cls)
            return attr_entries(kernel, obj, f"/sys/class/{cls}") if obj else {}

        def child(name: str) -> Node | None:
            if name in _by_class(kernel, cls):
                return Link(f"../../devices/virtual/{cls}/{name}")
            make = files().get(name)
            return make() if make else None

        return Dir(lambda: kernfs_order([*_by_class(kernel, cls), *files()]), child, 0o755, boot)

    return Dir(lambda: kernfs_order(classes(kernel)),
               lambda name: one(name) if name in classes(kernel) else None, 0o755, boot)


def virtual_dir(kernel: Kernel, boot: float) -> Dir:
    def one(cls: str) -> Dir:
        def child(name: str) -> Node | None:
            found = _by_class(kernel, cls).get(name)
            return device_dir(kernel, found) if found else None

        return Dir(lambda: kernfs_order(list(_by_class(kernel, cls))), child, 0o755, boot)

    return Dir(lambda: kernfs_order(classes(kernel)),
               lambda name: one(name) if name in classes(kernel) else None, 0o755, boot)

