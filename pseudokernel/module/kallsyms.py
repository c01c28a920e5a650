"""A module's symbols for kallsyms: add_kallsyms() and find_kallsyms_symbol()
(kernel/module/kallsyms.c). While the module is coming every symbol is known; once it is
live only the core symbols remain, as the init part of the symbol table is freed with init."""

from __future__ import annotations

from .elf import SHF_ALLOC, SHF_EXECINSTR, SHT_NOBITS, LoadInfo
from .layout import is_core_symbol
from .module import MemType, Module, ModuleSymbol, State


def elf_type(sym: tuple, info: LoadInfo) -> str:
    """The nm-style type letter of a module symbol."""
    _name, st_info, _other, shndx, _value, _size = sym
    if st_info >> 4 == 2:  # STB_WEAK
        return "v" if st_info & 0xF == 1 else "w"
    if shndx == 0:
        return "U"
    if shndx == 0xFFF1 or shndx == info.index.pcpu:
        return "a"
    if shndx >= 0xFF00 or shndx >= info.shnum:
        return "?"
    sec = info.sechdrs[shndx]
    if sec.flags & SHF_EXECINSTR:
        return "t"
    if sec.flags & SHF_ALLOC and sec.type != SHT_NOBITS:
        return "r" if not sec.flags & 0x1 else "d"
    if sec.type == SHT_NOBITS:
        return "b"
    if sec.name.startswith(".debug"):
        return "n"
    return "?"


def add_kallsyms(mod: Module, info: LoadInfo, values: list[int]) -> None:
    mod.kallsyms = [
        ModuleSymbol(info.symbol_name(sym[0]), values[i], sym[5], elf_type(sym, info), is_core_symbol(sym, info))
        for i, sym in enumerate(info.symbols())
        if i
    ]


def is_mapping_symbol(name: str) -> bool:
    if name.startswith((".L", "L0")):
        return True
    return len(name) >= 2 and name[0] == "$" and name[1] in "adtx" and (len(name) == 2 or name[2] == ".")


def find_kallsyms_symbol(mod: Module, addr: int, by_mem: bool = False) -> tuple[str, int, int] | None:
    """(name, offset, size) of the nearest symbol at or below addr, sized to the next symbol
    or to the end of the memory the address is in: 6.1 bounds by the end of core or init
    text, later kernels (by_mem) by the end of whichever kind of memory holds it."""
    if by_mem:
        t = mod.mem_type_at(addr)
        if t is None:
            return None
        nextval = mod.mem[t].base + mod.mem[t].size
    else:
        text = mod.mem[MemType.INIT_TEXT if mod.within_init(addr) else MemType.TEXT]
        nextval = text.base + text.size
    best = None
    bestval = 0
    symbols = mod.kallsyms if mod.state != State.LIVE else [s for s in mod.kallsyms if s.core]
    for s in symbols:
        if s.type == "U" or not s.name or is_mapping_symbol(s.name):
            continue
        if bestval < s.value <= addr:
            best, bestval = s, s.value
        if addr < s.value < nextval:
            nextval = s.value
    if best is None:
        return None
    return best.name, addr - bestval, (nextval - bestval) & ((1 << 64) - 1)
