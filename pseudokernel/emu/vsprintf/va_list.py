"""What one vsnprintf() call reads besides its format: its arguments (a Python list, or an
x86_64 va_list in emulated memory) and the memory its pointers point into.

A module of its own because the whole machine uses these, not only the formatter: MemoryFault is
what every read of emulated memory raises, and the printf-family handlers of kapi/ build the Args
they pass. Nothing here formats.
"""

from __future__ import annotations

from typing import Protocol

U64 = (1 << 64) - 1


# --------------------------------------------------------------------------------------------
# Interfaces the machine implements

class MemoryFault(Exception):
    """Raised by Memory.read on an unmapped address."""


class Memory(Protocol):
    def read(self, addr: int, size: int) -> bytes:
        """Read size bytes of emulated memory; raise MemoryFault if any byte is unmapped."""
        ...


class Args(Protocol):
    def next(self) -> int:
        """The next integer-class argument, as an unsigned 64-bit value."""
        ...


# --------------------------------------------------------------------------------------------
# Arguments

class ListArgs:
    """Args over a Python list (tests, Python callers). Negative ints are taken as two's complement."""

    def __init__(self, values: list[int] | tuple[int, ...]):
        self._values = list(values)
        self._i = 0

    def next(self) -> int:
        if self._i >= len(self._values):
            raise IndexError(f"format wants argument {self._i + 1}, only {len(self._values)} given")
        v = self._values[self._i]
        self._i += 1
        return v & U64


class VaListArgs:
    """Args read from an x86_64 SysV va_list in emulated memory.

    struct __va_list_tag { u32 gp_offset; u32 fp_offset; void *overflow_arg_area;
    void *reg_save_area; } — an integer-class va_arg takes the register save area slot at
    gp_offset while gp_offset < 48 (six registers of 8 bytes), then 8-byte slots from
    overflow_arg_area, exactly as gcc expands va_arg. The tag is copied at construction (va_copy);
    va_list is an array type on x86_64, so a callee's va_arg advances the caller's copy too: write
    tag_bytes() back at the tag's address to reproduce that.
    """

    def __init__(self, mem: Memory, va_list_addr: int):
        self._mem = mem
        tag = mem.read(va_list_addr, 24)
        self.gp_offset = int.from_bytes(tag[0:4], "little")
        self.fp_offset = int.from_bytes(tag[4:8], "little")
        self.overflow_arg_area = int.from_bytes(tag[8:16], "little")
        self.reg_save_area = int.from_bytes(tag[16:24], "little")

    def next(self) -> int:
        if self.gp_offset >= 48:
            addr = self.overflow_arg_area
            self.overflow_arg_area = (addr + 8) & U64
        else:
            addr = (self.reg_save_area + self.gp_offset) & U64
            self.gp_offset += 8
        return int.from_bytes(self._mem.read(addr, 8), "little")

    def tag_bytes(self) -> bytes:
        """The __va_list_tag as advanced so far (24 bytes)."""
        return (self.gp_offset.to_bytes(4, "little") + self.fp_offset.to_bytes(4, "little")
                + self.overflow_arg_area.to_bytes(8, "little")
                + self.reg_save_area.to_bytes(8, "little"))
