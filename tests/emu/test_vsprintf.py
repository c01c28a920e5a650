"""Tests for pseudokernel.emu.vsprintf, the port of the kernel's lib/vsprintf.c (6.1, x86_64).

Expected outputs come from the kernel source: the kernel's own lib/test_printf.c cases, and cases
derived by reading lib/vsprintf.c (the function and the rule are named where the kernel differs
from ISO C). Two cross-checks run real C:
- test_agrees_with_glibc: the conversions where the kernel and glibc agree, against glibc's
  snprintf (needs gcc);
- test_differential_against_kernel_source: the kernel's own lib/vsprintf.c, compiled as a
  user-space program with a small shim, against this port on thousands of generated formats,
  %p extensions included (needs gcc and the kernel's lib/vsprintf.c, which scripts/install --test caches).
"""

from __future__ import annotations

import os
import random
import re
import shutil
import struct
import subprocess
from pathlib import Path

import pytest

from pseudokernel.emu.errname import errname
from pseudokernel.emu.mmflags import GFPFLAG_NAMES, PAGEFLAG_NAMES, VMAFLAG_NAMES
from pseudokernel.emu.siphash import siphash, siphash_1u64
from pseudokernel.emu.vsprintf import (
    BOOT_HASH_KEY,
    UNSUPPORTED,
    ListArgs,
    MemoryFault,
    VaListArgs,
    scnprintf_result,
    snprintf_result,
    vsnprintf,
)
from pseudokernel.log import printk_get_level, printk_skip_headers, printk_skip_level

U64 = (1 << 64) - 1
KEY = bytes(range(16))      # test_key_siphash of lib/test_siphash.c, as the %p key


def ERR_PTR(err: int) -> int:
    return err & U64


class FakeMemory:
    """Memory made of a few byte regions; anything else is unmapped."""

    def __init__(self) -> None:
        self.regions: dict[int, bytes] = {}

    def add(self, addr: int, data: bytes) -> int:
        self.regions[addr] = bytes(data)
        return addr

    def read(self, addr: int, size: int) -> bytes:
        for base, data in self.regions.items():
            if base <= addr and addr + size <= base + len(data):
                return data[addr - base:addr - base + size]
        raise MemoryFault(hex(addr))


class FakeSymbols:
    def __init__(self, table: list[tuple[int, int, str, str | None]]) -> None:
        self.table = table

    def lookup(self, addr: int) -> tuple[str, int, int, str | None] | None:
        for start, size, name, mod in self.table:
            if start <= addr < start + size:
                return name, addr - start, size, mod
        return None


# -- the emulated memory the tests point into -------------------------------------------------

MEM = FakeMemory()
_next_free = [0xFFFF888000100000]       # the direct map, where the kernel's heap is


def _place(data: bytes) -> int:
    """Put data at the next free page(s) of MEM; its region ends where data ends."""
    addr = _next_free[0]
    MEM.add(addr, data)
    _next_free[0] += (len(data) + 0xFFF) & ~0xFFF or 0x1000
    return addr


def cstr(s: bytes) -> int:
    return _place(s + b"\0")


HELLO = cstr(b"hello")
ABCDEF = cstr(b"abcdef")
S123456 = cstr(b"123456")
UNTERMINATED = _place(b"ab")            # no NUL: the region ends after "ab"
COFFEE = _place(bytes([0xC0, 0xFF, 0xEE]))
SEQ = _place(bytes(range(256)))
MAC = _place(bytes([0x2D, 0x48, 0xD6, 0xFC, 0x7A, 0x05]))
IP4 = _place(bytes([127, 0, 0, 1]))
SIN = _place(struct.pack("<H", 2) + struct.pack(">H", 12345) + bytes([1, 2, 3, 4]) + bytes(8))
SIN_LO = _place(struct.pack("<H", 2) + struct.pack(">H", 12345) + bytes([127, 0, 0, 1]) + bytes(8))
IP6 = _place(bytes.fromhex("20010db8000000000000ff0000420329"))
IP6_V4MAPPED = _place(bytes.fromhex("00000000000000000000ffffc0a80001"))
IP6_ISATAP = _place(bytes.fromhex("fe8000000000000002005efe0a000001"))
IP6_LOOPBACK = _place(bytes.fromhex("00000000000000000000000000000001"))
IP6_ONEZERO = _place(bytes.fromhex("20010db8000000010001000100010001"))
SIN6 = _place(struct.pack("<H", 10) + struct.pack(">H", 8080) + struct.pack(">I", 0xF2345678)
              + bytes.fromhex("20010db8000000000000ff0000420329") + struct.pack("<I", 3))
SUNIX = _place(struct.pack("<H", 1) + bytes(14))
PHYS = _place(struct.pack("<Q", 0xFEE00000))
FEATURES = _place(struct.pack("<Q", 0x1A0003))
FOURCC = [_place(struct.pack("<I", v)) for v in (0x3231564E, 0xB231564E, 0x10111213, 0x20303159)]
RTC = _place(struct.pack("<9i", 43, 35, 5, 26, 10, 118, 0, 0, 0))      # 2018-11-26T05:35:43
T64 = _place(struct.pack("<q", 1546615943))                             # 2019-01-04T15:32:23
T64_LEAP = _place(struct.pack("<q", 951782400))                         # 2000-02-29
T64_NEG = _place(struct.pack("<q", -1))
T64_BC = _place(struct.pack("<q", -186406790400))                       # year -3937
GFP = {name: _place(struct.pack("<I", v)) for name, v in
       (("TRANSHUGE", 0x1C24CA), ("ATOMIC_DMA", 0xA21), ("ATOMIC", 0x200),
        ("HIGH_BITS", 0xF8000000), ("ATOMIC_HIGH", 0xF8000200))}
VMA = _place(struct.pack("<Q", 0x1 | 0x4 | 0x10 | 0x20 | 0x40))


def _resource(start: int, end: int, flags: int) -> int:
    return _place(struct.pack("<QQQQ", start, end, 0, flags))


RES_MEM = _resource(0x1000, 0x1FFF, 0x200 | 0x2000 | 0x100000)
RES_IO = _resource(0x3F8, 0x3FF, 0x100)
RES_IRQ = _resource(5, 5, 0x400)
RES_BUS = _resource(0, 0xFF, 0x1000 | 0x200000)
RES_UNSET = _resource(0, 0xFFF, 0x200 | 0x20000000)
RES_NONE = _resource(0, 0, 0)
BITS20_ZERO = _place(struct.pack("<Q", 0))
BITS20_PRIMES = _place(struct.pack("<Q", sum(1 << p for p in (2, 3, 5, 7, 11, 13, 17, 19))))
BITS20_FULL = _place(struct.pack("<Q", (1 << 20) - 1))
BITS65 = _place(struct.pack("<QQ", U64, 0x5))


def _dentries() -> dict[str, int]:
    """lib/test_printf.c's test_dentry[]: foo (a root), bravo under it, alfa, romeo."""
    base = _place(bytes(0x400))
    names = {n: base + 0x300 + 16 * i for i, n in enumerate(("foo", "bravo", "alfa", "romeo"))}
    buf = bytearray(0x400)
    parents = {"foo": "foo", "bravo": "foo", "alfa": "bravo", "romeo": "alfa"}
    offs = {"foo": 0, "bravo": 0x80, "alfa": 0x100, "romeo": 0x180}
    for n, off in offs.items():
        struct.pack_into("<Q", buf, off + 24, base + offs[parents[n]])     # d_parent
        struct.pack_into("<Q", buf, off + 40, names[n])                    # d_name.name
        buf[names[n] - base:names[n] - base + len(n)] = n.encode()
    struct.pack_into("<Q", buf, 0x200 + 40, names["alfa"])                  # orphan: d_parent NULL
    struct.pack_into("<Q", buf, 0x280 + 24, base + 0x180)                   # struct file: f_path
    MEM.add(base, buf)
    out = {n: base + off for n, off in offs.items()}
    out["orphan"] = base + 0x200
    out["file"] = base + 0x280
    return out


DENTRY = _dentries()


def _bdevs() -> dict[str, int]:
    disks = _place(bytes(12) + b"sda".ljust(32, b"\0") + bytes(12) + b"nvme0n1".ljust(32, b"\0"))
    out = {}
    for name, disk, partno in (("sda", disks, 0), ("sda3", disks, 3), ("nvme0n1p2", disks + 44, 2)):
        out[name] = _place(bytes(848) + bytes([partno]) + bytes(7) + struct.pack("<Q", disk))
    return out


BDEV = _bdevs()
CLK_NAME = cstr(b"osc32k")
CLK_CORE = _place(struct.pack("<Q", CLK_NAME))
CLK = _place(struct.pack("<Q", CLK_CORE))

SYMBOLS = FakeSymbols([
    (0xFFFFFFFF810010A0, 0x220, "do_one_initcall", None),
    (0xFFFFFFFFC0000000, 0x40, "hello_init", "hello"),
    (0xFFFFFFFFC0000040, 0x1, "tiny", "hello"),
])


def kprintf(fmt: bytes | str, *args: int, mem: FakeMemory = MEM, **kw) -> bytes:
    if isinstance(fmt, str):
        fmt = fmt.encode("latin-1")
    kw.setdefault("hash_key", KEY)
    kw.setdefault("symbols", SYMBOLS)
    symbols = kw.pop("symbols")
    return vsnprintf(fmt, ListArgs(args), mem, symbols, **kw)


def hashed(ptr: int) -> bytes:
    """What %p prints for ptr under KEY: ptr_to_id(), 32 bits of siphash_1u64 as %016lx."""
    return b"%016x" % (siphash_1u64(ptr, KEY) & 0xFFFFFFFF)


# -- printk levels ---------------------------------------------------------------------------

def test_printk_get_level():
    # include/linux/printk.h: '0'..'7' and 'c' (KERN_CONT); KERN_DEFAULT is "" in 6.1, so
    # "\001d" is not a level
    assert printk_get_level(b"\x016hello") == "6"
    assert printk_get_level(b"\x010x") == "0"
    assert printk_get_level(b"\x017") == "7"
    assert printk_get_level(b"\x01c more") == "c"
    assert printk_get_level(b"\x01d x") is None
    assert printk_get_level(b"\x018") is None
    assert printk_get_level(b"\x01") is None
    assert printk_get_level(b"6hello") is None
    assert printk_get_level(b"") is None


def test_printk_skip_level():
    assert printk_skip_level(b"\x013oops") == b"oops"
    assert printk_skip_level(b"\x01c\x016x") == b"\x016x"
    assert printk_skip_level(b"plain") == b"plain"
    assert printk_skip_level(b"\x01d") == b"\x01d"
    assert printk_skip_headers(b"\x01c\x016x") == b"x"


# -- siphash (lib/test_siphash.c) ---------------------------------------------------------------

SIPHASH_VECTORS = [
    0x726fdb47dd0e0e31, 0x74f839c593dc67fd, 0x0d6c8009d9a94f5a, 0x85676696d7fb7e2d,
    0xcf2794e0277187b7, 0x18765564cd99a68d, 0xcbc9466e58fee3ce, 0xab0200f58b01d137,
    0x93f5f5799a932462, 0x9e0082df0ba9e4b0, 0x7a5dbbc594ddb9f3, 0xf4b32f46226bada7,
    0x751e8fbc860ee5fb, 0x14ea5627c0843d90, 0xf723ca908e7af2ee, 0xa129ca6149be45e5,
    0x3f2acc7f57c29bdb, 0x699ae9f52cbe4794, 0x4bc1b3f0968dd39c, 0xbb6dc91da77961bd,
    0xbed65cf21aa2ee98, 0xd0f2cbb02e3b67c7, 0x93536795e3a33e88, 0xa80c038ccd5ccec8,
    0xb8ad50c6f649af94, 0xbce192de8a85b8ea, 0x17d835b85bbb15f3, 0x2f2e6163076bcfad,
    0xde4daaaca71dc9a5, 0xa6a2506687956571, 0xad87a3535c49ef28, 0x32d892fad841c342,
    0x7127512f72f27cce, 0xa7f32346f95978e3, 0x12e0b01abb051238, 0x15e034d40fa197ae,
    0x314dffbe0815a3b4, 0x027990f029623981, 0xcadcd4e59ef40c4d, 0x9abfd8766a33735c,
    0x0e3ea96b5304a7d0, 0xad0c42d6fc585992, 0x187306c89bc215a9, 0xd4a60abcf3792b95,
    0xf935451de4f21df2, 0xa9538f0419755787, 0xdb9acddff56ca510, 0xd06c98cd5c0975eb,
    0xe612a3cb9ecba951, 0xc766e62cfcadaf96, 0xee64435a9752fe72, 0xa192d576b245165a,
    0x0a8787bf8ecb74b2, 0x81b3e73d20b49b6f, 0x7fa8220ba3b2ecea, 0x245731c13ca42499,
    0xb78dbfaf3a8d83bd, 0xea1ad565322a1a0b, 0x60e61c23a3795013, 0x6606d7e446282b93,
    0x6ca4ecb15c5f91e1, 0x9f626da15c9625f3, 0xe51b38608ef25f57, 0x958a324ceb064572,
]


@pytest.mark.parametrize("n", range(64))
def test_siphash_vectors(n):
    assert siphash(bytes(range(n)), KEY) == SIPHASH_VECTORS[n]


def test_siphash_1u64():
    # siphash_test_init(): siphash_1u64(0x0706050403020100) is the vector of 8 bytes 00..07
    assert siphash_1u64(0x0706050403020100, KEY) == SIPHASH_VECTORS[8]


# -- lib/test_printf.c, the kernel's own expectations --------------------------------------------

NUL_S = cstr(b"")
S1, S2, S3, S4, S5 = (cstr(s) for s in (b"1", b"2", b"3", b"4", b"5"))
SA, SB, SC = cstr(b"a"), cstr(b"b"), cstr(b"c")
ABCD = cstr(b"ABCD")

