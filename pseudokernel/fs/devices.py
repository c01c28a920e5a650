"""/sys/class and /sys/devices/virtual as drivers/base/class.c and core.c build them for the
devices of a class: each device a directory under devices/virtual/<class>/ (a class device
with no parent) with dev, uevent, power/ and the subsystem link; each class a directory of
links to its devices. Misc devices are class "misc", the reference machine's built-in ones
included (the profile's machine.json).
"""

from __future__ import annotations

import posixpath
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from .. import vfs
from ..emu.kapi.device import boot_misc
from ..emu.kapi.kobject_uevent import device_uevent_vars
from ..emu.kapi.sysfs import attrs_of
from .input import input_dir
from .tree import Dir, File, Link, Node, StaticDir, attr_file, kernfs_order, power_dir

if TYPE_CHECKING:
    from ..kernel import Kernel

MISC_MAJOR = 10
@dataclass
class ClassDevice:
    name: str
    cls: str
    devt: int
    devnode: str
    devmode: int
    obj: int = 0  # the struct device (0: a built-in device)
    ifindex: int = 0  # a network device's
    link: str = ""  # where /sys/class/<cls>/<name> points, if not devices/virtual/<cls>/<name>
    rec: object = None  # an input device's registration (its own directory: fs/input.py)
    path: str = ""  # a module device's directory under /sys (device_path()), if it has a parent
    bus: str = ""  # a device of no class: its bus's name, if it is on one

    @property
    def sys_path(self) -> str:
        return self.path or f"/devices/virtual/{self.cls}/{self.name}"


def _placed(d: ClassDevice, path: str | None) -> ClassDevice:
    """A device under a parent: /sys/class/<cls>/<name> links to where it is."""
    if path and path != f"/devices/virtual/{d.cls}/{d.name}":
        d.path, d.link = path, "../.." + path
    return d


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
    if rec.info["via"] == "bin":  # a binary attribute: sized as declared, read and written in place
        return File(None, rec.info["mode"], rec.info["size"], open=lambda caller, flags: vfs.open_binattr(
            kernel, rec, flags, path), device=True)
    return attr_file(lambda reader: vfs.attr_read(kernel, rec, path), rec.info["mode"],
                     store=lambda data: vfs.attr_write(kernel, rec, data, path))


def class_devices(kernel: Kernel) -> list[ClassDevice]:
    """Every device of a class, in the order they were added: the built-in misc devices,
    then what modules made."""
    out = [ClassDevice(name, "misc", (MISC_MAJOR << 20) | minor, name, 0)
           for minor, name in reversed(boot_misc(kernel.profile))]
    out += [ClassDevice("lo", "net", 0, "", 0, ifindex=1),
            ClassDevice("input0", "input", 0, "", 0, link="../../devices/platform/i8042/serio0/input/input0"),
            ClassDevice("mice", "input", (13 << 20) | 63, "input/mice", 0)]
    return out + module_class_devices(kernel)


def module_class_devices(kernel: Kernel) -> list[ClassDevice]:
    out = []
    for r in kernel.registry.items:
        if r.kind == "input":
            out.append(_placed(ClassDevice(r.info["number"], "input", 0, "", 0, r.obj, rec=r), r.info.get("path")))
        elif r.kind == "netdev":
            out.append(ClassDevice(r.name, "net", 0, "", 0, r.obj, ifindex=r.info["ifindex"]))
        elif r.kind == "misc":
            out.append(ClassDevice(r.name, "misc", (MISC_MAJOR << 20) | r.info["minor"], r.info["devnode"],
                                   r.info["devmode"]))
        elif r.kind == "disk":
            out.append(ClassDevice(r.name, "block", r.info["devt"], r.name, 0, r.obj, rec=r))
        elif r.kind == "part":  # under its disk's directory
            disk = r.info["disk"]
            parent = next((x.name for x in kernel.registry.of_kind("disk") if x.info["disk"] is disk), "")
            out.append(ClassDevice(r.name, "block", r.info["devt"], r.name, 0, r.obj,
                                   link=f"../../devices/virtual/block/{parent}/{r.name}", rec=r))
        elif r.kind == "device" and r.info.get("cls"):
            out.append(_placed(ClassDevice(r.name, r.info["cls"], r.info.get("devt", 0), r.info.get("devnode", ""),
                                           r.info.get("devmode", 0), r.obj), r.info.get("path")))
    return out


