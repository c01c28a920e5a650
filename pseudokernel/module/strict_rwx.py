"""kernel/module/strict_rwx.c: no module memory both writable and executable, and the page
permissions a module's text, rodata and ro_after_init get as the load goes on. A module that
writes its own text or rodata faults here as it does on the real kernel."""

from __future__ import annotations

from errno import ENOEXEC
from typing import TYPE_CHECKING

from unicorn import UC_PROT_EXEC, UC_PROT_READ, UC_PROT_WRITE

from .elf import SHF_EXECINSTR, SHF_WRITE, LoadInfo
from .internal import LoadError

if TYPE_CHECKING:
    from ..state import KernelState
    from .module import Module, ModuleLayout


def module_enforce_rwx_sections(kernel: KernelState, info: LoadInfo, mod: Module) -> None:
    """No section may be both writable and executable."""
    if not kernel.profile.enabled("STRICT_MODULE_RWX"):
        return
    for i, s in enumerate(info.sechdrs):
        if s.flags & SHF_WRITE and s.flags & SHF_EXECINSTR:
            kernel.log.err(f"{mod.name}: section {s.name} (index {i}) has invalid WRITE|EXEC flags\n")
            raise LoadError(ENOEXEC, "W+X section")


def module_enable_protections(kernel: KernelState, mod: Module, after_init: bool) -> None:
    """module_enable_ro()/nx()/x(): text RX, rodata RO, ro_after_init RO once init is done."""
    if not kernel.profile.enabled("STRICT_MODULE_RWX"):
        return
    m = kernel.machine
    for lay, is_core in ((mod.core_layout, True), (mod.init_layout, False)):
        if not lay.size:
            continue
        m.protect(lay.base, lay.text_size, UC_PROT_READ | UC_PROT_EXEC)
        m.protect(lay.base + lay.text_size, lay.ro_size - lay.text_size, UC_PROT_READ)
        ro_end = lay.ro_after_init_size if (after_init and is_core) else lay.ro_size
        m.protect(lay.base + lay.ro_size, ro_end - lay.ro_size, UC_PROT_READ)
        m.protect(lay.base + ro_end, lay.size - ro_end, UC_PROT_READ | UC_PROT_WRITE)


def section_permission(lay: ModuleLayout, offset: int, strict: bool, is_core: bool) -> str:
    """The page permission module_enable_protections() gives what lies at offset in the
    region: what the trace and `pseudokernel layout` show for each section."""
    if not strict:
        return "RWX"
    if offset < lay.text_size:
        return "RX"
    if offset < lay.ro_size:
        return "RO"
    if is_core and offset < lay.ro_after_init_size:
        return "RO after init"
    return "RW NX"
