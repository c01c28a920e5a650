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
from .elf import SHF_ALLOC, SHF_RELA_LIVEPATCH, SHT_REL, SHT_RELA, SYM, LoadInfo

if TYPE_CHECKING:
    from ..state import KernelState
    from .module import Module

RELA = struct.Struct("<QQq")
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
    log = kernel.log
    sec = info.sechdrs[relsec]
    target = info.sechdrs[sec.info]
    raw = info.section_bytes(relsec)
    nsyms = info.sechdrs[info.index.sym].size // SYM.size
    for r_offset, r_info, r_addend in RELA.iter_unpack(raw[: len(raw) - len(raw) % RELA.size]):
        rtype = r_info & 0xFFFFFFFF
        symidx = r_info >> 32
        loc = (target.addr + r_offset) & MASK64
        if symidx >= nsyms:
            log.err(f"pseudokernel: {mod.name}: relocation refers to symbol {symidx} beyond the symbol table\n")
            raise OSError(ENOEXEC, "relocation symbol")
        val = (values[symidx] + r_addend) & MASK64
        if rtype == R_X86_64_NONE:
            continue
        size = {R_X86_64_64: 8, R_X86_64_PC64: 8}.get(rtype, 4)
        if rtype not in (R_X86_64_64, R_X86_64_32, R_X86_64_32S, R_X86_64_PC32, R_X86_64_PLT32, R_X86_64_PC64):
            log.err(f"module: {mod.name}: Unknown rela relocation: {rtype}\n")
            raise OSError(ENOEXEC, "relocation type")
        try:
            existing = image.read(loc, size)
        except LookupError:
            log.err(f"pseudokernel: {mod.name}: relocation target {loc:#x} outside the module\n")
            raise OSError(ENOEXEC, "relocation target") from None
        if any(existing):
            log.err(
                "module: x86/modules: Skipping invalid relocation target, existing value is nonzero "
                f"for type {rtype}, loc {kernel.hashed_pointer(loc)}, val {val:x}\n"
            )
            raise OSError(ENOEXEC, "relocation target")
        if rtype in (R_X86_64_PC32, R_X86_64_PLT32, R_X86_64_PC64):
            val = (val - loc) & MASK64
        image.write(loc, (val & ((1 << (8 * size)) - 1)).to_bytes(size, "little"))
        overflow = (rtype == R_X86_64_32 and val > 0xFFFFFFFF) or (
            rtype == R_X86_64_32S and s64(val) != s32(val & 0xFFFFFFFF)
        )
        if overflow:
            log.err(f"module: overflow in relocation type {rtype} val {val:x}\n")
            log.err(f"module: `{mod.name}' likely not compiled with -mcmodel=kernel\n")
            raise OSError(ENOEXEC, "relocation overflow")
