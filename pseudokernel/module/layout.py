"""Section layout and allocation: layout_sections(), move_module() (main.c) and
layout_symtab() (kallsyms.c).

Each SHF_ALLOC section gets a kind of module memory and an offset in it, by the kernel's five
flag groups. 6.1 packs the kinds into two regions, core and init, page-aligning each group
boundary when CONFIG_STRICT_MODULE_RWX; from 6.4 (versions.MOD_MEM) each kind is an allocation
of its own, page-aligned when allocated. The symbol and string tables go to init, room for the
core copy of the kallsyms (the symbols that stay after init is freed) to core data. The sizes
are what /proc/modules and /sys/module/*/coresize show.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from errno import ENOMEM
from typing import TYPE_CHECKING

from ..bits import PAGE_SIZE
from ..profile.versions import MOD_MEM
from .elf import INIT_OFFSET_MASK, SHF_ALLOC, SHF_EXECINSTR, SHF_RO_AFTER_INIT, SHF_WRITE, SHT_NOBITS, SYM, LoadInfo
from .internal import LoadError
from .module import Allocation, MemType, Module
from .relocate import Image
from .strict_rwx import section_permission

if TYPE_CHECKING:
    from ..state import KernelState

ARCH_SHF_SMALL = 0
SIZEOF_MOD_KALLSYMS = 32  # struct mod_kallsyms: symtab, num_symtab, strtab, typetab
ALIGNOF_MOD_KALLSYMS = 8
SH_ENTSIZE_TYPE_SHIFT = 60  # 6.4 on: the memory type in sh_entsize's top four bits

MASKS = (
    (SHF_EXECINSTR | SHF_ALLOC, ARCH_SHF_SMALL),
    (SHF_ALLOC, SHF_WRITE | ARCH_SHF_SMALL),
    (SHF_RO_AFTER_INIT | SHF_ALLOC, ARCH_SHF_SMALL),
    (SHF_WRITE | SHF_ALLOC, ARCH_SHF_SMALL),
    (ARCH_SHF_SMALL | SHF_ALLOC, 0),
)
# what each flag group holds (__layout_sections' core_m_to_mem_type and init_m_to_mem_type);
# no init section is ro_after_init: 6.1 puts such a one with init data, 6.4 on WARNs and skips it
CORE_M_TO_MEM_TYPE = (MemType.TEXT, MemType.RODATA, MemType.RO_AFTER_INIT, MemType.DATA, MemType.DATA)
INIT_M_TO_MEM_TYPE = (MemType.INIT_TEXT, MemType.INIT_RODATA, None, MemType.INIT_DATA, MemType.INIT_DATA)
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


@dataclass
class ModuleLayout:
    """6.1's struct module_layout: one region and the ends of its permission bands."""

    size: int = 0
    text_size: int = 0
    ro_size: int = 0
    ro_after_init_size: int = 0


def module_init_layout_section(name: str, module_unload: bool = True) -> bool:
    if not module_unload and name.startswith(".exit"):
        return True
    return name.startswith(".init")


def layout_and_allocate_memory(kernel: KernelState, info: LoadInfo, mod: Module) -> Image:
    """layout_sections(), layout_symtab() and move_module() of the profile's kernel: the
    module's memory allocated and its sections copied in, as an Image to relocate."""
    strict = kernel.profile.enabled("STRICT_MODULE_RWX")
    unload = kernel.profile.enabled("MODULE_UNLOAD")
    kallsyms_all = kernel.profile.enabled("KALLSYMS_ALL")
    info.mem_types = kernel.profile.since(MOD_MEM)
    if info.mem_types:
        layout_sections(mod, info, unload)
        info.symtab_offsets = layout_symtab(mod, info, kallsyms_all)
        return move_module(kernel, info, mod)
    core, init = layout_sections_61(info, strict, unload)
    info.symtab_offsets = layout_symtab_61(info, core, init, strict, kallsyms_all)
    return move_module_61(kernel, info, mod, core, init)


# -- 6.4 on: one allocation per kind of memory -----------------------------------------------

