"""lib/: bitmaps and find_bit, more string functions, sorting helpers, checksums, hex and
parsing helpers modules call at init."""

from __future__ import annotations

import binascii
import zlib

from ...bits import MASK64
from ..ctype import CTYPE
from ..vsprintf import VaListArgs
from . import KernelApi, VarArgs, kapi, kdata


def _bitmap(k: KernelApi, addr: int, nbits: int) -> int:
    nbits = min(nbits, 1 << 20)
    n = (nbits + 63) // 64
    return int.from_bytes(k.m.read(addr, 8 * n), "little") if n else 0


def _find(k: KernelApi, addr: int, size: int, offset: int, zero: bool = False, other: int = 0) -> int:
    """find_next_bit() & co: the first matching bit at or after offset, or size."""
    if offset >= size:
        return size
    bits = _bitmap(k, addr, size)
    if other:
        bits &= _bitmap(k, other, size)
    if zero:
        bits = ~bits & ((1 << size) - 1)
    bits >>= offset
    if not bits:
        return size
    return min(offset + ((bits & -bits).bit_length() - 1), size)


@kapi("_find_next_bit")
def _find_next_bit(k: KernelApi, addr: int, size: int, offset: int) -> int:
    return _find(k, addr, size, offset)


@kapi("_find_next_zero_bit")
def _find_next_zero_bit(k: KernelApi, addr: int, size: int, offset: int) -> int:
    return _find(k, addr, size, offset, zero=True)


@kapi("_find_next_and_bit")
def _find_next_and_bit(k: KernelApi, addr1: int, addr2: int, size: int, offset: int) -> int:
    return _find(k, addr1, size, offset, other=addr2)


@kapi("_find_first_bit")
def _find_first_bit(k: KernelApi, addr: int, size: int) -> int:
    return _find(k, addr, size, 0)


@kapi("_find_first_zero_bit")
def _find_first_zero_bit(k: KernelApi, addr: int, size: int) -> int:
    return _find(k, addr, size, 0, zero=True)


@kapi("_find_last_bit")
def _find_last_bit(k: KernelApi, addr: int, size: int) -> int:
    bits = _bitmap(k, addr, size) & ((1 << size) - 1)
    return bits.bit_length() - 1 if bits else size


@kapi("__bitmap_weight")
def __bitmap_weight(k: KernelApi, addr: int, nbits: int) -> int:
    return bin(_bitmap(k, addr, nbits) & ((1 << nbits) - 1)).count("1")


@kapi("__sw_hweight32")
def __sw_hweight32(k: KernelApi, w: int) -> int:
    return bin(w & 0xFFFFFFFF).count("1")


@kapi("__sw_hweight64")
def __sw_hweight64(k: KernelApi, w: int) -> int:
    return bin(w & MASK64).count("1")


@kapi("__sw_hweight16")
def __sw_hweight16(k: KernelApi, w: int) -> int:
    return bin(w & 0xFFFF).count("1")


@kapi("__sw_hweight8")
def __sw_hweight8(k: KernelApi, w: int) -> int:
    return bin(w & 0xFF).count("1")


