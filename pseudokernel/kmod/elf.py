"""libkmod-elf.c: the little ELF reading kmod does on a module (header checks, sections by name,
.modinfo strings, exported and undefined symbols, __versions).

kmod is more lenient than the kernel and fails differently, so this is its own reader rather
than pseudokernel.module.elf: no magic is ENOEXEC, anything else it dislikes (truncated header,
section table past the end, odd e_shentsize, a section-name table not ending in NUL) is EINVAL.
Sections whose offset+size run past the file are skipped by name lookups, not fatal.

Symbol tables are read with struct.iter_unpack, because depmod reads every module of a tree.
"""

from __future__ import annotations

import struct
from errno import EINVAL, ENOENT, ENOEXEC

from .log import KmodError

SHF_ALLOC = 0x2

KMOD_ELF_32, KMOD_ELF_64, KMOD_ELF_LSB, KMOD_ELF_MSB = 1, 2, 4, 8
SHN_UNDEF, SHN_ABS = 0, 0xFFF1
STB_LOCAL, STB_GLOBAL, STB_WEAK = 0, 1, 2

# enum kmod_symbol_bind
KMOD_SYMBOL_NONE, KMOD_SYMBOL_LOCAL, KMOD_SYMBOL_GLOBAL, KMOD_SYMBOL_WEAK, KMOD_SYMBOL_UNDEF = (
    "\0", "L", "G", "W", "U")


def elf_identify(data: bytes) -> int:
    if len(data) <= 16 or data[:4] != b"\x7fELF":
        raise KmodError(ENOEXEC)
    cls = data[4]
    if cls == 1:
        if len(data) <= 52:
            raise KmodError(EINVAL)
        c = KMOD_ELF_32
    elif cls == 2:
        if len(data) <= 64:
            raise KmodError(EINVAL)
        c = KMOD_ELF_64
    else:
        raise KmodError(EINVAL)
    if data[5] == 1:
        return c | KMOD_ELF_LSB
    if data[5] == 2:
        return c | KMOD_ELF_MSB
    raise KmodError(EINVAL)


def _cstr(buf: bytes, off: int) -> bytes:
    end = buf.find(b"\0", off)
    return buf[off:] if end < 0 else buf[off:end]


