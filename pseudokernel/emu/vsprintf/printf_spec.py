"""struct printf_spec and what every conversion formats with: number(), string(),
error_string(), check_pointer(), and _Ctx, what one vsnprintf() call knows besides the format.

Apart from the format loop (core.py) and the %p extensions (buffers.py, net.py, objects.py) so
that the extensions import these without importing the loop that dispatches to them.
"""

from __future__ import annotations

from ...bits import PAGE_SIZE, s32
from ...profile.structs import Structs
from ..ctype import isdigit
from .va_list import U64, MemoryFault

DEBIAN_61_STRUCTS = Structs(None)  # profile/layouts.py's numbers, for a caller without a profile

MAX_ERRNO = 4095


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