def bus_devices(kernel: Kernel) -> list[ClassDevice]:
    """The devices modules made with no class (a module's bus's, LDD3's ldd0): where
    get_device_parent() put them, /sys/devices/<name> for one with no parent."""
    buses = {r.obj: r.name for r in kernel.registry.of_kind("bus")}
    return [ClassDevice(r.name, "", r.info.get("devt", 0), r.info.get("devnode", ""), r.info.get("devmode", 0), r.obj,
                        path=r.info["path"], bus=buses.get(r.info.get("bus"), ""))
            for r in kernel.registry.of_kind("device") if not r.info.get("cls") and r.info.get("path")]


def classes(kernel: Kernel) -> list[str]:
    names = ["block", "input", "misc", "net"] + [r.name for r in kernel.registry.of_kind("class")]
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


def _c_hex(v: int) -> str:
    """printf's %#x: no 0x for zero."""
    return f"{v:#x}" if v else "0"


OPERSTATES = ("unknown", "notpresent", "down", "lowerlayerdown", "testing", "dormant", "up")


def netdev_attrs(kernel: Kernel, ndev: int) -> dict[str, Callable[[], Node]]:
    """net/core/net-sysfs.c: what a network device shows of itself, read from its struct."""
    def show(fn: Callable) -> Callable[[], File]:
        return lambda: attr_file(lambda r: vfs.peek(kernel, lambda api: (fn(api, api.S.net_device) + "\n").encode()))

    def mac(member: str) -> Callable:
        def fmt(api, n) -> str:
            addr = ndev + n[member] if member == "broadcast" else api.m.read_u64(ndev + n.dev_addr)
            return ":".join(f"{b:02x}" for b in api.m.read(addr, api.m.read_u8(ndev + n.addr_len)))
        return fmt

    return {
        "addr_assign_type": show(lambda api, n: str(api.m.read_u8(ndev + n.addr_assign_type))),
        "addr_len": show(lambda api, n: str(api.m.read_u8(ndev + n.addr_len))),
        "address": show(mac("dev_addr")),
        "broadcast": show(mac("broadcast")),
        "flags": show(lambda api, n: _c_hex(api.m.read_u32(ndev + n.flags))),
        "ifindex": show(lambda api, n: str(api.m.read_s32(ndev + n.ifindex))),
        "mtu": show(lambda api, n: str(api.m.read_u32(ndev + n.mtu))),
        # operstate_show(): a device not running (never opened) is down whatever its operstate
        "operstate": show(lambda api, n: OPERSTATES[min(api.m.read_u8(ndev + n.operstate), 6)]
                          if api.m.read_u64(ndev + n.state) & 1 else "down"),
        "tx_queue_len": show(lambda api, n: str(api.m.read_u32(ndev + n.tx_queue_len))),
        "type": show(lambda api, n: str(api.m.read_u16(ndev + n.type))),
    }


def device_dir(kernel: Kernel, d: ClassDevice) -> Dir:
    path = "/sys" + d.sys_path
    entries: dict[str, object] = attr_entries(kernel, d.obj, path) if d.obj else {}
    if d.cls == "net" and d.obj:
        entries.update(netdev_attrs(kernel, d.obj))
    if d.devt >> 20:
        entries["dev"] = lambda: attr_file(lambda r: f"{d.devt >> 20}:{d.devt & 0xFFFFF}\n".encode())
    entries["power"] = power_dir
    subsystem = f"/sys/class/{d.cls}" if d.cls else f"/sys/bus/{d.bus}" if d.bus else ""
    if subsystem:
        entries["subsystem"] = lambda: Link(posixpath.relpath(subsystem, path))
    entries["uevent"] = lambda: attr_file(lambda r: device_uevent(kernel, d, path), 0o644, store=lambda data: len(data))
    static = StaticDir(entries, 0o755).as_dir()

    def child(name: str) -> Node | None:
        found = static.child(name)
        if found is not None:
            return found
        make = nested_entries(kernel, d.sys_path).get(name)
        return make() if make else None

    return Dir(lambda: kernfs_order([*static.list(), *nested_entries(kernel, d.sys_path)]), child, 0o755)


