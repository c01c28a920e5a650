"""The kernel's ctype (lib/ctype.c): Latin-1, so isalnum(0xe9) is true, as in the kernel.

CTYPE is lib/ctype.c's _ctype[]: vsprintf's isalnum() & co index it here, and modules read it
as the _ctype data symbol (emu/kapi/lib.py), so both see one table.
"""

from __future__ import annotations

_U, _L, _D, _C, _P, _S, _X, _SP = 0x01, 0x02, 0x04, 0x08, 0x10, 0x20, 0x40, 0x80

CTYPE = bytes(
    [_C] * 9 + [_C | _S] * 5 + [_C] * 18
    + [_S | _SP] + [_P] * 15 + [_D] * 10 + [_P] * 7
    + [_U | _X] * 6 + [_U] * 20 + [_P] * 6
    + [_L | _X] * 6 + [_L] * 20 + [_P] * 4 + [_C]
    + [0] * 32
    + [_S | _SP] + [_P] * 31
    + [_U] * 23 + [_P] + [_U] * 7 + [_L]
    + [_L] * 23 + [_P] + [_L] * 8
)
assert len(CTYPE) == 256


def isalnum(c: int) -> bool:
    return bool(CTYPE[c] & (_U | _L | _D))


def isalpha(c: int) -> bool:
    return bool(CTYPE[c] & (_U | _L))


def isprint(c: int) -> bool:
    return bool(CTYPE[c] & (_P | _U | _L | _D | _SP))


def isdigit(c: int) -> bool:
    return 0x30 <= c <= 0x39


def isascii(c: int) -> bool:
    return c <= 0x7F
