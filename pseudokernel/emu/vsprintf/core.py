"""vsnprintf(): format_decode()'s loop over the format with the integer, character and %s
conversions, and pointer(), the %p dispatcher, with the pointer conversions that are its own
(%p %px %pK %pe, and %pV).

One module because of a recursion: pointer() calls the extensions of buffers.py, net.py and
objects.py, and %pV (va_format) formats a nested format with this same loop. The callers'
buffer-size rules (snprintf_result, scnprintf_result) are vsnprintf()'s contract, so here too.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from functools import lru_cache

from ...bits import s32
from ...profile.structs import Structs
from ..ctype import isalnum, isdigit
from ..errname import errname
from ..kallsyms import Symbols
from ..siphash import siphash_1u64
from .buffers import (
    address_val,
    bitmap_list_string,
    bitmap_string,
    escaped_string,
    fourcc_string,
    hex_string,
    netdev_bits,
    resource_string,
    symbol_string,
)
from .net import ip_addr_string, mac_address_string, uuid_string
from .objects import (
    bdev_name,
    clock,
    dentry_name,
    device_node_string,
    file_dentry_name,
    flags_string,
    fwnode_string,
    time_and_date,
)
from .printf_spec import (
    FIELD_WIDTH_MAX,
    FORMAT_TYPE_BYTE,
    FORMAT_TYPE_CHAR,
    FORMAT_TYPE_INT,
    FORMAT_TYPE_INVALID,
    FORMAT_TYPE_LONG,
    FORMAT_TYPE_LONG_LONG,
    FORMAT_TYPE_NONE,
    FORMAT_TYPE_PERCENT_CHAR,
    FORMAT_TYPE_PRECISION,
    FORMAT_TYPE_PTR,
    FORMAT_TYPE_PTRDIFF,
    FORMAT_TYPE_SHORT,
    FORMAT_TYPE_SIZE_T,
    FORMAT_TYPE_STR,
    FORMAT_TYPE_UBYTE,
    FORMAT_TYPE_UINT,
    FORMAT_TYPE_ULONG,
    FORMAT_TYPE_USHORT,
    FORMAT_TYPE_WIDTH,
    IS_ERR_VALUE,
    LEFT,
    PLUS,
    PRECISION_MAX,
    SIGN,
    SMALL,
    SPACE,
    SPECIAL,
    ZEROPAD,
    PrintfSpec,
    _Ctx,
    _s16,
    _s24,
    check_pointer,
    error_string,
    number,
    skip_atoi,
    string,
    string_nocheck,
)
from .va_list import Args, Memory, MemoryFault, VaListArgs

WarnHook = Callable[[str, bytes], None]
"""Called for each WARN_ONCE the kernel's vsnprintf would hit: (site, message). The site names
the WARN_ONCE (one per call site, so the caller can print each once per boot)."""

# A per-"boot" siphash key, as fill_ptr_key_workfn() draws ptr_key from the RNG once per boot.
BOOT_HASH_KEY: bytes = os.urandom(16)


# --------------------------------------------------------------------------------------------
# ptr_to_id() hashes %p pointers with siphash_1u64 (lib/siphash.c)

@lru_cache(maxsize=4096)
def _ptr_to_hashval(ptr: int, key: bytes) -> int:
    """__ptr_to_hashval() on 64-bit: siphash_1u64 of the pointer, low 32 bits kept."""
    return siphash_1u64(ptr, key) & 0xFFFFFFFF


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
# Plain pointers: %p %px %pK, and %pe

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
# %pV

def va_format(ctx: _Ctx, ptr: int, spec: PrintfSpec, fmt: bytes) -> bytes:
    """%pV: struct va_format { const char *fmt; va_list *va; } formatted recursively, from a
    copy of the va_list (va_copy), ignoring this conversion's width and precision."""
    err = check_pointer(ptr, spec)
    if err is not None:
        return err
    nested_fmt = ctx.cstr(ctx.u64(ptr))
    args = VaListArgs(ctx.mem, ctx.u64(ptr + 8))
    return _vsnprintf(ctx, nested_fmt, args)


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