@kapi("bitmap_zalloc", "bitmap_alloc")
def bitmap_zalloc(k: KernelApi, nbits: int, flags: int) -> int:
    return k.kmalloc(max((nbits & 0xFFFFFFFF) + 63, 64) // 64 * 8, flags)


@kapi("bitmap_free")
def bitmap_free(k: KernelApi, p: int) -> None:
    k.kfree(p)


# -- strings -------------------------------------------------------------------------------------

@kapi("strsep")
def strsep(k: KernelApi, s: int, ct: int) -> int:
    sbegin = k.m.read_u64(s)
    if not sbegin:
        return 0
    text = k.cstr(sbegin)
    delims = set(k.cstr(ct))
    for i, c in enumerate(text):
        if c in delims:
            k.m.write_u8(sbegin + i, 0)
            k.m.write_u64(s, sbegin + i + 1)
            return sbegin
    k.m.write_u64(s, 0)
    return sbegin


@kapi("strlcat")
def strlcat(k: KernelApi, dest: int, src: int, count: int) -> int:
    d = k.cstr(dest, count)
    sv = k.cstr(src)
    total = len(d) + len(sv)
    if len(d) >= count:
        return total
    room = count - len(d) - 1
    k.m.write(dest + len(d), sv[:room] + b"\0")
    return total


@kapi("strncat")
def strncat(k: KernelApi, dest: int, src: int, count: int) -> int:
    d = k.cstr(dest)
    k.m.write(dest + len(d), k.cstr(src, count) + b"\0")
    return dest


@kapi("strnchr")
def strnchr(k: KernelApi, s: int, count: int, c: int) -> int:
    data = k.cstr(s, count)
    i = data.find(bytes([c & 0xFF]))
    return s + i if i >= 0 else 0


@kapi("strchrnul")
def strchrnul(k: KernelApi, s: int, c: int) -> int:
    data = k.cstr(s)
    i = data.find(bytes([c & 0xFF]))
    return s + (i if i >= 0 else len(data))


@kapi("strpbrk")
def strpbrk(k: KernelApi, cs: int, ct: int) -> int:
    data, accept = k.cstr(cs), set(k.cstr(ct))
    for i, c in enumerate(data):
        if c in accept:
            return cs + i
    return 0


@kapi("strspn")
def strspn(k: KernelApi, s: int, accept: int) -> int:
    data, acc = k.cstr(s), set(k.cstr(accept))
    n = 0
    while n < len(data) and data[n] in acc:
        n += 1
    return n


@kapi("strcspn")
def strcspn(k: KernelApi, s: int, reject: int) -> int:
    data, rej = k.cstr(s), set(k.cstr(reject))
    n = 0
    while n < len(data) and data[n] not in rej:
        n += 1
    return n


@kapi("strcasecmp")
def strcasecmp(k: KernelApi, a: int, b: int) -> int:
    x, y = k.cstr(a).lower(), k.cstr(b).lower()
    return 0 if x == y else (-1 & MASK64 if x < y else 1)


@kapi("strncasecmp", "strnicmp")
def strncasecmp(k: KernelApi, a: int, b: int, n: int) -> int:
    x, y = k.cstr(a, n).lower(), k.cstr(b, n).lower()
    return 0 if x == y else (-1 & MASK64 if x < y else 1)


@kapi("strnstr")
def strnstr(k: KernelApi, s1: int, s2: int, length: int) -> int:
    i = k.cstr(s1, length).find(k.cstr(s2))
    return s1 + i if i >= 0 else 0


@kapi("skip_spaces")
def skip_spaces(k: KernelApi, s: int) -> int:
    data = k.cstr(s)
    return s + (len(data) - len(data.lstrip(b" \t\n\v\f\r")))


@kapi("strim")
def strim(k: KernelApi, s: int) -> int:
    data = k.cstr(s)
    end = len(data.rstrip(b" \t\n\v\f\r"))
    k.m.write_u8(s + end, 0) if end < len(data) else None
    return skip_spaces(k, s)


@kapi("memchr")
def memchr(k: KernelApi, s: int, c: int, n: int) -> int:
    i = k.m.read(s, n).find(bytes([c & 0xFF])) if n else -1
    return s + i if i >= 0 else 0


@kapi("memchr_inv")
def memchr_inv(k: KernelApi, s: int, c: int, n: int) -> int:
    data = k.m.read(s, n) if n else b""
    for i, b in enumerate(data):
        if b != c & 0xFF:
            return s + i
    return 0


@kapi("memscan")
def memscan(k: KernelApi, s: int, c: int, n: int) -> int:
    i = k.m.read(s, n).find(bytes([c & 0xFF])) if n else -1
    return s + (i if i >= 0 else n)


@kapi("match_string", "__sysfs_match_string")
def match_string(k: KernelApi, array: int, n: int, string: int) -> int:
    target = k.cstr(string)
    n = n if n < (1 << 31) else 1 << 16
    for i in range(n):
        p = k.m.read_u64(array + 8 * i)
        if not p:
            break
        item = k.cstr(p)
        if (item == target) if k.stub and k.stub.name == "match_string" else _sysfs_streq(item, target):
            return i
    return -22 & MASK64


def _sysfs_streq(a: bytes, b: bytes) -> bool:
    return a.rstrip(b"\n") == b.rstrip(b"\n")


@kapi("sysfs_streq")
def sysfs_streq(k: KernelApi, a: int, b: int) -> int:
    return int(_sysfs_streq(k.cstr(a), k.cstr(b)))


@kapi("kstrdup_quotable", "kstrdup_quotable_cmdline")
def kstrdup_quotable(k: KernelApi, src: int, gfp: int) -> int:
    data = k.cstr(src) + b"\0"
    p = k.kmalloc(len(data), gfp)
    k.m.write(p, data)
    return p


@kapi("sscanf")
def sscanf(k: KernelApi, buf: int, fmt: int, args: VarArgs) -> int:
    from .scanf import vsscanf

    return vsscanf(k, k.cstr(buf), k.cstr(fmt), args)


@kapi("vsscanf")
def _vsscanf(k: KernelApi, buf: int, fmt: int, va: int) -> int:
    from .scanf import vsscanf

    return vsscanf(k, k.cstr(buf), k.cstr(fmt), VaListArgs(k.m, va))


@kapi("simple_strtoul", "simple_strtoull")
def simple_strtoul(k: KernelApi, cp: int, endp: int, base: int) -> int:
    return _strto(k, cp, endp, base, False)


@kapi("simple_strtol", "simple_strtoll")
def simple_strtol(k: KernelApi, cp: int, endp: int, base: int) -> int:
    return _strto(k, cp, endp, base, True)


def _strto(k: KernelApi, cp: int, endp: int, base: int, signed: bool) -> int:
    s = k.cstr(cp, 64)
    i, neg = 0, False
    if signed and s[:1] == b"-":
        neg, i = True, 1
    base &= 0xFFFFFFFF
    if base == 0:
        if s[i:i + 2].lower() == b"0x" and len(s) > i + 2 and chr(s[i + 2]) in "0123456789abcdefABCDEF":
            base, i = 16, i + 2
        elif s[i:i + 1] == b"0":
            base = 8
        else:
            base = 10
    elif base == 16 and s[i:i + 2].lower() == b"0x":
        i += 2
    v = 0
    while i < len(s):
        c = chr(s[i]).lower()
        d = int(c, 36) if c.isalnum() else 99
        if d >= base:
            break
        v = (v * base + d) & MASK64
        i += 1
    if endp:
        k.m.write_u64(endp, cp + i)
    return (-v if neg else v) & MASK64


@kapi("hex_to_bin")
def hex_to_bin(k: KernelApi, ch: int) -> int:
    c = chr(ch & 0xFF).lower()
    return int(c, 16) if c in "0123456789abcdef" else 0xFFFFFFFF


@kapi("hex2bin")
def hex2bin(k: KernelApi, dst: int, src: int, count: int) -> int:
    try:
        data = binascii.unhexlify(k.m.read(src, 2 * count))
    except (binascii.Error, ValueError):
        return -22 & MASK64
    k.m.write(dst, data)
    return 0


@kapi("bin2hex")
def bin2hex(k: KernelApi, dst: int, src: int, count: int) -> int:
    k.m.write(dst, k.m.read(src, count).hex().encode())
    return dst + 2 * count


@kapi("crc32_le", "crc32_le_base")
def crc32_le(k: KernelApi, crc: int, p: int, length: int) -> int:
    data = k.m.read(p, length) if length else b""
    # the kernel's crc32_le has no pre/post inversion
    return (zlib.crc32(data, (crc ^ 0xFFFFFFFF) & 0xFFFFFFFF) ^ 0xFFFFFFFF) & 0xFFFFFFFF


@kapi("sort")
def sort(k: KernelApi, base: int, num: int, size: int, cmp_func: int, swap_func: int) -> None:
    """lib/sort.c: the module's own compare; a stable merge of Python's sort is fine."""
    import functools

    if num < 2:
        return
    items = [k.m.read(base + i * size, size) for i in range(num)]
    a = k.m.kmalloc(size, "", 0, kind="sort")
    b = k.m.kmalloc(size, "", 0, kind="sort")

    def cmp(x: bytes, y: bytes) -> int:
        k.m.write(a, x)
        k.m.write(b, y)
        r = k.m.call(cmp_func, a, b) & 0xFFFFFFFF
        return r - (1 << 32) if r >> 31 else r

    items.sort(key=functools.cmp_to_key(cmp))
    k.m.slab.free(a)
    k.m.slab.free(b)
    k.m.write(base, b"".join(items))


# -- lib/ctype.c: the table isalpha() & co index (emu/ctype.py) -------------------------------------

@kdata("_ctype", size=256)
def _ctype(k: KernelApi, addr: int) -> None:
    k.m.write(addr, CTYPE)


@kapi("dev_valid_name")
def dev_valid_name(k: KernelApi, name: int) -> int:
    """net/core/dev.c dev_valid_name()."""
    s = k.cstr(name, 64)
    if not s or len(s) >= 16 or s in (b".", b".."):
        return 0
    return int(not any(c in b"/: \t\n\r\v\f" for c in s))


@kapi("zlib_inflate_workspacesize")
def zlib_inflate_workspacesize(k: KernelApi) -> int:
    return 0xA4D0  # sizeof(struct inflate_workspace): the inflate state and a 32 KiB window


@kapi("zlib_deflate_workspacesize")
def zlib_deflate_workspacesize(k: KernelApi, window_bits: int, mem_level: int) -> int:
    wb = window_bits & 0xFFFFFFFF
    wb = 15 if wb >= 1 << 31 or wb == 0 else wb
    ml = mem_level & 0xFFFFFFFF or 8
    return 256 + (1 << wb) * 4 + (1 << (ml + 7)) * 4 + (1 << (ml + 6)) * 4