TEST_PRINTF = [
    # test_basic
    ("", "", []),
    ("100%", "100%%", []),
    ("xxx%yyy", "xxx%cyyy", [ord("%")]),
    ("xxx\0yyy", "xxx%cyyy", [0]),
    # test_number
    ("0x1234abcd  ", "%#-12x", [0x1234ABCD]),
    ("  0x1234abcd", "%#12x", [0x1234ABCD]),
    ("0|001| 12|+123| 1234|-123|-1234", "%d|%03d|%3d|%+d|% d|%+d|% d",
     [0, 1, 12, 123, 1234, -123, -1234]),
    ("0|1|1|128|255", "%hhu|%hhu|%hhu|%hhu|%hhu", [0, 1, 257, 128, -1]),
    ("0|1|1|-128|-1", "%hhd|%hhd|%hhd|%hhd|%hhd", [0, 1, 257, 128, -1]),
    ("2015122420151225", "%ho%ho%#ho", [1037, 5282, -11627]),
    ("00|0|0|0|0", "%.2d|%.1d|%.0d|%.*d|%1.0d", [0, 0, 0, 0, 0, 0]),
    ("0xfffffff0|0xf0|0xf0", "%#02x|%#02x|%#02x", [-16, -16 & 0xFF, 0xF0]),
    # test_string
    ("", "%s%.0s", [NUL_S, S123456]),
    ("ABCD|abc|123", "%s|%.3s|%.*s", [ABCD, ABCDEF, 3, S123456]),
    ("1  |  2|3  |  4|5  ", "%-3s|%3s|%-*s|%*s|%*s", [S1, S2, 3, S3, 3, S4, -3, S5]),
    ("1234      ", "%-10.4s", [S123456]),
    ("      1234", "%10.4s", [S123456]),
    ("    ", "%4.*s", [-5, S123456]),
    ("123456", "%.s", [S123456]),
    ("a||", "%.s|%.0s|%.*s", [SA, SB, 0, SC]),
    ("a  |   |   ", "%-3.s|%-3.0s|%-3.*s", [SA, SB, 0, SC]),
    # null_pointer, error_pointer, invalid_pointer
    ("0000000000000000", "%p", [0]),
    ("0000000000000000", "%px", [0]),
    ("(null)", "%pE", [0]),
    ("fffffffffffffff5", "%p", [ERR_PTR(-11)]),
    ("fffffffffffffff5", "%px", [ERR_PTR(-11)]),
    ("(efault)", "%pE", [ERR_PTR(-11)]),
    ("00000000000000ab", "%px", [0xAB]),
    ("(efault)", "%pE", [0xAB]),
    # hex_string
    ("c0 ff ee|c0:ff:ee|c0-ff-ee|c0ffee", "%3ph|%3phC|%3phD|%3phN", [COFFEE] * 4),
    ("c0 ff ee|c0:ff:ee|c0-ff-ee|c0ffee", "%*ph|%*phC|%*phD|%*phN",
     [3, COFFEE, 3, COFFEE, 3, COFFEE, 3, COFFEE]),
    # mac
    ("2d:48:d6:fc:7a:05", "%pM", [MAC]),
    ("05:7a:fc:d6:48:2d", "%pMR", [MAC]),
    ("2d-48-d6-fc-7a-05", "%pMF", [MAC]),
    ("2d48d6fc7a05", "%pm", [MAC]),
    ("057afcd6482d", "%pmR", [MAC]),
    # ip4
    ("127.000.000.001|127.0.0.1", "%pi4|%pI4", [IP4, IP4]),
    ("127.000.000.001|127.0.0.1", "%piS|%pIS", [SIN_LO, SIN_LO]),
    ("001.002.003.004:12345|1.2.3.4:12345", "%piSp|%pISp", [SIN, SIN]),
    # uuid
    ("00010203-0405-0607-0809-0a0b0c0d0e0f", "%pUb", [SEQ]),
    ("00010203-0405-0607-0809-0A0B0C0D0E0F", "%pUB", [SEQ]),
    ("03020100-0504-0706-0809-0a0b0c0d0e0f", "%pUl", [SEQ]),
    ("03020100-0504-0706-0809-0A0B0C0D0E0F", "%pUL", [SEQ]),
    # dentry
    ("foo", "%pd", [DENTRY["foo"]]),
    ("foo", "%pd2", [DENTRY["foo"]]),
    ("(null)", "%pd", [0]),
    ("(efault)", "%pd", [0xAB]),
    ("(null)", "%pD", [0]),
    ("(efault)", "%pD", [0xAB]),
    ("romeo", "%pd", [DENTRY["romeo"]]),
    ("alfa/romeo", "%pd2", [DENTRY["romeo"]]),
    ("bravo/alfa/romeo", "%pd3", [DENTRY["romeo"]]),
    ("/bravo/alfa/romeo", "%pd4", [DENTRY["romeo"]]),
    ("/bravo/alfa", "%pd4", [DENTRY["alfa"]]),
    ("bravo/alfa  |bravo/alfa  ", "%-12pd2|%*pd2", [DENTRY["alfa"], -12, DENTRY["alfa"]]),
    ("  bravo/alfa|  bravo/alfa", "%12pd2|%*pd2", [DENTRY["alfa"], 12, DENTRY["alfa"]]),
    # time_and_date
    ("(%pt?)", "%pt", [RTC]),
    ("2018-11-26T05:35:43", "%ptR", [RTC]),
    ("0118-10-26T05:35:43", "%ptRr", [RTC]),
    ("05:35:43|2018-11-26", "%ptRt|%ptRd", [RTC, RTC]),
    ("05:35:43|0118-10-26", "%ptRtr|%ptRdr", [RTC, RTC]),
    ("05:35:43|2018-11-26", "%ptRttr|%ptRdtr", [RTC, RTC]),
    ("05:35:43 tr|2018-11-26 tr", "%ptRt tr|%ptRd tr", [RTC, RTC]),
    ("2019-01-04T15:32:23", "%ptT", [T64]),
    ("0119-00-04T15:32:23", "%ptTr", [T64]),
    ("15:32:23|2019-01-04", "%ptTt|%ptTd", [T64, T64]),
    ("15:32:23|0119-00-04", "%ptTtr|%ptTdr", [T64, T64]),
    ("2019-01-04 15:32:23", "%ptTs", [T64]),
    ("0119-00-04 15:32:23", "%ptTsr", [T64]),
    ("15:32:23|2019-01-04", "%ptTts|%ptTds", [T64, T64]),
    ("15:32:23|0119-00-04", "%ptTtrs|%ptTdrs", [T64, T64]),
    # bitmap
    ("00000|00000", "%20pb|%*pb", [BITS20_ZERO, 20, BITS20_ZERO]),
    ("|", "%20pbl|%*pbl", [BITS20_ZERO, 20, BITS20_ZERO]),
    ("a28ac|a28ac", "%20pb|%*pb", [BITS20_PRIMES, 20, BITS20_PRIMES]),
    ("2-3,5,7,11,13,17,19|2-3,5,7,11,13,17,19", "%20pbl|%*pbl",
     [BITS20_PRIMES, 20, BITS20_PRIMES]),
    ("fffff|fffff", "%20pb|%*pb", [BITS20_FULL, 20, BITS20_FULL]),
    ("0-19|0-19", "%20pbl|%*pbl", [BITS20_FULL, 20, BITS20_FULL]),
    # flags (Debian's GFP and VMA values)
    ("read|exec|mayread|maywrite|mayexec", "%pGv", [VMA]),
    ("GFP_TRANSHUGE", "%pGg", [GFP["TRANSHUGE"]]),
    ("GFP_ATOMIC|GFP_DMA", "%pGg", [GFP["ATOMIC_DMA"]]),
    ("__GFP_ATOMIC", "%pGg", [GFP["ATOMIC"]]),
    ("0xf8000000", "%pGg", [GFP["HIGH_BITS"]]),        # ~__GFP_BITS_MASK, __GFP_BITS_SHIFT 27
    ("__GFP_ATOMIC|0xf8000000", "%pGg", [GFP["ATOMIC_HIGH"]]),
    # fourcc_pointer
    ("NV12 little-endian (0x3231564e)", "%p4cc", [FOURCC[0]]),
    ("NV12 big-endian (0xb231564e)", "%p4cc", [FOURCC[1]]),
    (".... little-endian (0x10111213)", "%p4cc", [FOURCC[2]]),
    ("Y10  little-endian (0x20303159)", "%p4cc", [FOURCC[3]]),
    # errptr
    ("-1234", "%pe", [ERR_PTR(-1234)]),
    ("(-ENOTSOCK)", "(%pe)", [ERR_PTR(-88)]),
    ("(-EAGAIN)", "(%pe)", [ERR_PTR(-11)]),
    ("[-EIO    ]", "[%-8pe]", [ERR_PTR(-5)]),
    ("[    -EIO]", "[%8pe]", [ERR_PTR(-5)]),
    ("-EPROBE_DEFER", "%pe", [ERR_PTR(-517)]),
]


@pytest.mark.parametrize("expected,fmt,args", TEST_PRINTF)
def test_lib_test_printf(expected, fmt, args):
    out = kprintf(fmt, *args)
    assert out == expected.encode("latin-1")
    # test_printf.c's do_test() also checks every buffer size: a prefix and a NUL, and the
    # untruncated length as the return value
    for size in range(len(out) + 2):
        written, ret = snprintf_result(out, size)
        assert ret == len(out)
        assert written == (out[:size - 1] + b"\0" if size else b"")


def test_lib_test_printf_page_flags():
    # page_flags_test(): "%#lx(" the flags, the names of the PAGEFLAGS_MASK bits, then
    # node/zone (%d) and lastcpupid (%#x); section and kasantag have width 0 in Debian's 6.1
    names = {n: m for m, n in PAGEFLAG_NAMES}
    for fields, main, text in (
        ((0, 0, 0), 0, ""),
        ((0, 0, 0), 1 << 25, ""),
        ((1, 1, 0x1FFFFF), (1 << 25) | names["uptodate"] | names["dirty"] | names["lru"]
         | names["active"] | names["swapbacked"], "uptodate|dirty|lru|active|swapbacked"),
    ):
        node, zone, cpupid = fields
        flags = main | node << 54 | zone << 51 | cpupid << 30
        expected = b"%#x(" % flags if flags else b"0x0("
        expected += text.encode() + (b"|" if text else b"")
        expected += b"node=%d|zone=%d|lastcpupid=%s)" % (
            node, zone, b"0x%x" % cpupid)
        assert kprintf("%pGp", _place(struct.pack("<Q", flags))) == expected


def test_hashed_pointer_like_test_printf():
    # plain(): a hashed pointer is 16 characters, starts with 8 zeros, is not the address
    ptr = 0xFFFF0123456789AB
    out = kprintf("%p", ptr)
    assert len(out) == 16 and out.startswith(b"00000000") and out != b"ffff0123456789ab"
    assert out == hashed(ptr)
    assert kprintf("%pe", ptr) == hashed(ptr)               # errptr(): non-ERR_PTR is %p


# -- format_decode() ----------------------------------------------------------------------------

@pytest.mark.parametrize("expected,fmt,args", [
    ("42|-42|   42|42   |-0042|+42| 42|+42", "%d|%i|%5d|%-5d|%05d|%+d|% d|%+ d",
     [42, -42, 42, 42, -42, 42, 42, 42]),
    ("4294967295|ff|FF|0xff|0XFF|10|010|0", "%u|%x|%X|%#x|%#X|%o|%#o|%#o", [-1, 255, 255, 255,
                                                                             255, 8, 8, 0]),
    ("-9223372036854775808|18446744073709551615|-1|deadbeefcafebabe",
     "%ld|%lu|%lld|%llx", [1 << 63, U64, -1, 0xDEADBEEFCAFEBABE]),
    ("-32768|32768|-128|255|18446744073709551615|-1|-3", "%hd|%hu|%hhd|%hhu|%zu|%zd|%td",
     [0x18000, 0x18000, 0x80, 0x1FF, U64, -1, -3]),
    ("18446744073709551615|-1", "%Lu|%Ld", [U64, U64]),     # 'L' is long long in the kernel
    ("   42|7   |7   |007|    ab", "%*d|%-*d|%*d|%.*d|%*.*s", [5, 42, 4, 7, -4, 7, 3, 7, 6, 2,
                                                             ABCDEF]),
    ("A|  A|A  |%|%", "%c|%3c|%-3c|%%|%5%", [0x41, 0x41, 0x41]),  # %5% is a plain '%'
    ("hello|hello", "%ls|%hs", [HELLO, HELLO]),            # qualifiers are ignored for s
    ("-1|4294967295", "%d|%u", [U64, U64]),                # int arguments use the low 32 bits
])
def test_format_decode_conversions(expected, fmt, args):
    assert kprintf(fmt, *args) == expected.encode()


@pytest.mark.parametrize("fmt,expected,warning", [
    # format_decode(): anything but c s p % o x X d i u is FORMAT_TYPE_INVALID; vsnprintf()
    # then stops ("goto out"): nothing after it is printed, no argument is consumed
    ("a%nb%d", "a", b"Please remove unsupported %n in format string\n"),
    ("x%jdy", "x", b"Please remove unsupported %j in format string\n"),  # no 'j' qualifier
    ("x%qdy", "x", b"Please remove unsupported %q in format string\n"),  # nor 'q'
    ("x%Zdy", "x", b"Please remove unsupported %Z in format string\n"),  # 'Z' became 'z'
    ("x%fy", "x", b"Please remove unsupported %f in format string\n"),   # no floating point
    ("x%lly%d", "x", b"Please remove unsupported %y in format string\n"),
    ("x%LLd", "x", b"Please remove unsupported %L in format string\n"),  # "LL" is not "ll"
    ("x%hhhd", "x", b"Please remove unsupported %h in format string\n"),
    ("abc%", "abc", b"Please remove unsupported %\0 in format string\n"),  # format ends in a %
    ("abc%-08.3l", "abc", b"Please remove unsupported %\0 in format string\n"),
])
def test_format_decode_invalid_stops_output(fmt, expected, warning):
    warnings = []
    assert kprintf(fmt, 1, 2, warn=lambda site, msg: warnings.append((site, msg))) == \
        expected.encode()
    assert warnings == [("format_decode", warning)]


