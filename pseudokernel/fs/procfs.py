"""/proc: modules (kernel/module/procfs.c), kallsyms, version, cmdline, kmsg and sys/kernel."""

from __future__ import annotations

from typing import TYPE_CHECKING

from .. import sigpending, vfs
from ..emu.kapi.device import boot_chrdevs, boot_misc
from ..emu.kapi.genhd import blkdev_majors
from ..emu.kapi.input import bitmap
from ..module.internal import module_flags
from ..module.module import MemType, Module, State
from . import pid
from .block import proc_partitions
from .kmsg import proc_kmsg
from .tree import SERVED_SIZE, Dir, File, Link, Reader, StaticDir

# The real /proc reports size 0 and serves any length; over FUSE the host kernel's splice path
# (sendfile: busybox cat, cp, Python's shutil) stops at st_size, so a proc file reports the
# length of its content instead (None: measured when stat()ed), and reads stay direct.
PROC_SIZE = None

if TYPE_CHECKING:
    from ..kernel import Kernel


def m_show(mod: Module, show_value: bool, unload: bool = True) -> str:
    """One /proc/modules line."""
    size = mod.total_size()
    line = f"{mod.name} {size}"
    if unload:
        line += f" {mod.refcount} "
        users = "".join(f"{u.name}," for u in mod.source_list)
        if mod.init and not mod.exit:
            users += "[permanent],"
        line += users or "-"
    else:
        line += " - -"
    state = {State.GOING: "Unloading", State.COMING: "Loading"}.get(mod.state, "Live")
    line += f" {state} 0x{mod.mem[MemType.TEXT].base if show_value else 0:016x}"
    if mod.taints:
        line += " " + module_flags(mod)
    return line + "\n"


def proc_modules(kernel: Kernel, reader: Reader) -> bytes:
    show = kernel.kallsyms_show_value(reader)
    unload = kernel.profile.enabled("MODULE_UNLOAD")
    with kernel.mutex:
        return _per_generation(kernel, ("modules", show), lambda: "".join(
            m_show(m, show, unload) for m in kernel.modules if m.state != State.UNFORMED).encode())


def proc_kallsyms(kernel: Kernel, reader: Reader) -> bytes:
    show = kernel.kallsyms_show_value(reader)
    with kernel.mutex:
        return _per_generation(kernel, ("kallsyms", show), lambda: _kallsyms(kernel, show))


def _per_generation(kernel: Kernel, key: tuple, make) -> bytes:
    """A view of module state, made again only when the kernel's generation has moved (every
    change of a module's state, references, taint or memory moves it)."""
    cache = kernel.view_cache
    hit = cache.get(key)
    if hit is None or hit[0] != kernel.generation:
        hit = cache[key] = (kernel.generation, make())
    return hit[1]


def _kallsyms(kernel: Kernel, show: bool) -> bytes:
    """vmlinux's symbols, then each module's ('%px %c %s\\t[%s]'), exported ones upper-case."""
    parts = [kernel.vmlinux_kallsyms_text(show)]
    for mod in [m for m in kernel.modules if m.state != State.UNFORMED]:
        exported = {s.name for s in mod.syms if not s.gpl}
        for s in mod.core_symbols():
            if not s.name:
                continue
            typ = s.type.upper() if s.name in exported else s.type.lower()
            parts.append(f"{s.value if show else 0:016x} {typ} {s.name}\t[{mod.name}]\n".encode())
    return b"".join(parts)


# what a Debian system with 1 GiB shows; libsysfs (systool) finds /sys through it
MOUNTS = (
    b"sysfs /sys sysfs rw,nosuid,nodev,noexec,relatime 0 0\n"
    b"proc /proc proc rw,nosuid,nodev,noexec,relatime 0 0\n"
    b"debugfs /sys/kernel/debug debugfs rw,nosuid,nodev,noexec,relatime 0 0\n"
    b"udev /dev devtmpfs rw,nosuid,relatime,size=480140k,nr_inodes=120035,mode=755 0 0\n"
    b"devpts /dev/pts devpts rw,nosuid,noexec,relatime,gid=5,mode=620,ptmxmode=000 0 0\n"
    b"tmpfs /run tmpfs rw,nosuid,nodev,noexec,relatime,size=99188k,mode=755 0 0\n"
    b"/dev/vda1 / ext4 rw,relatime,errors=remount-ro 0 0\n"
)


def _text(value: str) -> File:
    data = value.encode()
    return File(lambda r: data, 0o444, PROC_SIZE)


def proc_sys_kernel(kernel: Kernel, boot: float) -> Dir:
    p = kernel.profile

    def printk(r: Reader) -> bytes:
        return f"{kernel.console_loglevel}\t{kernel.log.default_level}\t1\t7\n".encode()

    return StaticDir(
        {
            "tainted": lambda: File(lambda r: f"{kernel.tainted}\n".encode(), 0o644, PROC_SIZE),
            "printk": lambda: File(printk, 0o644, PROC_SIZE),
            "kptr_restrict": lambda: File(lambda r: f"{kernel.kptr_restrict}\n".encode(), 0o644, PROC_SIZE),
            "modules_disabled": lambda: File(lambda r: b"0\n", 0o644, PROC_SIZE),
            "osrelease": lambda: _text(p.release + "\n"),
            "ostype": lambda: _text("Linux\n"),
            "version": lambda: _text(p.uts_version + "\n"),
        },
        0o555,
        boot,
    ).as_dir()


