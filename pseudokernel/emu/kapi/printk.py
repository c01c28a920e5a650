"""printk and its relatives (kernel/printk/printk.c)."""

from __future__ import annotations

from ..vsprintf import VaListArgs
from . import KernelApi, VarArgs, kapi


@kapi("_printk", "printk")
def _printk(k: KernelApi, fmt: int, args: VarArgs) -> int:
    return k.log.printk(k.format(fmt, args))


@kapi("vprintk")
def vprintk(k: KernelApi, fmt: int, va: int) -> int:
    args = VaListArgs(k.m, va)
    n = k.log.printk(k.format(fmt, args))
    k.m.write(va, args.tag_bytes())
    return n


@kapi("_printk_deferred")
def _printk_deferred(k: KernelApi, fmt: int, args: VarArgs) -> int:
    return k.log.printk(k.format(fmt, args))


# -- dev_printk and netdev_printk (drivers/base/core.c, net/core/dev.c) ----------------------------

def dev_emit(k: KernelApi, level: int, dev: int, text: bytes) -> int:
    """__dev_printk(): 'driver device: message' with the SUBSYSTEM/DEVICE dictionary."""
    from .device import dev_driver_string, dev_name, dev_printk_info

    if not dev:
        return k.log.printk(bytes((1, 0x30 + level)) + b"(NULL device *): " + text)
    head = f"{dev_driver_string(k, dev)} {dev_name(k, dev)}: ".encode()
    return k.log.printk(bytes((1, 0x30 + level)) + head + text, dev_info=dev_printk_info(k, dev))


def _dev_level(level: int):
    def handler(k: KernelApi, dev: int, fmt: int, args: VarArgs) -> None:
        dev_emit(k, level, dev, k.format(fmt, args))

    return handler


for _lvl, _name in enumerate(("_dev_emerg", "_dev_alert", "_dev_crit", "_dev_err", "_dev_warn", "_dev_notice",
                              None, "_dev_info")):
    if _name:
        kapi(_name)(_dev_level(_lvl))


def _level_of(k: KernelApi, level: int) -> int:
    """A KERN_<LEVEL> string ("\\0013") as its digit."""
    raw = k.m.read(level, 2) if level else b""
    return raw[1] - 0x30 if len(raw) == 2 and raw[0] == 1 and 0x30 <= raw[1] <= 0x37 else 4


@kapi("_dev_printk")
def _dev_printk(k: KernelApi, level: int, dev: int, fmt: int, args: VarArgs) -> None:
    dev_emit(k, _level_of(k, level), dev, k.format(fmt, args))


@kapi("dev_printk_emit")
def dev_printk_emit(k: KernelApi, level: int, dev: int, fmt: int, args: VarArgs) -> int:
    from .device import dev_printk_info

    return k.log.printk(bytes((1, 0x30 + (level & 7))) + k.format(fmt, args), dev_info=dev_printk_info(k, dev))


@kapi("dev_vprintk_emit")
def dev_vprintk_emit(k: KernelApi, level: int, dev: int, fmt: int, va: int) -> int:
    from .device import dev_printk_info

    args = VaListArgs(k.m, va)
    text = k.format(fmt, args)
    k.m.write(va, args.tag_bytes())
    return k.log.printk(bytes((1, 0x30 + (level & 7))) + text, dev_info=dev_printk_info(k, dev))


def netdev_label(k: KernelApi, ndev: int) -> bytes:
    """netdev_name() and netdev_reg_state()."""
    name = k.m.read(ndev, 16).split(b"\0", 1)[0]
    if not name or b"%" in name:
        name = b"(unnamed net_device)"
    state = k.m.read_u8(ndev + k.S.net_device.reg_state) if k.btf_struct("net_device") else 1
    suffix = {0: b" (uninitialized)", 1: b"", 2: b" (unregistering)", 3: b" (unregistered)",
              4: b" (released)", 5: b" (dummy)"}.get(state, b" (unknown)")
    return name + suffix


