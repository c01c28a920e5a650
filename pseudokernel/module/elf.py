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
    # where layout_sections() put it: the kind of module memory and the offset in it (the
    # kernel encodes both in sh_entsize, each version its own way)
    mem_type: int = -1
    mem_offset: int = 0

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
        self.mem_types = False  # laid out by kind of memory (6.4 on), not in core and init
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


def _no_exec(log: PrintkLog, msg: str, warn: bool = False) -> LoadError:
    (log.warn if warn else log.err)(msg + "\n")
    return LoadError(ENOEXEC, msg)


def elf_validity_ehdr(info: LoadInfo, log: PrintkLog) -> tuple:
    """The ELF header's checks, the same on every version; the header's fields."""
    if info.len < ELF_HDR.size:
        raise _no_exec(log, f"Invalid ELF header len {info.len}")
    hdr = ELF_HDR.unpack_from(info.data)
    ident, e_type, e_machine = hdr[0], hdr[1], hdr[2]
    if ident[:4] != b"\x7fELF":
        raise _no_exec(log, "Invalid ELF header magic: != \x7fELF")
    if e_type != ET_REL:
        raise _no_exec(log, f"Invalid ELF header type: {e_type} != {ET_REL}")
    if e_machine != EM_X86_64:
        raise _no_exec(log, f"Invalid architecture in ELF header: {e_machine}")
    info.e_machine = e_machine
    return hdr


def _read_sechdrs(info: LoadInfo, log: PrintkLog, hdr: tuple) -> None:
    e_shoff, e_shentsize, e_shnum = hdr[6], hdr[11], hdr[12]
    if e_shentsize != SHDR.size:
        raise _no_exec(log, "Invalid ELF section header size")
    if e_shoff >= info.len or e_shnum * SHDR.size > info.len - e_shoff:
        raise _no_exec(log, "Invalid ELF section header overflow")
    info.sechdrs = [Shdr(*SHDR.unpack_from(info.data, e_shoff + i * SHDR.size)) for i in range(e_shnum)]


def _check_section0(info: LoadInfo, log: PrintkLog) -> None:
    s0 = info.sechdrs[0]
    if s0.type != SHT_NULL or s0.size != 0 or s0.addr != 0:
        raise _no_exec(log, f"ELF Spec violation: section 0 type({s0.type})!=SH_NULL or non-zero len or addr")


def _secstrings(info: LoadInfo, log: PrintkLog, hdr: tuple, check) -> Shdr:
    """The section name table: its index, the version's own check of its header (check),
    then not empty and NUL-terminated."""
    e_shnum, e_shstrndx = hdr[12], hdr[13]
    if e_shstrndx == SHN_UNDEF or e_shstrndx >= e_shnum:
        raise _no_exec(log,
            f"Invalid ELF section name index: {e_shstrndx} || e_shstrndx ({e_shstrndx}) >= e_shnum ({e_shnum})"
        )
    strhdr = info.sechdrs[e_shstrndx]
    check(strhdr)
    if strhdr.size == 0:
        raise _no_exec(log, "empty section name table")
    info.secstrings = info.data[strhdr.offset : strhdr.offset + strhdr.size]
    if info.secstrings[-1] != 0:
        raise _no_exec(log, "ELF Spec violation: section name table isn't null terminated")
    return strhdr


def elf_validity_check(info: LoadInfo, log: PrintkLog) -> None:
    """Sanity checks against invalid binaries, wrong arch, weird ELF (6.1's kernel/module/main.c)."""
    hdr = elf_validity_ehdr(info, log)
    _read_sechdrs(info, log, hdr)
    e_shnum = hdr[12]

    def strhdr_ok(strhdr: Shdr) -> None:
        if not validate_section_offset(info, strhdr):
            raise _no_exec(log, f"Invalid ELF section hdr(type {strhdr.type})")

    strhdr = _secstrings(info, log, hdr, strhdr_ok)
    _check_section0(info, log)

    for i in range(1, e_shnum):
        s = info.sechdrs[i]
        if s.type in (SHT_NULL, SHT_NOBITS):
            continue
        if s.type == SHT_SYMTAB and (s.link == SHN_UNDEF or s.link >= e_shnum):
            raise _no_exec(log,
                f"Invalid ELF sh_link!=SHN_UNDEF({s.link}) or (sh_link({s.link}) >= hdr->e_shnum({e_shnum})"
            )
        if not validate_section_offset(info, s):
            raise _no_exec(log, f"Invalid ELF section in module (section {i} type {s.type})")
        if s.flags & SHF_ALLOC and s.name_off >= strhdr.size:
            raise _no_exec(log, f"Invalid ELF section name in module (section {i} type {s.type})")

    _name_sections(info)