def proc_devices(kernel: Kernel) -> bytes:
    """fs/char_dev.c chrdev_show() and block/genhd.c blkdev_show(): the built-in regions and
    the modules', by major and, within a major, by first minor."""
    regions = [(major, -1, i, name) for i, (major, name) in enumerate(boot_chrdevs(kernel.profile))]
    for i, r in enumerate(kernel.registry.of_kind("chrdev")):
        regions.append((r.info["major"], r.info["baseminor"], len(regions) + i, r.name))
    out = ["Character devices:\n"] + [f"{major:3d} {name}\n" for major, _m, _i, name in sorted(regions)]
    blk = sorted(blkdev_majors(kernel.api), key=lambda e: e[0])  # blkdev_show(): by major, then registration
    out += ["\nBlock devices:\n"] + [f"{major:3d} {name}\n" for major, name in blk]
    return "".join(out).encode()


# what the reference machine's own drivers hold (tests/expected/real/machine.txt): the i8042
# keyboard is its one input device
BOOT_INPUT_DEVICES = (
    b'I: Bus=0011 Vendor=0001 Product=0001 Version=ab41\n'
    b'N: Name="AT Translated Set 2 keyboard"\n'
    b'P: Phys=isa0060/serio0/input0\n'
    b'S: Sysfs=/devices/platform/i8042/serio0/input/input0\n'
    b'U: Uniq=\n'
    b'H: Handlers=sysrq kbd leds \n'
    b'B: PROP=0\n'
    b'B: EV=120013\n'
    b'B: KEY=402000002 3803078f800d001 feffffdfffefffff fffffffffffffffe\n'
    b'B: MSC=10\n'
    b'B: LED=7\n'
    b'\n'
)


# input_seq_print_bitmap(): each bitmap the event types call for, in this order, with its size
INPUT_BITMAPS = (("PROP", "propbit", 1, None), ("EV", "evbit", 1, None), ("KEY", "keybit", 12, 1),
                 ("REL", "relbit", 1, 2), ("ABS", "absbit", 1, 3), ("MSC", "mscbit", 1, 4), ("LED", "ledbit", 1, 0x11),
                 ("SND", "sndbit", 1, 0x12), ("FF", "ffbit", 2, 0x15), ("SW", "swbit", 1, 5))


def _input_bitmap(name: str, words: list[int]) -> str:
    out, skip = [], True
    for i in range(len(words) - 1, -1, -1):
        if words[i] or not skip:
            out.append(f"{words[i]:x}" if skip else f"{words[i]:016x}")
            skip = False
    return f"B: {name}={' '.join(out) if out else '0'}\n"


def proc_input_devices(kernel: Kernel) -> bytes:
    """drivers/input/input.c input_devices_seq_show(): the keyboard, then the modules' devices
    in the order they registered."""
    api, m = kernel.api, kernel.machine
    out = [BOOT_INPUT_DEVICES]
    sigpending.acquire(m.lock)  # the CPU's memory, not while module code writes it (killable)
    try:
        for r in kernel.registry.of_kind("input"):
            dev, d = r.obj, api.S.input_dev
            bus, vendor, product, version = (m.read_u16(dev + d.id + 2 * i) for i in range(4))
            text = (f"I: Bus={bus:04x} Vendor={vendor:04x} Product={product:04x} Version={version:04x}\n"
                    f'N: Name="{r.name}"\n'
                    f"P: Phys={api.cname(m.read_u64(dev + d.phys))}\n"
                    f"S: Sysfs={r.info['path']}\n"
                    f"U: Uniq={api.cname(m.read_u64(dev + d.uniq))}\n"
                    f"H: Handlers={''.join(h + ' ' for h in r.info['handlers'])}\n")
            ev = bitmap(api, dev, "evbit", 1)[0]
            for name, member, longs, evtype in INPUT_BITMAPS:
                if evtype is None or ev >> evtype & 1:
                    text += _input_bitmap(name, bitmap(api, dev, member, longs))
            out.append(text.encode() + b"\n")
    finally:
        m.lock.release()
    return b"".join(out)


def netdevs(kernel: Kernel) -> list[tuple[str, int]]:
    """(name, ifindex) of the network devices: the loopback, then the modules' by ifindex."""
    mods = sorted((r.info["ifindex"], r.name) for r in kernel.registry.of_kind("netdev"))
    return [("lo", 1)] + [(name, ifindex) for ifindex, name in mods]