def test_format_decode_incomplete_star():
    # "%*" at the end: the width is consumed, then the format is over
    assert kprintf("ab%*", 5) == b"ab"
    assert kprintf("ab%.*", 5) == b"ab"


def test_format_decode_bitfield_widths():
    # struct printf_spec keeps field_width in 24 bits and precision in 16: skip_atoi()'s value
    # is stored without a check, so a huge written width wraps (99999999 -> -663297: no pad)
    assert kprintf("%99999999d|", 42) == b"42|"
    # and a precision of 40000 wraps to -25536, which format_decode() turns into 0
    assert kprintf("%.40000s|", HELLO) == b"|"
    assert kprintf("%.65541s|", HELLO) == b"hello|"             # wraps to 5
    # a negative '*' width means LEFT (format_decode's FORMAT_TYPE_WIDTH branch) ...
    assert kprintf("%*d|", -4, 7) == b"7   |"
    # ... but -(1 << 23) negates to itself in 24 bits and stays negative: no padding
    assert kprintf("%*d|", -(1 << 23), 42) == b"42|"
    # a negative '*' precision is 0, unlike C where it means "no precision"
    assert kprintf("%.*s|%.*d", -1, HELLO, -1, 0) == b"|0"


def test_set_field_width_and_precision_clamp():
    # set_field_width()/set_precision(): a '*' value that does not fit is clamped, with a WARN
    warnings = []
    out = kprintf("%*d", 0x12345678, 1, warn=lambda s, m: warnings.append((s, m)))
    assert len(out) == (1 << 23) - 1 and out.endswith(b" 1")
    assert warnings == [("set_field_width", b"field width 305419896 too large")]
    warnings.clear()
    out = kprintf("%.*d", 40000, 1, warn=lambda s, m: warnings.append((s, m)))
    assert out == b"0" * 32766 + b"1"
    assert warnings == [("set_precision", b"precision 40000 too large")]
    warnings.clear()
    assert kprintf("%.*d", -40000, 1, warn=lambda s, m: warnings.append((s, m))) == b"1"
    assert warnings == [("set_precision", b"precision -40000 too large")]


# -- number(): where the kernel differs from C -----------------------------------------------------

@pytest.mark.parametrize("fmt,arg,kernel,glibc", [
    # number(): "if (num < spec.base) tmp[i++] = ..." always emits a digit
    ("%.0d", 0, "0", ""),
    ("%.0x", 0, "0", ""),
    # need_pfx does not look at the value for base 16: "0x" is printed for zero too
    ("%#x", 0, "0x0", "0"),
    ("%#08x", 0, "0x000000", "00000000"),
    # the octal "0" prefix is added in front of the precision zeros
    ("%#.3o", 8, "0010", "010"),
    # ZEROPAD is not cancelled by a precision: pad with '0' up to the width
    ("%08.3d", 5, "00000005", "     005"),
    ("%-08.3d|", 5, "005     |", "005     |"),
    # a field width shorter than the number
    ("%2d", 100, "100", "100"),
    ("%+u", 5, "5", "5"),                       # PLUS and SPACE only matter with SIGN
    ("%#d", 5, "5", "5"),                       # SPECIAL is ignored for base 10
])
def test_number_kernel_rules(fmt, arg, kernel, glibc):
    assert kprintf(fmt, arg) == kernel.encode()


def test_number_extremes():
    assert kprintf("%lld", 1 << 63) == b"-9223372036854775808"
    assert kprintf("%+lld|% lld", 1 << 63, 0) == b"-9223372036854775808| 0"
    assert kprintf("%#lo", U64) == b"01777777777777777777777"
    assert kprintf("%#20llX|", 0xABC) == b"               0XABC|"
    assert kprintf("%-#10x|", 0xAB) == b"0xab      |"


# -- string() and check_pointer() ---------------------------------------------------------------

def test_string_null_and_invalid_pointers():
    # check_pointer_msg(): NULL -> "(null)", below PAGE_SIZE or an ERR_PTR -> "(efault)"
    assert kprintf("%s", 0) == b"(null)"
    assert kprintf("%s", 0x10) == b"(efault)"
    assert kprintf("%s", 4095) == b"(efault)"
    assert kprintf("%s", ERR_PTR(-22)) == b"(efault)"
    assert kprintf("%s", ERR_PTR(-4095)) == b"(efault)"
    # error_string(): the width applies, and the precision (glibc prints "" for "%.3s" of NULL)
    assert kprintf("%10s|%-10s|%.3s", 0, 0, 0) == b"    (null)|(null)    |(nu"


def test_string_unmapped_pointer():
    # the real kernel would oops; by default the conversion prints "(efault)" instead
    unmapped = 0xFFFF888012345000
    assert kprintf("<%s>", unmapped) == b"<(efault)>"
    assert kprintf("<%10s>", unmapped) == b"<  (efault)>"
    assert kprintf("<%pM>", unmapped) == b"<(efault)>"
    with pytest.raises(MemoryFault):
        kprintf("<%s>", unmapped, fault_as_efault=False)


def test_string_precision_reads_no_further():
    # "%.2s" of a 2-byte buffer with no NUL at the end of a mapping: string_nocheck() stops
    # after precision characters, so nothing past the buffer is read
    assert kprintf("%.2s|", UNTERMINATED) == b"ab|"
    assert kprintf("%s|", UNTERMINATED) == b"(efault)|"    # it runs off the mapping


def test_string_latin1_and_control_bytes():
    s = cstr(bytes([0xE9, 0x01, 0x7F, 0x0A]))
    assert kprintf("%s", s) == bytes([0xE9, 0x01, 0x7F, 0x0A])


# -- %p, %px, %pK ---------------------------------------------------------------------------------

def test_plain_pointer():
    p = 0xFFFF888000100000
    assert kprintf("%p", p) == hashed(p)
    assert kprintf("%p %p", p, p) == hashed(p) + b" " + hashed(p)
    assert kprintf("%p", p, hash_key=bytes(16)) != hashed(p)
    assert kprintf("%px", p) == b"ffff888000100000"
    assert kprintf("%px", 0x1234) == b"0000000000001234"
    # pointer_string(): an explicit width replaces the 16-digit zero padding
    assert kprintf("%5p|%-5p|%05p", 0, 0, 0) == b"    0|0    |00000"
    assert kprintf("%10px|", 0x1234) == b"      1234|"
    assert kprintf("%#px", 0x1234) == b"0x00000000001234"     # "0x" counts in the 16
    # NULL and ERR_PTRs are not hashed
    assert kprintf("%p|%p", 0, ERR_PTR(-12)) == b"0000000000000000|fffffffffffffff4"
    # before the RNG is ready, ptr_to_id() prints "(____ptrval____)"
    assert kprintf("%p", p, hash_key=None) == b"(____ptrval____)"
    assert kprintf("%.4p", p, hash_key=None) == b" " * 12 + b"(___"    # width 16 is forced
    # no_hash_pointers on the command line
    assert kprintf("%p", p, no_hash_pointers=True) == b"ffff888000100000"
    # the per-boot default key
    assert kprintf("%p", p, hash_key=BOOT_HASH_KEY) == \
        b"%016x" % (siphash_1u64(p, BOOT_HASH_KEY) & 0xFFFFFFFF)


def test_unknown_extensions_are_plain_pointers():
    p = 0xFFFF888000100000
    # the default of pointer(): hash, and vsnprintf() skips all alphanumerics after the 'p'
    assert kprintf("%pZ|", p) == hashed(p) + b"|"
    assert kprintf("%pF|", p) == hashed(p) + b"|"          # %pF was removed in 5.x
    assert kprintf("%pP9q|", p) == hashed(p) + b"|"
    assert kprintf("%p!", p) == hashed(p) + b"!"
    assert kprintf("%p\xe9x|", p) == hashed(p) + b"|"      # the kernel's isalnum() is Latin-1
    assert kprintf("%p_", p) == hashed(p) + b"_"


def test_restricted_pointer():
    p = 0xFFFF888000100000
    assert kprintf("%pK", p) == hashed(p)                                  # kptr_restrict 0
    assert kprintf("%pK", p, kptr_restrict=1) == b"ffff888000100000"      # with CAP_SYSLOG
    assert kprintf("%pK", p, kptr_restrict=1, cap_syslog=False) == b"0000000000000000"
    assert kprintf("%pK", p, kptr_restrict=2) == b"0000000000000000"
    # in IRQ context: "pK-error", in the pointer's 16 columns
    assert kprintf("%pK", p, kptr_restrict=1, in_irq=True) == b"        pK-error"
    assert kprintf("%20pK|", p, kptr_restrict=1, in_irq=True) == b"            pK-error|"


def test_error_pointers():
    assert kprintf("%pe", ERR_PTR(-12)) == b"-ENOMEM"
    assert kprintf("%pe", ERR_PTR(-531)) == b"-531"        # ENOGRACE has no name in errname.c
    assert kprintf("%pe", ERR_PTR(-4095)) == b"-4095"
    assert kprintf("%pe", 0) == b"0000000000000000"
    assert kprintf("%.3pe", ERR_PTR(-12)) == b"-EN"
    assert errname(-35) == "-EDEADLK" and errname(35) == "EDEADLK"  # EDEADLOCK's name
    assert errname(-41) is None and errname(0) is None


# -- symbols ------------------------------------------------------------------------------------

def test_symbols():
    init = 0xFFFFFFFF810010A0
    hello = 0xFFFFFFFFC0000000
    assert kprintf("%pS", init + 0x59) == b"do_one_initcall+0x59/0x220"
    assert kprintf("%pS", init) == b"do_one_initcall+0x0/0x220"      # %#lx of 0 is 0x0
    assert kprintf("%ps", init + 0x59) == b"do_one_initcall"
    assert kprintf("%pSR|%pSb|%pSRb", init, init, init) == b"|".join(
        [b"do_one_initcall+0x0/0x220"] * 3)
    assert kprintf("%pS", hello + 4) == b"hello_init+0x4/0x40 [hello]"
    assert kprintf("%ps", hello + 4) == b"hello_init [hello]"
    # %pB looks up address-1 (a return address after a noreturn call) and adds 1 back
    assert kprintf("%pB", hello + 0x40) == b"hello_init+0x40/0x40 [hello]"
    assert kprintf("%pBb", hello + 0x41) == b"tiny+0x1/0x1 [hello]"
    assert kprintf("%pS", hello + 0x40) == b"tiny+0x0/0x1 [hello]"
    # an address kallsyms does not know: "0x%lx"
    assert kprintf("%pS|%ps|%pB", 0xFFFFFFFF80000000, 0, 0x10) == \
        b"0xffffffff80000000|0x0|0x10"
    assert kprintf("%pS", init, symbols=None) == b"0xffffffff810010a0"
    assert kprintf("%30pS|", init) == b"     do_one_initcall+0x0/0x220|"
    assert kprintf("%.10pS|", init) == b"do_one_ini|"
    # %pf is gone ("(%pf?)"); %pF falls back to %p
    assert kprintf("%pf", init) == b"(%pf?)"


# -- addresses and buffers --------------------------------------------------------------------------

def test_ip_addresses():
    assert kprintf("%pI4|%pi4|%pI4h|%pI4l|%pI4n|%pI4b", *[IP4] * 6) == \
        b"127.0.0.1|127.000.000.001|1.0.0.127|1.0.0.127|127.0.0.1|127.0.0.1"
    assert kprintf("%pI6", IP6) == b"2001:0db8:0000:0000:0000:ff00:0042:0329"
    assert kprintf("%pi6", IP6) == b"20010db8000000000000ff0000420329"
    assert kprintf("%pI6c", IP6) == b"2001:db8::ff00:42:329"
    assert kprintf("%pi6c", IP6) == b"20010db8000000000000ff0000420329"
    assert kprintf("%pI6c", IP6_V4MAPPED) == b"::ffff:192.168.0.1"
    assert kprintf("%pI6c", IP6_ISATAP) == b"fe80::200:5efe:10.0.0.1"
    assert kprintf("%pI6c", IP6_LOOPBACK) == b"::1"
    assert kprintf("%pI6c", IP6_ONEZERO) == b"2001:db8:0:1:1:1:1:1"   # a single 0 stays
    assert kprintf("%pIS|%pISc|%pISpc", SIN6, SIN6, SIN6) == (
        b"2001:0db8:0000:0000:0000:ff00:0042:0329|2001:db8::ff00:42:329|"
        b"[2001:db8::ff00:42:329]:8080")
    # f: flowinfo & IPV6_FLOWINFO_MASK (the top 4 bits dropped), s: scope id
    assert kprintf("%pISpfsc", SIN6) == b"[2001:db8::ff00:42:329]:8080/36984440%3"
    assert kprintf("%piS", SIN6) == b"20010db8000000000000ff0000420329"
    assert kprintf("%pISpl", SIN) == b"4.3.2.1:12345"
    assert kprintf("%pIS|%pIx|%pix|%pI", SUNIX, IP4, IP4, IP4) == \
        b"(einval)|(%pI?)|(%pi?)|(%pI?)"
    assert kprintf("%pI4|%pIS", 0, ERR_PTR(-1)) == b"(null)|(efault)"
    assert kprintf("%20pI4|%-20pI4|%.5pI4", IP4, IP4, IP4) == \
        b"           127.0.0.1|127.0.0.1           |127.0"