def nested_entries(kernel: Kernel, path: str) -> dict[str, Callable[[], Node]]:
    """The devices added under the device at path (without /sys): a class device's children
    in its directory, another device's in a directory named for their class (the glue)."""
    out: dict[str, Callable[[], Node]] = {}
    glue: dict[str, dict[str, Callable[[], Node]]] = {}
    for d in class_devices(kernel) + bus_devices(kernel):
        if not d.path:
            continue
        up = posixpath.dirname(d.path)
        if up == path:
            out[d.name] = lambda d=d: device_node(kernel, d)
        elif posixpath.dirname(up) == path and posixpath.basename(up) == d.cls:
            glue.setdefault(d.cls, {})[d.name] = lambda d=d: device_node(kernel, d)
    for cls, members in glue.items():
        out[cls] = lambda members=members: StaticDir(members, 0o755).as_dir()
    return out


def device_uevent(kernel: Kernel, d: ClassDevice, path: str) -> bytes:
    """uevent_show(): nothing for a device of neither class nor bus (dev_uevent_filter());
    else its node's numbers and name, then, for a struct device a module made, what its bus's,
    class's and type's callbacks add (add_uevent_var()), run as the reader."""
    if not d.cls and not d.bus:
        return b""
    own = uevent(d)
    if not d.obj or kernel.registry.find("device", d.obj) is None:
        return own  # a built-in device, a network or input device: the view's variables only
    alive = lambda: kernel.registry.find("device", d.obj) is not None  # noqa: E731
    added = vfs.run_as_process(kernel, "read", path, lambda api: device_uevent_vars(api, d.obj), alive)
    return own + b"".join(v + b"\n" for v in added)


def top_devices(kernel: Kernel) -> dict[str, ClassDevice]:
    """/sys/devices/<name>: the devices with no class and no parent."""
    return {d.name: d for d in bus_devices(kernel) if d.path == f"/devices/{d.name}"}


def device_node(kernel: Kernel, d: ClassDevice) -> Dir:
    return input_dir(kernel, d.rec, d.sys_path) if d.cls == "input" and d.rec is not None else device_dir(kernel, d)


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
            found = _by_class(kernel, cls).get(name)
            if found is not None:
                return Link(found.link or f"../../devices/virtual/{cls}/{name}")
            make = files().get(name)
            return make() if make else None

        return Dir(lambda: kernfs_order([*_by_class(kernel, cls), *files()]), child, 0o755, boot)

    return Dir(lambda: kernfs_order(classes(kernel)),
               lambda name: one(name) if name in classes(kernel) else None, 0o755, boot)


def virtual_dir(kernel: Kernel, boot: float, own: dict[str, Callable] | None = None) -> Dir:
    """own: class -> the builder of its devices' directories, for classes whose devices show
    more than a class device's files (block: fs/block.py's disk_dir)."""
    own = own or {}

    def one(cls: str) -> Dir:
        def child(name: str) -> Node | None:
            found = _by_class(kernel, cls).get(name)
            if found is None or found.link:
                return None  # the keyboard lives under platform/i8042
            if found.cls in own:
                return own[found.cls](kernel, found.rec, attr_entries)
            return device_node(kernel, found)

        return Dir(lambda: kernfs_order([n for n, d in _by_class(kernel, cls).items() if not d.link]), child, 0o755,
                   boot)

    return Dir(lambda: kernfs_order(classes(kernel)),
               lambda name: one(name) if name in classes(kernel) else None, 0o755, boot)


def sys_dev_dir(kernel: Kernel, boot: float) -> Dir:
    """/sys/dev/char and /sys/dev/block: "MAJOR:MINOR" links to the devices modules made (the
    machine's own are in its recording: fs/recorded.py)."""
    def links(block: bool) -> dict[str, str]:
        # as deep as /sys/class/<cls>/<name>: its link is right here too
        return {f"{d.devt >> 20}:{d.devt & 0xFFFFF}": d.link or "../.." + d.sys_path for d in module_class_devices(kernel)
                if d.devt and (d.cls == "block") == block}

    def one(block: bool) -> Dir:
        return Dir(lambda: kernfs_order(list(links(block))),
                   lambda n: Link(links(block)[n]) if n in links(block) else None, 0o755, boot)

    return StaticDir({"block": lambda: one(True), "char": lambda: one(False)}, 0o755, boot).as_dir()