def netdev_emit(k: KernelApi, level: int, ndev: int, text: bytes) -> int:
    prefix = bytes((1, 0x30 + level))
    if not ndev:
        return k.log.printk(prefix + b"(NULL net_device): " + text)
    parent = k.m.read_u64(ndev + k.S.net_device.dev + k.S.device.parent)
    if parent:
        from .device import dev_driver_string, dev_name, dev_printk_info

        head = f"{dev_driver_string(k, parent)} {dev_name(k, parent)} ".encode() + netdev_label(k, ndev) + b": "
        return k.log.printk(prefix + head + text, dev_info=dev_printk_info(k, parent))
    return k.log.printk(prefix + netdev_label(k, ndev) + b": " + text)


def _netdev_level(level: int):
    def handler(k: KernelApi, dev: int, fmt: int, args: VarArgs) -> None:
        netdev_emit(k, level, dev, k.format(fmt, args))

    return handler


for _lvl, _name in enumerate(("netdev_emerg", "netdev_alert", "netdev_crit", "netdev_err", "netdev_warn",
                              "netdev_notice", None, "netdev_info")):
    if _name:
        kapi(_name)(_netdev_level(_lvl))


@kapi("netdev_printk")
def netdev_printk(k: KernelApi, level: int, dev: int, fmt: int, args: VarArgs) -> None:
    netdev_emit(k, _level_of(k, level), dev, k.format(fmt, args))


@kapi("__dynamic_pr_debug", "__dynamic_dev_dbg", "__dynamic_netdev_dbg", "__dynamic_ibdev_dbg")
def __dynamic_pr_debug(k: KernelApi, descriptor: int) -> None:
    """Dynamic debug is off by default: nothing is printed."""


@kapi("__warn_printk")
def __warn_printk(k: KernelApi, fmt: int, args: VarArgs) -> None:
    """kernel/panic.c: the cut-here line, then the message; the WARN's ud2 follows."""
    k.log.printk(b"\x014------------[ cut here ]------------\n")
    k.log.printk(k.format(fmt, args))


@kapi("___ratelimit", "printk_ratelimit", "__printk_ratelimit", "net_ratelimit")
def ___ratelimit(k: KernelApi, rs: int = 0) -> int:
    return 1


@kapi("print_hex_dump")
def print_hex_dump(k: KernelApi, level: int, prefix_str: int, prefix_type: int, rowsize: int, groupsize: int,
                   buf: int, length: int, ascii: int) -> None:
    """lib/hexdump.c print_hex_dump() with hex_dump_to_buffer()'s layout."""
    rowsize &= 0xFFFFFFFF
    groupsize &= 0xFFFFFFFF
    length &= MASK32
    if rowsize not in (16, 32):
        rowsize = 16
    prefix = k.cstr(prefix_str).decode("utf-8", "replace") if prefix_str else ""
    lvl = k.m.read(level, 2) if level else b""
    data = k.m.read(buf, length) if length else b""
    for i in range(0, length, rowsize):
        line = data[i:i + rowsize]
        k.log.printk(lvl + _hex_line(k, prefix, prefix_type & 0xFFFFFFFF, buf + i, i, line, rowsize, groupsize,
                                     bool(ascii & 0xFF)) + b"\n")


MASK32 = 0xFFFFFFFF


def _hex_line(k, prefix: str, ptype: int, addr: int, off: int, line: bytes, rowsize: int, groupsize: int,
              ascii: bool) -> bytes:
    if groupsize not in (1, 2, 4, 8) or len(line) % groupsize:
        groupsize = 1
    groups = []
    for j in range(0, len(line), groupsize):
        groups.append(int.from_bytes(line[j:j + groupsize], "little").to_bytes(groupsize, "big").hex())
    text = " ".join(groups)
    if ascii:
        ascii_column = rowsize * 2 + rowsize // groupsize + 1
        text = text.ljust(ascii_column) + "".join(chr(c) if 0x20 <= c < 0x7F else "." for c in line)
    if ptype == 1:
        head = f"{prefix}{k.kernel.hashed_pointer(addr)}: "
    elif ptype == 2:
        head = f"{prefix}{off:08x}: "
    else:
        head = prefix
    return (head + text).encode()
