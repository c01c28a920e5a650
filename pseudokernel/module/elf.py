"""The module image as load_module() sees it: struct load_info and elf_validity_check().

The validity checks run on the raw bytes with struct, in the kernel's order and words, so a
broken file fails exactly where the kernel would fail it. Only then are the section names
read, by the kernel's rule (secstrings + sh_name). Section headers are copied into mutable
objects because the loader rewrites them as the kernel does (sh_flags bits cleared or set,
sh_entsize reused for the layout offset, sh_addr set to the final address).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from errno import ENOEXEC

from ..log import PrintkLog
from .internal import LoadError

ET_REL = 1
EM_X86_64 = 62

SHT_NULL = 0
SHT_PROGBITS = 1
SHT_SYMTAB = 2
SHT_STRTAB = 3
SHT_RELA = 4
SHT_NOTE = 7
SHT_NOBITS = 8
SHT_REL = 9

SHF_WRITE = 0x1
SHF_ALLOC = 0x2
SHF_EXECINSTR = 0x4
SHF_RELA_LIVEPATCH = 0x00100000
SHF_RO_AFTER_INIT = 0x00200000

SHN_UNDEF = 0
SHN_LORESERVE = 0xFF00
SHN_LIVEPATCH = 0xFF20
SHN_ABS = 0xFFF1
SHN_COMMON = 0xFFF2

ELF_HDR = struct.Struct("<16sHHIQQQIHHHHHH")
SHDR = struct.Struct("<IIQQQQIIQQ")
SYM = struct.Struct("<IBBHQQ")

INIT_OFFSET_MASK = 1 << 63


@dataclass
class Shdr:
    """Elf64_Shdr, mutable like the kernel's copy in the temporary image."""

    name_off: int
    type: int
    flags: int
    addr: int
    offset: int
    size: int
    link: int
    info: int
    addralign: int
    entsize: int
    name: str = ""

    @property
    def empty(self) -> bool:
        """sect_empty(): not loaded, or nothing in it."""
        return not (self.flags & SHF_ALLOC) or self.size == 0


@dataclass
class Index:
    sym: int = 0
    str: int = 0
    mod: int = 0
    vers: int = 0
    info: int = 0
    pcpu: int = 0


class LoadInfo:
    """struct load_info: the module file and the convenience pointers into it."""

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.len = len(data)
        self.sig_ok = False
        self.name: str | None = None
        self.index = Index()
        self.sechdrs: list[Shdr] = []
        self.secstrings = b""
        self.strtab = b""
        self.e_machine = 0
        self.modinfo: list[str] = []
        self.mod_name = ""
        self.mod_name_overflows = False  # struct module's name has no NUL in its 56 bytes
        self.versions: dict[str, int] = {}
        self.symtab_offsets = None
        self.temp_base = 0  # where the kernel's copy of the file is (info->hdr)
        self.unknown_symbols: list[str] = []  # what simplify_symbols() could not resolve
        # the symbol table and its names, read once for the data and string table they come from
        # (each load step walks every symbol again: layout, resolution, kallsyms, init/exit)
        self._symbols: tuple[bytes, tuple[int, int, int], list[tuple[int, int, int, int, int, int]]] | None = None
        self._names: tuple[bytes, dict[int, str]] = (b"", {})

    @property
    def shnum(self) -> int:
        return len(self.sechdrs)

    def section_bytes(self, i: int) -> bytes:
        """What the kernel reads at info->hdr + sh_offset. Every type alike: a SHT_NOBITS
        section's offset and size are not validated, so where one is read as a table (a
        malformed file) only what lies inside the file is returned."""
        s = self.sechdrs[i]
        return self.data[s.offset : s.offset + s.size]

    def find_sec(self, name: str) -> int:
        """find_sec(): the first SHF_ALLOC section of that name ("alloc cleared = ignore it")."""
        for i in range(1, self.shnum):
            s = self.sechdrs[i]
            if s.flags & SHF_ALLOC and s.name == name:
                return i
        return 0

    def find_any_sec(self, name: str) -> int:
        for i in range(1, self.shnum):
            if self.sechdrs[i].name == name:
                return i
        return 0

    def symbols(self) -> list[tuple[int, int, int, int, int, int]]:
        """The symbol table as (st_name, st_info, st_other, st_shndx, st_value, st_size)."""
        s = self.sechdrs[self.index.sym]
        key = (self.index.sym, s.offset, s.size)
        kept = self._symbols
        if kept is None or kept[0] is not self.data or kept[1] != key:
            raw = self.section_bytes(self.index.sym)
            raw = raw[: len(raw) - len(raw) % SYM.size]
            kept = self._symbols = (self.data, key, list(SYM.iter_unpack(raw)))
        return list(kept[2])

    def symbol_name(self, st_name: int) -> str:
        strtab, names = self._names
        if strtab is not self.strtab:
            strtab, names = self._names = (self.strtab, {})
        name = names.get(st_name)
        if name is None:
            end = strtab.find(b"\0", st_name)
            if end < 0:
                end = len(strtab)
            name = names[st_name] = strtab[st_name:end].decode("utf-8", "replace")
        return name


