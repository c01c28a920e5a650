"""The %p extensions for network addresses: MAC (%pM %pm), IPv4 and IPv6 (%pI4 %pi4 %pI6
%pi6 %pI6c), sockaddrs with port, flowinfo and scope (%pIS %piS), and UUIDs and GUIDs (%pU),
which are printed the same way, as separated runs of hex digits.

Apart from buffers.py because of their size: the IPv6 compression and the sockaddr letters are
most of it, and they are the networking code's alone.
"""

from __future__ import annotations

from ..ctype import isalpha
from .printf_spec import PrintfSpec, _Ctx, check_pointer, error_string, number, string_nocheck

# --------------------------------------------------------------------------------------------
# MAC addresses: %pM %pm

def mac_address_string(ctx: _Ctx, ptr: int, spec: PrintfSpec, fmt: bytes) -> bytes:
    """%pM 00:01:02:03:04:05, %pMF with '-', %pMR reversed (Bluetooth), %pm without separators."""
    err = check_pointer(ptr, spec)
    if err is not None:
        return err
    addr = ctx.bytes(ptr, 6)
    if fmt[1] == 0x52:                                      # 'R'
        addr = addr[::-1]
    separator = b"-" if fmt[1] == 0x46 else b":"            # 'F'
    if fmt[0] != 0x4D:                                      # 'm'
        separator = b""
    return string_nocheck(separator.join(b"%02x" % c for c in addr), spec)


# --------------------------------------------------------------------------------------------
# IP addresses: %pI4 %pi4 %pI6 %pi6 %pI6c %pIS[pfsc] %piS

def ip4_string(addr: bytes, fmt: bytes) -> bytes:
    """Dotted quad; 'i' keeps leading zeros; [hl] after the 4 take the address in host/little
    endian order (reversed on x86), [nb] in network/big endian (the default)."""
    leading_zeros = fmt[0] == 0x69
    if fmt[2] in (0x68, 0x6C):                              # 'h' (little-endian host), 'l'
        addr = addr[::-1]
    if leading_zeros:
        return b".".join(b"%03d" % c for c in addr)
    return b".".join(b"%d" % c for c in addr)


def _ipv6_addr_v4mapped(a: bytes) -> bool:
    return a[:10] == b"\0" * 10 and a[10:12] == b"\xff\xff"


def _ipv6_addr_is_isatap(a: bytes) -> bool:
    return (a[8] | 0x02) == 0x02 and a[9:12] == b"\x00\x5e\xfe"


def ip6_compressed_string(addr: bytes) -> bytes:
    """RFC 5952-like: the longest run (of two or more) zero words becomes "::"; v4-mapped and
    ISATAP addresses end in a dotted quad."""
    useIPv4 = _ipv6_addr_v4mapped(addr) or _ipv6_addr_is_isatap(addr)
    words = [addr[2 * i] << 8 | addr[2 * i + 1] for i in range(8)]
    rng = 6 if useIPv4 else 8
    # find position of longest 0 run
    zerolength = [0] * 8
    for i in range(rng):
        for j in range(i, rng):
            if words[j] != 0:
                break
            zerolength[i] += 1
    longest = 1
    colonpos = -1
    for i in range(rng):
        if zerolength[i] > longest:
            longest = zerolength[i]
            colonpos = i
    if longest == 1:                # don't compress a single 0
        colonpos = -1
    p = []
    needcolon = False
    i = 0
    while i < rng:
        if i == colonpos:
            if needcolon or i == 0:
                p.append(b":")
            p.append(b":")
            needcolon = False
            i += longest
            continue
        if needcolon:
            p.append(b":")
        p.append(b"%x" % words[i])  # hex u16 without leading 0s
        needcolon = True
        i += 1
    if useIPv4:
        if needcolon:
            p.append(b":")
        p.append(ip4_string(addr[12:16], b"I4\0"))
    return b"".join(p)


def ip6_string(addr: bytes, fmt: bytes) -> bytes:
    """Eight 4-digit hex words, ':'-separated for 'I', run together for 'i'."""
    words = [b"%02x%02x" % (addr[2 * i], addr[2 * i + 1]) for i in range(8)]
    return (b":" if fmt[0] == 0x49 else b"").join(words)


def ip6_addr_string(addr: bytes, spec: PrintfSpec, fmt: bytes) -> bytes:
    if fmt[0] == 0x49 and fmt[2] == 0x63:                   # "I6c"
        return string_nocheck(ip6_compressed_string(addr), spec)
    return string_nocheck(ip6_string(addr, fmt), spec)


def ip4_addr_string(addr: bytes, spec: PrintfSpec, fmt: bytes) -> bytes:
    return string_nocheck(ip4_string(addr, fmt), spec)


# sizeof the stack buffers of ip6_addr_string_sa() and ip4_addr_string_sa()
_IP6_SA_BUF = (len("[xxxx:xxxx:xxxx:xxxx:xxxx:xxxx:255.255.255.255]") + 1 + len(":12345") + 1
               + len("/123456789") + 1 + len("%1234567890") + 1)
