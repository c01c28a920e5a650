"""Hardened usercopy (mm/usercopy.c, CONFIG_HARDENED_USERCOPY, on in Debian's kernels): a copy
between user space and a slab object may only touch the object's usercopy region, and a
violation is the kernel's BUG, which kills the copying task.

A module's copy_from_user()/copy_to_user() of a size not known at build time calls
__check_object_size() first. The region of a kmalloc object is its whole cache object (kmalloc(20)
comes from kmalloc-32: 32 bytes may be copied); a cache made with kmem_cache_create() has none (no
byte may be copied), one made with kmem_cache_create_usercopy() the one it names. LDD3's scullc
copies into a kmem_cache_create() object and dies of it on the real kernel.

Emulated: the SLUB object check (__check_heap_object()), the path recorded on the reference
machines (tests/expected/real/usercopy.txt). Not emulated: the checks of stack objects, vmalloc
areas, pages of the page allocator, kernel text and bogus pointers (their frames were never
recorded), and SLUB's merging of a plain cache into an older one of a similar size (the message
would name the older cache).
"""

from __future__ import annotations

from ..alloc import KMALLOC_MAX_CACHE_SIZE
from ..traps import Halted
from . import KernelApi, kapi

__GFP_DMA, __GFP_RECLAIMABLE, __GFP_ACCOUNT = 0x1, 0x10, 0x400000


def kmalloc_cache_name(size: int, gfp: int) -> str:
    """The kmalloc cache a kmalloc() of these flags came from (kmalloc_type(), kmalloc_info[])."""
    n = f"{size >> 10}k" if size >= 1024 else str(size)
    if gfp & __GFP_DMA:
        return f"dma-kmalloc-{n}"
    if gfp & __GFP_RECLAIMABLE:
        return f"kmalloc-rcl-{n}"
    if gfp & __GFP_ACCOUNT:
        return f"kmalloc-cg-{n}"
    return f"kmalloc-{n}"


@kapi("__check_object_size")
def __check_object_size(k: KernelApi, ptr: int, n: int, to_user: int) -> None:
    if not n:
        return
    found = k.m.slab.object_at(ptr)
    if found is None:
        return  # not a slab object (module data, vmalloc, the stack): not checked here
    start, size, a = found
    if size > KMALLOC_MAX_CACHE_SIZE or (a is not None and a.kind == "page"):
        return  # the page allocator's, not a slab's (its check, "page alloc", is not emulated)
    offset = ptr - start
    if a is not None and a.cache:
        s = k.S.kmem_cache
        name = k.cstr(k.m.read_u64(a.cache + s.name), 256).decode("utf-8", "replace")
        useroffset, usersize = k.m.read_u32(a.cache + s.useroffset), k.m.read_u32(a.cache + s.usersize)
    else:
        name, useroffset, usersize = kmalloc_cache_name(size, a.gfp if a else 0), 0, size
    # __check_heap_object(): the copy must fall entirely within the usercopy region
    if offset >= useroffset and offset - useroffset <= usersize and n <= useroffset - offset + usersize:
        return
    usercopy_abort(k, "SLUB object", name, bool(to_user & 0xFF), offset, n)


def usercopy_abort(k: KernelApi, name: str, detail: str | None, to_user: bool, offset: int, n: int) -> None:
    """The message, then BUG(): the task dies in its system call (a caller on the mount of
    SIGSEGV, as the real one: oops.fatal_signal)."""
    what = "exposure attempt detected from" if to_user else "overwrite attempt detected to"
    detail_text = f" '{detail}'" if detail is not None else ""
    k.log.printk(f"\x010usercopy: Kernel memory {what} {name}{detail_text} (offset {offset}, size {n})!\n".encode())
    regs = k.m.registers()
    regs["rip"], regs["rsp"] = k.caller, regs["rsp"] + 8  # the module's frame that called the check
    k.kernel.die_at("usercopy_abort", regs, k.m.current_chain())
    raise Halted(k.m.registers(), "die")
