"""The ID allocators modules keep their objects in: xarray, IDR, IDA (lib/xarray.c,
lib/idr.c), the radix tree's tag test (lib/radix-tree.c) and lib/list_debug.c's checks.

The xarray family keeps its entries in Python, keyed by the xarray's address; the xarray's head
is non-NULL while it holds anything, so the inline xa_empty() is right.
"""

from __future__ import annotations

import itertools
from errno import EBUSY, EEXIST, EINVAL, ENOSPC

from ...bits import s32 as _s32
from . import KernelApi, kapi
from . import neg_errno as _err

# -- xarray, IDR, IDA ------------------------------------------------------------------------------

def _xa(k: KernelApi, xa: int) -> dict[int, int]:
    tables = k.state.setdefault("xarray", {})
    t = tables.get(xa)
    if t is None:
        t = tables[xa] = {}
    return t


def _xa_sync_head(k: KernelApi, xa: int) -> None:
    t = _xa(k, xa)
    marker = k.state.get("xa_node")
    if marker is None:
        marker = k.state["xa_node"] = k.m.pseudo_data(576, 64) | 2  # an internal node entry
    k.m.write_u64(xa + 8, marker if t else 0)


@kapi("xa_load")
def xa_load(k: KernelApi, xa: int, index: int) -> int:
    return _xa(k, xa).get(index, 0)


@kapi("xa_store", "__xa_store")
def xa_store(k: KernelApi, xa: int, index: int, entry: int, gfp: int) -> int:
    t = _xa(k, xa)
    old = t.get(index, 0)
    if entry:
        t[index] = entry
    else:
        t.pop(index, None)
    _xa_sync_head(k, xa)
    return old


@kapi("xa_store_range")
def xa_store_range(k: KernelApi, xa: int, first: int, last: int, entry: int, gfp: int) -> int:
    t = _xa(k, xa)
    for i in range(first, min(last, first + 4096) + 1):
        if entry:
            t[i] = entry
        else:
            t.pop(i, None)
    _xa_sync_head(k, xa)
    return 0


@kapi("__xa_insert", "xa_insert")
def __xa_insert(k: KernelApi, xa: int, index: int, entry: int, gfp: int) -> int:
    t = _xa(k, xa)
    if index in t:
        return _err(EBUSY)
    t[index] = entry or 1
    _xa_sync_head(k, xa)
    return 0


@kapi("xa_erase", "__xa_erase")
def xa_erase(k: KernelApi, xa: int, index: int) -> int:
    old = _xa(k, xa).pop(index, 0)
    _xa_sync_head(k, xa)
    return old


def _xa_find(k: KernelApi, xa: int, indexp: int, maxi: int, after: bool) -> int:
    t = _xa(k, xa)
    start = k.m.read_u64(indexp) + (1 if after else 0)
    keys = sorted(i for i in t if start <= i <= maxi)
    if not keys:
        return 0
    k.m.write_u64(indexp, keys[0])
    return t[keys[0]]


@kapi("xa_find")
def xa_find(k: KernelApi, xa: int, indexp: int, maxi: int, filt: int) -> int:
    return _xa_find(k, xa, indexp, maxi, False)


@kapi("xa_find_after")
def xa_find_after(k: KernelApi, xa: int, indexp: int, maxi: int, filt: int) -> int:
    return _xa_find(k, xa, indexp, maxi, True)


@kapi("xa_destroy")
def xa_destroy(k: KernelApi, xa: int) -> None:
    _xa(k, xa).clear()
    _xa_sync_head(k, xa)


def _free_id(t: dict, lo: int, hi: int, start: int) -> int:
    """The first id not in t from start up to hi, then from lo (a cyclic search); -1 if none
    within 1<<20 tries."""
    start = max(start, lo)
    for n, i in enumerate(itertools.chain(range(start, hi + 1), range(lo, start))):
        if i not in t:
            return i
        if n > 1 << 20:
            break
    return -1


def _xa_alloc(k: KernelApi, xa: int, idp: int, entry: int, lo: int, hi: int, start: int) -> int:
    t = _xa(k, xa)
    i = _free_id(t, lo, hi, start)
    if i >= 0:
        t[i] = entry or 1
        k.m.write_u32(idp, i)
        _xa_sync_head(k, xa)
    return i


def _xa_limit(limit: int) -> tuple[int, int]:
    """(min, max) of a struct xa_limit passed by value in one register: { u32 max; u32 min; },
    so max is the low half (XA_LIMIT(min, max); xa_limit_32b is max 0xffffffff, min 0)."""
    return (limit >> 32) & 0xFFFFFFFF, limit & 0xFFFFFFFF


@kapi("__xa_alloc", "xa_alloc")
def __xa_alloc(k: KernelApi, xa: int, idp: int, entry: int, limit: int, gfp: int) -> int:
    lo, hi = _xa_limit(limit)
    return 0 if _xa_alloc(k, xa, idp, entry, lo, hi, lo) >= 0 else _err(EBUSY)


@kapi("__xa_alloc_cyclic")
def __xa_alloc_cyclic(k: KernelApi, xa: int, idp: int, entry: int, limit: int, nextp: int, gfp: int) -> int:
    lo, hi = _xa_limit(limit)
    nxt = k.m.read_u32(nextp)
    i = _xa_alloc(k, xa, idp, entry, lo, hi, nxt)
    if i < 0:
        return _err(EBUSY)
    k.m.write_u32(nextp, i + 1)
    return int(i < nxt)


@kapi("xa_clear_mark", "xa_set_mark", "__xa_set_mark", "__xa_clear_mark")
def xa_set_mark(k: KernelApi, xa: int, index: int, mark: int) -> None:
    return None


@kapi("xa_get_mark")
def xa_get_mark(k: KernelApi, xa: int, index: int, mark: int) -> int:
    return 0


