"""/sys/module/<name>/ as kernel/module/sysfs.c, main.c's modinfo_attrs and kernel/params.c
create it: attribute files (size 4096), holders/ symlinks, parameters/ by permission,
sections/ (0400, 19 bytes) and notes/ (raw ELF notes)."""

from __future__ import annotations

import errno
from typing import TYPE_CHECKING

from .. import taint
from ..module.decompress import module_compression
from ..module.module import Module, State
from ..module.sysfs import sysfs_name
from . import block, bus, devices, kobject, recorded
from .tree import Dir, File, Link, Node, Reader, StaticDir, attr_file, kernfs_order

if TYPE_CHECKING:
    from ..kernel import Kernel

MODULE_SECT_READ_SIZE = 3 + 64 // 4


def _initstate(mod: Module) -> bytes:
    return {State.LIVE: b"live\n", State.COMING: b"coming\n", State.GOING: b"going\n"}.get(mod.state, b"unknown\n")


def store_uevent(data: bytes) -> int:
    """kobject_synth_uevent(): an action word, optionally a UUID and KEY=value arguments."""
    action = data.split(b" ", 1)[0].strip()
    if action not in (b"add", b"remove", b"change", b"move", b"online", b"offline", b"bind", b"unbind"):
        raise OSError(errno.EINVAL, "uevent")
    return len(data)


def module_dir(kernel: Kernel, mod: Module) -> Dir:
    t = mod.load_time
    entries = {
        "uevent": lambda: attr_file(None, 0o200, t, store_uevent),
        "version": lambda: attr_file(lambda r: (mod.version + "\n").encode(), 0o444, t) if mod.version else None,
        "srcversion": lambda: attr_file(lambda r: (mod.srcversion + "\n").encode(), 0o444, t) if mod.srcversion else None,
        "initstate": lambda: attr_file(lambda r: _initstate(mod), 0o444, t),
        "coresize": lambda: attr_file(lambda r: f"{mod.core_size()}\n".encode(), 0o444, t),
        "initsize": lambda: attr_file(lambda r: f"{mod.init_size()}\n".encode(), 0o444, t),
        "taint": lambda: attr_file(lambda r: (taint.module_flags_taint(mod.taints) + "\n").encode(), 0o444, t),
        "refcnt": lambda: attr_file(lambda r: f"{mod.refcount}\n".encode(), 0o444, t)
        if kernel.profile.enabled("MODULE_UNLOAD") else None,
        "holders": lambda: holders_dir(mod),
        "parameters": lambda: parameters_dir(kernel, mod),
        "sections": lambda: sections_dir(kernel, mod),
        "notes": lambda: notes_dir(mod),
        "drivers": lambda: drivers_dir(kernel, mod),
    }
    d = StaticDir(entries, 0o755, t).as_dir()
    return Dir(lambda: kernfs_order(d.list()), d.child, 0o755, t)


def holders_dir(mod: Module) -> Dir:
    """A link per module using this one, named as its /sys/module directory is."""

    def child(name: str):
        for user in mod.source_list:
            if sysfs_name(user.name) == name:
                return Link(f"../../{name}", mod.load_time)
        return None

    return Dir(lambda: kernfs_order([sysfs_name(u.name) for u in mod.source_list]), child, 0o755, mod.load_time)


def parameters_dir(kernel: Kernel, mod: Module) -> Dir | None:
    visible = [kp for kp in mod.params if kp.perm]
    if not visible:
        return None

    def child(name: str):
        for kp in visible:
            if kp.name == name:
                return attr_file(
                    lambda r, kp=kp: kernel.param_show(mod, kp),
                    kp.perm & 0o777,
                    mod.load_time,
                    lambda data, kp=kp: kernel.param_store(mod, kp, data),
                )
        return None

    return Dir(lambda: kernfs_order([kp.name for kp in visible]), child, 0o755, mod.load_time)


def sections_dir(kernel: Kernel, mod: Module) -> Dir:
    def show(addr: int):
        return lambda r: f"0x{addr if kernel.kallsyms_show_value(r) else 0:016x}\n".encode()

    def child(name: str):
        if name in mod.sections:
            # 0400: only the privileged open it, who all see the same address
            return File(show(mod.sections[name]), 0o400, MODULE_SECT_READ_SIZE, None, mod.load_time, cache=True)
        return None

    return Dir(lambda: kernfs_order(list(mod.sections)), child, 0o755, mod.load_time)


def notes_dir(mod: Module) -> Dir | None:
    if not mod.notes:
        return None

    def child(name: str):
        data = mod.notes.get(name)
        return File(lambda r: data, 0o444, len(data), None, mod.load_time, cache=True) if data is not None else None

    return Dir(lambda: kernfs_order(list(mod.notes)), child, 0o755, mod.load_time)


