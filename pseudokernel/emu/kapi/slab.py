"""Memory allocation: kmalloc/kfree and friends (mm/slab_common.c, mm/slub.c, mm/vmalloc.c).

6.10 renamed the allocators for memory allocation profiling: the exported function is now
NAME_noprof and NAME a macro wrapping it in alloc_hooks() (a no-op without
CONFIG_MEM_ALLOC_PROFILING, as in Debian's 6.12). Each 6.12 name is registered beside its 6.1
counterpart; where the arguments changed (kmem_buckets for CONFIG_SLAB_BUCKETS, kmalloc_trace
became __kmalloc_cache_noprof) it has its own handler."""

from __future__ import annotations

from . import KernelApi, kapi
from .page_alloc import __GFP_ZERO, GFP_KERNEL, vmalloc_checked, vmalloc_frames


@kapi("__kmalloc", "__kmalloc_noprof")
def __kmalloc(k: KernelApi, size: int, flags: int) -> int:
    return k.kmalloc(size, flags)


@kapi("kmalloc_trace", "__kmalloc_cache_noprof")
def kmalloc_trace(k: KernelApi, s: int, flags: int, size: int) -> int:
    return k.kmalloc(size, flags)


@kapi("kmalloc_node_trace", "__kmalloc_cache_node_noprof")
def kmalloc_node_trace(k: KernelApi, s: int, flags: int, node: int, size: int) -> int:
    return k.kmalloc(size, flags)


@kapi("__kmalloc_node")
def __kmalloc_node(k: KernelApi, size: int, flags: int, node: int) -> int:
    return k.kmalloc(size, flags)


@kapi("__kmalloc_node_noprof")
def __kmalloc_node_noprof(k: KernelApi, size: int, b: int, flags: int, node: int) -> int:
    """6.12: (size, kmem_buckets *b, flags, node) with CONFIG_SLAB_BUCKETS (Debian's)."""
    return k.kmalloc(size, flags)


@kapi("kmalloc_large", "__kmalloc_large_noprof")
def kmalloc_large(k: KernelApi, size: int, flags: int) -> int:
    return k.kmalloc(size, flags)


@kapi("kmalloc_large_node", "__kmalloc_large_node_noprof")
def kmalloc_large_node(k: KernelApi, size: int, flags: int, node: int) -> int:
    return k.kmalloc(size, flags)


@kapi("kfree", "kvfree", "kfree_sensitive", "kvfree_sensitive")
def kfree(k: KernelApi, objp: int) -> None:
    if k.m.vmalloc_area.find(objp):
        k.m.vfree(objp)
        return
    k.kfree(objp)


@kapi("ksize", "__ksize")
def ksize(k: KernelApi, objp: int) -> int:
    return k.m.slab.ksize(objp)


@kapi("kvmalloc_node")
def kvmalloc_node(k: KernelApi, size: int, flags: int, node: int) -> int:
    return k.kmalloc(size, flags)


@kapi("__kvmalloc_node_noprof")
def __kvmalloc_node_noprof(k: KernelApi, size: int, b: int, flags: int, node: int) -> int:
    """6.12's kvmalloc_node(): (size, kmem_buckets *b, flags, node)."""
    return k.kmalloc(size, flags)


@kapi("krealloc", "krealloc_noprof")
def krealloc(k: KernelApi, p: int, new_size: int, flags: int) -> int:
    if new_size == 0:
        k.kfree(p)
        return 0x10
    old = k.m.slab.live.get(p)
    if old and old.slab_size >= new_size:
        return p
    q = k.kmalloc(new_size, flags)
    if q and old:
        k.m.write(q, k.m.read(p, min(old.size, new_size)))
        k.kfree(p)
    return q


@kapi("kmemdup", "kmemdup_noprof")
def kmemdup(k: KernelApi, src: int, length: int, gfp: int) -> int:
    p = k.kmalloc(length, gfp)
    if p:
        k.m.write(p, k.m.read(src, length))
    return p


@kapi("kstrdup", "kstrdup_const")
def kstrdup(k: KernelApi, s: int, gfp: int) -> int:
    if not s:
        return 0
    data = k.cstr(s) + b"\0"
    p = k.kmalloc(len(data), gfp)
    if p:
        k.m.write(p, data)
    return p


@kapi("kstrndup")
def kstrndup(k: KernelApi, s: int, maxlen: int, gfp: int) -> int:
    if not s:
        return 0
    data = k.cstr(s, maxlen) + b"\0"
    p = k.kmalloc(len(data), gfp)
    if p:
        k.m.write(p, data)
    return p




@kapi("vmalloc", "vmalloc_node", "vmalloc_noprof", "vmalloc_node_noprof")
def vmalloc(k: KernelApi, size: int) -> int:
    return vmalloc_checked(k, size, GFP_KERNEL, vmalloc_frames(k))


@kapi("vzalloc", "vzalloc_node", "vzalloc_noprof", "vzalloc_node_noprof")
def vzalloc(k: KernelApi, size: int) -> int:
    return vmalloc_checked(k, size, GFP_KERNEL | __GFP_ZERO, vmalloc_frames(k))


@kapi("__vmalloc", "__vmalloc_noprof")
def __vmalloc(k: KernelApi, size: int, gfp: int) -> int:
    return vmalloc_checked(k, size, gfp, vmalloc_frames(k))


@kapi("vfree")
def vfree(k: KernelApi, addr: int) -> None:
    if addr:
        k.m.vfree(addr)