def _cstr(buf: bytes, off: int) -> str:
    end = buf.find(b"\0", off)
    return buf[off : end if end >= 0 else len(buf)].decode("utf-8", "replace")


def validate_section_offset(info: LoadInfo, s: Shdr) -> bool:
    secend = s.offset + s.size
    return not (secend >= 1 << 64 or secend > info.len)


def elf_validity_check(info: LoadInfo, log: PrintkLog) -> None:
    """Sanity checks against invalid binaries, wrong arch, weird ELF (kernel/module/main.c)."""

    def no_exec(msg: str) -> LoadError:
        log.err(msg + "\n")
        return LoadError(ENOEXEC, msg)

    data = info.data
    if info.len < ELF_HDR.size:
        raise no_exec(f"Invalid ELF header len {info.len}")
    (ident, e_type, e_machine, _ver, _entry, _phoff, e_shoff, _flags, _ehsize, _phentsize, _phnum,
     e_shentsize, e_shnum, e_shstrndx) = ELF_HDR.unpack_from(data)
    if ident[:4] != b"\x7fELF":
        raise no_exec("Invalid ELF header magic: != \x7fELF")
    if e_type != ET_REL:
        raise no_exec(f"Invalid ELF header type: {e_type} != {ET_REL}")
    if e_machine != EM_X86_64:
        raise no_exec(f"Invalid architecture in ELF header: {e_machine}")
    if e_shentsize != SHDR.size:
        raise no_exec("Invalid ELF section header size")
    if e_shoff >= info.len or e_shnum * SHDR.size > info.len - e_shoff:
        raise no_exec("Invalid ELF section header overflow")
    info.e_machine = e_machine
    info.sechdrs = [Shdr(*SHDR.unpack_from(data, e_shoff + i * SHDR.size)) for i in range(e_shnum)]

    if e_shstrndx == SHN_UNDEF or e_shstrndx >= e_shnum:
        raise no_exec(
            f"Invalid ELF section name index: {e_shstrndx} || e_shstrndx ({e_shstrndx}) >= e_shnum ({e_shnum})"
        )
    strhdr = info.sechdrs[e_shstrndx]
    if not validate_section_offset(info, strhdr):
        msg = f"Invalid ELF section hdr(type {strhdr.type})"
        log.err(msg + "\n")
        raise LoadError(ENOEXEC, msg)
    if strhdr.size == 0:
        raise no_exec("empty section name table")
    info.secstrings = data[strhdr.offset : strhdr.offset + strhdr.size]
    if info.secstrings[-1] != 0:
        raise no_exec("ELF Spec violation: section name table isn't null terminated")
    s0 = info.sechdrs[0]
    if s0.type != SHT_NULL or s0.size != 0 or s0.addr != 0:
        raise no_exec(f"ELF Spec violation: section 0 type({s0.type})!=SH_NULL or non-zero len or addr")

    for i in range(1, e_shnum):
        s = info.sechdrs[i]
        if s.type in (SHT_NULL, SHT_NOBITS):
            continue
        if s.type == SHT_SYMTAB and (s.link == SHN_UNDEF or s.link >= e_shnum):
            raise no_exec(
                f"Invalid ELF sh_link!=SHN_UNDEF({s.link}) or (sh_link({s.link}) >= hdr->e_shnum({e_shnum})"
            )
        if not validate_section_offset(info, s):
            raise no_exec(f"Invalid ELF section in module (section {i} type {s.type})")
        if s.flags & SHF_ALLOC and s.name_off >= strhdr.size:
            raise no_exec(f"Invalid ELF section name in module (section {i} type {s.type})")

    _name_sections(info)


def _name_sections(info: LoadInfo) -> None:
    """Section names by the kernel's own rule: secstrings + sh_name (empty when out of range).

    The table is NUL-terminated (checked above), so a name never runs past it; an SHF_ALLOC
    section's sh_name was checked to be inside it. Read with plain slicing, not pyelftools:
    this runs for every section of every load.
    """
    strings = info.secstrings
    size = len(strings)
    for s in info.sechdrs:
        s.name = _cstr(strings, s.name_off) if s.name_off < size else ""
