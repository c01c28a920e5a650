"""Symbol resolution: find_symbol(), resolve_symbol() and simplify_symbols() (main.c).

Every undefined symbol of the module is looked up among vmlinux's exports (the profile) and
the exports of the modules already loaded, with the kernel's rules: GPL-only exports are
invisible to a proprietary module, a CRC must match __versions, a namespaced symbol must be
imported, a proprietary owner taints its user, and the owner gains a reference. The loop goes on
after an error, so every unknown symbol is printed.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from errno import EBUSY, EINVAL, ENOENT, ENOEXEC
from typing import TYPE_CHECKING

from .. import taint
from ..emu.vsprintf import MemoryFault
from .elf import SHN_ABS, SHN_COMMON, SHN_LIVEPATCH, SHN_UNDEF, LoadInfo
from .modinfo import get_all_modinfo
from .module import ExportedSymbol, Module, State
from .version import check_version

if TYPE_CHECKING:
    from ..state import KernelState

STB_WEAK = 2
KERNEL_SYMBOL = struct.Struct("<iii")  # PREL32 struct kernel_symbol


@dataclass
class Found:
    """struct find_symbol_arg's outputs."""

    name: str
    owner: Module | None
    crc: int | None
    gpl: bool
    namespace: str
    value: int | None  # None for vmlinux symbols until the CPU gives them an address


def find_symbol(kernel: KernelState, name: str, gplok: bool) -> Found | None:
    """vmlinux's __ksymtab then __ksymtab_gpl, then each formed module's (its plain exports,
    then its GPL-only ones), newest first."""
    sym = kernel.profile.exports.get(name)
    if sym is not None and (gplok or not sym.gpl):
        return Found(name, None, sym.crc, sym.gpl, sym.namespace, None)
    for mod in kernel.modules:
        if mod.state == State.UNFORMED:
            continue
        plain, gpl = _exports_by_name(mod).get(name, (None, None))
        s = plain or (gpl if gplok else None)
        if s is not None:
            return Found(name, mod, s.crc, s.gpl, s.namespace, s.value)
    return None


def _exports_by_name(mod: Module) -> dict[str, tuple[ExportedSymbol | None, ExportedSymbol | None]]:
    """The module's exports by name: (the first plain one, the first GPL-only one), made once
    for its list of exports. The kernel searches each module's sorted ksymtab; walking the list
    for every import was most of a load for modules importing thousands of symbols from other
    modules (drm's, ttm's and mac80211's users)."""
    cached = mod.__dict__.get("_exports_index")
    if cached is not None and cached[0] is mod.syms and cached[1] == len(mod.syms):
        return cached[2]
    index: dict[str, tuple[ExportedSymbol | None, ExportedSymbol | None]] = {}
    for s in mod.syms:
        plain, gpl = index.get(s.name, (None, None))
        if s.gpl and gpl is None:
            gpl = s
        elif not s.gpl and plain is None:
            plain = s
        index[s.name] = (plain, gpl)
    mod.__dict__["_exports_index"] = (mod.syms, len(mod.syms), index)
    return index


def inherit_taint(kernel: KernelState, mod: Module, owner: Module | None, name: str) -> bool:
    if owner is None or not owner.taints & (1 << taint.PROPRIETARY_MODULE):
        return True
    if mod.using_gplonly_symbols:
        kernel.log.err(
            f"{mod.name}: module using GPL-only symbols uses symbols {name} from proprietary module {owner.name}.\n"
        )
        return False
    if not mod.taints & (1 << taint.PROPRIETARY_MODULE):
        kernel.log.warn(
            f"{mod.name}: module uses symbols {name} from proprietary module {owner.name}, inheriting taint.\n"
        )
        mod.taints |= 1 << taint.PROPRIETARY_MODULE
    return True


def verify_namespace_is_imported(kernel: KernelState, info: LoadInfo, found: Found, mod: Module) -> int:
    if not found.namespace:
        return 0
    if found.namespace in get_all_modinfo(info.modinfo, "import_ns"):
        return 0
    kernel.log.err(
        f"{mod.name}: module uses symbol ({found.name}) from namespace {found.namespace}, but does not import it.\n"
    )
    return -EINVAL


def ref_module(kernel: KernelState, a: Module, b: Module | None) -> int:
    """Module a uses b: b gets a holder and a reference (strong_try_module_get)."""
    if b is None or a in b.source_list:
        return 0
    if b.state == State.COMING:
        return -EBUSY
    if b.state != State.LIVE or b.refcnt == 0:
        return -ENOENT
    b.refcnt += 1
    b.source_list.insert(0, a)
    a.target_list.insert(0, b)
    return 0


def resolve_symbol(kernel: KernelState, mod: Module, info: LoadInfo, name: str, hint: str) -> int | Found | None:
    """The resolved symbol, None when there is none to see, or a negative errno."""
    with kernel.mutex:
        found = find_symbol(kernel, name, gplok=not mod.taints & (1 << taint.PROPRIETARY_MODULE))
        if found is None:
            return None
        if found.gpl:
            mod.using_gplonly_symbols = True
        if not inherit_taint(kernel, mod, found.owner, name):
            return None
        if not check_version(kernel, info, name, mod, found.crc):
            return -EINVAL
        err = verify_namespace_is_imported(kernel, info, found, mod)
        if err:
            return err
        err = ref_module(kernel, mod, found.owner)
        if err:
            if err == -EBUSY:
                kernel.log.warn(f"{mod.name}: gave up waiting for init of module {found.owner.name}.\n")
            return err
    if found.value is None:
        found.value = kernel.api.import_symbol(kernel.profile.exports[name], hint)
    return found