def test_sockaddr_port_uses_the_conversion_spec():
    # ip4_addr_string_sa(): number(p, pend, port, spec) with the caller's spec
    assert kprintf("%5pISp|", SIN) == b"1.2.3.4:12345|"
    assert kprintf("%.7pISp|", SIN) == b"1.2.3.4|"
    # a width that no longer fits the 23-byte stack buffer: only what fits is printed
    # (the kernel then writes its NUL past the buffer)
    assert kprintf("%20pISp|", SIN) == b"1.2.3.4:" + b" " * 15 + b"|"


def test_mac_uuid_hex():
    assert kprintf("%pMR|%pmR|%pmF", MAC, MAC, MAC) == \
        b"05:7a:fc:d6:48:2d|057afcd6482d|2d48d6fc7a05"
    assert kprintf("%20pM|", MAC) == b"   2d:48:d6:fc:7a:05|"
    assert kprintf("%pU|%pUx", SEQ, SEQ) == b"00010203-0405-0607-0809-0a0b0c0d0e0f|" \
        b"00010203-0405-0607-0809-0a0b0c0d0e0f"
    # hex_string(): the width is the byte count (1 without one, 64 at most), never padding
    assert kprintf("%ph|%0ph|%1ph", SEQ, SEQ, SEQ) == b"00|00|00"
    assert kprintf("%*ph|", 0, SEQ) == b"|"
    assert kprintf("%*ph", -4, SEQ) == b"00 01 02 03"       # '*' -4: LEFT and 4 bytes
    assert kprintf("%*phN", 100, SEQ) == bytes(range(64)).hex().encode()
    assert kprintf("%*ph|%ph", 0, 0, 0) == b"|(null)"       # width 0 wins over NULL


def test_escaped_string():
    # Documentation/core-api/printk-formats.rst's examples
    buf = _place(bytes.fromhex("1b62205c430722900d5d"))
    assert kprintf("%*pE", 10, buf) == b'\\eb \\C\\a"\\220\\r]'
    assert kprintf("%*pEhp", 10, buf) == b'\\x1bb \\C\\x07"\\x90\\x0d]'
    # (the document shows \\042 for '"': escape_special() escapes it as \\" since 5.x)
    assert kprintf("%*pEa", 10, buf) == b'\\e\\142\\040\\\\\\103\\a\\"\\220\\r\\135'
    more = _place(b"a\n\x00\xe9\x7f")
    assert kprintf("%*pE", 5, more) == b"a\\n\\0\xe9\\177"   # isprint(0xe9) in the kernel
    assert kprintf("%*pEs|%*pEn|%*pEc", 5, more, 5, more, 10, buf) == \
        b'a\\n\x00\xe9\x7f|a\n\\0\xe9\x7f|\\eb \\\\C\\a\\"\x90\r]'
    assert kprintf("%pE|%*pE|", more, 0, more) == b"a||"


def test_address_values_and_features():
    assert kprintf("%pa|%pap|%pad|%paq", *[PHYS] * 4) == b"|".join([b"0x00000000fee00000"] * 4)
    assert kprintf("%20pa|", PHYS) == b"0x00000000fee00000|"     # special_hex_number only
    assert kprintf("%pNF|%pN|%pN", FEATURES, FEATURES, 0) == \
        b"0x00000000001a0003|(%pN?)|(null)"
    assert kprintf("%p4c|%p4x|%p4cc", FOURCC[0], FOURCC[0], 0) == b"(%p4?)|(%p4?)|(null)"
    assert kprintf("%pa", 0) == b"(null)"


def test_resources():
    assert kprintf("%pR", RES_MEM) == b"[mem 0x00001000-0x00001fff 64bit pref]"
    assert kprintf("%pr", RES_MEM) == b"[mem 0x00001000-0x00001fff flags 0x102200]"
    assert kprintf("%pR", RES_IO) == b"[io  0x03f8-0x03ff]"
    assert kprintf("%pR|%pr", RES_IRQ, RES_IRQ) == b"[irq 5]|[irq 5 flags 0x400]"
    assert kprintf("%pR", RES_BUS) == b"[bus 00-ff window]"
    assert kprintf("%pR|%pr", RES_UNSET, RES_UNSET) == \
        b"[mem size 0x00001000]|[mem 0x00000000-0x00000fff flags 0x20000200]"
    assert kprintf("%pR", RES_NONE) == b"[??? 0x00000000 flags 0x0]"
    assert kprintf("%pR", 0) == b"(null)"


def test_dentries_files_bdevs_clocks():
    assert kprintf("%pd2", DENTRY["orphan"]) == b"(null)"    # its d_parent is NULL
    # dentry_name() reads the names outermost first and stops at the precision: a bad name
    # past it is never read
    bad_name = _place(struct.pack("<6Q", 0, 0, 0, DENTRY["bravo"], 0, 0xFFFF888012345000))
    assert kprintf("%.3pd2|%.6pd2", bad_name, bad_name) == b"bra|bravo/"
    assert kprintf("%pd2", bad_name) == b"(efault)"
    assert kprintf("%pD|%pD2|%.3pD", *[DENTRY["file"]] * 3) == b"romeo|alfa/romeo|rom"
    assert kprintf("%pg|%pg|%pg", BDEV["sda"], BDEV["sda3"], BDEV["nvme0n1p2"]) == \
        b"sda|sda3|nvme0n1p2"
    assert kprintf("%pg", 0) == b"(null)"
    assert kprintf("%pC|%pCn|%pC", CLK, CLK, 0) == b"osc32k|osc32k|(null)"


def test_time_and_date():
    assert kprintf("%ptT", T64_LEAP) == b"2000-02-29T00:00:00"
    assert kprintf("%ptT", T64_NEG) == b"1969-12-31T23:59:59"
    # a year before 0 goes through number() as an unsigned long long
    assert kprintf("%ptTd", T64_BC) == b"18446744073709547679-01-02"
    assert kprintf("%ptx|%pt", T64, 0) == b"(%pt?)|(null)"


def test_flags():
    assert kprintf("%pGx|%pG", VMA, VMA) == b"(%pG?)|(%pG?)"
    assert kprintf("%pGg", 0) == b"(null)"
    assert len(GFPFLAG_NAMES) == 36 and len(VMAFLAG_NAMES) == 32


def test_no_device_tree_and_no_rust():
    # device_node_string(): !IS_ENABLED(CONFIG_OF) on x86, checked before the pointer
    assert kprintf("%pOF|%pOFf|%pO|%pOx", 0, 1, 2, 3) == b"(%pOF?)|(%pOF?)|(%pO?)|(%pO?)"
    warnings = []
    assert kprintf("%pA", 0, warn=lambda s, m: warnings.append(s)) == b"(%pA?)"
    assert warnings == ["pointer_A"]


def test_unsupported_fwnode():
    assert "fw" in UNSUPPORTED
    # what the kernel prints for an invalid pointer there
    assert kprintf("%pfw|%pfwP|%pfwf", 0, 0x10, ERR_PTR(-1)) == b"(null)|(efault)|(efault)"
    assert kprintf("%pfw|%12pfwf|", HELLO, HELLO) == b"(efault)|    (efault)|"


def test_user_and_kernel_strings():
    assert kprintf("%pks|%pus|%pk|%pux", HELLO, HELLO, HELLO, HELLO) == \
        b"hello|hello|(einval)|(einval)"


# -- %pV and the va_list ------------------------------------------------------------------------

def _va_list(mem: FakeMemory, gp_offset: int, regs: list[int], stack: list[int]) -> int:
    reg_save = mem.add(0xFFFFC90000010000, b"".join(struct.pack("<Q", v) for v in regs)
                       .rjust(48, b"\0"))
    overflow = mem.add(0xFFFFC90000011000, b"".join(struct.pack("<Q", v) for v in stack))
    return mem.add(0xFFFFC90000012000, struct.pack("<IIQQ", gp_offset, 48, overflow, reg_save))


def test_va_list_args():
    mem = FakeMemory()
    # two register slots left (gp_offset 32: rdi..rcx were named arguments), then the stack
    tag = _va_list(mem, 32, [0, 0, 0, 0, 111, 222], [333, 444])
    args = VaListArgs(mem, tag)
    assert [args.next() for _ in range(4)] == [111, 222, 333, 444]
    assert args.gp_offset == 48
    assert args.tag_bytes() == struct.pack("<IIQQ", 48, 48, 0xFFFFC90000011000 + 16,
                                           0xFFFFC90000010000)
    # all six register slots unused (gp_offset 0)
    tag = _va_list(mem, 0, [1, 2, 3, 4, 5, 6], [7])
    args = VaListArgs(mem, tag)
    assert [args.next() for _ in range(7)] == [1, 2, 3, 4, 5, 6, 7]
    # registers used up: straight to the overflow area
    tag = _va_list(mem, 48, [9] * 6, [7, 8])
    assert vsnprintf(b"%d,%d", VaListArgs(mem, tag), mem) == b"7,8"


def test_va_format():
    mem = FakeMemory()
    for addr, data in MEM.regions.items():
        mem.add(addr, data)
    inner = mem.add(0xFFFF888000900000, b"%s=%d (%pe)\0")
    tag = _va_list(mem, 40, [0, 0, 0, 0, 0, HELLO], [(-5) & U64, ERR_PTR(-12)])
    vaf = mem.add(0xFFFF888000901000, struct.pack("<QQ", inner, tag))
    assert kprintf("[%pV]", vaf, mem=mem) == b"[hello=-5 (-ENOMEM)]"
    # the width and precision of %pV are not used; the va_list is copied, not consumed
    assert kprintf("[%20.2pV|%pV]", vaf, vaf, mem=mem) == b"[hello=-5 (-ENOMEM)|hello=-5 (-ENOMEM)]"
    assert kprintf("%pV|%pV", 0, 0x20, mem=mem) == b"(null)|(efault)"


# -- the buffer helpers -------------------------------------------------------------------------

def test_snprintf_and_scnprintf_results():
    assert snprintf_result(b"hello", 0) == (b"", 5)
    assert snprintf_result(b"hello", 1) == (b"\0", 5)
    assert snprintf_result(b"hello", 3) == (b"he\0", 5)
    assert snprintf_result(b"hello", 6) == (b"hello\0", 5)
    assert snprintf_result(b"hello", 100) == (b"hello\0", 5)
    assert snprintf_result(b"hello", 1 << 31) == (b"", 0)   # WARN_ON_ONCE(size > INT_MAX)
    assert scnprintf_result(b"hello", 0) == (b"", 0)
    assert scnprintf_result(b"hello", 1) == (b"\0", 0)
    assert scnprintf_result(b"hello", 3) == (b"he\0", 2)
    assert scnprintf_result(b"hello", 6) == (b"hello\0", 5)
    assert scnprintf_result(b"hello", 100) == (b"hello\0", 5)


def test_format_stops_at_nul():
    assert kprintf(b"ab\0%d", 1) == b"ab"


def test_list_args_too_few():
    with pytest.raises(IndexError):
        kprintf("%d %d", 1)


# -- glibc, for the conversions where the kernel and C agree ----------------------------------------

GLIBC_AGREES = [
    # (format, [(C type, value)]): integers and strings without the kernel's special cases
    ("%d|%i|%5d|%-5d|%05d|%+d|% d", [("int", v) for v in (42, -42, 42, 42, -42, 42, 42)]),
    ("%u|%x|%X|%#x|%#X|%o|%#o", [("unsigned", v) for v in (4294967295, 255, 255, 255, 255, 8,
                                                          8)]),
    ("%ld|%lu|%lld|%llx|%lX", [("long", -(1 << 63)), ("unsigned long", U64),
                               ("long long", -1), ("unsigned long long", 0xDEADBEEFCAFEBABE),
                               ("unsigned long", 0xABC)]),
    ("%hd|%hu|%hhd|%hhu|%zu|%zd|%td", [("int", 0x18000), ("int", 0x18000), ("int", 0x80),
                                       ("int", 0x1FF), ("unsigned long", U64), ("long", -1),
                                       ("long", -3)]),
    ("%.3d|%8.3d|%-8.3d|%.5x|%#.5x|%3.1u", [("int", 5), ("int", 5), ("int", -5),
                                            ("unsigned", 0xAB), ("unsigned", 0xAB),
                                            ("unsigned", 7)]),
    ("%*d|%-*d|%*d|%.*d", [("int", 5), ("int", 42), ("int", 4), ("int", 7), ("int", -4),
                           ("int", 7), ("int", 3), ("int", 7)]),
    ("%c|%3c|%-3c|%%", [("int", 65)] * 3),
    ("%s|%5s|%-7s|%.2s|%7.3s|%-7.3s|%.0s", [("char *", "hello")] * 7),
    ("%*s|%-*s|%.*s", [("int", 8), ("char *", "ab"), ("int", 8), ("char *", "ab"), ("int", 1),
                       ("char *", "ab")]),
    ("%#-12x|%#12x|%-#5o|%+.3d|% 05d", [("unsigned", 0x1234ABCD), ("unsigned", 0x1234ABCD),
                                        ("unsigned", 8), ("int", 7), ("int", 7)]),
    ("%s", [("char *", "")]),
    ("%08x|%-08d|%+05d|%+-5d|", [("unsigned", 0xBEEF), ("int", 5), ("int", 5), ("int", 5)]),
]


def _c_value(ctype: str, value) -> str:
    if ctype == "char *":
        return '"' + value + '"'
    return f"({ctype}){value & U64}ULL"     # gcc converts modulo 2**n


