"""RCU callbacks and grace periods (kernel/rcu/tree.c): one CPU and no readers in flight, so a
grace period ends at the next point where deferred work runs."""

from __future__ import annotations

from . import KernelApi, kapi
from .sched import _callback, runner, sched

# -- RCU ------------------------------------------------------------------------------------------

@kapi("call_rcu", "call_srcu_head")
def call_rcu(k: KernelApi, head: int, func: int) -> None:
    sched(k).rcu.append((head, func))


@kapi("call_srcu")
def call_srcu(k: KernelApi, ssp: int, head: int, func: int) -> None:
    sched(k).rcu.append((head, func))


@kapi("kvfree_call_rcu")
def kvfree_call_rcu(k: KernelApi, head: int, func: int) -> None:
    """kfree_rcu(): in 6.1 `func` is the offset of the rcu_head in the object (< 4096). Since
    6.3 (6.12) the second argument is the object itself, `void *ptr` (head may be NULL:
    kvfree_rcu_mightsleep()); it is never a function to call."""
    if _takes_object(k):
        if func:
            if k.m.vmalloc_area.find(func):
                k.m.vfree(func)
            else:
                k.kfree(func)
    elif func < 4096:
        k.kfree(head - func)
    else:
        sched(k).rcu.append((head, func))


def _takes_object(k: KernelApi) -> bool:
    """Whether the profile's kvfree_call_rcu() is (head, void *ptr): by its BTF prototype,
    else by the version."""
    known = k.state.get("kvfree_call_rcu_ptr")
    if known is None:
        btf = k.profile.btf
        proto = btf.func_proto("kvfree_call_rcu") if btf is not None else None
        if proto is not None and len(proto.params) == 2:
            known = proto.params[1].type.spelling == "void *"
        else:
            known = k.profile.version >= (6, 3)
        k.state["kvfree_call_rcu_ptr"] = known
    return known


@runner("rcu")
def _run_rcu(k: KernelApi) -> None:
    s = sched(k)
    for _ in range(10):
        if not s.rcu:
            break
        todo, s.rcu = s.rcu, []
        for head, func in todo:
            _callback(k, func, head, "rcu")


@kapi("synchronize_rcu", "synchronize_rcu_expedited", "rcu_barrier", "synchronize_net", "synchronize_srcu",
      "srcu_barrier", "synchronize_rcu_tasks", "rcu_barrier_tasks", "synchronize_rcu_tasks_trace",
      "rcu_barrier_tasks_trace")
def synchronize_rcu(k: KernelApi) -> None:
    _run_rcu(k)


@kapi("__rcu_read_lock", "__rcu_read_unlock", "rcu_read_unlock_strict")
def rcu_read_lock(k: KernelApi) -> None:
    return None


