"""The %p extensions that read kernel objects: dentries and files (%pd %pD), block devices
(%pg) and clocks (%pC) through the profile's struct layouts, times (%ptR %ptT), page, vma and
gfp flags (%pG) with mm/debug.c's names, and the firmware nodes an x86 kernel has not (%pO) or
this port cannot name (%pfw, UNSUPPORTED).

Apart from buffers.py and net.py because what these print depends on a kernel build, its
structure layouts and its configuration (Debian 6.1.0-56-amd64's), not only on the bytes.
"""

from __future__ import annotations

from ...bits import s32
from ..ctype import isdigit
from ..mmflags import GFPFLAG_NAMES, PAGEFLAG_NAMES, VMAFLAG_NAMES
from ..timeconv import time64_to_tm
from .printf_spec import (
    PrintfSpec,
    _Ctx,
    check_pointer,
    default_dec02_spec,
    default_dec04_spec,
    default_dec_spec,
    default_flag_spec,
    error_string,
    number,
    string,
    widen_string,
)
from .va_list import U64

# %p extensions this port cannot render faithfully. For a pointer that passes check_pointer they
# print what the kernel prints for an invalid pointer there: error_string("(efault)", spec).
UNSUPPORTED: dict[str, str] = {
    "fw": "%pfw[fP] (fwnode_handle): naming a firmware node calls through fwnode->ops, which is "
          "emulated module or kernel code; x86 modules rarely have one (no OF, ACPI only)",
}


# --------------------------------------------------------------------------------------------
# Kernel objects: %pd %pD %pg %pC (the profile's struct layouts, profile/layouts.py)


def dentry_name(ctx: _Ctx, ptr: int, spec: PrintfSpec, fmt: bytes) -> bytes:
    """%pd[234]: the last 1-4 components of a dentry's path, joined with '/'."""
    depth = fmt[1] - 0x30 if fmt[1] in (0x32, 0x33, 0x34) else 1
    array = []
    d = ptr
    for i in range(depth):
        err = check_pointer(d, spec)
        if err is not None:
            return err
        p = ctx.u64(d + ctx.S.dentry.d_parent)
        array.append(ctx.u64(d + ctx.S.dentry.d_name + ctx.S.qstr.name))
        if p == d:
            if i:
                array[i] = None     # the root's name "/" is not printed above a component
            break
        d = p
    # the names, outermost first, joined by '/', at most precision characters; like the kernel,
    # read no name the precision does not reach
    out = bytearray()
    left = spec.precision               # -1: no limit
    for i, name in enumerate(reversed(array)):
        if i:
            if left == 0:
                break
            out += b"/"
            left -= 1 if left > 0 else 0
        if left == 0:
            break
        s = ctx.cstr(name, left) if name is not None else b""
        out += s
        if left > 0:
            left -= len(s)
    return widen_string(bytes(out), len(out), spec)


def file_dentry_name(ctx: _Ctx, ptr: int, spec: PrintfSpec, fmt: bytes) -> bytes:
    """%pD[234]: as %pd for a struct file's f_path.dentry."""
    err = check_pointer(ptr, spec)
    if err is not None:
        return err
    return dentry_name(ctx, ctx.u64(ptr + ctx.S.file.f_path + ctx.S.path.dentry), spec, fmt)


def bdev_name(ctx: _Ctx, ptr: int, spec: PrintfSpec, fmt: bytes) -> bytes:
    """%pg: a block_device as its disk name and partition number ("sda1", "nvme0n1p2")."""
    err = check_pointer(ptr, spec)
    if err is not None:
        return err
    hd = ctx.u64(ptr + ctx.S.block_device.bd_disk)
    name_addr = (hd + ctx.S.gendisk.disk_name) & U64
    out = string(ctx, name_addr, spec)
    partno = ctx.u8(ptr + ctx.S.block_device.bd_partno)
    if partno:
        name = ctx.cstr(name_addr)
        last = name[-1] if name else ctx.u8(name_addr - 1)
        if isdigit(last):
            out += b"p"
        out += number(partno, spec)
    return out


def clock(ctx: _Ctx, ptr: int, spec: PrintfSpec, fmt: bytes) -> bytes:
    """%pC[n]: a struct clk's name, clk->core->name (COMMON_CLK; both first members)."""
    err = check_pointer(ptr, spec)
    if err is not None:
        return err
    core = ctx.u64(ptr)
    return string(ctx, ctx.u64(core), spec)


# --------------------------------------------------------------------------------------------
# %pt: time and date

def date_str(tm: list[int], r: bool) -> bytes:
    year = s32(tm[5] + (0 if r else 1900))
    mon = s32(tm[4] + (0 if r else 1))
    return (number(year, default_dec04_spec) + b"-" + number(mon, default_dec02_spec) + b"-"
            + number(tm[3], default_dec02_spec))


def time_str(tm: list[int], r: bool) -> bytes:
    return (number(tm[2], default_dec02_spec) + b":" + number(tm[1], default_dec02_spec) + b":"
            + number(tm[0], default_dec02_spec))


