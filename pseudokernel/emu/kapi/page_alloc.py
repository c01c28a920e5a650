"""mm/page_alloc.c as far as a module sees it fail: warn_alloc() and the show_mem() after it.

An allocation the machine cannot give (vmalloc() beyond the RAM, as hostile.ko mode=alloc asks
for 100 GB) is refused the way the 6.1 kernel refuses it: one warning line naming the task, the
request and its GFP flags, the stack, and the memory report. pseudokernel does not model page
allocation; the report shows the state of the reference machine (a 1 GiB QEMU guest after boot,
tests/expected/real/hostile-alloc.txt) with the free pages lowered by what the emulated kernel
holds.
"""

from __future__ import annotations

from ...profile.versions import SHOW_MEM_THP
from ..vsprintf import ListArgs
from . import KernelApi

PAGE_SHIFT = 12
TOTALRAM_PAGES = 0x3C000  # the machine's totalram_pages (cpu.py's data symbol)
GFP_KERNEL = 0xCC0
__GFP_ZERO = 0x100

# the reference guest's free pages right after boot, and how they were spread
_FREE_PAGES = 230495
_DMA_FREE_KB = 15232
_DMA32_SMALL_KB = 3 * 4 + 16 + 32 + 3 * 64 + 2 * 128 + 3 * 1024 + 3 * 2048  # all but the 4 MiB blocks


def _warn(text: str) -> bytes:
    return b"\x014" + text.encode()