@kapi("idr_alloc", "idr_alloc_cyclic")
def idr_alloc(k: KernelApi, idr: int, ptr: int, start: int, end: int, gfp: int) -> int:
    start, end = _s32(start), _s32(end)
    if start < 0:
        return _err(EINVAL)
    hi = (end - 1) if end > 0 else 0x7FFFFFFF
    base = k.m.read_u32(idr + 16)
    t = _xa(k, idr)
    nxt = k.m.read_u32(idr + 20) if k.stub and k.stub.name == "idr_alloc_cyclic" else start
    used = {i + base for i in t}
    i = _free_id(used, start, hi, nxt)
    if i < 0:
        return _err(ENOSPC)
    t[i - base] = ptr
    _xa_sync_head(k, idr)
    k.m.write_u32(idr + 20, i + 1)
    return i


@kapi("idr_alloc_u32")
def idr_alloc_u32(k: KernelApi, idr: int, ptr: int, nextid: int, maxid: int, gfp: int) -> int:
    start = k.m.read_u32(nextid)
    ret = idr_alloc(k, idr, ptr, start, (maxid + 1) & 0xFFFFFFFF if maxid < 0x7FFFFFFF else 0, gfp)
    if ret >> 63:
        return ret
    k.m.write_u32(nextid, ret)
    return 0


@kapi("idr_find")
def idr_find(k: KernelApi, idr: int, id_: int) -> int:
    return _xa(k, idr).get(id_ - k.m.read_u32(idr + 16), 0)


@kapi("idr_remove")
def idr_remove(k: KernelApi, idr: int, id_: int) -> int:
    old = _xa(k, idr).pop(id_ - k.m.read_u32(idr + 16), 0)
    _xa_sync_head(k, idr)
    return old


@kapi("idr_replace")
def idr_replace(k: KernelApi, idr: int, ptr: int, id_: int) -> int:
    t = _xa(k, idr)
    key = id_ - k.m.read_u32(idr + 16)
    if key not in t:
        return _err(2)  # -ENOENT
    old, t[key] = t[key], ptr
    return old


@kapi("idr_get_next", "idr_get_next_ul")
def idr_get_next(k: KernelApi, idr: int, nextid: int) -> int:
    t = _xa(k, idr)
    base = k.m.read_u32(idr + 16)
    start = k.m.read_u32(nextid)
    keys = sorted(i for i in t if i + base >= start)
    if not keys:
        return 0
    k.m.write_u32(nextid, keys[0] + base)
    return t[keys[0]]


@kapi("idr_destroy")
def idr_destroy(k: KernelApi, idr: int) -> None:
    xa_destroy(k, idr)


@kapi("idr_preload")
def idr_preload(k: KernelApi, gfp: int) -> None:
    return None


@kapi("ida_alloc_range")
def ida_alloc_range(k: KernelApi, ida: int, lo: int, hi: int, gfp: int) -> int:
    lo, hi = lo & 0xFFFFFFFF, hi & 0xFFFFFFFF
    if _s32(lo) < 0:
        return _err(ENOSPC)
    hi = min(hi, 0x7FFFFFFF)
    t = _xa(k, ida)
    i = _free_id(t, lo, hi, lo)
    if i < 0:
        return _err(ENOSPC)
    t[i] = 1
    _xa_sync_head(k, ida)
    return i


@kapi("ida_free")
def ida_free(k: KernelApi, ida: int, id_: int) -> None:
    _xa(k, ida).pop(id_ & 0xFFFFFFFF, None)
    _xa_sync_head(k, ida)


@kapi("ida_destroy")
def ida_destroy(k: KernelApi, ida: int) -> None:
    xa_destroy(k, ida)


# -- lib/list_debug.c ------------------------------------------------------------------------------

@kapi("__list_add_valid", "__list_add_valid_or_report")  # 6.12's name
def __list_add_valid(k: KernelApi, new: int, prev: int, nxt: int) -> int:
    return 1


@kapi("__list_del_entry_valid", "__list_del_entry_valid_or_report")
def __list_del_entry_valid(k: KernelApi, entry: int) -> int:
    return 1



ROOT_TAG_SHIFT = 27  # __GFP_BITS_SHIFT in 6.1 without lockdep


@kapi("radix_tree_tagged")
def radix_tree_tagged(k: KernelApi, root: int, tag: int) -> int:
    """lib/radix-tree.c: the root's tag bits live in xa_flags."""
    return int(bool(k.m.read_u32(root + 4) >> (ROOT_TAG_SHIFT + (tag & 0xFFFFFFFF)) & 1))


# -- the radix tree (lib/radix-tree.c): an xarray under another name ---------------------------------

@kapi("radix_tree_insert")
def radix_tree_insert(k: KernelApi, root: int, index: int, item: int) -> int:
    t = _xa(k, root)
    if index in t:
        return _err(EEXIST)
    t[index] = item
    _xa_sync_head(k, root)
    return 0


@kapi("radix_tree_lookup")
def radix_tree_lookup(k: KernelApi, root: int, index: int) -> int:
    return _xa(k, root).get(index, 0)


@kapi("radix_tree_delete")
def radix_tree_delete(k: KernelApi, root: int, index: int) -> int:
    return xa_erase(k, root, index)


@kapi("radix_tree_gang_lookup")
def radix_tree_gang_lookup(k: KernelApi, root: int, results: int, first: int, max_items: int) -> int:
    """Up to max_items entries from first on, in index order, into results[]."""
    t = _xa(k, root)
    keys = sorted(i for i in t if i >= first)[:max_items & 0xFFFFFFFF]
    for n, i in enumerate(keys):
        k.m.write_u64(results + 8 * n, t[i])
    return len(keys)
