"""x86_64 relocation: apply_relocations() (main.c) and apply_relocate_add()
(arch/x86/kernel/module.c), including the kernel's "already set" and overflow errors.

Relocations are applied to the module image before it is written to the CPU's memory, so
the image is a bytes buffer per region (core, init).
"""

from __future__ import annotations

import struct
from errno import ENOEXEC
from typing import TYPE_CHECKING

from ..bits import MASK64, s32, s64
from ..profile.versions import RELOC_NONZERO_MESSAGE
from .elf import SHF_ALLOC, SHF_RELA_LIVEPATCH, SHT_REL, SHT_RELA, SYM, LoadInfo

if TYPE_CHECKING:
    from ..state import KernelState
    from .module import Module

RELA = struct.Struct("<QQq")
U32 = struct.Struct("<I")
U64 = struct.Struct("<Q")
ZERO4, ZERO8 = bytes(4), bytes(8)
R_X86_64_NONE = 0
R_X86_64_64 = 1
R_X86_64_PC32 = 2
R_X86_64_PLT32 = 4
R_X86_64_32 = 10
R_X86_64_32S = 11
R_X86_64_PC64 = 24


class Image:
    """The module's memory while it is UNFORMED: one buffer per module_alloc() region."""

    def __init__(self) -> None:
        self.regions: list[tuple[int, bytearray]] = []

    def add(self, base: int, size: int) -> None:
        self.regions.append((base, bytearray(size)))

    def locate(self, addr: int, size: int) -> tuple[bytearray, int]:
        for base, buf in self.regions:
            if base <= addr and addr + size <= base + len(buf):
                return buf, addr - base
        raise LookupError(addr)

    def write(self, addr: int, data: bytes) -> None:
        buf, off = self.locate(addr, len(data))
        buf[off : off + len(data)] = data

    def read(self, addr: int, size: int) -> bytes:
        buf, off = self.locate(addr, size)
        return bytes(buf[off : off + size])


def apply_relocations(kernel: KernelState, mod: Module, info: LoadInfo, image: Image, values: list[int]) -> None:
    for i in range(1, info.shnum):
        sec = info.sechdrs[i]
        infosec = sec.info
        if infosec >= info.shnum:
            continue
        if not info.sechdrs[infosec].flags & SHF_ALLOC:
            continue
        if sec.flags & SHF_RELA_LIVEPATCH:
            kernel.log.err(f"pseudokernel: {mod.name}: livepatch relocations are not emulated\n")
            raise OSError(ENOEXEC, "livepatch")
        if sec.type == SHT_REL:
            kernel.log.err(f"module {mod.name}: REL relocation unsupported\n")
            raise OSError(ENOEXEC, "apply_relocate")
        if sec.type == SHT_RELA:
            apply_relocate_add(kernel, mod, info, i, image, values)


def apply_relocate_add(kernel: KernelState, mod: Module, info: LoadInfo, relsec: int, image: Image, values: list[int]) -> None:
    """One SHT_RELA section, as the kernel's loop. A module has thousands of relocations and this
    loop is a large part of a load, so the target section's buffer is found once, not per entry
    (an entry pointing outside it is looked up among all regions, as before)."""
    log = kernel.log
    sec = info.sechdrs[relsec]
    target = info.sechdrs[sec.info]
    raw = info.section_bytes(relsec)
    nsyms = info.sechdrs[info.index.sym].size // SYM.size
    try:
        buf, base = image.locate(target.addr, target.size)
        base = target.addr - base
    except LookupError:
        buf, base = bytearray(), 0
    end = base + len(buf)
    entries = list(RELA.iter_unpack(raw[: len(raw) - len(raw) % RELA.size]))
    if _fill_array(entries, target.addr, values, nsyms, buf, base):
        return
    sizes = {R_X86_64_64: 8, R_X86_64_PC64: 8, R_X86_64_32: 4, R_X86_64_32S: 4, R_X86_64_PC32: 4, R_X86_64_PLT32: 4}
    pc_relative = (R_X86_64_PC32, R_X86_64_PLT32, R_X86_64_PC64)
    taddr = target.addr
    last4, last8 = len(buf) - 4, len(buf) - 8
    for r_offset, r_info, r_addend in entries:
        rtype = r_info & 0xFFFFFFFF
        symidx = r_info >> 32
        loc = (taddr + r_offset) & MASK64
        if symidx >= nsyms:
            log.err(f"pseudokernel: {mod.name}: relocation refers to symbol {symidx} beyond the symbol table\n")
            raise OSError(ENOEXEC, "relocation symbol")
        val = (values[symidx] + r_addend) & MASK64
        # the common cases (inside the section, over zeroes, no overflow): the steps below, inline
        off = loc - base
        if rtype == R_X86_64_PC32 or rtype == R_X86_64_PLT32:
            if 0 <= off <= last4 and buf[off : off + 4] == ZERO4:
                U32.pack_into(buf, off, (val - loc) & 0xFFFFFFFF)
                continue
        elif rtype == R_X86_64_64:
            if 0 <= off <= last8 and buf[off : off + 8] == ZERO8:
                U64.pack_into(buf, off, val)
                continue
        elif rtype == R_X86_64_32S:
            if 0 <= off <= last4 and (val < 0x80000000 or val >= 0xFFFFFFFF80000000) and buf[off : off + 4] == ZERO4:
                U32.pack_into(buf, off, val & 0xFFFFFFFF)
                continue
        if rtype == R_X86_64_NONE:
            continue
        size = sizes.get(rtype)
        if size is None:
            log.err(f"module: {mod.name}: Unknown rela relocation: {rtype}\n")
            raise OSError(ENOEXEC, "relocation type")
        if base <= loc and loc + size <= end:
            into, off = buf, loc - base
        else:
            try:
                into, off = image.locate(loc, size)
            except LookupError:
                log.err(f"pseudokernel: {mod.name}: relocation target {loc:#x} outside the module\n")
                raise OSError(ENOEXEC, "relocation target") from None
        if into[off : off + size].count(0) != size:
            what = "Invalid" if kernel.profile.since(RELOC_NONZERO_MESSAGE) else "Skipping invalid"
            log.err(
                f"module: x86/modules: {what} relocation target, existing value is nonzero "
                f"for type {rtype}, loc {kernel.hashed_pointer(loc)}, val {val:x}\n"
            )
            raise OSError(ENOEXEC, "relocation target")
        if rtype in pc_relative:
            val = (val - loc) & MASK64
        into[off : off + size] = (val & ((1 << (8 * size)) - 1)).to_bytes(size, "little")
        overflow = (rtype == R_X86_64_32 and val > 0xFFFFFFFF) or (
            rtype == R_X86_64_32S and s64(val) != s32(val & 0xFFFFFFFF)
        )
        if overflow:
            log.err(f"module: overflow in relocation type {rtype} val {val:x}\n")
            log.err(f"module: `{mod.name}' likely not compiled with -mcmodel=kernel\n")
            raise OSError(ENOEXEC, "relocation overflow")