def module_get_offset_and_type(mod: Module, t: MemType, s) -> None:
    mem = mod.mem[t]
    off = align(mem.size, s.addralign or 1)
    mem.size = off + s.size
    s.mem_type, s.mem_offset = t, off
    s.entsize = off | (int(t) << SH_ENTSIZE_TYPE_SHIFT)


def layout_sections(mod: Module, info: LoadInfo, module_unload: bool = True) -> None:
    for s in info.sechdrs:
        s.entsize, s.mem_type = UNSET, -1
    for is_init, types in ((False, CORE_M_TO_MEM_TYPE), (True, INIT_M_TO_MEM_TYPE)):
        for (need, refuse), t in zip(MASKS, types):
            for s in info.sechdrs:
                if (s.flags & need) != need or s.flags & refuse or s.entsize != UNSET:
                    continue
                if is_init != module_init_layout_section(s.name, module_unload) or t is None:
                    continue  # (t None: an init ro_after_init section; the kernel WARNs)
                module_get_offset_and_type(mod, t, s)


def layout_symtab(mod: Module, info: LoadInfo, kallsyms_all: bool = True) -> SymtabOffsets:
    symsect = info.sechdrs[info.index.sym]
    strsect = info.sechdrs[info.index.str]
    data = mod.mem[MemType.DATA]
    init_data = mod.mem[MemType.INIT_DATA]
    out = SymtabOffsets()
    symsect.flags |= SHF_ALLOC
    module_get_offset_and_type(mod, MemType.INIT_DATA, symsect)
    syms = info.symbols()
    ndst, strtab_size = _core_symbols(info, syms, kallsyms_all)
    out.ndst = ndst
    out.symoffs = align(data.size, symsect.addralign or 1)
    out.stroffs = data.size = out.symoffs + ndst * SYM.size
    data.size += strtab_size
    out.core_typeoffs = data.size
    data.size += ndst
    strsect.flags |= SHF_ALLOC
    module_get_offset_and_type(mod, MemType.INIT_DATA, strsect)
    init_data.size = align(init_data.size, ALIGNOF_MOD_KALLSYMS)
    out.mod_kallsyms_init_off = init_data.size
    init_data.size += SIZEOF_MOD_KALLSYMS
    out.init_typeoffs = init_data.size
    init_data.size += len(syms)
    return out


def move_module(kernel: KernelState, info: LoadInfo, mod: Module) -> Image:
    """module_memory_alloc() of each kind that has a size: PAGE_ALIGNed, zeroed."""
    image = Image()
    for t in MemType:
        mem = mod.mem[t]
        if not mem.size:
            mem.base = 0
            continue
        mem.size = align(mem.size, PAGE_SIZE)
        base = kernel.machine.module_alloc(mem.size)
        if base is None:
            free_module_memory(kernel, mod)
            raise LoadError(ENOMEM, "module_memory_alloc")
        mem.base = base
        mod.allocations.append(Allocation(t.name.lower(), base, mem.size, (t,)))
        image.add(base, mem.size)
    _copy_sections(info, mod, image, lambda s: mod.mem[s.mem_type].base + s.mem_offset)
    return image


# -- 6.1: core and init regions ---------------------------------------------------------------

CORE_61 = (MemType.TEXT, MemType.RODATA, MemType.RO_AFTER_INIT, MemType.DATA)
INIT_61 = (MemType.INIT_TEXT, MemType.INIT_RODATA, MemType.INIT_DATA)


