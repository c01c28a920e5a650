"""Address-space allocators of the emulated kernel: vmalloc areas, SLUB-like kmalloc, per-CPU.

They hand out addresses only; the Machine maps the memory. Each keeps enough bookkeeping to
answer "who allocated this and is it still live", which the leak report at unload needs.
"""

from __future__ import annotations

import bisect
import itertools
from dataclasses import dataclass

from ..bits import PAGE_SIZE


def page_align(n: int) -> int:
    return (n + PAGE_SIZE - 1) & ~(PAGE_SIZE - 1)


class Area:
    """First-fit ranges in [start, end), like vmalloc's vmap_area allocator.

    `granule` rounds sizes (PAGE_SIZE for vmalloc, 1 for per-CPU); `guard` bytes are kept free
    after each range (vmalloc's guard page, so running off the end faults).
    """

    def __init__(self, start: int, end: int, granule: int = PAGE_SIZE, guard: int = PAGE_SIZE) -> None:
        self.start = start
        self.end = end
        self.granule = granule
        self.guard = guard
        self._starts: list[int] = []  # sorted range starts
        self._sizes: dict[int, int] = {}  # start -> size (rounded, without guard)
        # how many ranges from the first sit end to end (none before the first): a search for
        # room starts after them, so filling the area in order costs no walk over what it holds
        self._packed = 0

    def alloc(self, size: int, align: int = PAGE_SIZE) -> int | None:
        size = max(size, 1)
        size = (size + self.granule - 1) // self.granule * self.granule
        need = size + self.guard
        align = max(align, 1)
        first = self._packed  # the ranges before it leave no room: the search starts after them
        cur = self.start if not first else self._end(self._starts[first - 1])
        for s in itertools.islice(self._starts, first, None):
            cur = (cur + align - 1) // align * align
            if cur + need <= s:
                break
            cur = max(cur, self._end(s))
        else:
            cur = (cur + align - 1) // align * align
        if cur + need > self.end:
            return None
        bisect.insort(self._starts, cur)
        self._sizes[cur] = size
        starts, packed = self._starts, self._packed
        while packed < len(starts) and starts[packed] == (self.start if not packed else self._end(starts[packed - 1])):
            packed += 1
        self._packed = packed
        return cur

    def _end(self, start: int) -> int:
        """Where the next range may begin after the one at start (its guard after it)."""
        return start + self._sizes[start] + self.guard

    def free(self, addr: int) -> int:
        """Release a range; returns its size. KeyError if addr does not start one."""
        size = self._sizes.pop(addr)
        i = bisect.bisect_left(self._starts, addr)
        del self._starts[i]
        self._packed = min(self._packed, i)
        return size

    def find(self, addr: int) -> tuple[int, int] | None:
        """(start, size) of the range holding addr."""
        i = bisect.bisect_right(self._starts, addr) - 1
        if i >= 0:
            s = self._starts[i]
            if addr < s + self._sizes[s]:
                return s, self._sizes[s]
        return None

    @property
    def used(self) -> int:
        return sum(self._sizes.values())


# SLUB's kmalloc caches on x86_64 (KMALLOC_MIN_SIZE 8, KMALLOC_SHIFT_HIGH 13)
KMALLOC_SIZES = (8, 16, 32, 64, 96, 128, 192, 256, 512, 1024, 2048, 4096, 8192)
KMALLOC_MAX_CACHE_SIZE = 8192
KMALLOC_MAX_SIZE = 1 << 22  # MAX_ORDER 11: kmalloc_large() stops at 4 MiB


def kmalloc_slab_size(size: int) -> int:
    for s in KMALLOC_SIZES:
        if size <= s:
            return s
    raise ValueError(size)


@dataclass
class Allocation:
    addr: int
    size: int  # what the caller asked for
    slab_size: int  # what it got
    owner: str  # module name, or "" for the kernel
    caller: int  # return address of the allocating call
    kind: str  # kmalloc, vmalloc, page, percpu, ...
    gfp: int = 0  # the flags it was asked with (which kmalloc cache: -cg, -rcl, dma)
    cache: int = 0  # the struct kmem_cache it came from (kmem_cache_alloc), 0 for kmalloc


