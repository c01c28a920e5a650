"""Memory beyond kmalloc: slab caches, pages (with their struct page in vmemmap), per-CPU
allocations, mempools (mm/slab_common.c, mm/page_alloc.c, mm/percpu.c, mm/mempool.c). The ID
allocators (xarray, IDR, IDA) are xarray.py."""

from __future__ import annotations

from ..alloc import PAGE_SIZE
from ..memory_map import HEAP_START, PAGE_OFFSET
from . import KernelApi, kapi, kboot
from .page_alloc import GFP_KERNEL, vmalloc_checked, vmalloc_frames

VMEMMAP_BASE = 0xFFFFEA0000000000
STRUCT_PAGE = 64
__GFP_ZERO = 0x100


# -- pages ----------------------------------------------------------------------------------------

@kboot
def map_vmemmap(k: KernelApi) -> None:
    """struct page for every page of the heap (the direct map's RAM), where page_to_virt()
    and virt_to_page() expect it."""
    m = k.m
    lo = virt_to_page(m.slab.start)
    hi = virt_to_page(m.slab.end)
    m.map(lo, hi - lo)
    # and for the low memory holding the kernel image (ZERO_PAGE, static pages): 256 MiB
    m.map(VMEMMAP_BASE, (256 << 20) // PAGE_SIZE * STRUCT_PAGE)


def virt_to_page(addr: int) -> int:
    return VMEMMAP_BASE + (addr - PAGE_OFFSET) // PAGE_SIZE * STRUCT_PAGE


def page_to_virt(page: int) -> int:
    return PAGE_OFFSET + (page - VMEMMAP_BASE) // STRUCT_PAGE * PAGE_SIZE


def alloc_pages_virt(k: KernelApi, order: int, gfp: int) -> int:
    size = PAGE_SIZE << min(order & 0xFFFFFFFF, 10)
    addr = k.m.kmalloc(size, k.caller_module_name(), k.caller, kind="page")
    if not addr or addr < HEAP_START:
        return 0
    if addr % PAGE_SIZE:  # a page-sized kmalloc is page aligned; keep it so
        return 0
    page = virt_to_page(addr)
    k.m.write_u32(page + k.S.page._refcount, 1)
    if order:
        btf_page = k.S.btf("page")
        if btf_page is None or "compound_order" in btf_page.members:  # in the first tail page
            k.m.write_u8(page + k.S.page.sizeof + k.S.page.compound_order, order)
        else:  # 6.12: folio_order() is the low byte of folio->_flags_1 (page[1].flags)
            k.m.write_u8(page + k.S.folio._flags_1, order)
    return addr


@kapi("alloc_pages", "alloc_pages_node", "__alloc_pages", "alloc_pages_noprof", "__alloc_pages_noprof")
def alloc_pages(k: KernelApi, gfp: int, order: int) -> int:
    addr = alloc_pages_virt(k, order, gfp)
    return virt_to_page(addr) if addr else 0


@kapi("__get_free_pages", "get_free_pages_noprof")
def __get_free_pages(k: KernelApi, gfp: int, order: int) -> int:
    return alloc_pages_virt(k, order, gfp)


@kapi("get_zeroed_page", "get_zeroed_page_noprof")
def get_zeroed_page(k: KernelApi, gfp: int) -> int:
    return alloc_pages_virt(k, 0, gfp)


@kapi("free_pages")
def free_pages(k: KernelApi, addr: int, order: int) -> None:
    if addr:
        k.kfree(addr)


@kapi("__free_pages", "__folio_put", "put_page")
def __free_pages(k: KernelApi, page: int, order: int = 0) -> None:
    if VMEMMAP_BASE <= page < VMEMMAP_BASE + (1 << 40):
        k.kfree(page_to_virt(page))


@kapi("alloc_pages_exact", "alloc_pages_exact_noprof")
def alloc_pages_exact(k: KernelApi, size: int, gfp: int) -> int:
    order = max((size - 1).bit_length() - 12, 0)
    return alloc_pages_virt(k, order, gfp)


@kapi("free_pages_exact")
def free_pages_exact(k: KernelApi, virt: int, size: int) -> None:
    k.kfree(virt)


@kapi("page_address")
def page_address(k: KernelApi, page: int) -> int:
    return page_to_virt(page)


@kapi("vmalloc_to_page")
def vmalloc_to_page(k: KernelApi, addr: int) -> int:
    return 0


@kapi("is_vmalloc_addr")
def is_vmalloc_addr(k: KernelApi, x: int) -> int:
    return int(k.m.vmalloc_area.find(x) is not None)


# -- slab caches ----------------------------------------------------------------------------------

def _kc(k: KernelApi, member: str) -> int:
    return k.S.kmem_cache[member]


def _cache_create(k: KernelApi, name: int, size: int, align: int, flags: int, ctor: int,
                  useroffset: int = 0, usersize: int = 0) -> int:
    """kmem_cache_create_usercopy(): the region user copies may touch (hardened_usercopy.py);
    none for a plain kmem_cache_create(), and none for an impossible one (it "fails closed")."""
    size &= 0xFFFFFFFF
    if not name or size < 4 or size > (1 << 22):
        return 0
    useroffset, usersize = useroffset & 0xFFFFFFFF, usersize & 0xFFFFFFFF
    if (not usersize and useroffset) or size < usersize or size - usersize < useroffset:
        useroffset = usersize = 0
    s = k.m.kmalloc(k.S.kmem_cache.sizeof, k.caller_module_name(), k.caller, kind="kmem_cache")
    text = k.cstr(name, 256) + b"\0"
    p = k.m.kmalloc(len(text), k.caller_module_name(), k.caller, kind="kmem_cache-name")
    k.m.write(p, text)
    k.m.write_u64(s + _kc(k, "name"), p)
    k.m.write_u32(s + _kc(k, "size"), size)
    k.m.write_u32(s + _kc(k, "object_size"), size)
    k.m.write_u32(s + _kc(k, "align"), align & 0xFFFFFFFF)
    k.m.write_u64(s + _kc(k, "ctor"), ctor)
    k.m.write_u32(s + _kc(k, "refcount"), 1)
    k.m.write_u32(s + _kc(k, "useroffset"), useroffset)
    k.m.write_u32(s + _kc(k, "usersize"), usersize)
    k.registry.add("kmem_cache", text[:-1].decode("utf-8", "replace"), s, k.caller_module_name(), size=size)
    return s


@kapi("kmem_cache_create")
def kmem_cache_create(k: KernelApi, name: int, size: int, align: int, flags: int, ctor: int) -> int:
    return _cache_create(k, name, size, align, flags, ctor)


@kapi("kmem_cache_create_usercopy")
def kmem_cache_create_usercopy(k: KernelApi, name: int, size: int, align: int, flags: int, useroffset: int,
                               usersize: int, ctor: int) -> int:
    return _cache_create(k, name, size, align, flags, ctor, useroffset, usersize)


@kapi("__kmem_cache_create_args")
def __kmem_cache_create_args(k: KernelApi, name: int, object_size: int, args: int, flags: int) -> int:
    """6.12's kmem_cache_create() and kmem_cache_create_usercopy() (macros now): the align and
    the constructor come in a struct kmem_cache_args (its members from the BTF)."""
    align = ctor = useroffset = usersize = 0
    if args:
        a = k.S.kmem_cache_args
        align = k.m.read_u32(args + a.align)
        ctor = k.m.read_u64(args + a.ctor)
        useroffset, usersize = k.m.read_u32(args + a.useroffset), k.m.read_u32(args + a.usersize)
    return _cache_create(k, name, object_size, align, flags, ctor, useroffset, usersize)


@kapi("kmem_cache_destroy")
def kmem_cache_destroy(k: KernelApi, s: int) -> None:
    if s and k.registry.remove("kmem_cache", s) is not None:
        k.kfree(k.m.read_u64(s + _kc(k, "name")))
        k.kfree(s)


def cache_alloc(k: KernelApi, s: int, gfp: int) -> int:
    if not s:
        return 0
    size = k.m.read_u32(s + _kc(k, "object_size")) or 64
    p = k.kmalloc(size, gfp, kind="kmem_cache")
    if p:
        k.m.slab.live[p].cache = s
    ctor = k.m.read_u64(s + _kc(k, "ctor"))
    if p and ctor:
        k.m.call(ctor, p)
    return p


@kapi("kmem_cache_alloc", "kmem_cache_alloc_noprof")
def kmem_cache_alloc(k: KernelApi, s: int, gfp: int) -> int:
    return cache_alloc(k, s, gfp)


@kapi("kmem_cache_alloc_lru", "kmem_cache_alloc_lru_noprof")
def kmem_cache_alloc_lru(k: KernelApi, s: int, lru: int, gfp: int) -> int:
    return cache_alloc(k, s, gfp)


@kapi("kmem_cache_alloc_node", "kmem_cache_alloc_node_noprof")
def kmem_cache_alloc_node(k: KernelApi, s: int, gfp: int, node: int) -> int:
    return cache_alloc(k, s, gfp)


@kapi("kmem_cache_free")
def kmem_cache_free(k: KernelApi, s: int, x: int) -> None:
    k.kfree(x)


@kapi("kmem_cache_alloc_bulk", "kmem_cache_alloc_bulk_noprof")
def kmem_cache_alloc_bulk(k: KernelApi, s: int, flags: int, size: int, p: int) -> int:
    for i in range(size):
        k.m.write_u64(p + 8 * i, cache_alloc(k, s, flags))
    return size


@kapi("kmem_cache_free_bulk")
def kmem_cache_free_bulk(k: KernelApi, s: int, size: int, p: int) -> None:
    for i in range(size):
        k.kfree(k.m.read_u64(p + 8 * i))


@kapi("kmem_cache_size")
def kmem_cache_size(k: KernelApi, s: int) -> int:
    return k.m.read_u32(s + _kc(k, "object_size"))


@kapi("kmem_cache_shrink")
def kmem_cache_shrink(k: KernelApi, s: int) -> int:
    return 0


@kapi("__kmalloc_node_track_caller", "__kmalloc_track_caller")
def __kmalloc_node_track_caller(k: KernelApi, size: int, flags: int) -> int:
    return k.kmalloc(size, flags)


@kapi("__kmalloc_node_track_caller_noprof")
def __kmalloc_node_track_caller_noprof(k: KernelApi, size: int, b: int, flags: int) -> int:
    """6.12: (size, kmem_buckets *b, flags, node, caller)."""
    return k.kmalloc(size, flags)


@kapi("vmalloc_user", "vmalloc_32", "vmalloc_32_user", "vmalloc_no_huge", "vmalloc_huge",
      "vmalloc_user_noprof", "vmalloc_32_noprof", "vmalloc_32_user_noprof", "vmalloc_huge_noprof")
def vmalloc_user(k: KernelApi, size: int) -> int:
    """These call __vmalloc_node_range() themselves: their own frame's offset was never
    recorded, so a refusal's stack shows the allocator's frame and then the module's."""
    return vmalloc_checked(k, size, GFP_KERNEL | __GFP_ZERO, vmalloc_frames(k, 1))


@kapi("__vmalloc_node")
def __vmalloc_node(k: KernelApi, size: int, align: int, gfp: int) -> int:
    return vmalloc_checked(k, size, gfp, vmalloc_frames(k, 1))


@kapi("__vmalloc_node_range")
def __vmalloc_node_range(k: KernelApi, size: int, align: int, start: int, end: int, gfp: int) -> int:
    return vmalloc_checked(k, size, gfp, ())


@kapi("vmap")
def vmap(k: KernelApi, pages: int, count: int, flags: int, prot: int) -> int:
    return 0


# -- per-CPU ---------------------------------------------------------------------------------------

@kapi("__alloc_percpu", "__alloc_percpu_gfp", "__alloc_reserved_percpu",
      "pcpu_alloc_noprof")  # 6.12: (size, align, reserved, gfp)
def __alloc_percpu(k: KernelApi, size: int, align: int) -> int:
    addr = k.m.percpu.alloc(max(size, 1), max(align, 1))
    if addr is None:
        return 0
    k.m.write(k.kernel.percpu_address(addr), bytes(size))
    return addr


@kapi("free_percpu")
def free_percpu(k: KernelApi, ptr: int) -> None:
    if ptr:
        k.m.percpu.free(ptr)


# -- mempools ---------------------------------------------------------------------------------------

def _mempool(k: KernelApi, min_nr: int, alloc_fn: int, free_fn: int, pool_data: int) -> int:
    pool = k.m.kmalloc(k.S.mempool_s.sizeof, k.caller_module_name(), k.caller, kind="mempool")
    k.m.write_u32(pool + k.S.mempool_s.min_nr, min_nr)
    k.m.write_u64(pool + k.S.mempool_s.pool_data, pool_data)
    k.m.write_u64(pool + k.S.mempool_s.alloc, alloc_fn)
    k.m.write_u64(pool + k.S.mempool_s.free, free_fn)
    return pool


@kapi("mempool_create")
def mempool_create(k: KernelApi, min_nr: int, alloc_fn: int, free_fn: int, pool_data: int) -> int:
    return _mempool(k, min_nr, alloc_fn, free_fn, pool_data)


@kapi("mempool_create_node", "mempool_create_node_noprof")  # 6.12's mempool_create() too
def mempool_create_node(k: KernelApi, min_nr: int, alloc_fn: int, free_fn: int, pool_data: int, gfp: int,
                        node: int) -> int:
    return _mempool(k, min_nr, alloc_fn, free_fn, pool_data)


@kapi("mempool_init", "mempool_init_node", "mempool_init_noprof")
def mempool_init(k: KernelApi, pool: int, min_nr: int, alloc_fn: int, free_fn: int, pool_data: int) -> int:
    k.m.write_u32(pool + k.S.mempool_s.min_nr, min_nr)
    k.m.write_u64(pool + k.S.mempool_s.pool_data, pool_data)
    k.m.write_u64(pool + k.S.mempool_s.alloc, alloc_fn)
    k.m.write_u64(pool + k.S.mempool_s.free, free_fn)
    return 0


@kapi("mempool_alloc", "mempool_alloc_noprof")
def mempool_alloc(k: KernelApi, pool: int, gfp: int) -> int:
    fn = k.m.read_u64(pool + k.S.mempool_s.alloc)
    data = k.m.read_u64(pool + k.S.mempool_s.pool_data)
    return k.m.call(fn, gfp, data) if fn else 0


@kapi("mempool_free")
def mempool_free(k: KernelApi, element: int, pool: int) -> None:
    fn = k.m.read_u64(pool + k.S.mempool_s.free)
    data = k.m.read_u64(pool + k.S.mempool_s.pool_data)
    if fn and element:
        k.m.call(fn, element, data)


@kapi("mempool_destroy", "mempool_exit")
def mempool_destroy(k: KernelApi, pool: int) -> None:
    return None


@kapi("mempool_alloc_slab")
def mempool_alloc_slab(k: KernelApi, gfp: int, pool_data: int) -> int:
    return cache_alloc(k, pool_data, gfp)


@kapi("mempool_free_slab")
def mempool_free_slab(k: KernelApi, element: int, pool_data: int) -> None:
    k.kfree(element)


@kapi("mempool_kmalloc")
def mempool_kmalloc(k: KernelApi, gfp: int, pool_data: int) -> int:
    return k.kmalloc(pool_data, gfp)


@kapi("mempool_kfree")
def mempool_kfree(k: KernelApi, element: int, pool_data: int) -> None:
    k.kfree(element)


@kapi("mempool_alloc_pages")
def mempool_alloc_pages(k: KernelApi, gfp: int, pool_data: int) -> int:
    return alloc_pages(k, gfp, pool_data)


@kapi("mempool_free_pages")
def mempool_free_pages(k: KernelApi, element: int, pool_data: int) -> None:
    __free_pages(k, element)
