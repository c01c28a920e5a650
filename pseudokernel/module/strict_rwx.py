"""kernel/module/strict_rwx.c: no module memory both writable and executable, and the page
permissions a module's text, rodata and ro_after_init get as the load goes on. A module that
writes its own text or rodata faults here as it does on the real kernel."""

from __future__ import annotations

from errno import ENOEXEC
from typing import TYPE_CHECKING

from unicorn import UC_PROT_EXEC, UC_PROT_READ, UC_PROT_WRITE

from .elf import SHF_EXECINSTR, SHF_WRITE, LoadInfo
from .internal import LoadError
from .module import MemType

if TYPE_CHECKING:
    from ..state import KernelState
    from .module import Module


def module_enforce_rwx_sections(kernel: KernelState, info: LoadInfo, mod: Module) -> None:
    """No section may be both writable and executable."""
    if not kernel.profile.enabled("STRICT_MODULE_RWX"):
        return
    for i, s in enumerate(info.sechdrs):
        if s.flags & SHF_WRITE and s.flags & SHF_EXECINSTR:
            kernel.log.err(f"{mod.name}: section {s.name} (index {i}) has invalid WRITE|EXEC flags\n")
            raise LoadError(ENOEXEC, "W+X section")


def module_enable_protections(kernel: KernelState, mod: Module, after_init: bool) -> None:
    """module_enable_rodata_ro()/data_nx()/text_rox() (6.1: module_enable_ro()/nx()/x()):
    text RX, rodata RO, data RW NX, and ro_after_init RO once init is done. Each kind of
    memory is page-aligned on both versions (6.1's bands, later kernels' allocations)."""
    if not kernel.profile.enabled("STRICT_MODULE_RWX"):
        return
    for t in MemType:
        mem = mod.mem[t]
        if mem.size:
            kernel.machine.protect(mem.base, mem.size, PROT[t] if after_init or t != MemType.RO_AFTER_INIT
                                   else UC_PROT_READ | UC_PROT_WRITE)


PROT = {MemType.TEXT: UC_PROT_READ | UC_PROT_EXEC, MemType.INIT_TEXT: UC_PROT_READ | UC_PROT_EXEC,
        MemType.RODATA: UC_PROT_READ, MemType.INIT_RODATA: UC_PROT_READ, MemType.RO_AFTER_INIT: UC_PROT_READ,
        MemType.DATA: UC_PROT_READ | UC_PROT_WRITE, MemType.INIT_DATA: UC_PROT_READ | UC_PROT_WRITE}
PERM_NAME = {MemType.TEXT: "RX", MemType.INIT_TEXT: "RX", MemType.RODATA: "RO", MemType.INIT_RODATA: "RO",
             MemType.RO_AFTER_INIT: "RO after init", MemType.DATA: "RW NX", MemType.INIT_DATA: "RW NX"}


def section_permission(t: MemType, strict: bool) -> str:
    """The page permission module_enable_protections() gives a kind of memory: what the trace
    and `pseudokernel layout` show for each section."""
    return PERM_NAME[t] if strict else "RWX"
