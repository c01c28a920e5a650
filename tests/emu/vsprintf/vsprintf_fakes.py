"""What the vsprintf tests format against: a memory made of byte regions (FakeMemory), a
kallsyms (FakeSymbols), the objects placed in MEM that the %p extensions read (strings, addresses,
resources, dentries, block devices, times ...), and kprintf(), vsnprintf() over them with the
test key KEY. Every test_vsprintf_*.py here shares the one MEM.
"""

from __future__ import annotations

import struct

from pseudokernel.emu.siphash import siphash_1u64
from pseudokernel.emu.vsprintf import ListArgs, MemoryFault, vsnprintf

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