def drivers_dir(kernel: Kernel, mod: Module) -> Dir | None:
    drivers = kernel.module_drivers(mod)
    if not drivers:
        return None

    def child(name: str):
        return Link(drivers[name], mod.load_time) if name in drivers else None

    return Dir(lambda: kernfs_order(list(drivers)), child, 0o755, mod.load_time)


def _formed(kernel: Kernel) -> list[Module]:
    with kernel.mutex:
        return [m for m in kernel.modules if m.state != State.UNFORMED]


def _module_named(kernel: Kernel, kname: str) -> Module | None:
    """The module whose directory is kname: sysfs_name(mod->name), "a/b" lives in a!b."""
    mod = kernel.find_module(kname)
    if mod is None or sysfs_name(mod.name) != kname:
        # only a module whose name has a '/' is found under another name
        mod = next((m for m in _formed(kernel) if sysfs_name(m.name) == kname), None) if "!" in kname else None
    return mod


def module_fingerprint(kernel: Kernel, kname: str) -> tuple | None:
    """Everything /sys/module/<kname>/ shows, but parameter values and uevent, which are read
    anew at each open: the host may keep the directory's names, attributes and its sections'
    and notes' contents while this stays the same (fs/hostcache.py). A file added to
    module_dir() that shows something else must add it here. The module itself stands for
    what is fixed at load (sections, notes, parameters, versions, sizes), by identity."""
    mod = _module_named(kernel, kname)
    if mod is None:
        return None
    return (mod, mod.state, mod.refcnt, mod.taints, tuple(id(u) for u in mod.source_list),
            tuple(kernel.module_drivers(mod).items()), mod.core_size(), mod.init_size())


def modules_version(kernel: Kernel) -> tuple:
    """Moves whenever a module_fingerprint() may have: a module's state, refcnt or taints
    was set (Module.changes: holders move with refcnt, sizes with state) or a driver link
    came or went. Cheap, so the mount can ask it after every system call."""
    return Module.changes, tuple((key, tuple(links)) for key, links in kernel.drivers.items())


def module_root(kernel: Kernel, boot: float) -> Dir:
    """Each module's directory is named sysfs_name(mod->name): "a/b" lives in a!b. With
    in-kernel decompression, `compression` says which (decompress.c)."""
    kind = module_compression(kernel)
    files = ["compression"] if kind else []

    def child(kname: str):
        if kname in files:
            return attr_file(lambda r: f"{kind}\n".encode(), 0o444, boot)
        mod = _module_named(kernel, kname)
        return module_dir(kernel, mod) if mod is not None else None

    return Dir(lambda: kernfs_order([*files, *(sysfs_name(m.name) for m in _formed(kernel))]), child, 0o755, boot,
               lambda: len(_formed(kernel)) + len(files))


def devices_dir(kernel: Kernel, boot: float) -> Dir:
    """/sys/devices: platform/, virtual/, and the devices of no class and no parent."""
    fixed = StaticDir({"platform": lambda: bus.platform_devices_dir(kernel, boot),
                       "virtual": lambda: devices.virtual_dir(kernel, boot, {"block": block.disk_dir})}, 0o755, boot)

    def child(name: str) -> Node | None:
        found = fixed.as_dir().child(name)
        if found is None and name in devices.top_devices(kernel):
            return devices.device_node(kernel, devices.top_devices(kernel)[name])
        return found

    return Dir(lambda: kernfs_order([*fixed.children, *devices.top_devices(kernel)]), child, 0o755, boot)


def sys_dir(kernel: Kernel, boot: float) -> Dir:
    top = StaticDir({
        "block": lambda: block.sys_block_dir(kernel, boot),
        "bus": lambda: bus.bus_dir(kernel, boot),
        "class": lambda: devices.class_dir(kernel, boot),
        "dev": lambda: devices.sys_dev_dir(kernel, boot),
        "devices": lambda: devices_dir(kernel, boot),
        "kernel": lambda: kobject.kernel_dir(kernel, boot),
        "module": lambda: module_root(kernel, boot),
    }, 0o755, boot).as_dir()
    # kobjects a module added with no parent are directories of /sys itself
    mine = lambda: kobject.under(kernel, "", "/sys", boot)  # noqa: E731
    live = Dir(lambda: [*top.list(), *mine()], lambda n: top.child(n) or (mine()[n]() if n in mine() else None),
               0o755, boot)
    return recorded.overlay(live, kernel.profile.recorded_sysfs, "", boot)



__all__ = ["sys_dir", "module_dir", "Reader"]