@pytest.mark.skipif(shutil.which("gcc") is None, reason="needs gcc")
def test_agrees_with_glibc(tmp_path):
    lines = ["#include <stdio.h>", "int main(void) {", "  char b[512];"]
    for fmt, args in GLIBC_AGREES:
        c_args = ", ".join(_c_value(t, v) for t, v in args)
        lines.append(f'  snprintf(b, sizeof(b), "{fmt}", {c_args}); puts(b);')
    lines += ["  return 0;", "}"]
    (tmp_path / "glibc.c").write_text("\n".join(lines))
    subprocess.run(["gcc", "-w", "-o", str(tmp_path / "glibc"), str(tmp_path / "glibc.c")],
                   check=True)
    glibc = subprocess.run([str(tmp_path / "glibc")], capture_output=True, check=True).stdout
    strings: dict[str, int] = {}
    for (fmt, args), expected in zip(GLIBC_AGREES, glibc.split(b"\n")):
        py_args = [strings.setdefault(v, cstr(v.encode())) if t == "char *" else v
                   for t, v in args]
        assert kprintf(fmt, *py_args) == expected, fmt


# -- the kernel's own lib/vsprintf.c as an oracle ------------------------------------------------

KSRC = Path(os.environ.get("PSEUDOKERNEL_KSRC", Path.home() / ".cache/pseudokernel/ksrc/6.1"))

# Just enough of the kernel around lib/vsprintf.c to build it as a user-space program. The
# pieces of other kernel files it calls are copied from 6.1: string_escape_mem()
# (lib/string_helpers.c), time64_to_tm() (kernel/time/timeconv.c), __sprint_symbol()
# (kernel/kallsyms.c), siphash_1u64() (lib/siphash.c) and the ctype table (lib/ctype.c). The
# structures pointed to have Debian 6.1.0-56-amd64's layout.
ORACLE_PRELUDE = r'''
/* Just enough of the kernel for lib/vsprintf.c to build as a user-space program (x86_64). */
#define _GNU_SOURCE
#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>
#include <stdarg.h>
#include <string.h>

/* the kernel's names, away from glibc's */
#define vsnprintf k_vsnprintf
#define vscnprintf k_vscnprintf
#define snprintf k_snprintf
#define scnprintf k_scnprintf
#define vsprintf k_vsprintf
#define sprintf k_sprintf
#define clock k_clock
#define abs(x) __builtin_abs(x)

typedef uint8_t u8; typedef uint16_t u16; typedef uint32_t u32; typedef uint64_t u64;
typedef int8_t s8; typedef int16_t s16; typedef int32_t s32; typedef int64_t s64;
typedef long ssize_t; typedef u64 phys_addr_t; typedef u64 dma_addr_t;
typedef u64 resource_size_t; typedef u64 netdev_features_t; typedef s64 time64_t;
typedef unsigned int gfp_t; typedef u16 __be16; typedef u32 __be32; typedef u16 __le16;

#define CONFIG_64BIT 1
#define CONFIG_KALLSYMS 1
#define CONFIG_BLOCK 1
#define CONFIG_HAVE_CLK 1
#define CONFIG_COMMON_CLK 1
#define CONFIG_MODULES 1
#define BITS_PER_LONG 64
#define BITS_PER_LONG_LONG 64
#define __ARG_PLACEHOLDER_1 0,
#define __take_second_arg(__ignored, val, ...) val
#define __is_defined(x) ___is_defined(x)
#define ___is_defined(val) ____is_defined(__ARG_PLACEHOLDER_##val)
#define ____is_defined(arg1_or_junk) __take_second_arg(arg1_or_junk 1, 0)
#define IS_ENABLED(option) __is_defined(option)

#define noinline __attribute__((noinline))
#define noinline_for_stack noinline
#define __init
#define __ro_after_init
#define __read_mostly
#define __force
#define __packed __attribute__((packed))
#define __aligned(x) __attribute__((aligned(x)))
#define fallthrough __attribute__((fallthrough))
#define likely(x) __builtin_expect(!!(x), 1)
#define unlikely(x) __builtin_expect(!!(x), 0)
#define READ_ONCE(x) (x)
#define WRITE_ONCE(x, v) ((x) = (v))
#define smp_rmb() do { } while (0)
#define smp_wmb() do { } while (0)
#define rcu_read_lock() do { } while (0)
#define rcu_read_unlock() do { } while (0)
#define EXPORT_SYMBOL(x)
#define EXPORT_SYMBOL_GPL(x)
#define early_param(s, f)
#define subsys_initcall(fn) void harness_init_hashval(void) { fn(); }
#define BUILD_BUG_ON(x)
#define static_assert(e, ...) _Static_assert(e, #e)
#define BUILD_BUG_ON_ZERO(x) 0
#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#define MAX(a, b) ((a) > (b) ? (a) : (b))
#define min(a, b) ((a) < (b) ? (a) : (b))
#define max(a, b) ((a) > (b) ? (a) : (b))
#define min_t(t, a, b) ((t)(a) < (t)(b) ? (t)(a) : (t)(b))
#define max_t(t, a, b) ((t)(a) > (t)(b) ? (t)(a) : (t)(b))
#define clamp(v, lo, hi) min(max(v, lo), hi)
#define ALIGN(x, a) (((x) + (a) - 1) & ~((a) - 1))
#define DIV_ROUND_UP(n, d) (((n) + (d) - 1) / (d))
#define BIT(n) (1UL << (n))
#define INT_MAX ((int)(~0U >> 1))
#define PAGE_SIZE 4096UL
#define HZ 250
#define EFAULT 14
#define EBUSY 16
#define EINVAL 22
#define MAX_ERRNO 4095
#define IS_ERR_VALUE(x) unlikely((unsigned long)(void *)(x) >= (unsigned long)-MAX_ERRNO)
static inline long PTR_ERR(const void *p) { return (long)p; }
static inline bool IS_ERR(const void *p) { return IS_ERR_VALUE((unsigned long)p); }
static inline bool IS_ERR_OR_NULL(const void *p) { return !p || IS_ERR_VALUE((unsigned long)p); }
#define cpu_to_le16(x) ((u16)(x))
#define ntohs(x) __builtin_bswap16(x)
#define ntohl(x) __builtin_bswap32(x)
#define htonl(x) __builtin_bswap32(x)
#define cpu_to_be32(x) __builtin_bswap32(x)
#define get_unaligned(p) (*(p))
#define upper_32_bits(n) ((u32)((n) >> 32))
#define lower_32_bits(n) ((u32)(n))
#define do_div(n, base) ({ u32 __rem = (n) % (base); (n) /= (base); __rem; })
#define KSYM_NAME_LEN 512
#define KSYM_SYMBOL_LEN (sizeof("%s+%#lx/%#lx [%s %s]") + (KSYM_NAME_LEN - 1) + \
             2*(BITS_PER_LONG*3/10) + (56 - 1) + 1 + 40)
#define UUID_STRING_LEN 36
#define pr_info(...) do { } while (0)
#define pr_warn(...) do { } while (0)

extern int harness_warnings;
#define WARN_ONCE(cond, ...) ({ int __c = !!(cond); if (__c) harness_warnings++; __c; })
#define WARN_ON_ONCE(cond) WARN_ONCE(cond, "")

/* ctype (include/linux/ctype.h, lib/ctype.c) */
#define _U 0x01
#define _L 0x02
#define _D 0x04
#define _C 0x08
#define _P 0x10
#define _S 0x20
#define _X 0x40
#define _SP 0x80
static const unsigned char _ctype[] = {
_C,_C,_C,_C,_C,_C,_C,_C, _C,_C|_S,_C|_S,_C|_S,_C|_S,_C|_S,_C,_C,
_C,_C,_C,_C,_C,_C,_C,_C, _C,_C,_C,_C,_C,_C,_C,_C,
_S|_SP,_P,_P,_P,_P,_P,_P,_P, _P,_P,_P,_P,_P,_P,_P,_P,
_D,_D,_D,_D,_D,_D,_D,_D, _D,_D,_P,_P,_P,_P,_P,_P,
_P,_U|_X,_U|_X,_U|_X,_U|_X,_U|_X,_U|_X,_U, _U,_U,_U,_U,_U,_U,_U,_U,
_U,_U,_U,_U,_U,_U,_U,_U, _U,_U,_U,_P,_P,_P,_P,_P,
_P,_L|_X,_L|_X,_L|_X,_L|_X,_L|_X,_L|_X,_L, _L,_L,_L,_L,_L,_L,_L,_L,
_L,_L,_L,_L,_L,_L,_L,_L, _L,_L,_L,_P,_P,_P,_P,_C,
0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0, 0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,
_S|_SP,_P,_P,_P,_P,_P,_P,_P,_P,_P,_P,_P,_P,_P,_P,_P,
_P,_P,_P,_P,_P,_P,_P,_P,_P,_P,_P,_P,_P,_P,_P,_P,
_U,_U,_U,_U,_U,_U,_U,_U,_U,_U,_U,_U,_U,_U,_U,_U,
_U,_U,_U,_U,_U,_U,_U,_P,_U,_U,_U,_U,_U,_U,_U,_L,
_L,_L,_L,_L,_L,_L,_L,_L,_L,_L,_L,_L,_L,_L,_L,_L,
_L,_L,_L,_L,_L,_L,_L,_P,_L,_L,_L,_L,_L,_L,_L,_L};
#define __ismask(x) (_ctype[(int)(unsigned char)(x)])
#define isalnum(c) ((__ismask(c)&(_U|_L|_D)) != 0)
#define isalpha(c) ((__ismask(c)&(_U|_L)) != 0)
#define isprint(c) ((__ismask(c)&(_P|_U|_L|_D|_SP)) != 0)
#define isdigit(c) __builtin_isdigit(c)
#define isascii(c) (((unsigned char)(c))<=0x7f)
static inline char _tolower(const char c) { return c | 0x20; }

int k_vsnprintf(char *buf, size_t size, const char *fmt, va_list args);
/* hex */
static const char hex_asc[] = "0123456789abcdef";
static const char hex_asc_upper[] = "0123456789ABCDEF";
#define hex_asc_lo(x) hex_asc[((x) & 0x0f)]
#define hex_asc_hi(x) hex_asc[((x) & 0xf0) >> 4]
static inline char *hex_byte_pack(char *buf, u8 byte)
{ *buf++ = hex_asc_hi(byte); *buf++ = hex_asc_lo(byte); return buf; }
static inline char *hex_byte_pack_upper(char *buf, u8 byte)
{ *buf++ = hex_asc_upper[(byte & 0xf0) >> 4]; *buf++ = hex_asc_upper[byte & 0x0f]; return buf; }

/* kstrtox */
#define KSTRTOX_OVERFLOW (1U << 31)
const char *_parse_integer_fixup_radix(const char *s, unsigned int *base);
unsigned int _parse_integer_limit(const char *s, unsigned int base, unsigned long long *res,
                  size_t max_chars);

/* siphash (include/linux/siphash.h, lib/siphash.c) */
typedef struct { u64 key[2]; } siphash_key_t;
static inline u64 rol64(u64 w, unsigned int s) { return (w << s) | (w >> (64 - s)); }
#define SIPHASH_PERMUTATION(a, b, c, d) ( \
    (a) += (b), (b) = rol64((b), 13), (b) ^= (a), (a) = rol64((a), 32), \
    (c) += (d), (d) = rol64((d), 16), (d) ^= (c), \
    (a) += (d), (d) = rol64((d), 21), (d) ^= (a), \
    (c) += (b), (b) = rol64((b), 17), (b) ^= (c), (c) = rol64((c), 32))
#define SIPROUND SIPHASH_PERMUTATION(v0, v1, v2, v3)
#define PREAMBLE(len) \
    u64 v0 = 0x736f6d6570736575ULL; u64 v1 = 0x646f72616e646f6dULL; \
    u64 v2 = 0x6c7967656e657261ULL; u64 v3 = 0x7465646279746573ULL; \
    u64 b = ((u64)(len)) << 56; \
    v3 ^= key->key[1]; v2 ^= key->key[0]; v1 ^= key->key[1]; v0 ^= key->key[0];
#define POSTAMBLE \
    v3 ^= b; SIPROUND; SIPROUND; v0 ^= b; v2 ^= 0xff; \
    SIPROUND; SIPROUND; SIPROUND; SIPROUND; return (v0 ^ v1) ^ (v2 ^ v3);
static u64 siphash_1u64(const u64 first, const siphash_key_t *key)
{
    PREAMBLE(8)
    v3 ^= first;
    SIPROUND;
    SIPROUND;
    v0 ^= first;
    POSTAMBLE
}
static inline unsigned long hash_long(unsigned long v, int bits) { return v >> (64 - bits); }

/* random key and deferred work */
struct work_struct { int x; };
struct delayed_work { struct work_struct work; };
#define DECLARE_DELAYED_WORK(n, f) struct delayed_work n
extern u8 harness_key[16];
static inline bool rng_is_initialized(void) { return true; }
static inline void get_random_bytes(void *buf, size_t n) { memcpy(buf, harness_key, n); }
static inline bool queue_delayed_work(void *wq, struct delayed_work *w, unsigned long d)
{ return true; }
#define system_unbound_wq NULL

/* %pK */
struct cred { int euid, uid, egid, gid; };
extern struct cred harness_cred;
extern int harness_cap_syslog;
#define current NULL
#define CAP_SYSLOG 34
#define current_cred() (&harness_cred)
#define has_capability_noaudit(t, cap) harness_cap_syslog
#define uid_eq(a, b) ((a) == (b))
#define gid_eq(a, b) ((a) == (b))
#define in_irq() 0
#define in_serving_softirq() 0
#define in_nmi() 0

/* kallsyms: __sprint_symbol from kernel/kallsyms.c over the harness's table */
const char *kallsyms_lookup_buildid(unsigned long addr, unsigned long *symbolsize,
                    unsigned long *offset, char **modname,
                    const unsigned char **modbuildid, char *namebuf);
int k_sprintf(char *buf, const char *fmt, ...);
static int __sprint_symbol(char *buffer, unsigned long address,
               int symbol_offset, int add_offset, int add_buildid)
{
    char *modname;
    const unsigned char *buildid;
    const char *name;
    unsigned long offset, size;
    int len;

    address += symbol_offset;
    name = kallsyms_lookup_buildid(address, &size, &offset, &modname, &buildid,
                       buffer);
    if (!name)
        return sprintf(buffer, "0x%lx", address - symbol_offset);

    if (name != buffer)
        strcpy(buffer, name);
    len = strlen(buffer);
    offset -= symbol_offset;

    if (add_offset)
        len += sprintf(buffer + len, "+%#lx/%#lx", offset, size);

    if (modname) {
        len += sprintf(buffer + len, " [%s", modname);
        len += sprintf(buffer + len, "]");
    }

    return len;
}
static int sprint_symbol(char *b, unsigned long a) { return __sprint_symbol(b, a, 0, 1, 0); }
static int sprint_symbol_build_id(char *b, unsigned long a) { return __sprint_symbol(b, a, 0, 1, 1); }
static int sprint_symbol_no_offset(char *b, unsigned long a) { return __sprint_symbol(b, a, 0, 0, 0); }
static int sprint_backtrace(char *b, unsigned long a) { return __sprint_symbol(b, a, -1, 1, 0); }
static int sprint_backtrace_build_id(char *b, unsigned long a) { return __sprint_symbol(b, a, -1, 1, 1); }
#define dereference_symbol_descriptor(p) (p)

/* errname: the table is filled in by the harness generator */
const char *errname(int err);

/* string_escape_mem (lib/string_helpers.c) */
#define ESCAPE_SPACE        BIT(0)
#define ESCAPE_SPECIAL      BIT(1)
#define ESCAPE_NULL     BIT(2)
#define ESCAPE_OCTAL        BIT(3)
#define ESCAPE_ANY      (ESCAPE_SPACE | ESCAPE_OCTAL | ESCAPE_SPECIAL | ESCAPE_NULL)
#define ESCAPE_NP       BIT(4)
#define ESCAPE_ANY_NP       (ESCAPE_ANY | ESCAPE_NP)
#define ESCAPE_HEX      BIT(5)
#define ESCAPE_NA       BIT(6)
#define ESCAPE_NAP      BIT(7)
#define ESCAPE_APPEND       BIT(8)
int string_escape_mem(const char *src, size_t isz, char *dst, size_t osz,
              unsigned int flags, const char *only);

/* struct resource */
struct resource {
    resource_size_t start;
    resource_size_t end;
    const char *name;
    unsigned long flags;
    unsigned long desc;
    struct resource *parent, *sibling, *child;
};
#define IORESOURCE_IO       0x00000100
#define IORESOURCE_MEM      0x00000200
#define IORESOURCE_IRQ      0x00000400
#define IORESOURCE_DMA      0x00000800
#define IORESOURCE_BUS      0x00001000
#define IORESOURCE_PREFETCH 0x00002000
#define IORESOURCE_MEM_64   0x00100000
#define IORESOURCE_WINDOW   0x00200000
#define IORESOURCE_DISABLED 0x10000000
#define IORESOURCE_UNSET    0x20000000
static inline resource_size_t resource_size(const struct resource *res)
{ return res->end - res->start + 1; }

/* bitmaps */
static inline unsigned long find_next_bit(const unsigned long *addr, unsigned long size,
                      unsigned long offset)
{
    for (; offset < size; offset++)
        if (addr[offset / 64] & (1UL << (offset % 64)))
            return offset;
    return size;
}
static inline unsigned long find_next_zero_bit(const unsigned long *addr, unsigned long size,
                           unsigned long offset)
{
    for (; offset < size; offset++)
        if (!(addr[offset / 64] & (1UL << (offset % 64))))
            return offset;
    return size;
}
#define for_each_set_bitrange(b, e, addr, size)         \
    for ((b) = 0;                       \
         (b) = find_next_bit((addr), (size), b),        \
         (e) = find_next_zero_bit((addr), (size), (b) + 1), \
         (b) < (size);                  \
         (b) = (e) + 1)

/* networking */
struct in6_addr { union { u8 u6_addr8[16]; __be16 u6_addr16[8]; __be32 u6_addr32[4]; } in6_u; };
#define s6_addr in6_u.u6_addr8
#define s6_addr16 in6_u.u6_addr16
#define s6_addr32 in6_u.u6_addr32
struct in_addr { __be32 s_addr; };
struct sockaddr { u16 sa_family; char sa_data[14]; };
struct sockaddr_in { u16 sin_family; __be16 sin_port; struct in_addr sin_addr; u8 pad[8]; };
struct sockaddr_in6 { u16 sin6_family; __be16 sin6_port; __be32 sin6_flowinfo;
              struct in6_addr sin6_addr; u32 sin6_scope_id; };
#define AF_INET 2
#define AF_INET6 10
#define IPV6_FLOWINFO_MASK cpu_to_be32(0x0FFFFFFF)
static inline bool ipv6_addr_v4mapped(const struct in6_addr *a)
{
    return ((unsigned long)(a->s6_addr32[0] | a->s6_addr32[1]) |
        (unsigned long)(a->s6_addr32[2] ^ cpu_to_be32(0x0000ffff))) == 0UL;
}
static inline bool ipv6_addr_is_isatap(const struct in6_addr *addr)
{ return (addr->s6_addr32[2] | htonl(0x02000000)) == htonl(0x02005EFE); }

/* uuid */
static const u8 guid_index[16] = {3,2,1,0,5,4,7,6,8,9,10,11,12,13,14,15};
static const u8 uuid_index[16] = {0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15};

/* %pV */
struct va_format { const char *fmt; va_list *va; };

/* dentries, files, block devices: Debian 6.1.0-56-amd64 offsets */
struct qstr { u64 hash_len; const unsigned char *name; };
struct dentry { char pad[24]; struct dentry *d_parent; struct qstr d_name; };
struct path { void *mnt; struct dentry *dentry; };
struct file { char pad[16]; struct path f_path; };
struct gendisk { char pad[12]; char disk_name[32]; };
struct block_device { char pad[848]; u8 bd_partno; char pad2[7]; struct gendisk *bd_disk; };
_Static_assert(__builtin_offsetof(struct block_device, bd_disk) == 856, "bd_disk");

/* clocks */
struct clk_core { const char *name; };
struct clk { struct clk_core *core; };
static inline const char *__clk_get_name(const struct clk *clk)
{ return !clk ? NULL : clk->core->name; }

/* time */
struct rtc_time { int tm_sec, tm_min, tm_hour, tm_mday, tm_mon, tm_year, tm_wday, tm_yday,
          tm_isdst; };
struct tm { int tm_sec, tm_min, tm_hour, tm_mday, tm_mon; long tm_year; int tm_wday, tm_yday; };
#define SECS_PER_HOUR (60 * 60)
#define SECS_PER_DAY (SECS_PER_HOUR * 24)
static inline s64 div_s64_rem(s64 dividend, s32 divisor, s32 *remainder)
{ *remainder = dividend % divisor; return dividend / divisor; }
static inline u64 div64_u64_rem(u64 dividend, u64 divisor, u64 *remainder)
{ *remainder = dividend % divisor; return dividend / divisor; }
void time64_to_tm(time64_t totalsecs, int offset, struct tm *result);

/* page, vma, gfp flags: Debian 6.1.0-56-amd64 */
struct trace_print_flags { unsigned long mask; const char *name; };
extern const struct trace_print_flags pageflag_names[], vmaflag_names[], gfpflag_names[];
#define SECTIONS_WIDTH 0
#define SECTIONS_PGSHIFT 0
#define SECTIONS_MASK 0
#define NODES_WIDTH 10
#define NODES_PGSHIFT 54
#define NODES_MASK 1023
#define ZONES_WIDTH 3
#define ZONES_PGSHIFT 51
#define ZONES_MASK 7
#define LAST_CPUPID_WIDTH 21
#define LAST_CPUPID_PGSHIFT 30
#define LAST_CPUPID_MASK 0x1fffff
#define KASAN_TAG_WIDTH 0
#define KASAN_TAG_PGSHIFT 0
#define KASAN_TAG_MASK 0
#define PAGEFLAGS_MASK ((1UL << 25) - 1)

/* firmware nodes and device tree (CONFIG_OF=n): never reached for valid pointers here */
struct fwnode_handle { int x; };
struct device_node { int phandle; };
struct property { int x; };
#define OF_DYNAMIC 1
#define OF_DETACHED 2
#define OF_POPULATED 3
#define OF_POPULATED_BUS 4
static inline struct fwnode_handle *of_fwnode_handle(struct device_node *dn) { return NULL; }
static inline bool of_node_check_flag(struct device_node *dn, int f) { return false; }
static inline int of_property_read_string(struct device_node *dn, const char *n, const char **p)
{ return -1; }
#define of_property_for_each_string(np, propname, prop, s) \
    for (prop = NULL, s = NULL; s; )
static inline unsigned int fwnode_count_parents(const struct fwnode_handle *f) { return 0; }
static inline struct fwnode_handle *fwnode_get_nth_parent(struct fwnode_handle *f, unsigned int d)
{ return f; }
static inline const char *fwnode_get_name_prefix(const struct fwnode_handle *f) { return ""; }
static inline const char *fwnode_get_name(const struct fwnode_handle *f) { return "fw"; }
static inline void fwnode_handle_put(struct fwnode_handle *f) { }
'''

