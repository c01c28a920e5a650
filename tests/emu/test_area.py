"""The first-fit range allocator (emu/alloc.py Area) that module_alloc() and vmalloc() use."""

from __future__ import annotations

import random

from pseudokernel.emu.alloc import Area


def first_fit(ranges: dict[int, int], start: int, end: int, size: int, align: int, guard: int) -> int | None:
    """The plain search over every range, as vmalloc's first fit is defined."""
    cur = start
    for s in sorted(ranges):
        cur = (cur + align - 1) // align * align
        if cur + size + guard <= s:
            break
        cur = max(cur, s + ranges[s] + guard)
    else:
        cur = (cur + align - 1) // align * align
    return cur if cur + size + guard <= end else None


def test_the_search_that_skips_packed_ranges_finds_what_first_fit_finds():
    rng = random.Random(5)
    for granule, guard in ((4096, 4096), (64, 0), (1, 0)):
        area = Area(0x10000, 0x10000 + (1 << 24), granule=granule, guard=guard)
        held: dict[int, int] = {}
        for _ in range(3000):
            if held and rng.random() < 0.4:
                addr = rng.choice(list(held))
                assert area.free(addr) == held.pop(addr)
                continue
            size = rng.choice([1, 100, 4096, 5000, 3 * 4096, 1 << 16])
            align = rng.choice([1, 64, 4096])
            rounded = (size + granule - 1) // granule * granule
            want = first_fit(held, area.start, area.end, rounded, align, guard)
            got = area.alloc(size, align)
            assert got == want
            if got is not None:
                held[got] = rounded
        assert area.used == sum(held.values())
