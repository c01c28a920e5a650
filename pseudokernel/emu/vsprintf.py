"""The kernel's printf: a port of lib/vsprintf.c (Linux 6.1) for x86_64.

Emulated module code calls _printk, sprintf, snprintf, scnprintf, vsnprintf, kasprintf, dev_info
and friends; their text must be the bytes the real kernel would produce. This is a line-by-line
port of the kernel's formatter, not a mapping onto Python's or C's printf: the kernel differs from
ISO C in many places (``%p`` hashing and its extensions, ``"(null)"`` for NULL strings, ``%#x`` of 0
printing ``0x0``, ``%.0d`` of 0 printing ``0``, a negative ``*`` precision printing nothing, no
``%n``/``%j``/``%q``/floating point, stopping at the first unsupported conversion).

The functions below carry the kernel's names (format_decode, number, string, pointer,
symbol_string, ip4_addr_string, ...) so that a kernel developer can map them one to one. Each
returns the bytes it would have written; vsnprintf() returns the full, untruncated output and
snprintf_result() / scnprintf_result() apply the kernel's buffer-size rules. (Truncation in the
kernel only ever cuts a prefix of the untruncated output, so this split is exact.)

The machine (LP64): long and pointers are 64 bits, int 32 bits, phys_addr_t and dma_addr_t 64 bits,
little endian. The Debian 6.1.0-56-amd64 configuration decides the optional parts: KALLSYMS=y,
SYMBOLIC_ERRNAME=y, BLOCK=y, COMMON_CLK=y, OF=n, RUST=n, STACKTRACE_BUILD_ID=n. Structure offsets
used by %pd %pD %pg are that kernel's, measured by compiling against its headers
(linux-headers-6.1.0-56-amd64) with the kernel's asm-offsets technique.

Pointers the kernel would dereference are read through ``Memory``. The real kernel only rejects
NULL, pointers below PAGE_SIZE and ERR_PTR values (check_pointer_msg); any other bad pointer
oopses. By default an unmapped address (``MemoryFault``) prints ``"(efault)"`` for that
conversion instead; pass ``fault_as_efault=False`` to let the fault propagate so the caller can
report the oops the real kernel would have had.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from functools import lru_cache
from typing import Protocol

from ..bits import PAGE_SIZE, s32
from ..profile.structs import Structs
from .ctype import isalnum, isalpha, isascii, isdigit, isprint
from .errname import errname
from .kallsyms import Symbols, __sprint_symbol
from .mmflags import GFPFLAG_NAMES, PAGEFLAG_NAMES, VMAFLAG_NAMES
from .siphash import siphash_1u64
from .string_helpers import (
    ESCAPE_ANY,
    ESCAPE_ANY_NP,
    ESCAPE_HEX,
    ESCAPE_NP,
    ESCAPE_NULL,
    ESCAPE_OCTAL,
    ESCAPE_SPACE,
    ESCAPE_SPECIAL,
    string_escape_mem,
)
from .timeconv import time64_to_tm

DEBIAN_61_STRUCTS = Structs(None)  # profile/layouts.py's numbers, for a caller without a profile

__all__ = [
    "BOOT_HASH_KEY",
    "UNSUPPORTED",
    "Args",
    "ListArgs",
    "Memory",
    "MemoryFault",
    "Symbols",
    "VaListArgs",
    "scnprintf_result",
    "snprintf_result",
    "vsnprintf",
]


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


WarnHook = Callable[[str, bytes], None]
"""Called for each WARN_ONCE the kernel's vsnprintf would hit: (site, message). The site names
the WARN_ONCE (one per call site, so the caller can print each once per boot)."""

# A per-"boot" siphash key, as fill_ptr_key_workfn() draws ptr_key from the RNG once per boot.
BOOT_HASH_KEY: bytes = os.urandom(16)

U64 = (1 << 64) - 1
MAX_ERRNO = 4095

# %p extensions this port cannot render faithfully. For a pointer that passes check_pointer they
# print what the kernel prints for an invalid pointer there: error_string("(efault)", spec).
UNSUPPORTED: dict[str, str] = {
    "fw": "%pfw[fP] (fwnode_handle): naming a firmware node calls through fwnode->ops, which is "
          "emulated module or kernel code; x86 modules rarely have one (no OF, ACPI only)",
}


# --------------------------------------------------------------------------------------------
# ptr_to_id() hashes %p pointers with siphash_1u64 (lib/siphash.c)

@lru_cache(maxsize=4096)
def _ptr_to_hashval(ptr: int, key: bytes) -> int:
    """__ptr_to_hashval() on 64-bit: siphash_1u64 of the pointer, low 32 bits kept."""
    return siphash_1u64(ptr, key) & 0xFFFFFFFF


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


# --------------------------------------------------------------------------------------------
# Buffer-size semantics of the callers

INT_MAX = (1 << 31) - 1


def snprintf_result(out: bytes, size: int) -> tuple[bytes, int]:
    """(bytes to store at buf, including the NUL; snprintf's return value) for a buffer of size.

    vsnprintf() writes at most size-1 bytes and a NUL (nothing when size is 0) and returns the
    length the whole output would have had. A size above INT_MAX is rejected with a WARN and 0.
    """
    if size > INT_MAX:
        return b"", 0
    if size == 0:
        return b"", len(out)
    return out[:size - 1] + b"\0", len(out)


def scnprintf_result(out: bytes, size: int) -> tuple[bytes, int]:
    """(bytes to store at buf, including the NUL; scnprintf's return value): the count written.

    With size 0, vscnprintf() returns 0 before formatting anything (no argument is read and no
    WARN can fire): a caller may skip vsnprintf() altogether then.
    """
    if size == 0 or size > INT_MAX:
        return b"", 0
    return out[:size - 1] + b"\0", min(len(out), size - 1)


# --------------------------------------------------------------------------------------------
# struct printf_spec and the flags number() knows

SIGN = 1        # unsigned/signed, must be 1
LEFT = 2        # left justified
PLUS = 4        # show plus
SPACE = 8       # space if plus
ZEROPAD = 16    # pad with zero, must be 16 == '0' - ' '
SMALL = 32      # use lowercase in hex (must be 32 == 0x20)
SPECIAL = 64    # prefix hex with "0x", octal with "0"

(FORMAT_TYPE_NONE, FORMAT_TYPE_WIDTH, FORMAT_TYPE_PRECISION, FORMAT_TYPE_CHAR, FORMAT_TYPE_STR,
 FORMAT_TYPE_PTR, FORMAT_TYPE_PERCENT_CHAR, FORMAT_TYPE_INVALID, FORMAT_TYPE_LONG_LONG,
 FORMAT_TYPE_ULONG, FORMAT_TYPE_LONG, FORMAT_TYPE_UBYTE, FORMAT_TYPE_BYTE, FORMAT_TYPE_USHORT,
 FORMAT_TYPE_SHORT, FORMAT_TYPE_UINT, FORMAT_TYPE_INT, FORMAT_TYPE_SIZE_T,
 FORMAT_TYPE_PTRDIFF) = range(19)

FIELD_WIDTH_MAX = (1 << 23) - 1
PRECISION_MAX = (1 << 15) - 1


def _s24(v: int) -> int:
    """Store into `signed int field_width:24` (gcc wraps)."""
    v &= 0xFFFFFF
    return v - 0x1000000 if v & 0x800000 else v


def _s16(v: int) -> int:
    """Store into `signed int precision:16`."""
    v &= 0xFFFF
    return v - 0x10000 if v & 0x8000 else v


class PrintfSpec:
    """struct printf_spec. The C code passes it by value: copy() before changing a caller's."""

    __slots__ = ("base", "field_width", "flags", "precision", "type")

    def __init__(self, type: int = 0, field_width: int = 0, flags: int = 0, base: int = 0,
                 precision: int = 0):
        self.type = type
        self.field_width = field_width
        self.flags = flags
        self.base = base
        self.precision = precision

    def copy(self) -> PrintfSpec:
        return PrintfSpec(self.type, self.field_width, self.flags, self.base, self.precision)

    def __repr__(self) -> str:
        return (f"PrintfSpec(type={self.type}, field_width={self.field_width}, "
                f"flags={self.flags:#x}, base={self.base}, precision={self.precision})")


default_str_spec = PrintfSpec(field_width=-1, precision=-1)
default_flag_spec = PrintfSpec(base=16, precision=-1, flags=SPECIAL | SMALL)
default_dec_spec = PrintfSpec(base=10, precision=-1)
default_dec02_spec = PrintfSpec(base=10, field_width=2, precision=-1, flags=ZEROPAD)
default_dec04_spec = PrintfSpec(base=10, field_width=4, precision=-1, flags=ZEROPAD)


# --------------------------------------------------------------------------------------------
# What one vsnprintf call needs besides the format and the arguments

class _Ctx:
    __slots__ = ("S", "cap_syslog", "fault_as_efault", "hash_key", "in_irq", "kptr_restrict", "mem",
                 "no_hash_pointers", "symbols", "warn")

    def __init__(self, mem, symbols, hash_key, kptr_restrict, no_hash_pointers, cap_syslog,
                 in_irq, warn, fault_as_efault, structs):
        self.S = structs if structs is not None else DEBIAN_61_STRUCTS
        self.mem = mem
        self.symbols = symbols
        self.hash_key = hash_key
        self.kptr_restrict = kptr_restrict
        self.no_hash_pointers = no_hash_pointers
        self.cap_syslog = cap_syslog
        self.in_irq = in_irq
        self.warn = warn
        self.fault_as_efault = fault_as_efault

    def warn_once(self, site: str, message: bytes) -> None:
        if self.warn is not None:
            self.warn(site, message)

    def u8(self, addr: int) -> int:
        return self.mem.read(addr & U64, 1)[0]

    def u16(self, addr: int) -> int:
        return int.from_bytes(self.mem.read(addr & U64, 2), "little")

    def u32(self, addr: int) -> int:
        return int.from_bytes(self.mem.read(addr & U64, 4), "little")

    def u64(self, addr: int) -> int:
        return int.from_bytes(self.mem.read(addr & U64, 8), "little")

    def bytes(self, addr: int, size: int) -> bytes:
        return self.mem.read(addr & U64, size) if size else b""

    def cstr(self, addr: int, limit: int = -1) -> bytes:
        """The bytes at addr up to (not including) a NUL, at most limit of them (-1: no limit).

        Reads a page at a time, never past the limit, so a precision-bounded "%.4s" of an
        unterminated buffer touches only what the kernel would touch.
        """
        out = bytearray()
        addr &= U64
        while limit < 0 or len(out) < limit:
            n = PAGE_SIZE - (addr & (PAGE_SIZE - 1))
            if limit >= 0:
                n = min(n, limit - len(out))
            try:
                chunk = self.mem.read(addr, n)
            except MemoryFault:
                # the page may be mapped only in part (byte-granular memories): byte by byte,
                # so that a fault is raised only if no NUL comes before it
                chunk = bytearray()
                for i in range(n):
                    c = self.mem.read(addr + i, 1)[0]
                    chunk.append(c)
                    if not c:
                        break
            z = chunk.find(0)
            if z >= 0:
                out += chunk[:z]
                return bytes(out)
            out += chunk
            addr = (addr + n) & U64
        return bytes(out)


# --------------------------------------------------------------------------------------------
# Numbers and strings

def skip_atoi(fmt: bytes, pos: int) -> tuple[int, int]:
    """(value, new position): the digits at pos as an int (32-bit, wrapping like the kernel's)."""
    i = 0
    while True:
        i = s32(i * 10 + fmt[pos] - 0x30)
        pos += 1
        if not isdigit(fmt[pos]):
            return i, pos


def number(num: int, spec: PrintfSpec) -> bytes:
    """number(): an integer with sign, "0x"/"0" prefix, precision and padding, the kernel's way.

    Differences from C worth knowing: precision never suppresses the zero ("%.0d" of 0 is "0"),
    "%#x" of 0 is "0x0", the octal "0" prefix is added to the digits even when precision already
    gives a leading zero ("%#.3o" of 8 is "0010"), and ZEROPAD still applies with a precision
    ("%08.3d" of 5 is "00000005").
    """
    num &= U64
    flags = spec.flags
    base = spec.base
    need_pfx = (flags & SPECIAL) and base != 10
    is_zero = num == 0
    field_width = spec.field_width
    precision = spec.precision
    locase = flags & SMALL
    if flags & LEFT:
        flags &= ~ZEROPAD
    sign = b""
    if flags & SIGN:
        if num >> 63:
            sign = b"-"
            num = -num & U64
            field_width -= 1
        elif flags & PLUS:
            sign = b"+"
            field_width -= 1
        elif flags & SPACE:
            sign = b" "
            field_width -= 1
    if need_pfx:
        if base == 16:
            field_width -= 2
        elif not is_zero:
            field_width -= 1

    if base == 16:
        digits = (b"%x" if locase else b"%X") % num
    elif base == 8:
        digits = b"%o" % num
    else:
        digits = b"%d" % num
    i = len(digits)

    # printing 100 using %2d gives "100", not "00"
    precision = max(precision, i)
    field_width -= precision
    out = []
    if not (flags & (ZEROPAD | LEFT)) and field_width > 0:
        out.append(b" " * field_width)
        field_width = 0
    if sign:
        out.append(sign)
    if need_pfx:
        if base == 16 or not is_zero:
            out.append(b"0")
        if base == 16:
            out.append(b"x" if locase else b"X")
    if not (flags & LEFT) and field_width > 0:
        out.append((b"0" if flags & ZEROPAD else b" ") * field_width)
        field_width = 0
    if precision > i:
        out.append(b"0" * (precision - i))
    out.append(digits)
    if field_width > 0:
        out.append(b" " * field_width)
    return b"".join(out)


def special_hex_number(num: int, size: int) -> bytes:
    """"0x" and 2*size hex digits, zero padded (phys_addr_t, netdev_features_t, ...)."""
    return number(num, PrintfSpec(FORMAT_TYPE_PTR, 2 + 2 * size, SPECIAL | SMALL | ZEROPAD, 16, -1))


def widen_string(s: bytes, n: int, spec: PrintfSpec) -> bytes:
    """Pad s (n characters of output) with spaces to the field width, on the left unless LEFT."""
    if n >= spec.field_width:
        return s
    spaces = b" " * (spec.field_width - n)
    if not (spec.flags & LEFT):
        return spaces + s
    return s + spaces


def string_nocheck(s: bytes, spec: PrintfSpec) -> bytes:
    """A string from a well known address: at most precision characters, up to a NUL, widened."""
    z = s.find(0)
    if z >= 0:
        s = s[:z]
    if spec.precision >= 0:
        s = s[:spec.precision]
    return widen_string(s, len(s), spec)


def error_string(s: bytes, spec: PrintfSpec) -> bytes:
    """An error message in place of a conversion; capped at 2*sizeof(void *) characters."""
    if spec.precision == -1:
        spec = spec.copy()
        spec.precision = 16
    return string_nocheck(s, spec)


def IS_ERR_VALUE(ptr: int) -> bool:
    return ptr >= (1 << 64) - MAX_ERRNO


def check_pointer_msg(ptr: int) -> bytes | None:
    """The only pointer validation the kernel does before dereferencing one."""
    if not ptr:
        return b"(null)"
    if ptr < PAGE_SIZE or IS_ERR_VALUE(ptr):
        return b"(efault)"
    return None


def check_pointer(ptr: int, spec: PrintfSpec) -> bytes | None:
    """None if ptr may be dereferenced, else the error text to print instead."""
    msg = check_pointer_msg(ptr)
    if msg is not None:
        return error_string(msg, spec)
    return None


def string(ctx: _Ctx, ptr: int, spec: PrintfSpec) -> bytes:
    """%s: "(null)" for NULL, "(efault)" for a low or ERR_PTR address, else the C string."""
    err = check_pointer(ptr, spec)
    if err is not None:
        return err
    s = ctx.cstr(ptr, spec.precision)
    return widen_string(s, len(s), spec)


def err_ptr(ptr: int, spec: PrintfSpec) -> bytes:
    """%pe of an ERR_PTR: its errno's name ("-ENOMEM"), or its value in decimal."""
    err = s32(ptr)
    sym = errname(err)
    if sym is not None:
        return string_nocheck(sym.encode(), spec)
    spec = spec.copy()
    spec.flags |= SIGN
    spec.base = 10
    return number(err, spec)


# --------------------------------------------------------------------------------------------
# Plain pointers: %p %px %pK

def pointer_string(ptr: int, spec: PrintfSpec) -> bytes:
    """The raw value in hex; 16 zero-padded digits unless a field width was given."""
    spec = spec.copy()
    spec.base = 16
    spec.flags |= SMALL
    if spec.field_width == -1:
        spec.field_width = 16
        spec.flags |= ZEROPAD
    return number(ptr, spec)


def ptr_to_id(ctx: _Ctx, ptr: int, spec: PrintfSpec) -> bytes:
    """%p: NULL and ERR_PTRs as they are; anything else as a 32-bit siphash of the address."""
    if not ptr or IS_ERR_VALUE(ptr):
        return pointer_string(ptr, spec)
    if ctx.hash_key is None:    # before the RNG seeded ptr_key
        spec = spec.copy()
        spec.field_width = 16
        return error_string(b"(____ptrval____)", spec)
    return pointer_string(_ptr_to_hashval(ptr, ctx.hash_key), spec)


def default_pointer(ctx: _Ctx, ptr: int, spec: PrintfSpec) -> bytes:
    if ctx.no_hash_pointers:
        return pointer_string(ptr, spec)
    return ptr_to_id(ctx, ptr, spec)


def restricted_pointer(ctx: _Ctx, ptr: int, spec: PrintfSpec) -> bytes:
    """%pK under kernel.kptr_restrict: 0 hashes like %p; 1 shows the address to a task with
    CAP_SYSLOG (and unchanged credentials) and zeros to others; 2 always zeros."""
    if ctx.kptr_restrict == 0:
        return default_pointer(ctx, ptr, spec)
    if ctx.kptr_restrict == 1:
        if ctx.in_irq:
            if spec.field_width == -1:
                spec = spec.copy()
                spec.field_width = 16
            return error_string(b"pK-error", spec)
        if not ctx.cap_syslog:
            ptr = 0
    else:
        ptr = 0
    return pointer_string(ptr, spec)


# --------------------------------------------------------------------------------------------
# Symbols: %pS %ps %pSR %pB %pBb (kernel/kallsyms.c __sprint_symbol)

def symbol_string(ctx: _Ctx, ptr: int, spec: PrintfSpec, fmt: bytes) -> bytes:
    """%pS name+0xoff/0xsize [module], %ps name [module], %pB for return addresses (looks up
    address-1); an address kallsyms does not know prints as 0x<hex>."""
    # 'R': __builtin_extract_return_addr() is the identity on x86
    # The build-id variants ('Bb', 'Sb', 'SRb') add nothing without
    # CONFIG_STACKTRACE_BUILD_ID, which Debian's 6.1 does not set.
    if fmt[0] == 0x42:                                      # 'B': sprint_backtrace
        sym = __sprint_symbol(ctx.symbols, ptr, -1, True)
    elif fmt[0] != 0x73:                                    # 'S': sprint_symbol
        sym = __sprint_symbol(ctx.symbols, ptr, 0, True)
    else:                                                   # 's': sprint_symbol_no_offset
        sym = __sprint_symbol(ctx.symbols, ptr, 0, False)
    return string_nocheck(sym, spec)


# --------------------------------------------------------------------------------------------
# struct resource: %pr %pR

IORESOURCE_IO = 0x00000100
IORESOURCE_MEM = 0x00000200
IORESOURCE_IRQ = 0x00000400
IORESOURCE_DMA = 0x00000800
IORESOURCE_BUS = 0x00001000
IORESOURCE_PREFETCH = 0x00002000
IORESOURCE_MEM_64 = 0x00100000
IORESOURCE_WINDOW = 0x00200000
IORESOURCE_DISABLED = 0x10000000
IORESOURCE_UNSET = 0x20000000

_io_spec = PrintfSpec(base=16, field_width=6, precision=-1, flags=SPECIAL | SMALL | ZEROPAD)
_mem_spec = PrintfSpec(base=16, field_width=10, precision=-1, flags=SPECIAL | SMALL | ZEROPAD)
_bus_spec = PrintfSpec(base=16, field_width=2, precision=-1, flags=SMALL | ZEROPAD)


def resource_string(ctx: _Ctx, ptr: int, spec: PrintfSpec, fmt: bytes) -> bytes:
    """%pR "[mem 0x00001000-0x00001fff 64bit pref]", %pr "[mem 0x1000-0x1fff flags 0x200]"."""
    err = check_pointer(ptr, spec)
    if err is not None:
        return err
    start, end = ctx.u64(ptr), ctx.u64(ptr + 8)
    flags = ctx.u64(ptr + 24)
    decode = fmt[0] == 0x52
    p = [b"["]
    if flags & IORESOURCE_IO:
        p.append(b"io  ")
        specp = _io_spec
    elif flags & IORESOURCE_MEM:
        p.append(b"mem ")
        specp = _mem_spec
    elif flags & IORESOURCE_IRQ:
        p.append(b"irq ")
        specp = default_dec_spec
    elif flags & IORESOURCE_DMA:
        p.append(b"dma ")
        specp = default_dec_spec
    elif flags & IORESOURCE_BUS:
        p.append(b"bus ")
        specp = _bus_spec
    else:
        p.append(b"??? ")
        specp = _mem_spec
        decode = False
    if decode and flags & IORESOURCE_UNSET:
        p.append(b"size ")
        p.append(number(end - start + 1, specp))
    else:
        p.append(number(start, specp))
        if start != end:
            p.append(b"-")
            p.append(number(end, specp))
    if decode:
        if flags & IORESOURCE_MEM_64:
            p.append(b" 64bit")
        if flags & IORESOURCE_PREFETCH:
            p.append(b" pref")
        if flags & IORESOURCE_WINDOW:
            p.append(b" window")
        if flags & IORESOURCE_DISABLED:
            p.append(b" disabled")
    else:
        p.append(b" flags ")
        p.append(number(flags, default_flag_spec))
    p.append(b"]")
    return string_nocheck(b"".join(p), spec)


# --------------------------------------------------------------------------------------------
# Raw bytes: %ph %pb %pbl %pM %pm %pE %pU

def hex_string(ctx: _Ctx, ptr: int, spec: PrintfSpec, fmt: bytes) -> bytes:
    """%*ph: field width bytes (1 without a width, at most 64) in hex, separated by ' ' (C ':',
    D '-', N nothing). The width is the length, not padding."""
    if spec.field_width == 0:
        return b""
    err = check_pointer(ptr, spec)
    if err is not None:
        return err
    separator = {0x43: b":", 0x44: b"-", 0x4E: b""}.get(fmt[1], b" ")
    length = min(spec.field_width, 64) if spec.field_width > 0 else 1
    return separator.join(b"%02x" % c for c in ctx.bytes(ptr, length))


def _bitmap_words(ctx: _Ctx, ptr: int, nr_bits: int) -> int:
    nwords = (nr_bits + 63) // 64
    return int.from_bytes(ctx.bytes(ptr, 8 * nwords), "little") if nwords else 0


def bitmap_string(ctx: _Ctx, ptr: int, spec: PrintfSpec, fmt: bytes) -> bytes:
    """%*pb: the bitmap of field-width bits as comma-separated 32-bit hex chunks, high first."""
    nr_bits = max(spec.field_width, 0)
    err = check_pointer(ptr, spec)
    if err is not None:
        return err
    chunksz = nr_bits & 31 or 32
    i = ((nr_bits + 31) & ~31) - 32
    bits = _bitmap_words(ctx, ptr, nr_bits) if i >= 0 else 0
    out = []
    while i >= 0:
        val = (bits >> i) & ((1 << chunksz) - 1)
        out.append(number(val, PrintfSpec(0, (chunksz + 3) // 4, SMALL | ZEROPAD, 16, 0)))
        chunksz = 32
        i -= 32
    return b",".join(out)


def bitmap_list_string(ctx: _Ctx, ptr: int, spec: PrintfSpec, fmt: bytes) -> bytes:
    """%*pbl: the set bits as ranges, "0-3,8,10-11"."""
    nr_bits = max(spec.field_width, 0)
    err = check_pointer(ptr, spec)
    if err is not None:
        return err
    bits = _bitmap_words(ctx, ptr, nr_bits)
    out = []
    b = 0
    while True:
        while b < nr_bits and not (bits >> b) & 1:         # find_next_bit
            b += 1
        e = b + 1
        while e < nr_bits and (bits >> e) & 1:             # find_next_zero_bit
            e += 1
        if b >= nr_bits:
            break
        if e - 1 == b:
            out.append(b"%d" % b)
        else:
            out.append(b"%d-%d" % (b, min(e, nr_bits) - 1))
        b = e + 1
    return b",".join(out)


def mac_address_string(ctx: _Ctx, ptr: int, spec: PrintfSpec, fmt: bytes) -> bytes:
    """%pM 00:01:02:03:04:05, %pMF with '-', %pMR reversed (Bluetooth), %pm without separators."""
    err = check_pointer(ptr, spec)
    if err is not None:
        return err
    addr = ctx.bytes(ptr, 6)
    if fmt[1] == 0x52:                                      # 'R'
        addr = addr[::-1]
    separator = b"-" if fmt[1] == 0x46 else b":"            # 'F'
    if fmt[0] != 0x4D:                                      # 'm'
        separator = b""
    return string_nocheck(separator.join(b"%02x" % c for c in addr), spec)


# --------------------------------------------------------------------------------------------
# IP addresses: %pI4 %pi4 %pI6 %pi6 %pI6c %pIS[pfsc] %piS

def ip4_string(addr: bytes, fmt: bytes) -> bytes:
    """Dotted quad; 'i' keeps leading zeros; [hl] after the 4 take the address in host/little
    endian order (reversed on x86), [nb] in network/big endian (the default)."""
    leading_zeros = fmt[0] == 0x69
    if fmt[2] in (0x68, 0x6C):                              # 'h' (little-endian host), 'l'
        addr = addr[::-1]
    if leading_zeros:
        return b".".join(b"%03d" % c for c in addr)
    return b".".join(b"%d" % c for c in addr)


def _ipv6_addr_v4mapped(a: bytes) -> bool:
    return a[:10] == b"\0" * 10 and a[10:12] == b"\xff\xff"


def _ipv6_addr_is_isatap(a: bytes) -> bool:
    return (a[8] | 0x02) == 0x02 and a[9:12] == b"\x00\x5e\xfe"


def ip6_compressed_string(addr: bytes) -> bytes:
    """RFC 5952-like: the longest run (of two or more) zero words becomes "::"; v4-mapped and
    ISATAP addresses end in a dotted quad."""
    useIPv4 = _ipv6_addr_v4mapped(addr) or _ipv6_addr_is_isatap(addr)
    words = [addr[2 * i] << 8 | addr[2 * i + 1] for i in range(8)]
    rng = 6 if useIPv4 else 8
    # find position of longest 0 run
    zerolength = [0] * 8
    for i in range(rng):
        for j in range(i, rng):
            if words[j] != 0:
                break
            zerolength[i] += 1
    longest = 1
    colonpos = -1
    for i in range(rng):
        if zerolength[i] > longest:
            longest = zerolength[i]
            colonpos = i
    if longest == 1:                # don't compress a single 0
        colonpos = -1
    p = []
    needcolon = False
    i = 0
    while i < rng:
        if i == colonpos:
            if needcolon or i == 0:
                p.append(b":")
            p.append(b":")
            needcolon = False
            i += longest
            continue
        if needcolon:
            p.append(b":")
        p.append(b"%x" % words[i])  # hex u16 without leading 0s
        needcolon = True
        i += 1
    if useIPv4:
        if needcolon:
            p.append(b":")
        p.append(ip4_string(addr[12:16], b"I4\0"))
    return b"".join(p)


def ip6_string(addr: bytes, fmt: bytes) -> bytes:
    """Eight 4-digit hex words, ':'-separated for 'I', run together for 'i'."""
    words = [b"%02x%02x" % (addr[2 * i], addr[2 * i + 1]) for i in range(8)]
    return (b":" if fmt[0] == 0x49 else b"").join(words)


def ip6_addr_string(addr: bytes, spec: PrintfSpec, fmt: bytes) -> bytes:
    if fmt[0] == 0x49 and fmt[2] == 0x63:                   # "I6c"
        return string_nocheck(ip6_compressed_string(addr), spec)
    return string_nocheck(ip6_string(addr, fmt), spec)


def ip4_addr_string(addr: bytes, spec: PrintfSpec, fmt: bytes) -> bytes:
    return string_nocheck(ip4_string(addr, fmt), spec)


# sizeof the stack buffers of ip6_addr_string_sa() and ip4_addr_string_sa()
_IP6_SA_BUF = (len("[xxxx:xxxx:xxxx:xxxx:xxxx:xxxx:255.255.255.255]") + 1 + len(":12345") + 1
               + len("/123456789") + 1 + len("%1234567890") + 1)
_IP4_SA_BUF = len("255.255.255.255") + 1 + len(":12345") + 1


def ip6_addr_string_sa(ctx: _Ctx, sa: int, spec: PrintfSpec, fmt: bytes) -> bytes:
    """struct sockaddr_in6: [addr]:port/flowinfo%scope for the p, f, s letters; c compresses.

    The port, flowinfo and scope are printed with the conversion's own spec (its width and
    precision too), as the kernel does, into a 78-byte stack buffer: a wide or precise enough
    conversion ("%.40pISf") overruns it in the kernel (number() stops at its end, but the
    separators and the final NUL do not). Only the bytes that fit are printed here.
    """
    have_p = have_s = have_f = have_c = False
    i = 2
    while isalpha(fmt[i]):
        c = fmt[i]
        if c == 0x70:
            have_p = True
        elif c == 0x66:
            have_f = True
        elif c == 0x73:
            have_s = True
        elif c == 0x63:
            have_c = True
        i += 1
    addr = ctx.bytes(sa + 8, 16)                            # sin6_addr
    if fmt[0] == 0x49 and have_c:
        s = ip6_compressed_string(addr)
    else:
        s = ip6_string(addr, fmt[:1] + b"6")
    p = [s]
    if have_p or have_s or have_f:
        p = [b"[", s, b"]"]
    if have_p:
        p.append(b":")
        p.append(number(int.from_bytes(ctx.bytes(sa + 2, 2), "big"), spec))      # sin6_port
    if have_f:
        p.append(b"/")
        p.append(number(int.from_bytes(ctx.bytes(sa + 4, 4), "big") & 0x0FFFFFFF, spec))
    if have_s:
        p.append(b"%")
        p.append(number(ctx.u32(sa + 24), spec))                                # sin6_scope_id
    return string_nocheck(b"".join(p)[:_IP6_SA_BUF], spec)


def ip4_addr_string_sa(ctx: _Ctx, sa: int, spec: PrintfSpec, fmt: bytes) -> bytes:
    """struct sockaddr_in: the address, and ":port" for the p letter; [hlnb] pick the byte
    order as for %pI4. The port goes into a 23-byte buffer, with the same overrun as for IPv6
    when the conversion's width is above 5."""
    have_p = False
    fmt4 = bytearray([fmt[0], 0x34, 0])
    i = 2
    while isalpha(fmt[i]):
        c = fmt[i]
        if c == 0x70:
            have_p = True
        elif c in (0x68, 0x6C, 0x6E, 0x62):
            fmt4[2] = c
        i += 1
    s = ip4_string(ctx.bytes(sa + 4, 4), bytes(fmt4))       # sin_addr
    if have_p:
        s += b":" + number(int.from_bytes(ctx.bytes(sa + 2, 2), "big"), spec)   # sin_port
    return string_nocheck(s[:_IP4_SA_BUF], spec)


AF_INET = 2
AF_INET6 = 10


def ip_addr_string(ctx: _Ctx, ptr: int, spec: PrintfSpec, fmt: bytes) -> bytes:
    err = check_pointer(ptr, spec)
    if err is not None:
        return err
    f1 = fmt[1]
    if f1 == 0x36:                                          # '6'
        return ip6_addr_string(ctx.bytes(ptr, 16), spec, fmt)
    if f1 == 0x34:                                          # '4'
        return ip4_addr_string(ctx.bytes(ptr, 4), spec, fmt)
    if f1 == 0x53:                                          # 'S'
        family = ctx.u16(ptr)
        if family == AF_INET:
            return ip4_addr_string_sa(ctx, ptr, spec, fmt)
        if family == AF_INET6:
            return ip6_addr_string_sa(ctx, ptr, spec, fmt)
        return error_string(b"(einval)", spec)
    return error_string(b"(%pi?)" if fmt[0] == 0x69 else b"(%pI?)", spec)


# --------------------------------------------------------------------------------------------
# %pE (lib/string_helpers.c string_escape_mem)

_ESCAPE_LETTERS = {0x61: ESCAPE_ANY, 0x63: ESCAPE_SPECIAL, 0x68: ESCAPE_HEX, 0x6E: ESCAPE_NULL,
                   0x6F: ESCAPE_OCTAL, 0x70: ESCAPE_NP, 0x73: ESCAPE_SPACE}


def escaped_string(ctx: _Ctx, ptr: int, spec: PrintfSpec, fmt: bytes) -> bytes:
    """%*pE[achnops]: field-width bytes (1 without a width), escaped; no letter means "ap"."""
    if spec.field_width == 0:
        return b""
    err = check_pointer(ptr, spec)
    if err is not None:
        return err
    flags = 0
    count = 1
    while fmt[count] in _ESCAPE_LETTERS:
        flags |= _ESCAPE_LETTERS[fmt[count]]
        count += 1
    if not flags:
        flags = ESCAPE_ANY_NP
    length = 1 if spec.field_width < 0 else spec.field_width
    return string_escape_mem(ctx.bytes(ptr, length), flags)


# --------------------------------------------------------------------------------------------
# %pV, %pU, %pN, %p4cc, %pa

def va_format(ctx: _Ctx, ptr: int, spec: PrintfSpec, fmt: bytes) -> bytes:
    """%pV: struct va_format { const char *fmt; va_list *va; } formatted recursively, from a
    copy of the va_list (va_copy), ignoring this conversion's width and precision."""
    err = check_pointer(ptr, spec)
    if err is not None:
        return err
    nested_fmt = ctx.cstr(ctx.u64(ptr))
    args = VaListArgs(ctx.mem, ctx.u64(ptr + 8))
    return _vsnprintf(ctx, nested_fmt, args)


_guid_index = (3, 2, 1, 0, 5, 4, 7, 6, 8, 9, 10, 11, 12, 13, 14, 15)


def uuid_string(ctx: _Ctx, ptr: int, spec: PrintfSpec, fmt: bytes) -> bytes:
    """%pU[bBlL]: b/B big-endian uuid_t order (default), l/L little-endian guid_t; upper case
    for B and L."""
    err = check_pointer(ptr, spec)
    if err is not None:
        return err
    addr = ctx.bytes(ptr, 16)
    f1 = fmt[1]
    uc = f1 in (0x4C, 0x42)                                 # 'L', 'B'
    if f1 in (0x4C, 0x6C):                                  # 'L', 'l'
        addr = bytes(addr[i] for i in _guid_index)
    h = addr.hex().encode()
    if uc:
        h = h.upper()
    s = b"-".join((h[0:8], h[8:12], h[12:16], h[16:20], h[20:32]))
    return string_nocheck(s, spec)


def netdev_bits(ctx: _Ctx, ptr: int, spec: PrintfSpec, fmt: bytes) -> bytes:
    """%pNF: a netdev_features_t (u64, by reference) as 0x%016llx."""
    err = check_pointer(ptr, spec)
    if err is not None:
        return err
    if fmt[1] == 0x46:
        return special_hex_number(ctx.u64(ptr), 8)
    return error_string(b"(%pN?)", spec)


def fourcc_string(ctx: _Ctx, ptr: int, spec: PrintfSpec, fmt: bytes) -> bytes:
    """%p4cc: a V4L2/DRM four-character code, "ABCD little-endian (0x44434241)"."""
    if fmt[1] != 0x63 or fmt[2] != 0x63:
        return error_string(b"(%p4?)", spec)
    err = check_pointer(ptr, spec)
    if err is not None:
        return err
    orig = ctx.u32(ptr)
    val = orig & ~(1 << 31)
    chars = bytes(c if isascii(c) and isprint(c) else 0x2E
                  for c in ((val >> (8 * i)) & 0xFF for i in range(4)))
    output = (chars + (b" big-endian" if orig & (1 << 31) else b" little-endian")
              + b" (" + special_hex_number(orig, 4) + b")")
    return string_nocheck(output, spec)


def address_val(ctx: _Ctx, ptr: int, spec: PrintfSpec, fmt: bytes) -> bytes:
    """%pa[p] phys_addr_t, %pad dma_addr_t, both passed by reference: 0x + 16 hex digits."""
    err = check_pointer(ptr, spec)
    if err is not None:
        return err
    return special_hex_number(ctx.u64(ptr), 8)


# --------------------------------------------------------------------------------------------
# Kernel objects: %pd %pD %pg %pC (the profile's struct layouts, profile/layouts.py)


def dentry_name(ctx: _Ctx, ptr: int, spec: PrintfSpec, fmt: bytes) -> bytes:
    """%pd[234]: the last 1-4 components of a dentry's path, joined with '/'."""
    depth = fmt[1] - 0x30 if fmt[1] in (0x32, 0x33, 0x34) else 1
    array = []
    d = ptr
    for i in range(depth):
        err = check_pointer(d, spec)
        if err is not None:
            return err
        p = ctx.u64(d + ctx.S.dentry.d_parent)
        array.append(ctx.u64(d + ctx.S.dentry.d_name + ctx.S.qstr.name))
        if p == d:
            if i:
                array[i] = None     # the root's name "/" is not printed above a component
            break
        d = p
    # the names, outermost first, joined by '/', at most precision characters; like the kernel,
    # read no name the precision does not reach
    out = bytearray()
    left = spec.precision               # -1: no limit
    for i, name in enumerate(reversed(array)):
        if i:
            if left == 0:
                break
            out += b"/"
            left -= 1 if left > 0 else 0
        if left == 0:
            break
        s = ctx.cstr(name, left) if name is not None else b""
        out += s
        if left > 0:
            left -= len(s)
    return widen_string(bytes(out), len(out), spec)


def file_dentry_name(ctx: _Ctx, ptr: int, spec: PrintfSpec, fmt: bytes) -> bytes:
    """%pD[234]: as %pd for a struct file's f_path.dentry."""
    err = check_pointer(ptr, spec)
    if err is not None:
        return err
    return dentry_name(ctx, ctx.u64(ptr + ctx.S.file.f_path + ctx.S.path.dentry), spec, fmt)


def bdev_name(ctx: _Ctx, ptr: int, spec: PrintfSpec, fmt: bytes) -> bytes:
    """%pg: a block_device as its disk name and partition number ("sda1", "nvme0n1p2")."""
    err = check_pointer(ptr, spec)
    if err is not None:
        return err
    hd = ctx.u64(ptr + ctx.S.block_device.bd_disk)
    name_addr = (hd + ctx.S.gendisk.disk_name) & U64
    out = string(ctx, name_addr, spec)
    partno = ctx.u8(ptr + ctx.S.block_device.bd_partno)
    if partno:
        name = ctx.cstr(name_addr)
        last = name[-1] if name else ctx.u8(name_addr - 1)
        if isdigit(last):
            out += b"p"
        out += number(partno, spec)
    return out


def clock(ctx: _Ctx, ptr: int, spec: PrintfSpec, fmt: bytes) -> bytes:
    """%pC[n]: a struct clk's name, clk->core->name (COMMON_CLK; both first members)."""
    err = check_pointer(ptr, spec)
    if err is not None:
        return err
    core = ctx.u64(ptr)
    return string(ctx, ctx.u64(core), spec)


# --------------------------------------------------------------------------------------------
# %pt: time and date

def date_str(tm: list[int], r: bool) -> bytes:
    year = s32(tm[5] + (0 if r else 1900))
    mon = s32(tm[4] + (0 if r else 1))
    return (number(year, default_dec04_spec) + b"-" + number(mon, default_dec02_spec) + b"-"
            + number(tm[3], default_dec02_spec))


def time_str(tm: list[int], r: bool) -> bytes:
    return (number(tm[2], default_dec02_spec) + b":" + number(tm[1], default_dec02_spec) + b":"
            + number(tm[0], default_dec02_spec))


def rtc_str(tm: list[int], spec: PrintfSpec, fmt: bytes) -> bytes:
    """tm: struct rtc_time's ints (sec, min, hour, mday, mon, year, ...). [dt] date or time
    only, r raw (no 1900/1 offsets), s a space instead of the ISO 8601 'T'."""
    have_t = have_d = True
    raw = False
    iso8601_separator = True
    count = 2
    if fmt[count] == 0x64:
        have_t = False
        count += 1
    elif fmt[count] == 0x74:
        have_d = False
        count += 1
    while True:
        c = fmt[count]
        count += 1
        if c == 0x72:
            raw = True
        elif c == 0x73:
            iso8601_separator = False
        else:
            break
    out = b""
    if have_d:
        out += date_str(tm, raw)
    if have_d and have_t:
        out += b"T" if iso8601_separator else b" "
    if have_t:
        out += time_str(tm, raw)
    return out


def time_and_date(ctx: _Ctx, ptr: int, spec: PrintfSpec, fmt: bytes) -> bytes:
    """%ptR a struct rtc_time, %ptT a time64_t (both by reference): "2019-01-04T15:32:23"."""
    err = check_pointer(ptr, spec)
    if err is not None:
        return err
    if fmt[1] == 0x52:
        raw = ctx.bytes(ptr, 24)
        tm = [s32(int.from_bytes(raw[i:i + 4], "little")) for i in range(0, 24, 4)]
        return rtc_str(tm, spec, fmt)
    if fmt[1] == 0x54:
        t = ctx.u64(ptr)
        return rtc_str(time64_to_tm(t - (1 << 64) if t >> 63 else t), spec, fmt)
    return error_string(b"(%pt?)", spec)


# --------------------------------------------------------------------------------------------
# %pG: page, vma and gfp flags, with Debian 6.1.0-56-amd64's page-flags-layout.h evaluated
# against its configuration; the name tables are mm/debug.c's (mmflags.py)

NR_PAGEFLAGS = 25
# struct page_flags_fields pff[] with their widths: sections (0: skipped), node, zone,
# lastcpupid, kasantag (0: skipped)
_PFF = (
    (10, 54, 1023, default_dec_spec, b"node"),
    (3, 51, 7, default_dec_spec, b"zone"),
    (21, 30, 0x1FFFFF, default_flag_spec, b"lastcpupid"),
)


def format_flags(flags: int, names: tuple[tuple[int, str], ...]) -> bytes:
    out = []
    for mask, name in names:
        if not flags:
            break
        if flags & mask != mask:
            continue
        out.append(name.encode())
        flags &= ~mask
        if flags:
            out.append(b"|")
    if flags:
        out.append(number(flags, default_flag_spec))
    return b"".join(out)


def format_page_flags(flags: int) -> bytes:
    main_flags = flags & ((1 << NR_PAGEFLAGS) - 1)
    out = [number(flags, default_flag_spec), b"("]
    append = False
    if main_flags:
        out.append(format_flags(main_flags, PAGEFLAG_NAMES))
        append = True
    for _width, shift, mask, fspec, name in _PFF:
        if append:
            out.append(b"|")
        out.append(name + b"=" + number((flags >> shift) & mask, fspec))
        append = True
    out.append(b")")
    return b"".join(out)


def flags_string(ctx: _Ctx, ptr: int, spec: PrintfSpec, fmt: bytes) -> bytes:
    """%pGp page flags, %pGv vma flags (unsigned long *), %pGg gfp flags (gfp_t *)."""
    err = check_pointer(ptr, spec)
    if err is not None:
        return err
    f1 = fmt[1]
    if f1 == 0x70:
        return format_page_flags(ctx.u64(ptr))
    if f1 == 0x76:
        return format_flags(ctx.u64(ptr), VMAFLAG_NAMES)
    if f1 == 0x67:
        return format_flags(ctx.u32(ptr), GFPFLAG_NAMES)
    return error_string(b"(%pG?)", spec)


# --------------------------------------------------------------------------------------------
# %pO %pf

def device_node_string(ctx: _Ctx, ptr: int, spec: PrintfSpec, fmt: bytes) -> bytes:
    """%pOF: x86 kernels have no device tree (CONFIG_OF=n): the kernel prints "(%pOF?)"."""
    if fmt[0] != 0x46:
        return error_string(b"(%pO?)", spec)
    return error_string(b"(%pOF?)", spec)


def fwnode_string(ctx: _Ctx, ptr: int, spec: PrintfSpec, fmt: bytes) -> bytes:
    """%pfw: unsupported (see UNSUPPORTED); %pf and %pF were removed in 5.x: "%pf" is "(%pf?)"."""
    if fmt[0] != 0x77:
        return error_string(b"(%pf?)", spec)
    err = check_pointer(ptr, spec)
    if err is not None:
        return err
    return error_string(b"(efault)", spec)


# --------------------------------------------------------------------------------------------
# pointer(): the %p dispatcher

def pointer(ctx: _Ctx, fmt: bytes, ptr: int, spec: PrintfSpec) -> bytes:
    """A %p conversion; fmt starts at the character after the 'p'. Unknown letters (and %pF,
    %pK when kptr_restrict is 0, %pe of a non-error) print the hashed pointer as plain %p.
    The letters are lib/vsprintf.c pointer()'s switch, in POINTER_CONVERSIONS where the
    handler takes (ctx, ptr, spec, fmt)."""
    c = fmt[0]
    handler = POINTER_CONVERSIONS.get(c)
    if handler is not None:
        return handler(ctx, ptr, spec, fmt)
    if c == 0x62:                                           # 'b'
        if fmt[1] == 0x6C:
            return bitmap_list_string(ctx, ptr, spec, fmt)
        return bitmap_string(ctx, ptr, spec, fmt)
    if c == 0x4B:                                           # 'K'
        return restricted_pointer(ctx, ptr, spec)
    if c == 0x4F:                                           # 'O'
        return device_node_string(ctx, ptr, spec, fmt[1:])
    if c == 0x66:                                           # 'f'
        return fwnode_string(ctx, ptr, spec, fmt[1:])
    if c == 0x41:                                           # 'A': Rust only (CONFIG_RUST=n)
        ctx.warn_once("pointer_A", b"Please remove %pA from non-Rust code\n")
        return error_string(b"(%pA?)", spec)
    if c == 0x78:                                           # 'x'
        return pointer_string(ptr, spec)
    if c == 0x65:                                           # 'e'
        # %pe with a non-ERR_PTR gets treated as plain %p
        if not IS_ERR_VALUE(ptr):
            return default_pointer(ctx, ptr, spec)
        return err_ptr(ptr, spec)
    if c in (0x75, 0x6B):                                   # 'u' 'k'
        if fmt[1] == 0x73:
            return string(ctx, ptr, spec)
        return error_string(b"(einval)", spec)
    return default_pointer(ctx, ptr, spec)


# dereference_symbol_descriptor() is the identity on x86 (no function descriptors): S s B
POINTER_CONVERSIONS: dict[int, Callable[[_Ctx, int, PrintfSpec, bytes], bytes]] = {
    **dict.fromkeys(b"SsB", symbol_string), **dict.fromkeys(b"Rr", resource_string), ord("h"): hex_string,
    **dict.fromkeys(b"Mm", mac_address_string), **dict.fromkeys(b"Ii", ip_addr_string), ord("E"): escaped_string,
    ord("U"): uuid_string, ord("V"): va_format, ord("N"): netdev_bits, ord("4"): fourcc_string,
    ord("a"): address_val, ord("d"): dentry_name, ord("t"): time_and_date, ord("C"): clock,
    ord("D"): file_dentry_name, ord("g"): bdev_name, ord("G"): flags_string,
}


# --------------------------------------------------------------------------------------------
# format_decode() and vsnprintf()

def format_decode(fmt: bytes, pos: int, spec: PrintfSpec, ctx: _Ctx) -> int:
    """Decode one token at fmt[pos:]: a run of plain text, or one conversion (or its '*' width
    or precision). Returns the number of bytes read; the token is described in spec.

    Qualifiers: hh h l ll L z t (no j, q or Z). Conversions: c s p % o x X d i u. Anything else,
    %n included, or a format ending inside a conversion, is FORMAT_TYPE_INVALID (with a
    WARN_ONCE), and vsnprintf stops there.
    """
    start = pos
    # we finished early by reading the field width
    if spec.type == FORMAT_TYPE_WIDTH:
        if spec.field_width < 0:
            spec.field_width = _s24(-spec.field_width)
            spec.flags |= LEFT
        spec.type = FORMAT_TYPE_NONE
        return _decode_precision(fmt, pos, start, spec, ctx)
    # we finished early by reading the precision
    if spec.type == FORMAT_TYPE_PRECISION:
        spec.precision = max(spec.precision, 0)
        spec.type = FORMAT_TYPE_NONE
        return _decode_qualifier(fmt, pos, start, spec, ctx)

    # By default
    spec.type = FORMAT_TYPE_NONE
    pct = fmt.find(b"%", pos)
    nul = fmt.find(b"\0", pos)
    if pct < 0 or (0 <= nul < pct):
        pct = nul
    # Return the current non-format string
    if pct != start or not fmt[pct]:
        return pct - start
    pos = pct

    # Process flags
    spec.flags = 0
    while True:         # this also skips first '%'
        pos += 1
        c = fmt[pos]
        if c == 0x2D:
            spec.flags |= LEFT
        elif c == 0x2B:
            spec.flags |= PLUS
        elif c == 0x20:
            spec.flags |= SPACE
        elif c == 0x23:
            spec.flags |= SPECIAL
        elif c == 0x30:
            spec.flags |= ZEROPAD
        else:
            break

    # get field width
    spec.field_width = -1
    if isdigit(fmt[pos]):
        width, pos = skip_atoi(fmt, pos)
        spec.field_width = _s24(width)
    elif fmt[pos] == 0x2A:
        # it's the next argument
        spec.type = FORMAT_TYPE_WIDTH
        return pos + 1 - start
    return _decode_precision(fmt, pos, start, spec, ctx)


def _decode_precision(fmt: bytes, pos: int, start: int, spec: PrintfSpec, ctx: _Ctx) -> int:
    """format_decode() from its `precision:` label."""
    spec.precision = -1
    if fmt[pos] == 0x2E:
        pos += 1
        if isdigit(fmt[pos]):
            prec, pos = skip_atoi(fmt, pos)
            spec.precision = max(_s16(prec), 0)
        elif fmt[pos] == 0x2A:
            # it's the next argument
            spec.type = FORMAT_TYPE_PRECISION
            return pos + 1 - start
    return _decode_qualifier(fmt, pos, start, spec, ctx)


_CONVERSION_TYPE = {
    # qualifier -> (unsigned type, signed type)
    0x4C: (FORMAT_TYPE_LONG_LONG, FORMAT_TYPE_LONG_LONG),   # 'L' (also "ll")
    0x6C: (FORMAT_TYPE_ULONG, FORMAT_TYPE_LONG),            # 'l'
    0x7A: (FORMAT_TYPE_SIZE_T, FORMAT_TYPE_SIZE_T),         # 'z'
    0x74: (FORMAT_TYPE_PTRDIFF, FORMAT_TYPE_PTRDIFF),       # 't'
    0x48: (FORMAT_TYPE_UBYTE, FORMAT_TYPE_BYTE),            # 'H' ("hh")
    0x68: (FORMAT_TYPE_USHORT, FORMAT_TYPE_SHORT),          # 'h'
    0: (FORMAT_TYPE_UINT, FORMAT_TYPE_INT),
}


def _decode_qualifier(fmt: bytes, pos: int, start: int, spec: PrintfSpec, ctx: _Ctx) -> int:
    """format_decode() from its `qualifier:` label."""
    qualifier = 0
    c = fmt[pos]
    if c == 0x68 or (c | 0x20) == 0x6C or c == 0x7A or c == 0x74:
        qualifier = c
        pos += 1
        if qualifier == fmt[pos]:
            if qualifier == 0x6C:
                qualifier = 0x4C
                pos += 1
            elif qualifier == 0x68:
                qualifier = 0x48
                pos += 1

    # default base
    spec.base = 10
    c = fmt[pos]
    if c == 0x63:
        spec.type = FORMAT_TYPE_CHAR
        return pos + 1 - start
    if c == 0x73:
        spec.type = FORMAT_TYPE_STR
        return pos + 1 - start
    if c == 0x70:
        spec.type = FORMAT_TYPE_PTR
        return pos + 1 - start
    if c == 0x25:
        spec.type = FORMAT_TYPE_PERCENT_CHAR
        return pos + 1 - start
    if c == 0x6F:
        spec.base = 8
    elif c == 0x78:
        spec.flags |= SMALL
        spec.base = 16
    elif c == 0x58:
        spec.base = 16
    elif c == 0x64 or c == 0x69:
        spec.flags |= SIGN
    elif c == 0x75:
        pass
    else:
        # %n poses a greater security risk than utility: it is treated as any other invalid or
        # unsupported format specifier
        ctx.warn_once("format_decode",
                      b"Please remove unsupported %" + bytes((c,)) + b" in format string\n")
        spec.type = FORMAT_TYPE_INVALID
        return pos - start
    spec.type = _CONVERSION_TYPE[qualifier][spec.flags & SIGN]
    return pos + 1 - start


def set_field_width(spec: PrintfSpec, width: int, ctx: _Ctx) -> None:
    spec.field_width = _s24(width)
    if spec.field_width != width:
        ctx.warn_once("set_field_width", b"field width %d too large" % width)
        spec.field_width = max(-FIELD_WIDTH_MAX, min(width, FIELD_WIDTH_MAX))


def set_precision(spec: PrintfSpec, prec: int, ctx: _Ctx) -> None:
    spec.precision = _s16(prec)
    if spec.precision != prec:
        ctx.warn_once("set_precision", b"precision %d too large" % prec)
        spec.precision = max(0, min(prec, PRECISION_MAX))


def _fetch_number(t: int, v: int) -> int:
    """The va_arg of an integer conversion, converted to unsigned long long as C does."""
    if t == FORMAT_TYPE_UINT:
        return v & 0xFFFFFFFF
    if t == FORMAT_TYPE_INT:
        v &= 0xFFFFFFFF
        return v | 0xFFFFFFFF00000000 if v & 0x80000000 else v
    if t == FORMAT_TYPE_UBYTE:
        return v & 0xFF
    if t == FORMAT_TYPE_BYTE:
        v &= 0xFF
        return v | 0xFFFFFFFFFFFFFF00 if v & 0x80 else v
    if t == FORMAT_TYPE_USHORT:
        return v & 0xFFFF
    if t == FORMAT_TYPE_SHORT:
        v &= 0xFFFF
        return v | 0xFFFFFFFFFFFF0000 if v & 0x8000 else v
    return v                # long long, long, size_t, ptrdiff_t: all 64 bits


def _vsnprintf(ctx: _Ctx, fmt: bytes, args: Args) -> bytes:
    nul = fmt.find(b"\0")
    if nul >= 0:
        fmt = fmt[:nul]
    # NULs past the end, so that lookahead (fmt[1], fmt[2], ...) reads the terminator as in C
    fmt = fmt + b"\0\0\0\0"
    out: list[bytes] = []
    spec = PrintfSpec()
    pos = 0
    while fmt[pos]:
        old = pos
        pos += format_decode(fmt, pos, spec, ctx)
        t = spec.type
        if t == FORMAT_TYPE_NONE:
            out.append(fmt[old:pos])
        elif t == FORMAT_TYPE_WIDTH:
            set_field_width(spec, s32(args.next()), ctx)
        elif t == FORMAT_TYPE_PRECISION:
            set_precision(spec, s32(args.next()), ctx)
        elif t == FORMAT_TYPE_CHAR:
            c = bytes((args.next() & 0xFF,))
            # while (--spec.field_width > 0): field_width - 1 spaces, on the side LEFT says
            fw = _s24(spec.field_width - 1)
            pad = b" " * fw if fw > 0 else b""
            spec.field_width = min(fw, 0)
            out.append(c + pad if spec.flags & LEFT else pad + c)
        elif t == FORMAT_TYPE_STR:
            ptr = args.next()
            out.append(_guarded(ctx, spec, string, ptr, spec))
        elif t == FORMAT_TYPE_PTR:
            ptr = args.next()
            out.append(_guarded(ctx, spec, pointer, fmt[pos:], ptr, spec))
            while isalnum(fmt[pos]):
                pos += 1
        elif t == FORMAT_TYPE_PERCENT_CHAR:
            out.append(b"%")
        elif t == FORMAT_TYPE_INVALID:
            # there is no safe or sane way to continue parsing the format and fetching from
            # the va_list: the remaining specifiers and arguments would be out of sync
            break
        else:
            out.append(number(_fetch_number(t, args.next()), spec))
    return b"".join(out)


def _guarded(ctx: _Ctx, spec: PrintfSpec, fn: Callable[..., bytes], *args: object) -> bytes:
    """fn(ctx, *args), with "(efault)" for a pointer into unmapped memory if so configured."""
    try:
        return fn(ctx, *args)
    except MemoryFault:
        if not ctx.fault_as_efault:
            raise
        return error_string(b"(efault)", spec)


def vsnprintf(fmt: bytes, args: Args, mem: Memory, symbols: Symbols | None = None, *,
              hash_key: bytes | None = BOOT_HASH_KEY, kptr_restrict: int = 0,
              no_hash_pointers: bool = False, cap_syslog: bool = True, in_irq: bool = False,
              warn: WarnHook | None = None, fault_as_efault: bool = True,
              structs: Structs | None = None) -> bytes:
    """The kernel's vsnprintf(): the whole formatted output, untruncated, without a NUL.

    fmt: the format as read from memory (anything from a NUL on is ignored).
    args: the arguments after the format (registers/stack, a va_list, or a list).
    mem: emulated memory, for %s and the %p extensions that dereference.
    symbols: kallsyms, for %pS and friends; None prints their addresses as 0x<hex>.
    hash_key: the 16-byte siphash key %p hashes with (ptr_key); None prints
        "(____ptrval____)" as before the RNG is ready.
    kptr_restrict, cap_syslog, in_irq: the sysctl and the context %pK consults.
    no_hash_pointers: the boot parameter; %p prints raw addresses.
    warn: told of each WARN_ONCE the kernel would print (site, message).
    fault_as_efault: print "(efault)" for a pointer into unmapped memory (the real kernel
        oopses there); False lets MemoryFault propagate.
    structs: the struct layouts %pd, %pD and %pg read (the profile's); None: Debian 6.1's.

    Apply snprintf_result() / scnprintf_result() for a sized buffer.
    """
    ctx = _Ctx(mem, symbols, hash_key, kptr_restrict, no_hash_pointers, cap_syslog, in_irq,
               warn, fault_as_efault, structs)
    return _vsnprintf(ctx, fmt, args)