ORACLE_KERNEL_HELPERS = r'''
static bool escape_passthrough(unsigned char c, char **dst, char *end)
{
    char *out = *dst;
    if (out < end)
        *out = c;
    *dst = out + 1;
    return true;
}
static bool escape_space(unsigned char c, char **dst, char *end)
{
    char *out = *dst;
    unsigned char to;
    switch (c) {
    case '\n':
        to = 'n';
        break;
    case '\r':
        to = 'r';
        break;
    case '\t':
        to = 't';
        break;
    case '\v':
        to = 'v';
        break;
    case '\f':
        to = 'f';
        break;
    default:
        return false;
    }
    if (out < end)
        *out = '\\';
    ++out;
    if (out < end)
        *out = to;
    ++out;
    *dst = out;
    return true;
}
static bool escape_special(unsigned char c, char **dst, char *end)
{
    char *out = *dst;
    unsigned char to;
    switch (c) {
    case '\\':
        to = '\\';
        break;
    case '\a':
        to = 'a';
        break;
    case '\e':
        to = 'e';
        break;
    case '"':
        to = '"';
        break;
    default:
        return false;
    }
    if (out < end)
        *out = '\\';
    ++out;
    if (out < end)
        *out = to;
    ++out;
    *dst = out;
    return true;
}
static bool escape_null(unsigned char c, char **dst, char *end)
{
    char *out = *dst;
    if (c)
        return false;
    if (out < end)
        *out = '\\';
    ++out;
    if (out < end)
        *out = '0';
    ++out;
    *dst = out;
    return true;
}
static bool escape_octal(unsigned char c, char **dst, char *end)
{
    char *out = *dst;
    if (out < end)
        *out = '\\';
    ++out;
    if (out < end)
        *out = ((c >> 6) & 0x07) + '0';
    ++out;
    if (out < end)
        *out = ((c >> 3) & 0x07) + '0';
    ++out;
    if (out < end)
        *out = ((c >> 0) & 0x07) + '0';
    ++out;
    *dst = out;
    return true;
}
static bool escape_hex(unsigned char c, char **dst, char *end)
{
    char *out = *dst;
    if (out < end)
        *out = '\\';
    ++out;
    if (out < end)
        *out = 'x';
    ++out;
    if (out < end)
        *out = hex_asc_hi(c);
    ++out;
    if (out < end)
        *out = hex_asc_lo(c);
    ++out;
    *dst = out;
    return true;
}
int string_escape_mem(const char *src, size_t isz, char *dst, size_t osz,
              unsigned int flags, const char *only)
{
    char *p = dst;
    char *end = p + osz;
    bool is_dict = only && *only;
    bool is_append = flags & ESCAPE_APPEND;
    while (isz--) {
        unsigned char c = *src++;
        bool in_dict = is_dict && strchr(only, c);
        if (!(is_append || in_dict) && is_dict &&
                      escape_passthrough(c, &p, end))
            continue;
        if (!(is_append && in_dict) && isascii(c) && isprint(c) &&
            flags & ESCAPE_NAP && escape_passthrough(c, &p, end))
            continue;
        if (!(is_append && in_dict) && isprint(c) &&
            flags & ESCAPE_NP && escape_passthrough(c, &p, end))
            continue;
        if (!(is_append && in_dict) && isascii(c) &&
            flags & ESCAPE_NA && escape_passthrough(c, &p, end))
            continue;
        if (flags & ESCAPE_SPACE && escape_space(c, &p, end))
            continue;
        if (flags & ESCAPE_SPECIAL && escape_special(c, &p, end))
            continue;
        if (flags & ESCAPE_NULL && escape_null(c, &p, end))
            continue;
        if (flags & ESCAPE_OCTAL && escape_octal(c, &p, end))
            continue;
        if (flags & ESCAPE_HEX && escape_hex(c, &p, end))
            continue;
        escape_passthrough(c, &p, end);
    }
    return p - dst;
}

void time64_to_tm(time64_t totalsecs, int offset, struct tm *result)
{
    u32 u32tmp, day_of_century, year_of_century, day_of_year, month, day;
    u64 u64tmp, udays, century, year;
    bool is_Jan_or_Feb, is_leap_year;
    long days, rem;
    int remainder;
    days = div_s64_rem(totalsecs, SECS_PER_DAY, &remainder);
    rem = remainder;
    rem += offset;
    while (rem < 0) {
        rem += SECS_PER_DAY;
        --days;
    }
    while (rem >= SECS_PER_DAY) {
        rem -= SECS_PER_DAY;
        ++days;
    }
    result->tm_hour = rem / SECS_PER_HOUR;
    rem %= SECS_PER_HOUR;
    result->tm_min = rem / 60;
    result->tm_sec = rem % 60;
    result->tm_wday = (4 + days) % 7;
    if (result->tm_wday < 0)
        result->tm_wday += 7;
    udays   = ((u64) days) + 2305843009213814918ULL;
    u64tmp      = 4 * udays + 3;
    century     = div64_u64_rem(u64tmp, 146097, &u64tmp);
    day_of_century  = (u32) (u64tmp / 4);
    u32tmp      = 4 * day_of_century + 3;
    u64tmp      = 2939745ULL * u32tmp;
    year_of_century = upper_32_bits(u64tmp);
    day_of_year = lower_32_bits(u64tmp) / 2939745 / 4;
    year        = 100 * century + year_of_century;
    is_leap_year    = year_of_century ? !(year_of_century % 4) : !(century % 4);
    u32tmp      = 2141 * day_of_year + 132377;
    month       = u32tmp >> 16;
    day     = ((u16) u32tmp) / 2141;
    is_Jan_or_Feb   = day_of_year >= 306;
    year        = year + is_Jan_or_Feb - 6313183731940000ULL;
    month       = is_Jan_or_Feb ? month - 12 : month;
    day     = day + 1;
    day_of_year += is_Jan_or_Feb ? -306 : 31 + 28 + is_leap_year;
    result->tm_year = (long) (year - 1900);
    result->tm_mon  = (int) month;
    result->tm_mday = (int) day;
    result->tm_yday = (int) day_of_year;
}
'''

