"""The kernel's address space as the CPU sees it: pages mapped with their permissions, and the
reads and writes the kernel functions make, which fault (MemoryFault) where the MMU would.
Machine builds on it; the unicorn instance (self.uc) is the page tables.

Every task has a CPU context of its own (a kthread runs on one unicorn instance, processes on
another: machine.py), and all of them see one memory: each mapping is host memory of ours
(an anonymous private mmap, so a forked corpus worker gets a copy, not a share) mapped into
every instance with uc_mem_map_ptr, and a change of mapping or protection is made in all."""

from __future__ import annotations

import ctypes
import mmap
import struct

from unicorn import UC_PROT_READ, UC_PROT_WRITE, Uc, UcError

from ..bits import MASK64
from .alloc import PAGE_SIZE, page_align
from .vsprintf import MemoryFault


class AddressSpace:
    uc: Uc
    _mapped: list[tuple[int, int]]  # what map() mapped, for close() and the tests
    _ucs: list[Uc]  # every CPU context's instance: the pages are the same in each
    _host: dict[int, tuple[mmap.mmap, ctypes.Array]]  # mapping -> its host memory
    _bands: dict[int, list[int]]  # mapping -> the page offsets cutting it into regions

    def map(self, addr: int, size: int, perms: int = UC_PROT_READ | UC_PROT_WRITE, bands: tuple[int, ...] = ()) -> None:
        """bands: page offsets where the mapping is cut into unicorn regions of its own (one
        memory still): a protect() of a whole region is cheap, one inside a region makes
        unicorn split it."""
        size = page_align(size)
        mem = mmap.mmap(-1, size, flags=mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS)
        buf = (ctypes.c_char * size).from_buffer(mem)
        self._host[addr] = (mem, buf)
        self._mapped.append((addr, size))
        self._bands[addr] = sorted({0, size, *(b for b in bands if 0 < b < size and not b % PAGE_SIZE)})
        for uc in self._ucs:
            self._map_into(uc, addr, perms)

    def _map_into(self, uc: Uc, addr: int, perms: int) -> None:
        ptr = ctypes.addressof(self._host[addr][1])
        cuts = self._bands[addr]
        for start, end in zip(cuts, cuts[1:]):
            uc.mem_map_ptr(addr + start, end - start, perms, ptr + start)

    def unmap(self, addr: int, size: int) -> None:
        for uc in self._ucs:
            uc.mem_unmap(addr, page_align(size))
        self._mapped.remove((addr, page_align(size)))
        self._bands.pop(addr, None)
        mem, buf = self._host.pop(addr)
        del buf
        try:
            mem.close()
        except BufferError:  # a view of it is still alive: the collector frees it
            pass

    def protect(self, addr: int, size: int, perms: int) -> None:
        if size:
            for uc in self._ucs:
                uc.mem_protect(addr, page_align(size), perms)

    def share_memory(self, uc: Uc) -> None:
        """Map everything mapped so far into a new CPU context's instance, with the
        permissions the pages have now, and make later changes there too."""
        for addr, _size in self._mapped:
            self._map_into(uc, addr, UC_PROT_READ)
        for begin, end, perms in self.uc.mem_regions():
            uc.mem_protect(begin, end + 1 - begin, perms)
        self._ucs.append(uc)

    def unshare_memory(self, uc: Uc) -> None:
        self._ucs.remove(uc)

    def read(self, addr: int, size: int) -> bytes:
        try:
            return bytes(self.uc.mem_read(addr & MASK64, size))
        except UcError as e:
            raise MemoryFault(addr) from e

    def write(self, addr: int, data: bytes) -> None:
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
        try:
            self.uc.mem_read(addr & MASK64, 1)
            return True
        except UcError:
            return False
