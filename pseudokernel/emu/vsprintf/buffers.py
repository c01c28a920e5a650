"""The %p extensions that print what the pointer points at as numbers or bytes: symbols
(%pS %ps %pB, through kallsyms), struct resource (%pR %pr), raw buffers in hex (%ph) or escaped
(%pE), bitmaps (%pb %pbl), phys_addr_t and dma_addr_t (%pa), netdev features (%pNF) and fourcc
codes (%p4cc).

Apart from the network addresses (net.py) and the kernel objects (objects.py): these read only
the bytes at the pointer, in a layout of their own that no kernel build changes.
"""

from __future__ import annotations

from ..ctype import isascii, isprint
from ..kallsyms import __sprint_symbol
from ..string_helpers import (
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
from .printf_spec import (
    SMALL,
    SPECIAL,
    ZEROPAD,
    PrintfSpec,
    _Ctx,
    check_pointer,
    default_dec_spec,
    default_flag_spec,
    error_string,
    number,
    special_hex_number,
    string_nocheck,
)

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
# Raw bytes: %ph %pb %pbl

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
# %pN, %p4cc, %pa

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
