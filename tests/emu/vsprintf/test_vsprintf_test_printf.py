"""The kernel's own expectations: lib/test_printf.c's cases (test_basic, test_number,
test_string, the pointer and %p extension tests, page_flags_test) against the port, and
lib/test_siphash.c's vectors for the siphash that %p hashes with.
"""

from __future__ import annotations

import struct

import pytest
from vsprintf_fakes import (
    ABCDEF,
    BITS20_FULL,
    BITS20_PRIMES,
    BITS20_ZERO,
    COFFEE,
    DENTRY,
    ERR_PTR,
    FOURCC,
    GFP,
    IP4,
    KEY,
    MAC,
    RTC,
    S123456,
    SEQ,
    SIN,
    SIN_LO,
    T64,
    VMA,
    _place,
    cstr,
    hashed,
    kprintf,
)

from pseudokernel.emu.mmflags import PAGEFLAG_NAMES
from pseudokernel.emu.siphash import siphash, siphash_1u64
from pseudokernel.emu.vsprintf import snprintf_result

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