def call_hints(info: LoadInfo) -> dict[int, str]:
    """Symbol index -> "call" for symbols some relocation calls; kinds for headers-only profiles."""
    from .relocate import R_X86_64_PLT32, RELA

    out: dict[int, str] = {}
    for i, sec in enumerate(info.sechdrs):
        if sec.type != 4 or ".debug" in sec.name:
            continue
        raw = info.section_bytes(i)
        for _off, r_info, _add in RELA.iter_unpack(raw[: len(raw) - len(raw) % RELA.size]):
            if r_info & 0xFFFFFFFF == R_X86_64_PLT32:
                out[r_info >> 32] = "call"
    return out


def simplify_symbols(kernel: KernelState, mod: Module, info: LoadInfo) -> list[int]:
    """st_value of every symbol, as the kernel rewrites it: final addresses.

    Raises OSError with the errno of the last failure after printing every one.
    """
    syms = info.symbols()
    values = [s[4] for s in syms]
    hints = call_hints(info) if not kernel.profile.has_image else {}
    ret = 0
    for i in range(1, len(syms)):
        st_name, st_info, _other, shndx, st_value, _size = syms[i]
        name = info.symbol_name(st_name)
        if shndx == SHN_COMMON:
            if name.startswith("__gnu_lto"):
                continue
            kernel.log.warn(f"{mod.name}: please compile with -fno-common\n")
            ret = -ENOEXEC
        elif shndx in (SHN_ABS, SHN_LIVEPATCH):
            continue
        elif shndx == SHN_UNDEF:
            res = resolve_symbol(kernel, mod, info, name, hints.get(i, ""))
            if isinstance(res, Found):
                values[i] = res.value
                continue
            if res is None and (st_info >> 4 == STB_WEAK or name == "_GLOBAL_OFFSET_TABLE_"):
                continue
            ret = res or -ENOENT
            kernel.log.warn(f"{mod.name}: Unknown symbol {name} (err {ret})\n")
            info.unknown_symbols.append(name)
        else:
            if shndx == info.index.pcpu:
                base = mod.percpu
            elif shndx < info.shnum:
                base = info.sechdrs[shndx].addr
            else:
                base = 0
            values[i] = (st_value + base) & ((1 << 64) - 1)
    if ret:
        raise OSError(-ret, "simplify_symbols")
    return values


def read_exports(kernel: KernelState, mod: Module, info: LoadInfo) -> list[ExportedSymbol]:
    """The module's __ksymtab / __ksymtab_gpl (PREL32 entries) with their __kcrctab CRCs."""
    m = kernel.machine
    out: list[ExportedSymbol] = []
    for secname, crcname, gpl in (("__ksymtab", "__kcrctab", False), ("__ksymtab_gpl", "__kcrctab_gpl", True)):
        i = info.find_sec(secname)
        if not i:
            continue
        sec = info.sechdrs[i]
        ci = info.find_sec(crcname)
        n = sec.size // KERNEL_SYMBOL.size
        raw = m.read(sec.addr, n * KERNEL_SYMBOL.size)
        crcs = _read_or_fail(kernel, mod, f"{crcname} ({n} entries)", info.sechdrs[ci].addr, 4 * n) if ci else b""
        for j, (value_off, name_off, ns_off) in enumerate(KERNEL_SYMBOL.iter_unpack(raw)):
            entry = sec.addr + j * KERNEL_SYMBOL.size
            value = (entry + value_off) & ((1 << 64) - 1)
            name = _cstr_or_fail(kernel, mod, f"{secname} entry {j}: name", entry + 4 + name_off)
            ns = _cstr_or_fail(kernel, mod, f"{secname} entry {j}: namespace", entry + 8 + ns_off) if ns_off else ""
            crc = int.from_bytes(crcs[4 * j : 4 * j + 4], "little") if crcs else None
            out.append(ExportedSymbol(name, value, ns, gpl, crc))
    return out


def _read_or_fail(kernel: KernelState, mod: Module, what: str, addr: int, size: int) -> bytes:
    """Module memory the kernel reads through a pointer the module supplies (PREL32 offsets,
    the CRC array). Where it leads nowhere the kernel would oops: the load fails instead."""
    try:
        return kernel.machine.read(addr & ((1 << 64) - 1), size)
    except MemoryFault:
        kernel.log.err(f"pseudokernel: {mod.name}: {what} at {addr & ((1 << 64) - 1):#x} is not mapped\n")
        raise OSError(ENOEXEC, f"{what}: bad pointer") from None


def _cstr_or_fail(kernel: KernelState, mod: Module, what: str, addr: int) -> str:
    addr &= (1 << 64) - 1
    try:
        return kernel.machine.read_cstr(addr, 512).decode("utf-8", "replace")
    except MemoryFault:
        kernel.log.err(f"pseudokernel: {mod.name}: {what} at {addr:#x} is not mapped\n")
        raise OSError(ENOEXEC, f"{what}: bad pointer") from None


def verify_exported_symbols(kernel: KernelState, mod: Module) -> None:
    """Nothing the module exports may already be exported (in vmlinux or another module)."""
    for s in mod.syms:
        found = find_symbol(kernel, s.name, gplok=True)
        if found is not None and found.owner is not mod:
            owner = found.owner.name if found.owner else "kernel"
            kernel.log.err(f"{mod.name}: exports duplicate symbol {s.name} (owned by {owner})\n")
            raise OSError(ENOEXEC, "verify_exported_symbols")