def layout_sections_61(info: LoadInfo, strict_rwx: bool = True,
                       module_unload: bool = True) -> tuple[ModuleLayout, ModuleLayout]:
    """Offsets in sh_entsize (high bit: init); the core and init layouts."""

    def strict_align(n: int) -> int:
        return align(n, PAGE_SIZE) if strict_rwx else n

    core, init = ModuleLayout(), ModuleLayout()
    for s in info.sechdrs:
        s.entsize, s.mem_type = UNSET, -1

    for lay, is_init, types in ((core, False, CORE_M_TO_MEM_TYPE), (init, True, INIT_M_TO_MEM_TYPE)):
        for m, (need, refuse) in enumerate(MASKS):
            for s in info.sechdrs:
                if (s.flags & need) != need or s.flags & refuse or s.entsize != UNSET:
                    continue
                if module_init_layout_section(s.name, module_unload) != is_init:
                    continue
                off = align(lay.size, s.addralign or 1)
                lay.size = off + s.size
                s.entsize = off | (INIT_OFFSET_MASK if is_init else 0)
                t = types[m]
                s.mem_type, s.mem_offset = MemType.INIT_DATA if t is None else t, off
            if m == 0:
                lay.size = strict_align(lay.size)
                lay.text_size = lay.size
            elif m == 1:
                lay.size = strict_align(lay.size)
                lay.ro_size = lay.size
            elif m == 2:
                if is_init:
                    lay.ro_after_init_size = lay.ro_size
                else:
                    lay.size = strict_align(lay.size)
                    lay.ro_after_init_size = lay.size
            elif m == 4:
                lay.size = strict_align(lay.size)
    return core, init


def layout_symtab_61(info: LoadInfo, core: ModuleLayout, init: ModuleLayout, strict_rwx: bool = True,
                     kallsyms_all: bool = True) -> SymtabOffsets:
    """Append .symtab and .strtab to init, and the core kallsyms copy to core."""

    def strict_align(n: int) -> int:
        return align(n, PAGE_SIZE) if strict_rwx else n

    symsect = info.sechdrs[info.index.sym]
    strsect = info.sechdrs[info.index.str]
    out = SymtabOffsets()

    def append_init(s) -> None:
        s.flags |= SHF_ALLOC
        off = align(init.size, s.addralign or 1)
        init.size = off + s.size
        s.entsize = off | INIT_OFFSET_MASK
        s.mem_type, s.mem_offset = MemType.INIT_DATA, off

    append_init(symsect)
    syms = info.symbols()
    ndst, strtab_size = _core_symbols(info, syms, kallsyms_all)
    out.ndst = ndst
    out.symoffs = align(core.size, symsect.addralign or 1)
    out.stroffs = core.size = out.symoffs + ndst * SYM.size
    core.size += strtab_size
    out.core_typeoffs = core.size
    core.size += ndst
    core.size = strict_align(core.size)

    append_init(strsect)
    init.size = align(init.size, ALIGNOF_MOD_KALLSYMS)
    out.mod_kallsyms_init_off = init.size
    init.size += SIZEOF_MOD_KALLSYMS
    out.init_typeoffs = init.size
    init.size += len(syms)
    init.size = strict_align(init.size)
    return out


def move_module_61(kernel: KernelState, info: LoadInfo, mod: Module, core: ModuleLayout,
                   init: ModuleLayout) -> Image:
    """module_alloc() of core and of init; each region's bands become its kinds of memory."""
    image = Image()
    bases = []
    for name, lay, types in (("core", core, CORE_61), ("init", init, INIT_61)):
        if not lay.size and name == "init":
            bases.append(0)
            continue
        ends = (lay.text_size, lay.ro_size, lay.ro_after_init_size, lay.size)
        if name == "init":
            ends = (lay.text_size, lay.ro_size, lay.size)
        base = kernel.machine.module_alloc(lay.size)
        if base is None:
            free_module_memory(kernel, mod)
            raise LoadError(ENOMEM, "module_alloc")
        bases.append(base)
        start = 0
        for t, end in zip(types, ends):
            mod.mem[t].base, mod.mem[t].size = base + start, end - start
            start = end
        mod.allocations.append(Allocation(name, base, lay.size, types))
        image.add(base, lay.size)
    _copy_sections(info, mod, image, lambda s: bases[s.mem_type >= MemType.INIT_TEXT] + s.mem_offset)
    return image


# -- both ---------------------------------------------------------------------------------------

