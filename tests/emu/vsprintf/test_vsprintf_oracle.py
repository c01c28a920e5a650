"""The kernel's own lib/vsprintf.c as an oracle: compiled as a user-space program with a small
shim (oracle/), it formats thousands of generated formats, %p extensions included, and the port
must print the same bytes, return the same value and WARN alike (needs gcc and the kernel's
lib/vsprintf.c, which scripts/install --test caches).
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
from vsprintf_fakes import ERR_PTR, KEY, U64, FakeMemory, FakeSymbols

from pseudokernel.emu.mmflags import GFPFLAG_NAMES, PAGEFLAG_NAMES, VMAFLAG_NAMES
from pseudokernel.emu.vsprintf import ListArgs, scnprintf_result, snprintf_result, vsnprintf

KSRC = Path(os.environ.get("PSEUDOKERNEL_KSRC", Path.home() / ".cache/pseudokernel/ksrc/6.1"))

# Just enough of the kernel around lib/vsprintf.c to build it as a user-space program:
# oracle/prelude.h before it, oracle/kernel_helpers.c after it. The pieces of other kernel
# files it calls are copied from 6.1: string_escape_mem() (lib/string_helpers.c),
# time64_to_tm() (kernel/time/timeconv.c), __sprint_symbol() (kernel/kallsyms.c),
# siphash_1u64() (lib/siphash.c) and the ctype table (lib/ctype.c). The structures pointed to
# have Debian 6.1.0-56-amd64's layout.
# oracle/driver.c, the driver: reads commands on stdin (M: map memory, K: the %p key, S: a
# symbol, P: kptr_restrict/CAP_SYSLOG/no_hash_pointers, T/U/V: a snprintf/scnprintf/%pV call)
# and prints "R <return value> <WARNs> <hex of the buffer up to its NUL>".
ORACLE_SRC = Path(__file__).parent / "oracle"
ORACLE_PRELUDE = (ORACLE_SRC / "prelude.h").read_text()
ORACLE_KERNEL_HELPERS = (ORACLE_SRC / "kernel_helpers.c").read_text()
ORACLE_DRIVER = (ORACLE_SRC / "driver.c").read_text()


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