_IP4_SA_BUF = len("255.255.255.255") + 1 + len(":12345") + 1


def ip6_addr_string_sa(ctx: _Ctx, sa: int, spec: PrintfSpec, fmt: bytes) -> bytes:
    """struct sockaddr_in6: [addr]:port/flowinfo%scope for the p, f, s letters; c compresses.

    The port, flowinfo and scope are printed with the conversion's own spec (its width and
    precision too), as the kernel does, into a 78-byte stack buffer: a wide or precise enough
    conversion ("%.40pISf") overruns it in the kernel (number() stops at its end, but the
    separators and the final NUL do not). Only the bytes that fit are printed here.
    """
    have_p = have_s = have_f = have_c = False
    i = 2
    while isalpha(fmt[i]):
        c = fmt[i]
        if c == 0x70:
            have_p = True
        elif c == 0x66:
            have_f = True
        elif c == 0x73:
            have_s = True
        elif c == 0x63:
            have_c = True
        i += 1
    addr = ctx.bytes(sa + 8, 16)                            # sin6_addr
    if fmt[0] == 0x49 and have_c:
        s = ip6_compressed_string(addr)
    else:
        s = ip6_string(addr, fmt[:1] + b"6")
    p = [s]
    if have_p or have_s or have_f:
        p = [b"[", s, b"]"]
    if have_p:
        p.append(b":")
        p.append(number(int.from_bytes(ctx.bytes(sa + 2, 2), "big"), spec))      # sin6_port
    if have_f:
        p.append(b"/")
        p.append(number(int.from_bytes(ctx.bytes(sa + 4, 4), "big") & 0x0FFFFFFF, spec))
    if have_s:
        p.append(b"%")
        p.append(number(ctx.u32(sa + 24), spec))                                # sin6_scope_id
    return string_nocheck(b"".join(p)[:_IP6_SA_BUF], spec)


def ip4_addr_string_sa(ctx: _Ctx, sa: int, spec: PrintfSpec, fmt: bytes) -> bytes:
    """struct sockaddr_in: the address, and ":port" for the p letter; [hlnb] pick the byte
    order as for %pI4. The port goes into a 23-byte buffer, with the same overrun as for IPv6
    when the conversion's width is above 5."""
    have_p = False
    fmt4 = bytearray([fmt[0], 0x34, 0])
    i = 2
    while isalpha(fmt[i]):
        c = fmt[i]
        if c == 0x70:
            have_p = True
        elif c in (0x68, 0x6C, 0x6E, 0x62):
            fmt4[2] = c
        i += 1
    s = ip4_string(ctx.bytes(sa + 4, 4), bytes(fmt4))       # sin_addr
    if have_p:
        s += b":" + number(int.from_bytes(ctx.bytes(sa + 2, 2), "big"), spec)   # sin_port
    return string_nocheck(s[:_IP4_SA_BUF], spec)


AF_INET = 2
AF_INET6 = 10


def ip_addr_string(ctx: _Ctx, ptr: int, spec: PrintfSpec, fmt: bytes) -> bytes:
    err = check_pointer(ptr, spec)
    if err is not None:
        return err
    f1 = fmt[1]
    if f1 == 0x36:                                          # '6'
        return ip6_addr_string(ctx.bytes(ptr, 16), spec, fmt)
    if f1 == 0x34:                                          # '4'
        return ip4_addr_string(ctx.bytes(ptr, 4), spec, fmt)
    if f1 == 0x53:                                          # 'S'
        family = ctx.u16(ptr)
        if family == AF_INET:
            return ip4_addr_string_sa(ctx, ptr, spec, fmt)
        if family == AF_INET6:
            return ip6_addr_string_sa(ctx, ptr, spec, fmt)
        return error_string(b"(einval)", spec)
    return error_string(b"(%pi?)" if fmt[0] == 0x69 else b"(%pI?)", spec)


# --------------------------------------------------------------------------------------------
# UUIDs and GUIDs: %pU

_guid_index = (3, 2, 1, 0, 5, 4, 7, 6, 8, 9, 10, 11, 12, 13, 14, 15)


def uuid_string(ctx: _Ctx, ptr: int, spec: PrintfSpec, fmt: bytes) -> bytes:
    """%pU[bBlL]: b/B big-endian uuid_t order (default), l/L little-endian guid_t; upper case
    for B and L."""
    err = check_pointer(ptr, spec)
    if err is not None:
        return err
    addr = ctx.bytes(ptr, 16)
    f1 = fmt[1]
    uc = f1 in (0x4C, 0x42)                                 # 'L', 'B'
    if f1 in (0x4C, 0x6C):                                  # 'L', 'l'
        addr = bytes(addr[i] for i in _guid_index)
    h = addr.hex().encode()
    if uc:
        h = h.upper()
    s = b"-".join((h[0:8], h[8:12], h[12:16], h[16:20], h[20:32]))
    return string_nocheck(s, spec)