def _copy_sections(info: LoadInfo, mod: Module, image: Image, dest_of) -> None:
    for s in info.sechdrs:
        if not s.flags & SHF_ALLOC:
            continue
        dest = dest_of(s)
        if s.type != SHT_NOBITS and s.size:
            image.write(dest, info.data[s.offset : s.offset + s.size])
        s.addr = dest
    mod.struct_addr = info.sechdrs[info.index.mod].addr


def free_module_memory(kernel: KernelState, mod: Module, init_only: bool = False) -> None:
    """module_memory_free(): the allocations go back (only init's, once init is done)."""
    for a in [a for a in mod.allocations if a.init or not init_only]:
        kernel.machine.module_memfree(a.base)
        mod.allocations.remove(a)
        for t in a.types:
            mod.mem[t].base = mod.mem[t].size = 0


def _core_symbols(info: LoadInfo, syms: list, kallsyms_all: bool) -> tuple[int, int]:
    """How many symbols stay after init (the first, null one always) and their names' size."""
    strtab_size = ndst = 0
    for i, sym in enumerate(syms):
        if i == 0 or is_core_symbol(sym, info, kallsyms_all):
            strtab_size += len(info.symbol_name(sym[0]).encode("utf-8", "surrogateescape")) + 1
            ndst += 1
    return ndst, strtab_size


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
    if info.mem_types:  # the type in sh_entsize's top bits (~0 when not laid out: 15, core)
        return not (sec.mem_type >= 0 and MemType(sec.mem_type).is_init)
    return not sec.entsize & INIT_OFFSET_MASK


# -- what `pseudokernel trace` and `pseudokernel layout` show of the layout ------------------

def region_dicts(mod: Module, strict: bool, init: bool | None = None) -> list[dict]:
    """Each allocation of the module (only init's, or only core's, when asked) with its bands:
    each kind of memory in it, its range and the permission strict_rwx.c gives it."""
    out = []
    for a in mod.allocations:
        if init is not None and a.init != init:
            continue
        bands = [{"type": t.name.lower(), "start": mod.mem[t].base - a.base,
                  "end": mod.mem[t].base - a.base + mod.mem[t].size, "perm": section_permission(t, strict)}
                 for t in a.types if mod.mem[t].size]
        out.append({"name": a.name, "base": a.base, "size": a.size, "freed": False, "bands": bands})
    return out


def section_rows(ranges: Iterable[tuple[str, int, int]], regions: list[dict]) -> list[dict]:
    """Each section (name, address, size) with the allocation and band it is in, by address."""
    rows = []
    for name, addr, size in ranges:
        region, perm = "-", "-"
        for r in regions:
            for b in r["bands"]:
                if r["base"] + b["start"] <= addr < r["base"] + b["end"]:
                    region, perm = r["name"], b["perm"]
        rows.append({"name": name, "addr": addr, "size": size, "region": region, "perm": perm})
    rows.sort(key=lambda r: (r["addr"], r["name"]))
    return rows


def module_layout(kernel: KernelState, mod: Module) -> dict:
    """The module's memory as the kernel holds it: each allocation (init's as it was at load,
    freed once the module went LIVE), each section, and where init, exit and __this_module
    are. Plain data (JSON as it is) for the daemon to send and draw_layout.py to draw."""
    strict = kernel.profile.enabled("STRICT_MODULE_RWX")
    regions = region_dicts(mod, strict, init=False)
    regions += mod.init_at_load if mod.init_at_load is not None else region_dicts(mod, strict, init=True)
    ranges = [(name, addr, size) for name, (addr, size) in mod.section_ranges.items()]
    symbols = []
    for what, addr in (("init", mod.init), ("exit", mod.exit), ("__this_module", mod.struct_addr)):
        if addr:
            names = [s.name for s in mod.kallsyms if s.value == addr and s.name and s.type in "tTdDbB"]
            symbols.append({"what": what, "addr": addr, "symbol": names[0] if names else what})
    return {"name": mod.name, "state": mod.state.name, "strict_rwx": strict, "regions": regions,
            "sections": section_rows(ranges, regions), "symbols": symbols}
