"""The format loop and what it is made of: format_decode() (conversions, qualifiers, what stops
the output, the bit-field widths of struct printf_spec), number() and string() where the kernel
differs from ISO C, the va_list and %pV, the callers' buffer-size rules, and the printk level
prefixes; cases derived by reading lib/vsprintf.c. test_agrees_with_glibc checks the
conversions where the kernel and glibc agree against glibc's snprintf (needs gcc).
"""

from __future__ import annotations

import shutil
import struct
import subprocess

import pytest
from vsprintf_fakes import (
    ABCDEF,
    ERR_PTR,
    HELLO,
    MEM,
    U64,
    UNTERMINATED,
    FakeMemory,
    cstr,
    kprintf,
)

from pseudokernel.emu.vsprintf import MemoryFault, VaListArgs, scnprintf_result, snprintf_result, vsnprintf
from pseudokernel.log import printk_get_level, printk_skip_headers, printk_skip_level

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
