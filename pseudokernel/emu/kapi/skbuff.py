"""sk_buff queues (include/linux/skbuff.h, net/core/skbuff.c)."""

from __future__ import annotations

from . import KernelApi, kapi


def _q_insert(k: KernelApi, newsk: int, prev: int, nxt: int, lst: int) -> None:
    k.m.write_u64(newsk, nxt)
    k.m.write_u64(newsk + 8, prev)
    k.m.write_u64(nxt + 8, newsk)
    k.m.write_u64(prev, newsk)
    k.m.write_u32(lst + 16, k.m.read_u32(lst + 16) + 1)


def _q_unlink(k: KernelApi, skb: int, lst: int) -> None:
    nxt, prev = k.m.read_u64(skb), k.m.read_u64(skb + 8)
    k.m.write_u32(lst + 16, max(k.m.read_u32(lst + 16) - 1, 0))
    k.m.write_u64(skb, 0)
    k.m.write_u64(skb + 8, 0)
    k.m.write_u64(nxt + 8, prev)
    k.m.write_u64(prev, nxt)


@kapi("skb_queue_tail")
def skb_queue_tail(k: KernelApi, lst: int, newsk: int) -> None:
    _q_insert(k, newsk, k.m.read_u64(lst + 8), lst, lst)


@kapi("skb_queue_head")
def skb_queue_head(k: KernelApi, lst: int, newsk: int) -> None:
    _q_insert(k, newsk, lst, k.m.read_u64(lst), lst)


@kapi("skb_dequeue")
def skb_dequeue(k: KernelApi, lst: int) -> int:
    skb = k.m.read_u64(lst)
    if skb == lst or not skb:
        return 0
    _q_unlink(k, skb, lst)
    return skb


@kapi("skb_dequeue_tail")
def skb_dequeue_tail(k: KernelApi, lst: int) -> int:
    skb = k.m.read_u64(lst + 8)
    if skb == lst or not skb:
        return 0
    _q_unlink(k, skb, lst)
    return skb


@kapi("skb_unlink")
def skb_unlink(k: KernelApi, skb: int, lst: int) -> None:
    _q_unlink(k, skb, lst)


@kapi("skb_queue_purge", "skb_queue_purge_reason")
def skb_queue_purge(k: KernelApi, lst: int) -> None:
    for _ in range(100000):
        skb = skb_dequeue(k, lst)
        if not skb:
            break
        k.kfree(skb)