class Slab:
    """kmalloc from size-class slabs carved out of the direct map; large sizes get pages.

    Objects freed go back to their class's free list (LIFO, like SLUB's per-CPU freelist), so
    a use-after-free sees its memory reused the way it would on a real kernel.
    """

    def __init__(self, start: int, end: int, slab_pages: int = 1) -> None:
        self.start = start
        self.end = end
        self.brk = start
        self.free_lists: dict[int, list[int]] = {s: [] for s in KMALLOC_SIZES}
        self.live: dict[int, Allocation] = {}
        self.pages = Area(start, end, guard=0)
        self._chunk_end = start
        self.classes: dict[int, int] = {}  # start of a chunk of objects -> their size class
        self.new_chunks: list[tuple[int, int]] = []  # regions the Machine must map
        self.old_chunks: list[tuple[int, int]] = []  # regions given back: the Machine unmaps them

    def _grow(self, size: int) -> int | None:
        size = page_align(size)
        addr = self.pages.alloc(size)
        if addr is None:
            return None
        self.new_chunks.append((addr, size))
        return addr

    def alloc(self, size: int, owner: str = "", caller: int = 0, kind: str = "kmalloc", gfp: int = 0) -> int | None:
        if size == 0:
            return 0x10  # ZERO_SIZE_PTR
        if size > KMALLOC_MAX_CACHE_SIZE:
            if size > KMALLOC_MAX_SIZE:
                return None
            addr = self._grow(size)
            if addr is None:
                return None
            self.live[addr] = Allocation(addr, size, page_align(size), owner, caller, kind, gfp)
            return addr
        cls = kmalloc_slab_size(size)
        fl = self.free_lists[cls]
        if not fl:
            slab = self._grow(max(PAGE_SIZE, cls * 8))
            if slab is None:
                return None
            n = max(PAGE_SIZE, cls * 8) // cls
            self.classes[slab] = cls
            fl.extend(slab + i * cls for i in reversed(range(n)))
        addr = fl.pop()
        self.live[addr] = Allocation(addr, size, cls, owner, caller, kind, gfp)
        return addr

    def free(self, addr: int) -> Allocation | None:
        a = self.live.pop(addr, None)
        if a is None:
            return None
        if a.slab_size in self.free_lists:
            self.free_lists[a.slab_size].append(addr)
        else:
            self.old_chunks.append((addr, self.pages.free(addr)))
        return a

    def object_at(self, addr: int) -> tuple[int, int, Allocation | None] | None:
        """The object holding addr: (its start, the size it got, its allocation while live);
        None outside the heap's chunks. The checks of hardened usercopy ask (virt_to_slab)."""
        found = self.pages.find(addr)
        if found is None:
            return None
        chunk, _size = found
        cls = self.classes.get(chunk)
        if cls is None:  # a large allocation, pages of its own
            a = self.live.get(chunk)
            return (chunk, a.slab_size, a) if a else None
        start = chunk + (addr - chunk) // cls * cls
        return start, cls, self.live.get(start)

    def ksize(self, addr: int) -> int:
        a = self.live.get(addr)
        return a.slab_size if a else 0


class PercpuAlloc:
    """The first per-CPU chunk: [static][reserved for modules][dynamic], offsets from 0.

    With CONFIG_KALLSYMS_ABSOLUTE_PERCPU a per-CPU pointer is the offset itself, reached
    through %gs or by adding this_cpu_off. PERCPU_MODULE_RESERVE (8 KiB) is all that module
    static per-CPU data may use.
    """

    def __init__(self, static_size: int, reserved: int = 8 << 10, dynamic: int = 1 << 20) -> None:
        base = page_align(static_size)
        self.reserved = Area(base, base + reserved, granule=1, guard=0)
        self.dynamic = Area(base + reserved, base + reserved + dynamic, granule=1, guard=0)
        self.size = base + reserved + dynamic

    def alloc_reserved(self, size: int, align: int) -> int | None:
        return self.reserved.alloc(size, align)

    def alloc(self, size: int, align: int) -> int | None:
        return self.dynamic.alloc(size, align)

    def free(self, addr: int) -> None:
        for area in (self.reserved, self.dynamic):
            if area.find(addr):
                area.free(addr)
