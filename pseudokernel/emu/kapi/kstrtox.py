"""lib/kstrtox.c: string to integer conversion, used by modules and by the parameter ops."""

from __future__ import annotations

from errno import EFAULT, EINVAL, ERANGE

from ..vsprintf import MemoryFault
from . import KernelApi, kapi
from .usercopy import user_read

ULLONG_MAX = (1 << 64) - 1


def _parse_integer_fixup_radix(s: bytes, base: int) -> tuple[bytes, int]:
    if base == 0:
        if s[:1] == b"0":
            base = 16 if s[1:2].lower() == b"x" and s[2:3].isalnum() and s[2:3].lower() in b"0123456789abcdef" else 8
        else:
            base = 10
    if base == 16 and s[:1] == b"0" and s[1:2].lower() == b"x":
        s = s[2:]
    return s, base


def _parse_integer(s: bytes, base: int) -> tuple[int, int, bool]:
    """(value, characters consumed, overflowed)."""
    res = 0
    n = 0
    overflow = False
    for c in s:
        lc = c | 0x20
        if 0x30 <= c <= 0x39:
            val = c - 0x30
        elif 0x61 <= lc <= 0x66:
            val = lc - 0x61 + 10
        else:
            break
        if val >= base:
            break
        if res & (ULLONG_MAX << 60) & ULLONG_MAX and res > (ULLONG_MAX - val) // base:
            overflow = True
        res = (res * base + val) & ULLONG_MAX
        n += 1
    return res, n, overflow


def _kstrtoull(s: bytes, base: int) -> tuple[int, int]:
    s, base = _parse_integer_fixup_radix(s, base)
    res, n, overflow = _parse_integer(s, base)
    if overflow:
        return -ERANGE, 0
    if n == 0:
        return -EINVAL, 0
    s = s[n:]
    if s[:1] == b"\n":
        s = s[1:]
    if s:
        return -EINVAL, 0
    return 0, res


def kstrtoull(s: bytes, base: int = 0) -> tuple[int, int]:
    """(0, value) or (-errno, 0): the string must be a whole number, one newline allowed."""
    if s[:1] == b"+":
        s = s[1:]
    return _kstrtoull(s, base)


def kstrtoll(s: bytes, base: int = 0) -> tuple[int, int]:
    if s[:1] == b"-":
        err, tmp = _kstrtoull(s[1:], base)
        if err:
            return err, 0
        if tmp > 1 << 63:
            return -ERANGE, 0
        return 0, -tmp
    err, tmp = kstrtoull(s, base)
    if err:
        return err, 0
    if tmp >= 1 << 63:
        return -ERANGE, 0
    return 0, tmp


def kstrto_unsigned(s: bytes, base: int, bits: int) -> tuple[int, int]:
    err, v = kstrtoull(s, base)
    if err:
        return err, 0
    if v >> bits:
        return -ERANGE, 0
    return 0, v


def kstrto_signed(s: bytes, base: int, bits: int) -> tuple[int, int]:
    err, v = kstrtoll(s, base)
    if err:
        return err, 0
    if not -(1 << (bits - 1)) <= v < 1 << (bits - 1):
        return -ERANGE, 0
    return 0, v


def kstrtobool(s: bytes | None) -> tuple[int, bool]:
    if s is None:
        return -EINVAL, False
    c = s[:1]
    if c and c in b"yYtT1":
        return 0, True
    if c and c in b"nNfF0":
        return 0, False
    if c and c in b"oO":
        d = s[1:2]
        if d and d in b"nN":
            return 0, True
        if d and d in b"fF":
            return 0, False
    return -EINVAL, False


def _store(k: KernelApi, s: int, base: int, res: int, bits: int, signed: bool, text: bytes | None = None) -> int:
    text = k.cstr(s) if text is None else text
    err, v = (kstrto_signed if signed else kstrto_unsigned)(text, base, bits)
    if err:
        return err & 0xFFFFFFFF
    k.m.write(res, (v & ((1 << bits) - 1)).to_bytes(bits // 8, "little"))
    return 0


for _name, _bits, _signed in (
    ("kstrtoull", 64, False), ("kstrtoll", 64, True), ("_kstrtoul", 64, False), ("_kstrtol", 64, True),
    ("kstrtouint", 32, False), ("kstrtoint", 32, True), ("kstrtou16", 16, False), ("kstrtos16", 16, True),
    ("kstrtou8", 8, False), ("kstrtos8", 8, True),
):
    def _make(bits: int, signed: bool):
        def handler(k: KernelApi, s: int, base: int, res: int) -> int:
            return _store(k, s, base & 0xFFFFFFFF, res, bits, signed)
        return handler

    kapi(_name)(_make(_bits, _signed))

    def _make_from_user(bits: int, signed: bool):
        def handler(k: KernelApi, s: int, count: int, base: int, res: int) -> int:
            """kstrto*_from_user(): at most sign, digits, newline of the user's bytes."""
            text = _user_bytes(k, s, min(count, bits + 2))
            if text is None:
                return -EFAULT & 0xFFFFFFFF
            return _store(k, 0, base & 0xFFFFFFFF, res, bits, signed, text.split(b"\0", 1)[0])
        return handler

    kapi(_name.lstrip("_") + "_from_user")(_make_from_user(_bits, _signed))


def _user_bytes(k: KernelApi, s: int, count: int) -> bytes | None:
    """copy_from_user() into the function's own buffer: None for -EFAULT."""
    try:
        return user_read(k, s, count)
    except MemoryFault:
        return None


@kapi("kstrtobool")
def kstrtobool_handler(k: KernelApi, s: int, res: int) -> int:
    err, v = kstrtobool(k.cstr(s) if s else None)
    if err:
        return err & 0xFFFFFFFF
    k.m.write_u8(res, int(v))
    return 0


@kapi("kstrtobool_from_user")
def kstrtobool_from_user(k: KernelApi, s: int, count: int, res: int) -> int:
    text = _user_bytes(k, s, min(count, 3))
    if text is None:
        return -EFAULT & 0xFFFFFFFF
    err, v = kstrtobool(text.split(b"\0", 1)[0])
    if err:
        return err & 0xFFFFFFFF
    k.m.write_u8(res, int(v))
    return 0
