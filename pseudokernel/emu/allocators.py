"""The allocators' side that maps what they hand out into the CPU's address space: module_alloc()
and module_memfree() (arch/x86/kernel/module.c, kernel/module/main.c), vmalloc() and vfree()
(mm/vmalloc.c), dma_alloc_coherent(), kmalloc()'s slab chunks (mm/slub.c), a process's user
buffer. The ranges themselves are alloc.py's; Machine builds on this (a mixin, as AddressSpace
is: it works on Machine's attributes)."""

from __future__ import annotations

from collections.abc import Callable

from unicorn import UC_PROT_ALL

from . import memory_map as mm
from .address_space import AddressSpace
from .alloc import Area, Slab, page_align


class Allocators(AddressSpace):
    modules_area: Area
    vmalloc_area: Area
    dma_area: Area
    slab: Slab
    _pseudo_data: Area
    _user_buffer: int
    _stale_code: bool
    _frames: list
    on_module_free: Callable[[int, int], None] | None
    _log_code: Callable[[int, int], None]  # CpuContexts'

    def module_alloc(self, size: int) -> int | None:
        """module_alloc(): page-aligned vmalloc in the module area (a window:
        address_space.py), zeroed, RWX until sealed."""
        if (addr := self.modules_area.alloc(size)) is None:
            return None
        self.map(addr, size, UC_PROT_ALL)
        return addr

    def module_memfree(self, addr: int) -> None:
        size = self.modules_area.free(addr)
        self.unmap(addr, size)
        self._log_code(addr, size)
        self._stale_code = True
        self._flush_stale_code()
        if self.on_module_free is not None:
            self.on_module_free(addr, size)

    def _flush_stale_code(self) -> None:
        """Drop the translated blocks of freed module code, once no call is running. unicorn
        keeps translations in a 1 GiB buffer it reuses only after a flush: without one, every
        load and unload added its module's translations to the daemon's memory (4 MB per
        1,000 loads of hello.ko, measured by scripts/robustness soak)."""
        if self._stale_code and not self._frames:
            self._stale_code = False
            self.uc.ctl_flush_tb()

    def vmalloc(self, size: int) -> int | None:
        addr = self.vmalloc_area.alloc(size)
        if addr is not None:
            self.map(addr, size)
        return addr

    def vfree(self, addr: int, area: Area | None = None) -> int | None:
        area = area or self.vmalloc_area
        found = area.find(addr)
        if not found or found[0] != addr:
            return None
        area.free(addr)
        self.unmap(addr, found[1])
        return found[1]

    def dma_alloc(self, size: int) -> int | None:
        """Whole zeroed pages of low memory (dma_alloc_coherent())."""
        addr = self.dma_area.alloc(size)
        if addr is not None:
            self.map(addr, size)
        return addr

    def kmalloc(self, size: int, owner: str = "", caller: int = 0, kind: str = "kmalloc", gfp: int = 0) -> int:
        addr = self.slab.alloc(size, owner, caller, kind, gfp)
        for chunk in self.slab.old_chunks:
            self.unmap(*chunk)
        self.slab.old_chunks.clear()
        for chunk in self.slab.new_chunks:
            self.map(*chunk)
        self.slab.new_chunks.clear()
        if addr is None:
            return 0
        if addr != 0x10:
            self.write(addr, bytes(self.slab.live[addr].slab_size))
        return addr

    def user_buffer(self, size: int) -> int:
        """Memory in the user half of the address space, for a read() the kernel runs on a
        process's behalf (copy_to_user() lands there): mapped on first use, reused."""
        size = page_align(size)
        if self._user_buffer < size:
            if self._user_buffer:
                self.unmap(mm.USER_BUFFER, self._user_buffer)
            self.map(mm.USER_BUFFER, size)
            self._user_buffer = size
        return mm.USER_BUFFER

    def pseudo_data(self, size: int, align: int = 64) -> int:
        """Room for a kernel data object the profile cannot place."""
        addr = self._pseudo_data.alloc(max(size, 8), align)
        if addr is None:
            raise MemoryError("pseudo data area exhausted")
        return addr
