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
    """kfree_rcu(): `func` is the offset of the rcu_head in the object (< 4096)."""
    if func < 4096:
        k.kfree(head - func)
    else:
        sched(k).rcu.append((head, func))


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