def show_mem(k: KernelApi) -> list[bytes]:
    """show_mem(): Mem-Info and the per-zone report."""
    m = k.m
    held = (sum(a.slab_size for a in m.slab.live.values()) + m.vmalloc_area.used + m.modules_area.used) >> PAGE_SHIFT
    free = max(_FREE_PAGES - held, 0)
    dma32_kb = max(free * 4 - _DMA_FREE_KB, 0)
    big = max((dma32_kb - _DMA32_SMALL_KB) // 4096, 0)
    dma32_kb = _DMA32_SMALL_KB + big * 4096
    thp = "" if k.kernel.profile.since(SHOW_MEM_THP) else " "  # "shmem_thp: 0kB" on 6.1
    return [_warn(line) for line in (
        "Mem-Info:\n",
        "active_anon:1860 inactive_anon:3165 isolated_anon:0\n"
        " active_file:0 inactive_file:0 isolated_file:0\n"
        " unevictable:0 dirty:0 writeback:0\n"
        " slab_reclaimable:2212 slab_unreclaimable:1575\n"
        " mapped:1116 shmem:4871 pagetables:24\n"
        " sec_pagetables:0 bounce:0\n"
        " kernel_misc_reclaimable:0\n"
        f" free:{free} free_pcp:4095 free_cma:0\n",
        "Node 0 active_anon:7440kB inactive_anon:12660kB active_file:0kB inactive_file:0kB unevictable:0kB "
        "isolated(anon):0kB isolated(file):0kB mapped:4464kB dirty:0kB writeback:0kB shmem:19484kB "
        f"shmem_thp:{thp}0kB shmem_pmdmapped:{thp}0kB anon_thp:{thp}0kB writeback_tmp:0kB kernel_stack:784kB pagetables:96kB "
        "sec_pagetables:0kB all_unreclaimable? no\n",
        f"Node 0 DMA free:{_DMA_FREE_KB}kB boost:0kB min:712kB low:888kB high:1064kB reserved_highatomic:0KB "
        "active_anon:0kB inactive_anon:0kB active_file:0kB inactive_file:0kB unevictable:0kB writepending:0kB "
        "present:15992kB managed:15360kB mlocked:0kB bounce:0kB free_pcp:0kB local_pcp:0kB free_cma:0kB\n",
        "lowmem_reserve[]: 0 930 930 930 930\n",
        f"Node 0 DMA32 free:{dma32_kb}kB boost:0kB min:44340kB low:55424kB high:66508kB reserved_highatomic:0KB "
        "active_anon:7440kB inactive_anon:12660kB active_file:0kB inactive_file:0kB unevictable:0kB "
        "writepending:0kB present:1032064kB managed:968384kB mlocked:0kB bounce:0kB free_pcp:16380kB "
        "local_pcp:16380kB free_cma:0kB\n",
        "lowmem_reserve[]: 0 0 0 0 0\n",
        f"Node 0 DMA: 0*4kB 0*8kB 0*16kB 0*32kB 0*64kB 1*128kB (U) 1*256kB (U) 1*512kB (U) 0*1024kB 1*2048kB (M) "
        f"3*4096kB (M) = {_DMA_FREE_KB}kB\n",
        f"Node 0 DMA32: 3*4kB (UME) 0*8kB 1*16kB (E) 1*32kB (M) 3*64kB (UME) 2*128kB (UM) 0*256kB 0*512kB "
        f"3*1024kB (UE) 3*2048kB (UME) {big}*4096kB (M) = {dma32_kb}kB\n",
        "Node 0 hugepages_total=0 hugepages_free=0 hugepages_surp=0 hugepages_size=2048kB\n",
        "4871 total pagecache pages\n",
        "0 pages in swap cache\n",
        "Free swap  = 0kB\n",
        "Total swap = 0kB\n",
        "262014 pages RAM\n",
        "0 pages HighMem/MovableOnly\n",
        "16078 pages reserved\n",
        "0 pages hwpoisoned\n",
    )]


def vmalloc_frames(k: KernelApi, n: int = 2) -> tuple[str, ...]:
    """__vmalloc_node_range() and its caller: the machine's frames (n=1: the first alone)."""
    return k.kernel.profile.frames("vmalloc")[:n]


def warn_alloc(k: KernelApi, gfp: int, what: str, frames: tuple[str, ...]) -> None:
    """warn_alloc(): "<comm>: <what>, mode:<gfp>(<flags>), nodemask=(null),cpuset=/,mems_allowed=0",
    dump_stack() from the allocator down through the module that asked, then show_mem()."""
    kernel = k.kernel
    flags = kernel.vsnprintf(b"%pGg", ListArgs([_gfp_ptr(k, gfp)])).decode()
    k.log.printk(_warn(f"{kernel.current_comm}: {what}, mode:{gfp:#x}({flags}), nodemask=(null),cpuset=/,mems_allowed=0\n"))
    regs = k.m.registers()
    regs["rip"], regs["rsp"] = k.caller, regs["rsp"] + 8  # the module's frame that called the allocator
    own = kernel.profile.frames("dump_stack") + kernel.profile.frames("warn_alloc")
    first = tuple(kernel.format_kernel_frame(f) for f in own + frames)
    first += (kernel.format_symbol(k.caller, with_offset=True),)
    kernel.dump_stack_at(regs, first, k.m.current_chain())
    for line in show_mem(k):
        k.log.printk(line)


def _gfp_ptr(k: KernelApi, gfp: int) -> int:
    """%pGg takes a gfp_t *: the flags in a scratch word of kernel memory."""
    addr = k.state.get("gfp_scratch")
    if addr is None:
        addr = k.state["gfp_scratch"] = k.m.pseudo_data(8, 8)
    k.m.write_u64(addr, gfp & 0xFFFFFFFF)
    return addr


def vmalloc_checked(k: KernelApi, size: int, gfp: int, frames: tuple[str, ...]) -> int:
    """__vmalloc_node_range(): a size beyond the machine's RAM is refused with warn_alloc()."""
    if size == 0:
        return 0
    if size >> PAGE_SHIFT > TOTALRAM_PAGES:
        warn_alloc(k, gfp, f"vmalloc error: size {size}, exceeds total pages", frames)
        return 0
    return k.m.vmalloc(size) or 0