def _fill_array(entries: list[tuple[int, int, int]], taddr: int, values: list[int], nsyms: int, buf: bytearray,
                base: int) -> bool:
    """A section whose relocations fill an array, one element each in order, all of one type,
    over memory still zero (ORC's ip table, __mcount_loc, .return_sites ...: over a third of a
    module's relocations): none of them can fail, and the kernel's loop would write exactly
    these values, so they are computed in a few passes and written at once. False (nothing
    written) for any other section: the loop above does it, entry by entry."""
    n = len(entries)
    if n < 4:
        return False
    rtype = entries[0][1] & 0xFFFFFFFF
    size = {R_X86_64_PC32: 4, R_X86_64_PLT32: 4, R_X86_64_64: 8}.get(rtype)
    if size is None or any(r_info & 0xFFFFFFFF != rtype for _, r_info, _ in entries):
        return False
    first = entries[0][0]
    if [r_offset for r_offset, _, _ in entries] != list(range(first, first + n * size, size)):
        return False
    start = (taddr + first - base) & MASK64
    if start + n * size > len(buf) or buf[start : start + n * size].count(0) != n * size:
        return False
    syms = [r_info >> 32 for _, r_info, _ in entries]
    if max(syms) >= nsyms:
        return False
    addends = [r_addend for _, _, r_addend in entries]
    if size == 8:
        vals = [(values[s] + a) & MASK64 for s, a in zip(syms, addends)]
        struct.pack_into(f"<{n}Q", buf, start, *vals)
    else:
        loc = taddr + first
        vals = [(values[s] + a - loc - 4 * i) & 0xFFFFFFFF for i, (s, a) in enumerate(zip(syms, addends))]
        struct.pack_into(f"<{n}I", buf, start, *vals)
    return True


def module_finalize(kernel: KernelState, info: LoadInfo, image: Image) -> None:
    """arch/x86/kernel/module.c module_finalize(), the part the reference machines show:
    apply_returns() over .return_sites. Each `jmp __x86_return_thunk` is left as it is where
    the CPU wants the return thunk (the 6.1 machine), else becomes `ret; int3...` (the 6.12
    one: profile.machine's "rethunk")."""
    if not kernel.profile.enabled("RETHUNK") or kernel.profile.machine.get("rethunk", True):
        return
    i = info.find_sec(".return_sites")
    if not i:
        return
    sec = info.sechdrs[i]
    raw = image.read(sec.addr, sec.size)
    for j in range(0, len(raw) - 3, 4):
        site = (sec.addr + j + s32(int.from_bytes(raw[j : j + 4], "little"))) & MASK64
        try:
            insn = image.read(site, 5)
        except LookupError:
            continue
        dest = (site + 5 + s32(int.from_bytes(insn[1:5], "little"))) & MASK64
        if insn[0] == 0xE9 and kernel.machine.function_name(dest) == "__x86_return_thunk":
            image.write(site, b"\xc3" + b"\xcc" * 4)
