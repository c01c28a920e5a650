"""string_escape_mem() (lib/string_helpers.c), which %pE uses."""

from __future__ import annotations

from .ctype import isascii, isprint

ESCAPE_SPACE = 0x01
ESCAPE_SPECIAL = 0x02
ESCAPE_NULL = 0x04
ESCAPE_OCTAL = 0x08
ESCAPE_ANY = ESCAPE_SPACE | ESCAPE_OCTAL | ESCAPE_SPECIAL | ESCAPE_NULL
ESCAPE_NP = 0x10
ESCAPE_ANY_NP = ESCAPE_ANY | ESCAPE_NP
ESCAPE_HEX = 0x20
ESCAPE_NA = 0x40
ESCAPE_NAP = 0x80


_ESC_SPACE = {0x0A: b"\\n", 0x0D: b"\\r", 0x09: b"\\t", 0x0B: b"\\v", 0x0C: b"\\f"}
_ESC_SPECIAL = {0x5C: b"\\\\", 0x07: b"\\a", 0x1B: b"\\e", 0x22: b'\\"'}


def string_escape_mem(src: bytes, flags: int) -> bytes:
    """string_escape_mem() without an @only set (vsprintf never passes one)."""
    out = []
    for c in src:
        # pass-through classes first; the kernel's isprint() counts Latin-1 0xa0-0xff in
        if ((flags & ESCAPE_NAP and isascii(c) and isprint(c))
                or (flags & ESCAPE_NP and isprint(c))
                or (flags & ESCAPE_NA and isascii(c))):
            out.append(bytes((c,)))
        elif flags & ESCAPE_SPACE and c in _ESC_SPACE:
            out.append(_ESC_SPACE[c])
        elif flags & ESCAPE_SPECIAL and c in _ESC_SPECIAL:
            out.append(_ESC_SPECIAL[c])
        elif flags & ESCAPE_NULL and c == 0:
            out.append(b"\\0")
        elif flags & ESCAPE_OCTAL:
            out.append(b"\\%03o" % c)
        elif flags & ESCAPE_HEX:
            out.append(b"\\x%02x" % c)
        else:
            out.append(bytes((c,)))
    return b"".join(out)
