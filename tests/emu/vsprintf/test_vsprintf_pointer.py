"""The %p conversions beyond lib/test_printf.c's: plain, hashed and restricted pointers (%p %px
%pK), error pointers (%pe), symbols (%pS), raw buffers, addresses and resources (%ph %pE %pa %pN
%p4cc %pR), network addresses (%pI %pM %pU), kernel objects (%pd %pD %pg %pC %pt %pG) and what
this kernel has not (%pO %pA %pfw); cases derived by reading lib/vsprintf.c.
"""

from __future__ import annotations

import struct

from vsprintf_fakes import (
    BDEV,
    CLK,
    DENTRY,
    ERR_PTR,
    FEATURES,
    FOURCC,
    HELLO,
    IP4,
    IP6,
    IP6_ISATAP,
    IP6_LOOPBACK,
    IP6_ONEZERO,
    IP6_V4MAPPED,
    MAC,
    PHYS,
    RES_BUS,
    RES_IO,
    RES_IRQ,
    RES_MEM,
    RES_NONE,
    RES_UNSET,
    SEQ,
    SIN,
    SIN6,
    SUNIX,
    T64,
    T64_BC,
    T64_LEAP,
    T64_NEG,
    VMA,
    _place,
    hashed,
    kprintf,
)

from pseudokernel.emu.errname import errname
from pseudokernel.emu.mmflags import GFPFLAG_NAMES, VMAFLAG_NAMES
from pseudokernel.emu.siphash import siphash_1u64
from pseudokernel.emu.vsprintf import BOOT_HASH_KEY, UNSUPPORTED

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
