"""The kernel's address space as the CPU sees it: pages mapped with their permissions, and the
reads and writes the kernel functions make, which fault (MemoryFault) where the MMU would.
Machine builds on it; the unicorn instance (self.uc) is the page tables."""

from __future__ import annotations

import struct

from unicorn import UC_PROT_READ, UC_PROT_WRITE, Uc, UcError

from ..bits import MASK64
from .alloc import PAGE_SIZE, page_align
from .vsprintf import MemoryFault


class AddressSpace:
    uc: Uc
    _mapped: list[tuple[int, int]]  # what map() mapped, for close() and the tests

    def map(self, addr: int, size: int, perms: int = UC_PROT_READ | UC_PROT_WRITE) -> None:
        self.uc.mem_map(addr, page_align(size), perms)
        self._mapped.append((addr, page_align(size)))

    def unmap(self, addr: int, size: int) -> None:
        self.uc.mem_unmap(addr, page_align(size))
        self._mapped.remove((addr, page_align(size)))

    def protect(self, addr: int, size: int, perms: int) -> None:
        if size:
            self.uc.mem_protect(addr, page_align(size), perms)

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