class KmodElf:
    """struct kmod_elf over a module image (already decompressed)."""

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.cls = elf_identify(data)
        self.is64 = bool(self.cls & KMOD_ELF_64)
        e = "<" if self.cls & KMOD_ELF_LSB else ">"
        self.endian = e
        if self.is64:
            shoff, = struct.unpack_from(e + "Q", data, 0x28)
            self.machine, = struct.unpack_from(e + "H", data, 0x12)
            shentsize, shnum, shstrndx = struct.unpack_from(e + "HHH", data, 0x3A)
            shdr_size = 64
            self._shdr = struct.Struct(e + "IIQQQQIIQQ")
        else:
            shoff, = struct.unpack_from(e + "I", data, 0x20)
            self.machine, = struct.unpack_from(e + "H", data, 0x12)
            shentsize, shnum, shstrndx = struct.unpack_from(e + "HHH", data, 0x2E)
            shdr_size = 40
            self._shdr = struct.Struct(e + "IIIIIIIIII")
        if shentsize != shdr_size or shdr_size * shnum + shoff > len(data):
            raise KmodError(EINVAL)
        self.shoff, self.shnum = shoff, shnum
        info = self.section_info(shstrndx)
        if info is None:
            raise KmodError(EINVAL)
        off, size, _ = info
        if size == 0 or data[off + size - 1] != 0:
            raise KmodError(EINVAL)
        self.shstrtab = data[off:off + size]
        self._sections: dict[str, tuple[int, int]] | None = None

    def section_info(self, idx: int) -> tuple[int, int, int] | None:
        """(offset, size, name offset) of section idx, None when invalid or past the file end."""
        if idx == SHN_UNDEF or idx >= self.shnum:
            return None
        f = self._shdr.unpack_from(self.data, self.shoff + idx * self._shdr.size)
        name, off, size = f[0], f[4], f[5]
        if off + size > len(self.data):
            return None
        return off, size, name

    def sections(self) -> dict[str, tuple[int, int]]:
        """name -> (offset, size) of the first valid section with each name (elf_find_section)."""
        if self._sections is None:
            secs: dict[str, tuple[int, int]] = {}
            for i in range(1, self.shnum):
                info = self.section_info(i)
                if info is None or info[2] >= len(self.shstrtab):
                    continue
                name = _cstr(self.shstrtab, info[2]).decode("latin-1")
                secs.setdefault(name, (info[0], info[1]))
            self._sections = secs
        return self._sections

    def get_section(self, name: str) -> bytes | None:
        """kmod_elf_get_section(): the section's bytes, or None (-ENOENT)."""
        s = self.sections().get(name)
        return None if s is None else self.data[s[0]:s[0] + s[1]]

    def get_strings(self, section: str) -> list[bytes]:
        """kmod_elf_get_strings(): the NUL-separated strings of a section (.modinfo), leading
        zero padding and runs of NULs skipped, a last unterminated string kept."""
        buf = self.get_section(section)
        if buf is None:
            raise KmodError(ENOENT)
        buf = buf.lstrip(b"\0") if len(buf) > 1 else buf
        if len(buf) <= 1:
            return []
        return [s for s in buf.split(b"\0") if s]

    def get_modversions(self) -> list[tuple[int, bytes]]:
        """kmod_elf_get_modversions(): (crc, symbol) of __versions."""
        buf = self.get_section("__versions")
        if buf is None:
            raise KmodError(ENOENT)
        verlen = 64
        crcfmt = self.endian + ("Q" if self.is64 else "I")
        crclen = 8 if self.is64 else 4
        if len(buf) % verlen:
            raise KmodError(EINVAL)
        return [(struct.unpack_from(crcfmt, buf, i)[0], _cstr(buf[i + crclen:i + verlen], 0))
                for i in range(0, len(buf), verlen)]

    def _symtab(self) -> tuple[bytes, list[tuple[int, int, int, int]]] | None:
        """(.strtab, [(st_name, st_info, st_shndx, st_value)]) without entry 0, or None."""
        strtab = self.get_section(".strtab")
        symtab = self.get_section(".symtab")
        if strtab is None or symtab is None:
            return None
        if self.is64:
            symlen, fmt = 24, self.endian + "IBBHQQ"
        else:
            symlen, fmt = 16, self.endian + "IIIBBH"
        if len(symtab) % symlen:
            return None
        if self.is64:
            syms = [(n, i, sh, v) for n, i, _o, sh, v, _s in struct.iter_unpack(fmt, symtab[symlen:])]
        else:
            syms = [(n, i, sh, v) for n, v, _s, i, _o, sh in struct.iter_unpack(fmt, symtab[symlen:])]
        return strtab, syms

    def get_symbols(self) -> list[tuple[bytes, int, str]]:
        """kmod_elf_get_symbols(): the symbols a module exports as (name, crc, bind): the
        `__crc_<name>` symbols of .symtab, or when there are none, __ksymtab_strings."""
        st = self._symtab()
        if st is not None:
            strtab, syms = st
            if any(name_off >= len(strtab) for name_off, *_ in syms):
                st = None
        if st is not None:
            # a name can start anywhere "__crc_" occurs in .strtab (tail merging): find those offsets
            starts = set()
            pos = strtab.find(b"__crc_")
            while pos >= 0:
                starts.add(pos)
                pos = strtab.find(b"__crc_", pos + 1)
            out = []
            for name_off, info, shndx, value in syms:
                if name_off in starts:
                    name = _cstr(strtab, name_off + 6)
                    bind = {STB_LOCAL: KMOD_SYMBOL_LOCAL, STB_GLOBAL: KMOD_SYMBOL_GLOBAL,
                            STB_WEAK: KMOD_SYMBOL_WEAK}.get(info >> 4, KMOD_SYMBOL_NONE)
                    out.append((name, self._resolve_crc(value, shndx), bind))
            if out:
                return out
        buf = self.get_section("__ksymtab_strings")
        if buf is None:
            raise KmodError(ENOENT)
        buf = buf.lstrip(b"\0") if len(buf) > 1 else buf
        if len(buf) <= 1:
            return []
        return [(s, 0, KMOD_SYMBOL_GLOBAL) for s in buf.split(b"\0") if s]

    def _resolve_crc(self, crc: int, shndx: int) -> int:
        if shndx in (SHN_ABS, SHN_UNDEF):
            return crc
        info = self.section_info(shndx)
        if info is None or crc > info[1] - 4:
            return (1 << 64) - 1
        return struct.unpack_from(self.endian + "I", self.data, info[0] + crc)[0]

    def get_dependency_symbols(self) -> list[tuple[bytes, int, str]]:
        """kmod_elf_get_dependency_symbols(): the undefined symbols of .symtab in table order as
        (name, crc from __versions or 0, 'W' for weak else 'U'), then the __versions entries no
        symbol matched (module_layout)."""
        versions = self.get_section("__versions")
        verlen = 64
        crclen = 8 if self.is64 else 4
        crcs: dict[bytes, tuple[int, int]] = {}
        vernames: list[bytes] = []
        if versions is not None and len(versions) % verlen == 0:
            crcfmt = self.endian + ("Q" if self.is64 else "I")
            for i in range(0, len(versions), verlen):
                name = _cstr(versions[i + crclen:i + verlen], 0)
                vernames.append(name)
                crcs.setdefault(name, (i // verlen, struct.unpack_from(crcfmt, versions, i)[0]))
        st = self._symtab()
        if st is None:
            raise KmodError(EINVAL)
        strtab, syms = st
        out = []
        visited = set()
        for name_off, info, shndx, _value in syms:
            if shndx != SHN_UNDEF:
                continue
            if name_off >= len(strtab):
                raise KmodError(EINVAL)
            name = _cstr(strtab, name_off)
            if not name:
                continue
            idx, crc = crcs.get(name, (-1, 0))
            if idx >= 0:
                visited.add(idx)
            out.append((name, crc, KMOD_SYMBOL_WEAK if info >> 4 == STB_WEAK else KMOD_SYMBOL_UNDEF))
        if versions is not None and vernames:
            crcfmt = self.endian + ("Q" if self.is64 else "I")
            for i, name in enumerate(vernames):
                if i not in visited:
                    crc = struct.unpack_from(crcfmt, versions, i * verlen)[0]
                    out.append((name, crc, KMOD_SYMBOL_UNDEF))
        return out


def strip_section(data: bytes, section: str) -> bytes:
    """kmod_elf_strip_section(): the section stays, without SHF_ALLOC (so the kernel, which
    only looks at allocated sections, no longer finds it). `insmod -f` on __versions."""
    elf = KmodElf(data)
    for i in range(1, elf.shnum):
        info = elf.section_info(i)
        if info is None or info[2] >= len(elf.shstrtab):
            continue
        if _cstr(elf.shstrtab, info[2]).decode("latin-1") != section:
            continue
        off = elf.shoff + i * elf._shdr.size + 8  # sh_flags follows sh_name and sh_type
        fmt = elf.endian + ("Q" if elf.is64 else "I")
        out = bytearray(data)
        flags, = struct.unpack_from(fmt, out, off)
        struct.pack_into(fmt, out, off, flags & ~SHF_ALLOC)
        return bytes(out)
    return data


def strip_vermagic(data: bytes) -> bytes:
    """kmod_elf_strip_vermagic(): zero the bytes of .modinfo's 'vermagic=...' string."""
    found = KmodElf(data).sections().get(".modinfo")
    if found is None:
        return data
    offset, size = found
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
