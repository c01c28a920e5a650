"""The kernel's address space as the CPU sees it: pages mapped with their permissions, and the
reads and writes the kernel functions make, which fault (MemoryFault) where the MMU would.
Machine builds on it; the unicorn instance (self.uc) is the page tables.

Every task has a CPU context of its own (a kthread runs on one unicorn instance, processes on
another: machine.py), and all of them see one memory: each mapping is host memory of ours
(an anonymous private mmap, so a forked corpus worker gets a copy, not a share) mapped into
every instance with uc_mem_map_ptr, and a change of mapping or protection is made in all.

unicorn keeps each mapping as a region, and every map, unmap or protect re-renders the flat
view of all regions: with a region per module allocation and permission band, the 1,000th
load cost 200 times the first. So the module area is a window (Window): one host memory
mapped once, and its pages' permissions in a page table of ours that the CPU's TLB asks
(UC_TLB_VIRTUAL's fill hook). Permissions are enforced as unicorn enforces a region's, with
the exact faulting address: the same memory is mapped again, read-only, read-exec and
read-write, at addresses no virtual address can have (non-canonical), and a page's TLB entry
leads to the alias of its permissions, or to a hole when it is not mapped; a fault there is
told back as the page's own address. A permission change is a table update and a TLB flush."""

from __future__ import annotations

import ctypes
import mmap
import struct
from dataclasses import dataclass, field

from unicorn import (
    UC_CTL_IO_WRITE,
    UC_CTL_TLB_FLUSH,
    UC_HOOK_TLB_FILL,
    UC_PROT_ALL,
    UC_PROT_EXEC,
    UC_PROT_READ,
    UC_PROT_WRITE,
    Uc,
    UcError,
)

from ..bits import MASK64
from .alloc import PAGE_SIZE, page_align
from .vsprintf import MemoryFault

MAP_NORESERVE = 0x4000  # the window's address space, not its memory: pages come as touched
PRESENT = 0x80
# where a window's aliases lie in unicorn's physical space, by the permissions they give:
# non-canonical addresses, which no kernel or user virtual address maps to identically
ALIASES = {UC_PROT_READ: 1 << 60, UC_PROT_READ | UC_PROT_EXEC: 2 << 60, UC_PROT_READ | UC_PROT_WRITE: 3 << 60}
HOLE = 4 << 60  # never mapped: a page that is not, or has no permission at all
ALIASES_END = 5 << 60
WILD = 4 << 60  # a pointer into [ALIASES, ALIASES_END) is sent this far on, where nothing is
WINDOW_SPAN = 1 << 44  # each window's place in an alias (and in the hole): its slot's


@dataclass
class Window:
    """A range of the address space whose pages the CPU sees through our page table."""

    lo: int
    hi: int
    slot: int
    mem: mmap.mmap = field(repr=False)
    buf: ctypes.Array = field(repr=False)
    pages: bytearray = field(repr=False)  # per page: 0 not mapped, else PRESENT | UC_PROT_*

    def entry(self, vaddr: int) -> int:
        """Where the TLB sends a page: the alias of its permissions (RWX: the identity map)."""
        off = vaddr - self.lo
        p = self.pages[off >> 12]
        perms = p & UC_PROT_ALL
        if perms == UC_PROT_ALL:
            return vaddr
        base = ALIASES.get(perms) if p else None
        return (base if base is not None else HOLE) + self.slot * WINDOW_SPAN + off

    def mapped(self, addr: int, size: int) -> bool:
        first, last = (addr - self.lo) >> 12, (addr + max(size, 1) - 1 - self.lo) >> 12
        return all(self.pages[first:last + 1])


def _wild(uc: Uc, vaddr: int, access: int, entry, _data: object) -> bool:
    """A pointer that happens to be an alias's address faults as one nothing maps (it did
    before the aliases existed) instead of reaching a module's memory past its permissions."""
    entry.paddr = vaddr + WILD
    entry.perms = UC_PROT_ALL
    return True