def rtc_str(tm: list[int], spec: PrintfSpec, fmt: bytes) -> bytes:
    """tm: struct rtc_time's ints (sec, min, hour, mday, mon, year, ...). [dt] date or time
    only, r raw (no 1900/1 offsets), s a space instead of the ISO 8601 'T'."""
    have_t = have_d = True
    raw = False
    iso8601_separator = True
    count = 2
    if fmt[count] == 0x64:
        have_t = False
        count += 1
    elif fmt[count] == 0x74:
        have_d = False
        count += 1
    while True:
        c = fmt[count]
        count += 1
        if c == 0x72:
            raw = True
        elif c == 0x73:
            iso8601_separator = False
        else:
            break
    out = b""
    if have_d:
        out += date_str(tm, raw)
    if have_d and have_t:
        out += b"T" if iso8601_separator else b" "
    if have_t:
        out += time_str(tm, raw)
    return out


def time_and_date(ctx: _Ctx, ptr: int, spec: PrintfSpec, fmt: bytes) -> bytes:
    """%ptR a struct rtc_time, %ptT a time64_t (both by reference): "2019-01-04T15:32:23"."""
    err = check_pointer(ptr, spec)
    if err is not None:
        return err
    if fmt[1] == 0x52:
        raw = ctx.bytes(ptr, 24)
        tm = [s32(int.from_bytes(raw[i:i + 4], "little")) for i in range(0, 24, 4)]
        return rtc_str(tm, spec, fmt)
    if fmt[1] == 0x54:
        t = ctx.u64(ptr)
        return rtc_str(time64_to_tm(t - (1 << 64) if t >> 63 else t), spec, fmt)
    return error_string(b"(%pt?)", spec)


# --------------------------------------------------------------------------------------------
# %pG: page, vma and gfp flags, with Debian 6.1.0-56-amd64's page-flags-layout.h evaluated
# against its configuration; the name tables are mm/debug.c's (mmflags.py)

NR_PAGEFLAGS = 25
# struct page_flags_fields pff[] with their widths: sections (0: skipped), node, zone,
# lastcpupid, kasantag (0: skipped)
_PFF = (
    (10, 54, 1023, default_dec_spec, b"node"),
    (3, 51, 7, default_dec_spec, b"zone"),
    (21, 30, 0x1FFFFF, default_flag_spec, b"lastcpupid"),
)


def format_flags(flags: int, names: tuple[tuple[int, str], ...]) -> bytes:
    out = []
    for mask, name in names:
        if not flags:
            break
        if flags & mask != mask:
            continue
        out.append(name.encode())
        flags &= ~mask
        if flags:
            out.append(b"|")
    if flags:
        out.append(number(flags, default_flag_spec))
    return b"".join(out)


def format_page_flags(flags: int) -> bytes:
    main_flags = flags & ((1 << NR_PAGEFLAGS) - 1)
    out = [number(flags, default_flag_spec), b"("]
    append = False
    if main_flags:
        out.append(format_flags(main_flags, PAGEFLAG_NAMES))
        append = True
    for _width, shift, mask, fspec, name in _PFF:
        if append:
            out.append(b"|")
        out.append(name + b"=" + number((flags >> shift) & mask, fspec))
        append = True
    out.append(b")")
    return b"".join(out)


def flags_string(ctx: _Ctx, ptr: int, spec: PrintfSpec, fmt: bytes) -> bytes:
    """%pGp page flags, %pGv vma flags (unsigned long *), %pGg gfp flags (gfp_t *)."""
    err = check_pointer(ptr, spec)
    if err is not None:
        return err
    f1 = fmt[1]
    if f1 == 0x70:
        return format_page_flags(ctx.u64(ptr))
    if f1 == 0x76:
        return format_flags(ctx.u64(ptr), VMAFLAG_NAMES)
    if f1 == 0x67:
        return format_flags(ctx.u32(ptr), GFPFLAG_NAMES)
    return error_string(b"(%pG?)", spec)


# --------------------------------------------------------------------------------------------
# %pO %pf

def device_node_string(ctx: _Ctx, ptr: int, spec: PrintfSpec, fmt: bytes) -> bytes:
    """%pOF: x86 kernels have no device tree (CONFIG_OF=n): the kernel prints "(%pOF?)"."""
    if fmt[0] != 0x46:
        return error_string(b"(%pO?)", spec)
    return error_string(b"(%pOF?)", spec)


def fwnode_string(ctx: _Ctx, ptr: int, spec: PrintfSpec, fmt: bytes) -> bytes:
    """%pfw: unsupported (see UNSUPPORTED); %pf and %pF were removed in 5.x: "%pf" is "(%pf?)"."""
    if fmt[0] != 0x77:
        return error_string(b"(%pf?)", spec)
    err = check_pointer(ptr, spec)
    if err is not None:
        return err
    return error_string(b"(efault)", spec)
