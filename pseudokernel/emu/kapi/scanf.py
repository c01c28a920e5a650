"""lib/vsprintf.c vsscanf(): the conversions modules use (%d %i %u %x %o %s %c %n %[...]
with widths and h/hh/l/ll qualifiers); assignments go through the pointer arguments."""

from __future__ import annotations

import re

_SPEC = re.compile(rb"%(\*?)(\d*)(hh|h|ll|l|z|j|t|L)?([diouxXscn%]|\[[^\]]*\])")


def vsscanf(k, text: bytes, fmt: bytes, args) -> int:
    pos = 0
    n = 0
    i = 0
    while i < len(fmt):
        c = fmt[i]
        if c in b" \t\n":
            while pos < len(text) and text[pos] in b" \t\n\v\f\r":
                pos += 1
            i += 1
            continue
        if c != 0x25:  # '%'
            if pos >= len(text) or text[pos] != c:
                return n
            pos += 1
            i += 1
            continue
        m = _SPEC.match(fmt, i)
        if m is None:
            return n
        i = m.end()
        skip, width, qual, conv = m.group(1), m.group(2), m.group(3) or b"", m.group(4)
        width = int(width) if width else None
        if conv == b"%":
            if pos >= len(text) or text[pos] != 0x25:
                return n
            pos += 1
            continue
        if conv == b"n":
            if not skip:
                k.m.write_u32(args.next(), pos)
            continue
        if conv not in (b"c",) and not conv.startswith(b"["):
            while pos < len(text) and text[pos] in b" \t\n\v\f\r":
                pos += 1
        if pos >= len(text):
            return n
        if conv == b"c":
            w = width or 1
            if pos + w > len(text):
                return n
            if not skip:
                k.m.write(args.next(), text[pos:pos + w])
            pos += w
            n += 0 if skip else 1
            continue
        if conv == b"s" or conv.startswith(b"["):
            start = pos
            limit = width or 1 << 30
            if conv == b"s":
                while pos < len(text) and text[pos] not in b" \t\n\v\f\r" and pos - start < limit:
                    pos += 1
            else:
                body = conv[1:-1]
                neg = body.startswith(b"^")
                chars = set(_expand(body[1:] if neg else body))
                while pos < len(text) and ((text[pos] in chars) != neg) and pos - start < limit:
                    pos += 1
                if pos == start:
                    return n
            if not skip:
                k.m.write(args.next(), text[start:pos] + b"\0")
            n += 0 if skip else 1
            continue
        base = {b"d": 10, b"u": 10, b"i": 0, b"o": 8, b"x": 16, b"X": 16}[conv]
        end = len(text) if width is None else min(len(text), pos + width)
        s = text[pos:end]
        mm = re.match(rb"[-+]?(0[xX][0-9a-fA-F]+|[0-9a-fA-F]+)" if base in (0, 16) else rb"[-+]?[0-9]+", s)
        if not mm:
            return n
        tok = mm.group(0)
        neg = tok.startswith(b"-")
        digits = tok.lstrip(b"+-")
        b = base
        if b == 0:
            b = 16 if digits[:2].lower() == b"0x" else 8 if digits[:1] == b"0" and len(digits) > 1 else 10
        if b == 16 and digits[:2].lower() == b"0x":
            digits = digits[2:]
        valid = re.match({10: rb"[0-9]+", 8: rb"[0-7]+", 16: rb"[0-9a-fA-F]+"}[b], digits)
        if not valid:
            return n
        digits = valid.group(0)
        prefix = 2 if b == 16 and tok.lstrip(b"+-")[:2].lower() == b"0x" else 0
        consumed = len(tok) - (len(tok.lstrip(b"+-")) - len(digits)) + prefix
        v = int(digits, b)
        if neg:
            v = -v
        pos += consumed
        if not skip:
            size = {b"hh": 1, b"h": 2, b"l": 8, b"ll": 8, b"z": 8, b"j": 8, b"t": 8, b"L": 8}.get(qual, 4)
            k.m.write(args.next(), (v & ((1 << (8 * size)) - 1)).to_bytes(size, "little"))
            n += 1
    return n


def _expand(body: bytes) -> bytes:
    out = bytearray()
    i = 0
    while i < len(body):
        if i + 2 < len(body) and body[i + 1] == 0x2D:
            out += bytes(range(body[i], body[i + 2] + 1))
            i += 3
        else:
            out.append(body[i])
            i += 1
    return bytes(out)