class AddressSpace:
    uc: Uc
    _mapped: list[tuple[int, int]]  # what map() mapped, for close() and the tests
    _ucs: list[Uc]  # every CPU context's instance: the pages are the same in each
    _host: dict[int, tuple[mmap.mmap, ctypes.Array]]  # mapping -> its host memory
    _windows: list[Window]
    _last_fault: tuple[str, int] | None

    def add_window(self, lo: int, hi: int) -> None:
        """Make [lo, hi) a window: mapped once, its pages mapped and protected by the table."""
        size = hi - lo
        mem = mmap.mmap(-1, size, flags=mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS | MAP_NORESERVE)
        w = Window(lo, hi, len(self._windows), mem, (ctypes.c_char * size).from_buffer(mem), bytearray(size >> 12))
        self._windows.append(w)
        for uc in self._ucs:
            self._map_window(uc, w)
        self.hook_all(UC_HOOK_TLB_FILL, self._on_tlb_fill, w.slot, begin=lo, end=hi - 1)
        if len(self._windows) == 1:  # the aliases' own addresses, used as pointers, lead nowhere
            self.hook_all(UC_HOOK_TLB_FILL, _wild, None, begin=ALIASES[UC_PROT_READ], end=ALIASES_END - 1)

    def _map_window(self, uc: Uc, w: Window) -> None:
        ptr = ctypes.addressof(w.buf)
        uc.mem_map_ptr(w.lo, w.hi - w.lo, UC_PROT_ALL, ptr)
        for perms, base in ALIASES.items():
            uc.mem_map_ptr(base + w.slot * WINDOW_SPAN, w.hi - w.lo, perms, ptr)

    def _window(self, addr: int) -> Window | None:
        for w in self._windows:
            if w.lo <= addr < w.hi:
                return w
        return None

    def _on_tlb_fill(self, uc: Uc, vaddr: int, access: int, entry, slot: int) -> bool:
        entry.paddr = self._windows[slot].entry(vaddr)
        entry.perms = UC_PROT_ALL  # the alias's own permissions decide, with the exact address
        return True

    def fault_address(self, paddr: int) -> tuple[int, bool]:
        """The virtual address of a fault unicorn reports at an alias or the hole, and
        whether it was the hole (a page not mapped, or mapped with no permission)."""
        if ALIASES[UC_PROT_READ] <= paddr < ALIASES_END:
            slot, off = divmod(paddr & ((1 << 60) - 1), WINDOW_SPAN)
            if slot < len(self._windows):
                return self._windows[slot].lo + off, paddr >= HOLE
        if ALIASES_END <= paddr < ALIASES_END + WILD:  # a pointer into the aliases' range itself
            return paddr - WILD, False
        return paddr, False

    def _drop_code(self, w: Window, addr: int, size: int) -> None:
        """Every CPU context's translations of these pages, before their mapping changes:
        unicorn keys code by the address the TLB led to (the alias of the page's permissions
        now), so once the page leads elsewhere nothing could find them, and a module loaded
        there later would run the old one's code."""
        page, last = (addr - w.lo) >> 12, (addr + size - w.lo) >> 12
        while page < last:
            end = page + 1
            while end < last and w.pages[end] == w.pages[page]:
                end += 1
            if w.pages[page]:
                for uc in self._ucs:
                    uc.ctl_remove_cache(w.lo + (page << 12), w.lo + (end << 12))
            page = end

    def _flush_tlbs(self) -> None:
        for uc in self._ucs:
            uc.ctl(UC_CTL_TLB_FLUSH, UC_CTL_IO_WRITE)

    def map(self, addr: int, size: int, perms: int = UC_PROT_READ | UC_PROT_WRITE) -> None:
        size = page_align(size)
        w = self._window(addr)
        if w is not None:  # zeroed when it was unmapped; no entry of it can be in a TLB
            w.pages[(addr - w.lo) >> 12:(addr + size - w.lo) >> 12] = bytes([PRESENT | perms]) * (size >> 12)
            return
        mem = mmap.mmap(-1, size, flags=mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS)
        buf = (ctypes.c_char * size).from_buffer(mem)
        self._host[addr] = (mem, buf)
        self._mapped.append((addr, size))
        for uc in self._ucs:
            self._map_into(uc, addr, perms)

    def _map_into(self, uc: Uc, addr: int, perms: int) -> None:
        mem, buf = self._host[addr]
        uc.mem_map_ptr(addr, len(mem), perms, ctypes.addressof(buf))

    def unmap(self, addr: int, size: int) -> None:
        w = self._window(addr)
        if w is not None:
            size = page_align(size)
            self._drop_code(w, addr, size)
            w.pages[(addr - w.lo) >> 12:(addr + size - w.lo) >> 12] = bytes(size >> 12)
            w.mem.madvise(mmap.MADV_DONTNEED, addr - w.lo, size)  # zero again, and given back
            self._flush_tlbs()
            return
        for uc in self._ucs:
            uc.mem_unmap(addr, page_align(size))
        self._mapped.remove((addr, page_align(size)))
        mem, buf = self._host.pop(addr)
        del buf
        try:
            mem.close()
        except BufferError:  # a view of it is still alive: the collector frees it
            pass

    def protect(self, addr: int, size: int, perms: int) -> None:
        w = self._window(addr)
        if w is not None and size:
            size = page_align(size)
            self._drop_code(w, addr, size)
            w.pages[(addr - w.lo) >> 12:(addr + size - w.lo) >> 12] = bytes([PRESENT | perms]) * (size >> 12)
            self._flush_tlbs()
            return
        if size:
            for uc in self._ucs:
                uc.mem_protect(addr, page_align(size), perms)

    def share_memory(self, uc: Uc) -> None:
        """Map everything mapped so far into a new CPU context's instance, with the
        permissions the pages have now, and make later changes there too."""
        for addr, _size in self._mapped:
            self._map_into(uc, addr, UC_PROT_READ)
        for begin, end, perms in self.uc.mem_regions():
            if self._window(begin) is None and not ALIASES[UC_PROT_READ] <= begin < ALIASES_END:
                uc.mem_protect(begin, end + 1 - begin, perms)
        for w in self._windows:
            self._map_window(uc, w)
        self._ucs.append(uc)

    def unshare_memory(self, uc: Uc) -> None:
        self._ucs.remove(uc)

    def read(self, addr: int, size: int) -> bytes:
        if self._windows and (w := self._window(addr & MASK64)) is not None and not w.mapped(addr & MASK64, size):
            raise MemoryFault(addr)
        try:
            return bytes(self.uc.mem_read(addr & MASK64, size))
        except UcError as e:
            raise MemoryFault(addr) from e

    def write(self, addr: int, data: bytes) -> None:
        if self._windows and (w := self._window(addr & MASK64)) is not None and not w.mapped(addr & MASK64, len(data)):
            raise MemoryFault(addr)
        try:
            self.uc.mem_write(addr & MASK64, bytes(data))
        except UcError as e:
            raise MemoryFault(addr) from e

    def read_u8(self, addr: int) -> int:
        return self.read(addr, 1)[0]

    def read_u16(self, addr: int) -> int:
        return struct.unpack("<H", self.read(addr, 2))[0]

    def read_u32(self, addr: int) -> int:
        return struct.unpack("<I", self.read(addr, 4))[0]

    def read_s32(self, addr: int) -> int:
        return struct.unpack("<i", self.read(addr, 4))[0]

    def read_u64(self, addr: int) -> int:
        return struct.unpack("<Q", self.read(addr, 8))[0]

    def write_u8(self, addr: int, v: int) -> None:
        self.write(addr, struct.pack("<B", v & 0xFF))

    def write_u16(self, addr: int, v: int) -> None:
        self.write(addr, struct.pack("<H", v & 0xFFFF))

    def write_u32(self, addr: int, v: int) -> None:
        self.write(addr, struct.pack("<I", v & 0xFFFFFFFF))

    def write_u64(self, addr: int, v: int) -> None:
        self.write(addr, struct.pack("<Q", v & MASK64))

    def read_cstr(self, addr: int, limit: int = 1 << 16) -> bytes:
        """A NUL-terminated string, read page by page so strings near a map end work."""
        out = bytearray()
        while len(out) < limit:
            chunk = min(PAGE_SIZE - (addr % PAGE_SIZE), limit - len(out))
            data = self.read(addr, chunk)
            nul = data.find(b"\0")
            if nul >= 0:
                out += data[:nul]
                return bytes(out)
            out += data
            addr += chunk
        return bytes(out)

    def is_mapped(self, addr: int) -> bool:
        if (w := self._window(addr & MASK64)) is not None:
            return w.mapped(addr & MASK64, 1)
        try:
            self.uc.mem_read(addr & MASK64, 1)
            return True
        except UcError:
            return False
