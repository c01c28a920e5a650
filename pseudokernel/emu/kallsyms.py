"""__sprint_symbol() (kernel/kallsyms.c): how %pS, %ps and %pB name an address.

vsprintf.c only calls sprint_symbol(), sprint_symbol_no_offset() and sprint_backtrace(); the
text they make is kallsyms.c's, so it lives under that file's name.
"""

from __future__ import annotations

from typing import Protocol

from ..bits import MASK64 as U64


class Symbols(Protocol):
    def lookup(self, addr: int) -> tuple[str, int, int, str | None] | None:
        """kallsyms_lookup: (name, offset into it, its size, module name or None), or None."""
        ...


def __sprint_symbol(symbols: Symbols | None, address: int, symbol_offset: int,
                    add_offset: bool) -> bytes:
    address = (address + symbol_offset) & U64
    found = symbols.lookup(address) if symbols is not None else None
    if not found:
        return b"0x%x" % ((address - symbol_offset) & U64)
    name, offset, size, modname = found
    buf = name.encode() if isinstance(name, str) else bytes(name)
    offset -= symbol_offset
    if add_offset:
        # "+%#lx/%#lx": the kernel's %#lx prints 0 as "0x0"
        buf += b"+0x%x/0x%x" % (offset & U64, size & U64)
    if modname:
        # CONFIG_STACKTRACE_BUILD_ID is off in Debian's 6.1: no build id after the name
        buf += b" [" + (modname.encode() if isinstance(modname, str) else bytes(modname)) + b"]"
    return buf
