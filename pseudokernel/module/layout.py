"""Section layout: layout_sections() (main.c) and layout_symtab() (kallsyms.c).

Each SHF_ALLOC section gets an offset in the core or the init region, in the kernel's five
flag groups, each group page-aligned when CONFIG_STRICT_MODULE_RWX. The symbol and string
tables are appended to init, and room for the core copy of the kallsyms (the symbols that stay
after init is freed) to core. The resulting sizes are what /proc/modules and
/sys/module/*/coresize show.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ..bits import PAGE_SIZE
from .elf import INIT_OFFSET_MASK, SHF_ALLOC, SHF_EXECINSTR, SHF_RO_AFTER_INIT, SHF_WRITE, SYM, LoadInfo
from .module import Module, ModuleLayout
from .strict_rwx import section_permission

if TYPE_CHECKING:
    from ..state import KernelState

ARCH_SHF_SMALL = 0
SIZEOF_MOD_KALLSYMS = 32  # struct mod_kallsyms: symtab, num_symtab, strtab, typetab
ALIGNOF_MOD_KALLSYMS = 8

MASKS = (
    (SHF_EXECINSTR | SHF_ALLOC, ARCH_SHF_SMALL),
    (SHF_ALLOC, SHF_WRITE | ARCH_SHF_SMALL),
    (SHF_RO_AFTER_INIT | SHF_ALLOC, ARCH_SHF_SMALL),
    (SHF_WRITE | SHF_ALLOC, ARCH_SHF_SMALL),
    (ARCH_SHF_SMALL | SHF_ALLOC, 0),
)
UNSET = (1 << 64) - 1


def align(x: int, a: int) -> int:
    return (x + a - 1) // a * a


@dataclass
class SymtabOffsets:
    """Where add_kallsyms() puts the core symbol copy (info->symoffs etc.)."""

    symoffs: int = 0
    stroffs: int = 0
    core_typeoffs: int = 0
    init_typeoffs: int = 0
    mod_kallsyms_init_off: int = 0
    ndst: int = 0


def module_init_layout_section(name: str, module_unload: bool = True) -> bool:
    if not module_unload and name.startswith(".exit"):
        return True
    return name.startswith(".init")


def module_get_offset(size: int, addralign: int) -> tuple[int, int]:
    """(offset of the section, new region size)."""
    ret = align(size, addralign or 1)
    return ret, ret + 0


def layout_sections(mod: Module, info: LoadInfo, strict_rwx: bool = True, module_unload: bool = True) -> None:
    """Put offsets in sh_entsize (high bit: init) and tally the core and init sizes."""

    def strict_align(n: int) -> int:
        return align(n, PAGE_SIZE) if strict_rwx else n

    core, init = mod.core_layout, mod.init_layout
    for s in info.sechdrs:
        s.entsize = UNSET

    for m, (need, refuse) in enumerate(MASKS):
        for s in info.sechdrs:
            if (s.flags & need) != need or s.flags & refuse or s.entsize != UNSET:
                continue
            if module_init_layout_section(s.name, module_unload):
                continue
            off = align(core.size, s.addralign or 1)
            core.size = off + s.size
            s.entsize = off
        if m == 0:
            core.size = strict_align(core.size)
            core.text_size = core.size
        elif m == 1:
            core.size = strict_align(core.size)
            core.ro_size = core.size
        elif m == 2:
            core.size = strict_align(core.size)
            core.ro_after_init_size = core.size
        elif m == 4:
            core.size = strict_align(core.size)

    for m, (need, refuse) in enumerate(MASKS):
        for s in info.sechdrs:
            if (s.flags & need) != need or s.flags & refuse or s.entsize != UNSET:
                continue
            if not module_init_layout_section(s.name, module_unload):
                continue
            off = align(init.size, s.addralign or 1)
            init.size = off + s.size
            s.entsize = off | INIT_OFFSET_MASK
        if m == 0:
            init.size = strict_align(init.size)
            init.text_size = init.size
        elif m == 1:
            init.size = strict_align(init.size)
            init.ro_size = init.size
        elif m == 2:
            init.ro_after_init_size = init.ro_size
        elif m == 4:
            init.size = strict_align(init.size)


def is_core_symbol(sym: tuple, info: LoadInfo, kallsyms_all: bool = True) -> bool:
    st_name, _info, _other, shndx, _value, _size = sym
    if shndx == 0 or shndx >= info.shnum or not st_name:
        return False
    if kallsyms_all and shndx == info.index.pcpu:
        return True
    sec = info.sechdrs[shndx]
    if not sec.flags & SHF_ALLOC:
        return False
    if not kallsyms_all and not sec.flags & SHF_EXECINSTR:
        return False
    if sec.entsize & INIT_OFFSET_MASK:
        return False
    return True


def layout_symtab(mod: Module, info: LoadInfo, strict_rwx: bool = True, kallsyms_all: bool = True) -> SymtabOffsets:
    """Append .symtab and .strtab to init, and the core kallsyms copy to core."""

    def strict_align(n: int) -> int:
        return align(n, PAGE_SIZE) if strict_rwx else n

    core, init = mod.core_layout, mod.init_layout
    symsect = info.sechdrs[info.index.sym]
    strsect = info.sechdrs[info.index.str]
    out = SymtabOffsets()

    symsect.flags |= SHF_ALLOC
    off = align(init.size, symsect.addralign or 1)
    init.size = off + symsect.size
    symsect.entsize = off | INIT_OFFSET_MASK

    syms = info.symbols()
    nsrc = len(syms)
    strtab_size = 0
    ndst = 0
    for i, sym in enumerate(syms):
        if i == 0 or is_core_symbol(sym, info, kallsyms_all):
            strtab_size += len(info.symbol_name(sym[0]).encode("utf-8", "surrogateescape")) + 1
            ndst += 1
    out.ndst = ndst

    out.symoffs = align(core.size, symsect.addralign or 1)
    out.stroffs = core.size = out.symoffs + ndst * SYM.size
    core.size += strtab_size
    out.core_typeoffs = core.size
    core.size += ndst
    core.size = strict_align(core.size)

    strsect.flags |= SHF_ALLOC
    off = align(init.size, strsect.addralign or 1)
    init.size = off + strsect.size
    strsect.entsize = off | INIT_OFFSET_MASK

    init.size = align(init.size, ALIGNOF_MOD_KALLSYMS)
    out.mod_kallsyms_init_off = init.size
    init.size += SIZEOF_MOD_KALLSYMS
    out.init_typeoffs = init.size
    init.size += nsrc
    init.size = strict_align(init.size)
    return out


# -- what `pseudokernel trace` and `pseudokernel layout` show of the layout ------------------

def layout_dict(lay: ModuleLayout) -> dict[str, int]:
    return {"base": lay.base, "size": lay.size, "text_size": lay.text_size, "ro_size": lay.ro_size,
            "ro_after_init_size": lay.ro_after_init_size}


def section_rows(ranges: Iterable[tuple[str, int, int]], core: ModuleLayout, init: ModuleLayout,
                 strict: bool) -> list[dict]:
    """Each section (name, address, size) with its region and the page permission
    strict_rwx.c gives it there, by address."""
    rows = []
    for name, addr, size in ranges:
        region, perm = "-", "-"
        for which, lay in (("core", core), ("init", init)):
            if lay.size and lay.base <= addr < lay.base + lay.size:
                region, perm = which, section_permission(lay, addr - lay.base, strict, which == "core")
        rows.append({"name": name, "addr": addr, "size": size, "region": region, "perm": perm})
    rows.sort(key=lambda r: (r["addr"], r["name"]))
    return rows


def module_layout(kernel: KernelState, mod: Module) -> dict:
    """The module's memory as the kernel holds it: core, init as it was at load (freed once
    the module went LIVE), each section, and where init, exit and __this_module are. Plain
    data (JSON as it is) for the daemon to send and draw_layout.py to draw."""
    freed = mod.init_layout_at_load is not None
    init = mod.init_layout_at_load if freed else mod.init_layout
    strict = kernel.profile.enabled("STRICT_MODULE_RWX")
    ranges = [(name, addr, size) for name, (addr, size) in mod.section_ranges.items()]
    symbols = []
    for what, addr in (("init", mod.init), ("exit", mod.exit), ("__this_module", mod.struct_addr)):
        if addr:
            names = [s.name for s in mod.kallsyms if s.value == addr and s.name and s.type in "tTdDbB"]
            symbols.append({"what": what, "addr": addr, "symbol": names[0] if names else what})
    return {"name": mod.name, "state": mod.state.name, "strict_rwx": strict,
            "core": {**layout_dict(mod.core_layout), "freed": False},
            "init": {**layout_dict(init), "freed": freed},
            "sections": section_rows(ranges, mod.core_layout, init, strict), "symbols": symbols}