def proc_net_dev(kernel: Kernel) -> bytes:
    """net/core/net-procfs.c dev_seq_show(): no traffic is modelled, every counter is 0."""
    out = ("Inter-|   Receive                                                |  Transmit\n"
           " face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo "
           "colls carrier compressed\n")
    widths = (8, 7, 4, 4, 4, 5, 10, 9, 8, 7, 4, 4, 4, 5, 7, 10)
    for name, _ifindex in netdevs(kernel):
        out += f"{name:>6}:" + " ".join(f"{0:{w}d}" for w in widths) + "\n"
    return out.encode()


# the kernel's own files in the /proc directories it makes at boot (registry entries of no module)
KERNEL_FILES = {"net": {"dev": proc_net_dev}}


def proc_misc(kernel: Kernel) -> bytes:
    """drivers/char/misc.c misc_seq_show(): newest first, the built-in ones last."""
    mods = [(r.info["minor"], r.name) for r in reversed(kernel.registry.of_kind("misc"))]
    return "".join(f"{minor:3d} {name}\n" for minor, name in mods + boot_misc(kernel.profile)).encode()


def proc_dir(kernel: Kernel, boot: float) -> Dir:
    entries = {
        "modules": lambda: File(lambda r: proc_modules(kernel, r), 0o444, PROC_SIZE),
        "kallsyms": lambda: File(lambda r: proc_kallsyms(kernel, r), 0o444, PROC_SIZE),
        "version": lambda: File(lambda r: kernel.profile.banner.encode(), 0o444, PROC_SIZE),
        "cmdline": lambda: File(lambda r: (kernel.cmdline + "\n").encode(), 0o444, PROC_SIZE),
        "kmsg": lambda: proc_kmsg(kernel),
        "mounts": lambda: File(lambda r: MOUNTS, 0o444, PROC_SIZE),
        "devices": lambda: File(lambda r: proc_devices(kernel), 0o444, PROC_SIZE),
        "misc": lambda: File(lambda r: proc_misc(kernel), 0o444, PROC_SIZE),
        "partitions": lambda: File(lambda r: proc_partitions(kernel), 0o444, PROC_SIZE),
        "bus": lambda: StaticDir({"input": lambda: StaticDir(
            {"devices": lambda: File(lambda r: proc_input_devices(kernel), 0o444, PROC_SIZE)}, 0o555, boot).as_dir()},
            0o555, boot).as_dir(),
        "sys": lambda: StaticDir({"kernel": lambda: proc_sys_kernel(kernel, boot)}, 0o555, boot).as_dir(),
    }
    static = StaticDir(entries, 0o555, boot)
    base = static.as_dir()

    def lst() -> list[str]:
        return base.list() + sorted(r.name for r in _proc_children(kernel, 0)) + pid.names()

    def child(name: str):
        node = base.child(name)
        if node is None:
            rec = next((r for r in _proc_children(kernel, 0) if r.name == name), None)
            return proc_entry(kernel, rec) if rec is not None else pid.child(name, boot)
        return node

    return Dir(lst, child, 0o555, boot)


def _proc_children(kernel: Kernel, parent: int) -> list:
    return [r for r in kernel.registry.of_kind("proc") if (r.info.get("parent") or 0) == parent]


def proc_entry(kernel: Kernel, rec) -> Dir | File | Link:
    """What the mount shows for an entry a module made with proc_create() & co (the kernel
    API records it; this view builds the node): directories list what was created in them. A
    file with proc_ops is served per open (vfs.open_proc: its own open, read, write, lseek and
    release run as on the real kernel). A single_open() or seq_operations file is read
    through its callbacks at open (seq_file.read_proc_entry). Its size is 4096, as a served
    file's, not its content's length: the host caches attributes, and the module's output
    may change at any moment the daemon does not see, so a stat() runs nothing (nor does
    the real kernel's, which reports 0), and the host's splice, which would stop at a size
    it holds, is refused (fs/mount.py): sendfile() readers fall back to read()."""
    if rec.info.get("dir"):
        own = KERNEL_FILES.get(rec.info.get("path", ""), {}) if not rec.owner else {}

        def child(name: str):
            if name in own:
                return File(lambda r: own[name](kernel), 0o444, PROC_SIZE)
            found = next((r for r in _proc_children(kernel, rec.obj) if r.name == name), None)
            return proc_entry(kernel, found) if found is not None else None

        return Dir(lambda: [*own, *(r.name for r in _proc_children(kernel, rec.obj))], child,
                   rec.info.get("mode", 0o40555) & 0o777)
    if "target" in rec.info:
        return Link(rec.info["target"])
    mode = rec.info.get("mode", 0o444) & 0o777 or 0o444
    if rec.info.get("ops"):
        # proc_ops: every open runs proc_open, each read and write its method, the last close
        # proc_release, as the real file does (whose size is 0 too)
        def opener(caller, flags):
            return vfs.open_proc(kernel, caller, rec, flags)

        return File(lambda reader: kernel.read_module_file(rec), mode, SERVED_SIZE, open=opener, device=True)
    return File(lambda reader: kernel.read_module_file(rec), mode, SERVED_SIZE)
