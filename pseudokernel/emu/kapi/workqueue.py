"""Workqueues and work items (kernel/workqueue.c): queued work runs when the running task gives
the CPU away or after a syscall's module code returned, as kworkers would run it."""

from __future__ import annotations

from ...bits import MASK64
from . import KernelApi, VarArgs, kapi, kdata
from .sched import MAX_DEFERRED, _callback, runner, sched
from .timer import _timer_set_pending

WORK_STRUCT_PENDING = 1

# -- workqueues -----------------------------------------------------------------------------------

def _wq_alloc(k: KernelApi, name: str) -> int:
    wq = k.m.kmalloc(k.S.workqueue_struct.sizeof, "", 0, kind="workqueue")
    sched(k).workqueues[wq] = name
    k.registry.add("workqueue", name, wq, k.caller_module_name())
    return wq


@kapi("alloc_workqueue")
def alloc_workqueue(k: KernelApi, fmt: int, flags: int, max_active: int, args: VarArgs) -> int:
    name = k.format(fmt, args).decode("utf-8", "replace")
    wq = k.m.kmalloc(k.S.workqueue_struct.sizeof, k.caller_module_name(), k.caller, kind="workqueue")
    sched(k).workqueues[wq] = name
    k.registry.add("workqueue", name, wq, k.caller_module_name())
    return wq


@kapi("destroy_workqueue")
def destroy_workqueue(k: KernelApi, wq: int) -> None:
    flush_workqueue(k, wq)
    s = sched(k)
    if wq in s.workqueues:
        del s.workqueues[wq]
        k.registry.remove("workqueue", wq)
        k.kfree(wq)


for _wq in ("system_wq", "system_highpri_wq", "system_long_wq", "system_unbound_wq", "system_freezable_wq",
            "system_power_efficient_wq", "system_freezable_power_efficient_wq"):
    def _init(k: KernelApi, addr: int, _name: str = _wq) -> None:
        wq = k.m.kmalloc(k.S.workqueue_struct.sizeof, "", 0, kind="workqueue")
        sched(k).workqueues[wq] = _name.replace("system_", "events_").replace("events_wq", "events")
        k.m.write_u64(addr, wq)

    kdata(_wq)(_init)


def _work_pending(k: KernelApi, work: int) -> bool:
    return bool(k.m.read_u64(work) & WORK_STRUCT_PENDING)


def _queue(k: KernelApi, wq: int, work: int) -> bool:
    if _work_pending(k, work):
        return False
    k.m.write_u64(work, k.m.read_u64(work) | WORK_STRUCT_PENDING)
    sched(k).works[work] = wq
    return True


@runner("work")
def _run_work(k: KernelApi, work: int) -> None:
    k.m.write_u64(work, k.m.read_u64(work) & ~WORK_STRUCT_PENDING & MASK64)
    fn = k.m.read_u64(work + k.S.work_struct.func)
    if fn:
        _callback(k, fn, work, "work")


@kapi("queue_work_on")
def queue_work_on(k: KernelApi, cpu: int, wq: int, work: int) -> int:
    return int(_queue(k, wq, work))


@kapi("queue_work_node")
def queue_work_node(k: KernelApi, node: int, wq: int, work: int) -> int:
    return int(_queue(k, wq, work))


def _dwork_timer(k: KernelApi, dwork: int) -> int:
    return dwork + k.S.delayed_work.timer


@kapi("queue_delayed_work_on")
def queue_delayed_work_on(k: KernelApi, cpu: int, wq: int, dwork: int, delay: int) -> int:
    if _work_pending(k, dwork):
        return 0
    return int(_queue_delayed(k, wq, dwork, delay))


def _queue_delayed(k: KernelApi, wq: int, dwork: int, delay: int) -> bool:
    k.m.write_u64(dwork + k.S.delayed_work.wq, wq)
    if delay == 0:
        return _queue(k, wq, dwork)
    k.m.write_u64(dwork, k.m.read_u64(dwork) | WORK_STRUCT_PENDING)
    timer = _dwork_timer(k, dwork)
    k.m.write_u64(timer + k.S.timer_list.function, k.function("delayed_work_timer_fn"))
    expires = (k.jiffies() + delay) & MASK64
    k.m.write_u64(timer + k.S.timer_list.expires, expires)
    sched(k).timers[timer] = expires
    _timer_set_pending(k, timer, True)
    return True


@kapi("mod_delayed_work_on")
def mod_delayed_work_on(k: KernelApi, cpu: int, wq: int, dwork: int, delay: int) -> int:
    was = _cancel(k, dwork, delayed=True)
    _queue_delayed(k, wq, dwork, delay)
    return int(was)


@kapi("delayed_work_timer_fn")
def delayed_work_timer_fn(k: KernelApi, t: int) -> None:
    dwork = t - k.S.delayed_work.timer
    wq = k.m.read_u64(dwork + k.S.delayed_work.wq)
    k.m.write_u64(dwork, k.m.read_u64(dwork) & ~WORK_STRUCT_PENDING & MASK64)
    _queue(k, wq, dwork)


def _cancel(k: KernelApi, work: int, delayed: bool) -> bool:
    s = sched(k)
    was = False
    if delayed:
        timer = _dwork_timer(k, work)
        if s.timers.pop(timer, None) is not None:
            _timer_set_pending(k, timer, False)
            was = True
    if s.works.pop(work, None) is not None:
        was = True
    if _work_pending(k, work):
        was = True
    k.m.write_u64(work, k.m.read_u64(work) & ~WORK_STRUCT_PENDING & MASK64)
    return was


@kapi("cancel_work_sync", "cancel_work")
def cancel_work_sync(k: KernelApi, work: int) -> int:
    return int(_cancel(k, work, delayed=False))


@kapi("cancel_delayed_work", "cancel_delayed_work_sync")
def cancel_delayed_work(k: KernelApi, dwork: int) -> int:
    return int(_cancel(k, dwork, delayed=True))


@kapi("flush_work")
def flush_work(k: KernelApi, work: int) -> int:
    s = sched(k)
    if work in s.works:
        del s.works[work]
        _run_work(k, work)
        return 1
    return 0


@kapi("flush_delayed_work")
def flush_delayed_work(k: KernelApi, dwork: int) -> int:
    s = sched(k)
    timer = _dwork_timer(k, dwork)
    if s.timers.pop(timer, None) is not None:
        _timer_set_pending(k, timer, False)
        k.m.write_u64(dwork, k.m.read_u64(dwork) & ~WORK_STRUCT_PENDING & MASK64)
        _queue(k, k.m.read_u64(dwork + k.S.delayed_work.wq), dwork)
    return flush_work(k, dwork)


@kapi("__flush_workqueue", "drain_workqueue", "flush_scheduled_work")
def flush_workqueue(k: KernelApi, wq: int = 0) -> None:
    s = sched(k)
    for _ in range(MAX_DEFERRED):
        mine = [w for w, q in s.works.items() if q == wq or not wq]
        if not mine:
            break
        for w in mine:
            if w in s.works:
                del s.works[w]
                _run_work(k, w)


@kapi("work_busy")
def work_busy(k: KernelApi, work: int) -> int:
    return int(_work_pending(k, work))


@kapi("workqueue_set_max_active", "set_workqueue_cpumask")
def workqueue_set_max_active(k: KernelApi, wq: int, max_active: int) -> None:
    return None