# The driver: reads commands on stdin (M: map memory, K: the %p key, S: a symbol, P:
# kptr_restrict/CAP_SYSLOG/no_hash_pointers, T/U/V: a snprintf/scnprintf/%pV call) and prints
# "R <return value> <WARNs> <hex of the buffer up to its NUL>".
ORACLE_DRIVER = r'''
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <stdint.h>
#include <stdbool.h>
#include <stdarg.h>
#include <sys/mman.h>

int k_snprintf(char *buf, size_t size, const char *fmt, ...);
int k_scnprintf(char *buf, size_t size, const char *fmt, ...);
void harness_init_hashval(void);
int harness_warnings;
unsigned char harness_key[16];
struct cred { int euid, uid, egid, gid; } harness_cred;
int harness_cap_syslog = 1;
extern int kptr_restrict;
extern bool no_hash_pointers;

const char *_parse_integer_fixup_radix(const char *s, unsigned int *base) { return s; }
unsigned int _parse_integer_limit(const char *s, unsigned int base, unsigned long long *res,
                  size_t max_chars) { *res = 0; return 0; }

struct va_format { const char *fmt; va_list *va; };

static int call_pV(char *buf, size_t size, const char *outer, const char *inner, ...)
{
    va_list ap;
    int r;

    va_start(ap, inner);
    struct va_format vf = { inner, &ap };
    r = k_snprintf(buf, size, outer, &vf);
    va_end(ap);
    return r;
}

struct sym { unsigned long addr, size; char name[128]; char mod[64]; };
static struct sym syms[256];
static int nsyms;

const char *kallsyms_lookup_buildid(unsigned long addr, unsigned long *symbolsize,
                    unsigned long *offset, char **modname,
                    const unsigned char **modbuildid, char *namebuf)
{
    for (int i = 0; i < nsyms; i++) {
        if (addr >= syms[i].addr && addr < syms[i].addr + syms[i].size) {
            *symbolsize = syms[i].size;
            *offset = addr - syms[i].addr;
            *modname = syms[i].mod[0] ? syms[i].mod : NULL;
            *modbuildid = NULL;
            strcpy(namebuf, syms[i].name);
            return namebuf;
        }
    }
    return NULL;
}

static unsigned char *unhex(const char *h, size_t *n)
{
    size_t len = strlen(h) / 2;
    unsigned char *b = malloc(len + 1);
    for (size_t i = 0; i < len; i++)
        sscanf(h + 2 * i, "%2hhx", &b[i]);
    b[len] = 0;
    *n = len;
    return b;
}

static void puthex(const unsigned char *b, size_t n)
{
    for (size_t i = 0; i < n; i++)
        printf("%02x", b[i]);
}

int main(void)
{
    static char line[1 << 20];
    static char buf[1 << 20];
    while (fgets(line, sizeof(line), stdin)) {
        line[strcspn(line, "\n")] = 0;
        char *tok = strtok(line, " ");
        if (!tok)
            continue;
        if (!strcmp(tok, "M")) {
            unsigned long addr = strtoul(strtok(NULL, " "), NULL, 16);
            size_t n;
            unsigned char *data = unhex(strtok(NULL, " "), &n);
            unsigned long lo = addr & ~4095UL, hi = (addr + n + 4095) & ~4095UL;
            void *p = mmap((void *)lo, hi - lo, PROT_READ | PROT_WRITE,
                       MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
            if (p != (void *)lo) {
                fprintf(stderr, "mmap %lx failed\n", lo);
                return 1;
            }
            memcpy((void *)addr, data, n);
        } else if (!strcmp(tok, "K")) {
            size_t n;
            unsigned char *k = unhex(strtok(NULL, " "), &n);
            memcpy(harness_key, k, 16);
            harness_init_hashval();
        } else if (!strcmp(tok, "S")) {
            struct sym *s = &syms[nsyms++];
            s->addr = strtoul(strtok(NULL, " "), NULL, 16);
            s->size = strtoul(strtok(NULL, " "), NULL, 16);
            strcpy(s->name, strtok(NULL, " "));
            char *m = strtok(NULL, " ");
            strcpy(s->mod, strcmp(m, "-") ? m : "");
        } else if (!strcmp(tok, "P")) {
            kptr_restrict = atoi(strtok(NULL, " "));
            harness_cap_syslog = atoi(strtok(NULL, " "));
            no_hash_pointers = atoi(strtok(NULL, " "));
        } else if (!strcmp(tok, "T") || !strcmp(tok, "U") || !strcmp(tok, "V")) {
            /* T: snprintf, U: scnprintf, V: snprintf(outer, &va_format{inner, args}) */
            char kind = tok[0];
            size_t size = strtoul(strtok(NULL, " "), NULL, 10);
            size_t n;
            unsigned char *fmt = unhex(strtok(NULL, " "), &n);
            unsigned char *inner = kind == 'V' ? unhex(strtok(NULL, " "), &n) : NULL;
            unsigned long a[16] = {0};
            char *t;
            int r;

            for (int i = 0; i < 16 && (t = strtok(NULL, " ")); i++)
                a[i] = strtoul(t, NULL, 16);
            memset(buf, 0xaa, size + 1);
            harness_warnings = 0;
            if (kind == 'V')
                r = call_pV(buf, size, (char *)fmt, (char *)inner,
                        a[0], a[1], a[2], a[3], a[4], a[5], a[6], a[7], a[8],
                        a[9], a[10], a[11], a[12], a[13], a[14], a[15]);
            else
                r = (kind == 'U' ? k_scnprintf : k_snprintf)(buf, size, (char *)fmt,
                        a[0], a[1], a[2], a[3], a[4], a[5], a[6], a[7], a[8],
                        a[9], a[10], a[11], a[12], a[13], a[14], a[15]);
            printf("R %d %d ", r, harness_warnings);
            puthex((unsigned char *)buf, (size_t)r + 1 < size ? (size_t)r + 1 : size);
            printf("\n");
            fflush(stdout);
            free(fmt);
            free(inner);
        }
    }
    return 0;
}
'''


def _oracle_tables() -> str:
    """errname() and the %pG name tables, from the port (checked separately against 6.1)."""
    from pseudokernel.emu import errname as errname_table

    out = ["const char *errname(int err)", "{", "\tstatic const char *names[600];",
           "\tunsigned e = err < 0 ? -err : err;", "\tif (!names[1]) {"]
    out += [f'\t\tnames[{n}] = "-{name}";' for n, name in errname_table._ERRNO_NAMES.items()]
    out += ["\t}", "\tif (e >= 600 || !names[e])", "\t\treturn NULL;",
            "\treturn err > 0 ? names[e] + 1 : names[e];", "}"]
    for cname, table in (("pageflag_names", PAGEFLAG_NAMES),
                         ("vmaflag_names", VMAFLAG_NAMES), ("gfpflag_names", GFPFLAG_NAMES)):
        out.append(f"const struct trace_print_flags {cname}[] = {{")
        out += [f'\t{{ {mask:#x}UL, "{name}" }},' for mask, name in table]
        out.append("\t{ 0, NULL } };")
    return "\n".join(out) + "\n"


@pytest.fixture(scope="module")
def oracle(tmp_path_factory):
    source = KSRC / "lib" / "vsprintf.c"
    if shutil.which("gcc") is None or not source.exists():
        pytest.fail(f"needs gcc and the kernel's lib/vsprintf.c in {KSRC} (scripts/install --test)")
    src = source.read_text()
    src = src[:src.index("#ifdef CONFIG_BINARY_PRINTF")]      # bprintf and vsscanf: not ours
    src = re.sub(r"^#include .*$", "", src, flags=re.M)
    d = tmp_path_factory.mktemp("vsprintf_oracle")
    (d / "kernel.c").write_text(ORACLE_PRELUDE + src + ORACLE_KERNEL_HELPERS + _oracle_tables())
    (d / "driver.c").write_text(ORACLE_DRIVER)
    exe = d / "oracle"
    subprocess.run(["gcc", "-O1", "-fwrapv", "-fno-strict-aliasing", "-w", "-o", str(exe),
                    str(d / "kernel.c"), str(d / "driver.c")], check=True)
    return exe


