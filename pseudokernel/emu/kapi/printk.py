"""printk and its relatives (kernel/printk/printk.c)."""

from __future__ import annotations

from ...log import printk_get_level
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


def _level_of(k: KernelApi, level: int) -> int:
    """A KERN_<LEVEL> string ("\\0013") as its digit."""
    c = printk_get_level(k.m.read(level, 2)) if level else None
    return int(c) if c and c != "c" else 4


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