def elf_validity_cache_copy(info: LoadInfo, log: PrintkLog, modinfo_name, struct_module_size: int | None) -> None:
    """The same checks as later kernels split them (versions.ELF_VALIDITY_CACHE): section
    offsets before the name table, every sh_name checked, then the unique .modinfo, exactly
    one .gnu.linkonce.this_module (its size that of the kernel's struct module), one symbol
    table and its string table. modinfo_name(info) is get_modinfo(info, "name"), read as soon
    as .modinfo is found so later messages can name the module."""
    hdr = elf_validity_ehdr(info, log)
    _read_sechdrs(info, log, hdr)
    _check_section0(info, log)
    e_shnum = hdr[12]
    for i in range(1, e_shnum):
        s = info.sechdrs[i]
        if s.type not in (SHT_NULL, SHT_NOBITS) and not validate_section_offset(info, s):
            raise _no_exec(log, f"Invalid ELF section in module (section {i} type {s.type})")
    def strhdr_ok(strhdr: Shdr) -> None:
        if strhdr.type != SHT_STRTAB:
            raise _no_exec(log, f"Invalid ELF section name table type: {strhdr.type}")

    strhdr = _secstrings(info, log, hdr, strhdr_ok)
    for i, s in enumerate(info.sechdrs):
        if s.type != SHT_NULL and s.name_off >= strhdr.size:
            raise _no_exec(log, f"Invalid ELF section name in module (section {i} type {s.type})")
    _name_sections(info)

    n = find_any_unique_sec(info, ".modinfo")
    if n < 0:
        raise _no_exec(log, "Only one .modinfo section must exist.")
    if n:
        info.index.info = n
        info.name = modinfo_name(info)
    who = f"module {info.name or '(missing .modinfo section or name field)'}"
    n = find_any_unique_sec(info, ".gnu.linkonce.this_module")
    if n <= 0:
        raise _no_exec(log, f"{who}: Exactly one .gnu.linkonce.this_module section must exist.")
    s = info.sechdrs[n]
    if s.type == SHT_NOBITS:
        raise _no_exec(log, f"{who}: .gnu.linkonce.this_module section must have a size set")
    if not s.flags & SHF_ALLOC:
        raise _no_exec(log, f"{who}: .gnu.linkonce.this_module must occupy memory during process execution")
    if struct_module_size is not None and s.size != struct_module_size:
        raise _no_exec(log, f"{who}: .gnu.linkonce.this_module section size must match the kernel's "
                            "built struct module size at run time")
    info.index.mod = n
    symtabs = [i for i in range(1, e_shnum) if info.sechdrs[i].type == SHT_SYMTAB]
    if len(symtabs) != 1:
        raise _no_exec(log, f"{info.name or '(missing .modinfo section or name field)'}: "
                            "module has no symbols (stripped?)", warn=True)
    info.index.sym = symtabs[-1]
    str_idx = info.sechdrs[info.index.sym].link
    if str_idx == SHN_UNDEF or str_idx >= e_shnum:
        raise _no_exec(log, f"Invalid ELF sh_link!=SHN_UNDEF({str_idx}) or (sh_link({str_idx}) >= "
                            f"hdr->e_shnum({e_shnum})")
    if info.sechdrs[str_idx].type != SHT_STRTAB:
        raise _no_exec(log, f"Invalid ELF symbol string table type: {info.sechdrs[str_idx].type}")
    info.index.str = str_idx
    info.strtab = info.section_bytes(str_idx)


def find_any_unique_sec(info: LoadInfo, name: str) -> int:
    """The index of the one section of that name (SHF_ALLOC or not); 0 if none, minus the
    count if several."""
    found = [i for i in range(1, info.shnum) if info.sechdrs[i].name == name]
    return found[0] if len(found) == 1 else -len(found)


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