class _OracleWorld:
    """Memory, symbols and argument generators shared by the C oracle and the port. Addresses
    are user-space ones, so that the oracle can map them at the same place."""

    A, B, C, D, E, F = (0x10000000 + 0x10000 * i for i in range(6))

    def __init__(self) -> None:
        self.mem = FakeMemory()
        self.structs: dict[str, int] = {}
        strs = [b"hello", b"world", b"", b"a" * 40, bytes([0xE9, 0x41, 0xFF, 0x7F, 0x01]),
                b"sda", b"nvme0n1", b"eth0", b"x" * 300]
        blob = bytearray()
        self.strings = []
        for s in strs:
            self.strings.append(self.A + len(blob))
            blob += s + b"\0"
        self.mem.add(self.A, bytes(blob))
        rnd = random.Random(7)
        self.mem.add(self.B, bytes(range(256)) + bytes(rnd.randrange(256) for _ in range(3840))
                     + bytes([0x0A, 0x0D, 0x09, 0x5C, 0x22, 0x07, 0x1B, 0, 0xA0, 0xFF, 0x20,
                              0x41] * 40))
        c = bytearray(4096)

        def put(off: int, data: bytes, name: str) -> None:
            c[off:off + len(data)] = data
            self.structs[name] = self.C + off

        resources = [(0x1000, 0x1FFF, 0x200 | 0x2000 | 0x100000), (0x3F8, 0x3FF, 0x100),
                     (5, 5, 0x400), (1, 1, 0x800), (0, 0xFF, 0x1000 | 0x200000),
                     (0xFEE00000, 0xFEE00FFF, 0x200 | 0x20000000), (0, 0, 0),
                     (0x100, 0x1FF, 0x200 | 0x10000000 | 0x200000), (U64, 0, 0x20000400)]
        for i, (start, end, flags) in enumerate(resources):
            put(0x40 * i, struct.pack("<QQQQ", start, end, 0, flags), f"res{i}")
        put(0x400, struct.pack("<H", 2) + struct.pack(">H", 8080) + bytes([192, 168, 1, 10])
            + bytes(8), "sin")
        for name, off, port, flow, addr, scope in (
                ("sin6a", 0x420, 0x5000, 0x12345678, "20010db8000000000000ff0000420329", 7),
                ("sin6b", 0x440, 0x0100, 0xFFFFFFFF, "00000000000000000000ffffc0a80001", 0),
                ("sin6c", 0x460, 0, 0, "fe8000000000000002005efe0a000001", 3)):
            put(off, struct.pack("<HHI16sI", 10, port, flow, bytes.fromhex(addr), scope), name)
        put(0x480, struct.pack("<HH12x", 1, 0), "sunix")
        for name, off, fmt, value in (
                ("phys", 0x4A0, "<Q", 0xFEE00000), ("phys2", 0x4A8, "<Q", 0x1234),
                ("feat", 0x4B0, "<Q", 0x1A0003), ("fourcc", 0x4B8, "<I", 0x34325258),
                ("fourcc2", 0x4BC, "<I", 0xB4325258), ("fourcc3", 0x4C0, "<I", 0x0102037F),
                ("time1", 0x4F0, "<q", 1546615943), ("time2", 0x4F8, "<q", -1),
                ("time3", 0x500, "<q", 951782400), ("time4", 0x508, "<q", -62135683200),
                ("gfp", 0x510, "<I", 0xCC0), ("gfp2", 0x514, "<I", 0x8400CC0),
                ("vma", 0x518, "<Q", 0x73), ("page0", 0x528, "<Q", 0),
                ("page", 0x520, "<Q", (5 << 54) | (2 << 51) | (0x1FFFFF << 30) | 0x10028),
                ("time5", 0x538, "<q", -186406790400)):
            put(off, struct.pack(fmt, value), name)
        put(0x4C8, struct.pack("<9i", 23, 32, 15, 4, 0, 119, 5, 3, 0), "rtc")
        self.mem.add(self.C, bytes(c))
        d = bytearray(4096)
        names = {}
        for i, n in enumerate((b"/", b"etc", b"ssl", b"certs", b"file.txt")):
            d[0xF00 + 16 * i:0xF00 + 16 * i + len(n)] = n
            names[n] = self.D + 0xF00 + 16 * i
        for off, parent, name in ((0, 0, b"/"), (0x40, 0, b"etc"), (0x80, 0x40, b"ssl"),
                                  (0xC0, 0x80, b"certs"), (0x100, 0xC0, b"file.txt"),
                                  (0x140, 0x800, b"etc")):
            struct.pack_into("<QQ", d, off + 24, self.D + parent, 0)
            struct.pack_into("<Q", d, off + 40, names[name])
            self.structs[f"dent{off}"] = self.D + off
        struct.pack_into("<Q", d, 0x800 + 40, names[b"ssl"])        # d_parent NULL
        struct.pack_into("<Q", d, 0x200 + 24, self.D + 0x100)        # a struct file
        self.structs["file"] = self.D + 0x200
        d[0x300 + 12:0x300 + 16] = b"sda\0"
        d[0x340 + 12:0x340 + 20] = b"nvme0n1\0"
        self.mem.add(self.D, bytes(d))
        e = bytearray(4096)
        for i, (disk, part) in enumerate(((0x300, 0), (0x300, 3), (0x340, 2), (0x340, 0))):
            e[0x400 * i + 848] = part
            struct.pack_into("<Q", e, 0x400 * i + 856, self.D + disk)
            self.structs[f"bdev{i}"] = self.E + 0x400 * i
        self.mem.add(self.E, bytes(e))
        self.mem.add(self.F, struct.pack("<QQQ", self.F + 16, 0, self.strings[7]))
        self.structs["clk"] = self.F
        self.symbols = FakeSymbols([
            (0xFFFFFFFF81000000, 0x120, "do_one_initcall", None),
            (0xFFFFFFFFC0000000, 0x40, "hello_init", "hello"),
            (0xFFFFFFFFC0000040, 0x1, "tiny", "hello")])

    def setup_lines(self) -> list[str]:
        lines = [f"K {KEY.hex()}"]
        lines += [f"M {a:x} {data.hex()}" for a, data in self.mem.regions.items()]
        lines += [f"S {a:x} {size:x} {name} {mod or '-'}" for a, size, name, mod in
                  self.symbols.table]
        return lines

    # -- generated formats --

    INTS = [0, 1, 7, 8, 9, 10, 15, 16, 42, 99, 100, 127, 128, 255, 256, 1000, 32767, 32768,
            65535, 65536, (1 << 31) - 1, 1 << 31, (1 << 32) - 1, 1 << 32, (1 << 63) - 1, 1 << 63,
            U64, U64 - 1, U64 - 4094, U64 - 4095, 0x12345678, 0xDEADBEEF, 0xFFFFFFFFC0000000,
            0xFFFF888000000000, ERR_PTR(-12), ERR_PTR(-100000)]
    EXTENSIONS = [
        "", "S", "s", "SR", "sR", "B", "Bb", "Sb", "SRb", "x", "K", "e", "F", "f", "fw", "A",
        "V", "O", "OF", "OFf", "Z", "P", "h", "hC", "hD", "hN", "E", "Ea", "Ec", "Eh", "En",
        "Eo", "Ep", "Es", "Ehp", "Espc", "M", "MF", "MR", "m", "mR", "mF", "I4", "i4", "I4h",
        "I4l", "I4n", "I4b", "i4h", "I6", "i6", "I6c", "i6c", "I", "i", "Ix", "IS", "iS",
        "ISp", "ISpc", "ISpfsc", "ISc", "ISf", "ISs", "iSp", "ISph", "ISpl", "iSpb", "U", "Ub",
        "UB", "Ul", "UL", "Ux", "N", "NF", "4", "4cc", "4c", "a", "ap", "ad", "ax", "d", "d2",
        "d3", "d4", "d5", "D", "D2", "D4", "g", "C", "Cn", "G", "Gp", "Gv", "Gg", "Gx", "t",
        "tR", "tT", "tTd", "tTt", "tTr", "tTs", "tTdr", "tTrs", "tRr", "tRd", "tRt", "tRs",
        "tTx", "r", "R", "b", "bl", "us", "ks", "ux", "k", "u", "\xe9", "ab9"]
    BAD_POINTERS = [0, 1, 4095, U64, ERR_PTR(-12), ERR_PTR(-4095)]

    def rint(self, r: random.Random) -> int:
        return r.choice(self.INTS) if r.random() < 0.7 else r.getrandbits(r.choice([8, 16, 32,
                                                                                   64]))

    def pointer_for(self, ext: str, r: random.Random) -> int:
        """A pointer the oracle can dereference for this extension, or one check_pointer()
        rejects (a bad pointer would crash the oracle, as it would oops the kernel)."""
        if r.random() < 0.12 or ext[:2] in ("fw", "V"):
            return r.choice(self.BAD_POINTERS)
        s = self.structs
        e0 = ext[:1]
        if ext in ("k", "u", "ux") or e0 in ("", "S", "s", "B", "x", "K", "e", "F", "f", "A",
                                             "O", "Z", "P", "\xe9"):
            return r.choice([a for a, _, _, _ in self.symbols.table] + [
                0xFFFFFFFF81000005, 0xFFFFFFFFC000003F, 0xFFFFFFFFC0000041, 0xFFFFFFFF80000000,
                self.A, U64 - 4095, ERR_PTR(-100000)] + self.BAD_POINTERS)
        if ext[:2] in ("IS", "iS"):
            return s[r.choice(("sin", "sin6a", "sin6b", "sin6c", "sunix"))]
        if e0 in "hEMmUbIi":
            return self.B + r.randrange(3000)
        if e0 in "rR":
            return s[f"res{r.randrange(9)}"]
        if e0 in "N4":
            return r.choice([s["feat"], s["fourcc"], s["fourcc2"], s["fourcc3"], self.B + 64])
        if e0 == "a":
            return r.choice([s["phys"], s["phys2"]])
        if e0 == "d":
            return s[f"dent{r.choice((0, 0x40, 0x80, 0xC0, 0x100, 0x140))}"]
        if e0 == "D":
            return s["file"]
        if e0 == "g":
            return s[f"bdev{r.randrange(4)}"]
        if e0 == "C":
            return s["clk"]
        if e0 == "G":
            return s[r.choice(("gfp", "gfp2", "vma", "page", "page0"))]
        if e0 == "t":
            return s[r.choice(("rtc", "time1", "time2", "time3", "time4", "time5"))]
        assert e0 in "uk", ext
        return r.choice(self.strings)

    def case(self, r: random.Random) -> tuple[bytes, list[int]]:
        """A format of 1-4 conversions with literal text around them, and its arguments."""
        fmt: list[str] = []
        args: list[int] = []
        bare_p = False      # a following alphanumeric would extend a bare %p
        for _ in range(r.randrange(1, 5)):
            if r.random() < 0.5 and not bare_p:
                fmt.append(r.choice(["abc", " ", "\n", "x=", "[", "]", "\xe9", "\x016",
                                     "lit%%"]))
            flags = "".join(r.choice("-+ #0") for _ in range(r.choice([0, 0, 1, 1, 2, 3])))
            conv = r.choice("diuoxXcsp%" * 3 + "pppppppp" + "nfeEgajqZy")
            ext = r.choice(self.EXTENSIONS) if conv == "p" else ""
            # the extensions that read field-width bytes, and the sockaddr ones whose stack
            # buffer a wide port overruns in the kernel, get small widths and precisions
            small = ext[:1] in ("h", "E", "b") or ext[1:2] == "S"
            tiny = ext[1:2] == "S"
            width, star_args = "", []
            x = r.random()
            if x < 0.3:
                width = str(r.choice([1, 2, 3, 5] if tiny else [1, 2, 3, 5, 8, 10, 16, 20, 33,
                                                                 64, 65, 100] if small else
                                     [0, 1, 2, 3, 5, 8, 10, 16, 17, 20, 40, 100, 8388607,
                                      8388608, 16777221, 99999999, 4294967299]))
            elif x < 0.45:
                width = "*"
                star_args.append(r.choice([0, 1, 3, 5, -1, -5] if tiny else [
                    0, 1, 3, 8, 17, 32, 63, 64, 65, 200, -1, -5] if small else [
                    0, 1, 5, 20, -1, -7, -20, 8388607, 8388608, -8388608, -8388609,
                    (1 << 31) - 1, (1 << 32) - 1, 1 << 31]) & U64)
            prec = ""
            y = r.random()
            if y < 0.15:
                prec = "."
            elif y < 0.35:
                prec = "." + str(r.choice([0, 1, 2, 3, 5] if small else [
                    0, 1, 2, 3, 5, 10, 20, 32767, 32768, 40000, 65539, 99999]))
            elif y < 0.45:
                prec = ".*"
                star_args.append(r.choice([0, 1, 3, 5, -1, -3] if small else [
                    0, 1, 3, 10, -1, -3, 32767, 32768, 65537, (1 << 31) - 1,
                    (1 << 32) - 1]) & U64)
            qual = r.choice(["", "", "", "h", "hh", "l", "ll", "L", "z", "t", "j", "q", "Z",
                             "LL", "lll", "hhh"])
            fmt.append("%" + flags + width + prec + qual + conv + ext)
            bare_p = conv == "p" and ext == ""
            if r.random() < 0.2 and not bare_p:
                fmt.append(r.choice(["abc", "9", "Z", "\xe9", "x"]))
            args += star_args
            if conv == "s":
                args.append(r.choice(self.strings + [0, 5, U64, ERR_PTR(-22)]))
            elif conv == "p":
                args.append(self.pointer_for(ext, r))
            elif conv != "%":
                args.append(self.rint(r))
        if r.random() < 0.1:
            fmt.append(r.choice(["%", "%-", "%5", "%.", "%l", "%5.3", "%*", "%.*"]))
            args += [5, 5]
        return "".join(fmt).encode("latin-1"), args[:16]

    def va_format_memory(self, inner: bytes, args: list[int]) -> tuple[FakeMemory, int]:
        """The oracle's call_pV(buf, size, outer, inner, ...): four named arguments, so the
        va_list starts with gp_offset 32 (r8 and r9), then the stack."""
        mem = FakeMemory()
        mem.regions = dict(self.mem.regions)
        base = 0x20000000
        args = args + [0] * (16 - len(args))
        mem.add(base, inner + b"\0")
        mem.add(base + 0x1000, bytes(32) + struct.pack("<QQ", args[0], args[1]))
        mem.add(base + 0x2000, b"".join(struct.pack("<Q", a) for a in args[2:]))
        mem.add(base + 0x3000, struct.pack("<IIQQ", 32, 48, base + 0x2000, base + 0x1000))
        mem.add(base + 0x4000, struct.pack("<QQ", base, base + 0x3000))
        return mem, base + 0x4000


def _run_oracle(exe: Path, lines: list[str]) -> list[tuple[int, int, bytes]]:
    out = subprocess.run([str(exe)], input="\n".join(lines) + "\n", capture_output=True,
                         text=True, check=True).stdout
    results = []
    for line in out.splitlines():
        parts = line.split(" ")
        results.append((int(parts[1]), int(parts[2]), bytes.fromhex(parts[3])))
    return results


FUZZ_CASES = int(os.environ.get("PSEUDOKERNEL_VSPRINTF_FUZZ", "3000"))


@pytest.mark.parametrize("settings", [
    dict(kptr_restrict=0, cap_syslog=True, no_hash_pointers=False),
    dict(kptr_restrict=1, cap_syslog=True, no_hash_pointers=False),
    dict(kptr_restrict=1, cap_syslog=False, no_hash_pointers=False),
    dict(kptr_restrict=2, cap_syslog=True, no_hash_pointers=True),
], ids=["default", "kptr1", "kptr1-nocap", "kptr2-nohash"])
def test_differential_against_kernel_source(oracle, settings):
    world = _OracleWorld()
    r = random.Random(repr(sorted(settings.items())))
    n = FUZZ_CASES if settings["kptr_restrict"] == 0 else FUZZ_CASES // 6
    lines = world.setup_lines()
    lines.append(f"P {settings['kptr_restrict']} {int(settings['cap_syslog'])} "
                 f"{int(settings['no_hash_pointers'])}")
    cases = []
    for i in range(n):
        kind = "TTTTTTUV"[i % 8]
        size = r.choice([4096] * 6 + [0, 1, 2, 7, 16, 33])
        fmt, args = world.case(r)
        if kind == "V":
            outer = r.choice([b"%pV", b"<%pV>", b"%20.3pV|", b"a%pV%%"])
            cases.append((kind, size, outer, fmt, args))
            lines.append(f"V {size} {outer.hex()}00 {fmt.hex()}00 "
                         + " ".join(f"{a:x}" for a in args))
        else:
            cases.append((kind, size, fmt, None, args))
            lines.append(f"{kind} {size} {fmt.hex()}00 " + " ".join(f"{a:x}" for a in args))
    results = _run_oracle(oracle, lines)
    assert len(results) == len(cases)
    mismatches = []
    for (kind, size, fmt, inner, args), (ret, warns, buf) in zip(cases, results):
        warned: list[str] = []
        mem = world.mem
        warn = warned.append
        call_args = args + [0] * (16 - len(args))
        if kind == "V":
            mem, vaf = world.va_format_memory(inner, args)
            call_args = [vaf, 7]
        out = vsnprintf(fmt, ListArgs(call_args), mem, world.symbols, hash_key=KEY,
                        warn=lambda site, msg, warn=warn: warn(site), **settings)
        written, pret = (scnprintf_result if kind == "U" else snprintf_result)(out, size)
        if kind == "U" and size == 0:
            warned = []     # vscnprintf() returns before formatting anything
        if pret != ret or written[:len(buf)] != buf or bool(warned) != bool(warns):
            mismatches.append((kind, size, fmt, inner, [hex(a) for a in args], ret, buf[:200],
                               pret, written[:200]))
    assert not mismatches, mismatches[:5]
