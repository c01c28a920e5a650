"""What `insmod -f` does to a module it hands to init_module() (libkmod-elf.c): clear
SHF_ALLOC on __versions, so the kernel no longer finds it, and blank the vermagic string."""

from __future__ import annotations

import struct

SHF_ALLOC = 0x2


def _sections(data: bytes) -> tuple[list[tuple[int, int, int, int]], bytes] | None:
    """[(header offset, name offset, data offset, size)] and the section name table."""
    if len(data) < 64 or data[:4] != b"\x7fELF" or data[4] != 2:
        return None
    e_shoff, = struct.unpack_from("<Q", data, 0x28)
    e_shentsize, e_shnum, e_shstrndx = struct.unpack_from("<HHH", data, 0x3A)
    if e_shentsize != 64 or e_shoff + e_shnum * 64 > len(data) or e_shstrndx >= e_shnum:
        return None
    out = []
    for i in range(e_shnum):
        off = e_shoff + i * 64
        name, _type, _flags, _addr, offset, size = struct.unpack_from("<IIQQQQ", data, off)
        out.append((off, name, offset, size))
    _, _, stroff, strsize = out[e_shstrndx]
    return out, data[stroff : stroff + strsize]


def _find(data: bytes, section: str) -> tuple[int, int, int] | None:
    parsed = _sections(data)
    if parsed is None:
        return None
    secs, names = parsed
    for hdr, name_off, offset, size in secs:
        end = names.find(b"\0", name_off)
        if names[name_off:end].decode(errors="replace") == section:
            return hdr, offset, size
    return None


def strip_section(data: bytes, section: str) -> bytes:
    """kmod_elf_strip_section(): the section stays, without SHF_ALLOC."""
    found = _find(data, section)
    if found is None:
        return data
    hdr = found[0]
    out = bytearray(data)
    flags, = struct.unpack_from("<Q", out, hdr + 8)
    struct.pack_into("<Q", out, hdr + 8, flags & ~SHF_ALLOC)
    return bytes(out)


def strip_vermagic(data: bytes) -> bytes:
    """kmod_elf_strip_vermagic(): zero the bytes of the .modinfo 'vermagic=...' string."""
    found = _find(data, ".modinfo")
    if found is None:
        return data
    _hdr, offset, size = found
    info = data[offset : offset + size]
    i = 0
    while i < len(info):
        if info[i] == 0:
            i += 1
            continue
        end = info.find(b"\0", i)
        end = len(info) if end < 0 else end
        if info[i:end].startswith(b"vermagic="):
            out = bytearray(data)
            out[offset + i : offset + end] = bytes(end - i)
            return bytes(out)
        i = end + 1
    return data
