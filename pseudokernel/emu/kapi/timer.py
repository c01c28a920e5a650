"""Timers: timer_list, mod_timer and del_timer (kernel/time/timer.c). A timer fires when the
emulated clock passes its expiry, while the running task sleeps or waits (sched.py)."""

from __future__ import annotations

from . import KernelApi, kapi
from .sched import LIST_POISON2, _callback, sched, time_after_eq

# -- timers ---------------------------------------------------------------------------------------

def _timer_set_pending(k: KernelApi, timer: int, pending: bool) -> None:
    if pending:
        k.m.write_u64(timer + 8, timer)  # entry.pprev: anything non-NULL means "pending"
    else:
        k.m.write_u64(timer, LIST_POISON2)
        k.m.write_u64(timer + 8, 0)


def _fire_timer(k: KernelApi, timer: int) -> None:
    s = sched(k)
    s.timers.pop(timer, None)
    _timer_set_pending(k, timer, False)
    fn = k.m.read_u64(timer + k.S.timer_list.function)
    if fn:
        _callback(k, fn, timer, "timer")


@kapi("init_timer_key")
def init_timer_key(k: KernelApi, timer: int, func: int, flags: int, name: int, key: int) -> None:
    k.m.write_u64(timer, 0)
    k.m.write_u64(timer + 8, 0)
    k.m.write_u64(timer + k.S.timer_list.function, func)
    k.m.write_u32(timer + k.S.timer_list.flags, flags & 0xFFFFFFFF)
    sched(k).timers.pop(timer, None)


@kapi("mod_timer", "timer_reduce")
def mod_timer(k: KernelApi, timer: int, expires: int) -> int:
    s = sched(k)
    was = timer in s.timers
    if k.stub.name == "timer_reduce" and was and time_after_eq(expires, s.timers[timer]):
        return 1
    k.m.write_u64(timer + k.S.timer_list.expires, expires)
    s.timers[timer] = expires
    _timer_set_pending(k, timer, True)
    return int(was)


@kapi("add_timer")
def add_timer(k: KernelApi, timer: int) -> None:
    expires = k.m.read_u64(timer + k.S.timer_list.expires)
    sched(k).timers[timer] = expires
    _timer_set_pending(k, timer, True)


@kapi("add_timer_on")
def add_timer_on(k: KernelApi, timer: int, cpu: int) -> None:
    add_timer(k, timer)


@kapi("del_timer", "timer_delete", "del_timer_sync", "timer_delete_sync", "try_to_del_timer_sync",
      "timer_shutdown_sync", "timer_shutdown")
def del_timer(k: KernelApi, timer: int) -> int:
    was = sched(k).timers.pop(timer, None) is not None
    if was:
        _timer_set_pending(k, timer, False)
    return int(was)


