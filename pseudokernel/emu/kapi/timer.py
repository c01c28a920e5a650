"""Timers and the sleeps built on them (kernel/time/timer.c): timer_list, mod_timer, del_timer,
round_jiffies, msleep, usleep_range and schedule_timeout. A timer fires when the emulated clock
passes its expiry, while the running task sleeps or waits (sched.py); a sleep moves that clock
to its end at once."""

from __future__ import annotations

from ...bits import s64
from . import KernelApi, kapi
from .sched import MAX_SCHEDULE_TIMEOUT, NSEC_PER_JIFFY, _callback, runner, sched, schedule, sleep_until, time_after_eq

LIST_POISON2 = 0xDEAD000000000122

# -- timers ---------------------------------------------------------------------------------------

def _timer_set_pending(k: KernelApi, timer: int, pending: bool) -> None:
    if pending:
        k.m.write_u64(timer + 8, timer)  # entry.pprev: anything non-NULL means "pending"
    else:
        k.m.write_u64(timer, LIST_POISON2)
        k.m.write_u64(timer + 8, 0)


@runner("timer")
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


@kapi("round_jiffies", "round_jiffies_up", "round_jiffies_relative", "round_jiffies_up_relative",
      "__round_jiffies", "__round_jiffies_relative")
def round_jiffies(k: KernelApi, j: int) -> int:
    return j


# -- sleeping -------------------------------------------------------------------------------------

@kapi("msleep")
def msleep(k: KernelApi, msecs: int) -> None:
    ms = msecs & 0xFFFFFFFF
    sleep_until(k, k.now_ns() + (ms * 1_000_000 // NSEC_PER_JIFFY + 1) * NSEC_PER_JIFFY)


@kapi("msleep_interruptible")
def msleep_interruptible(k: KernelApi, msecs: int) -> int:
    msleep(k, msecs)
    return 0


@kapi("ssleep")
def ssleep(k: KernelApi, secs: int) -> None:
    msleep(k, (secs & 0xFFFFFFFF) * 1000)


@kapi("usleep_range_state")
def usleep_range_state(k: KernelApi, lo: int, hi: int, state: int) -> None:
    sleep_until(k, k.now_ns() + lo * 1000)


@kapi("schedule_timeout", "schedule_timeout_interruptible", "schedule_timeout_killable",
      "schedule_timeout_uninterruptible", "schedule_timeout_idle", "io_schedule_timeout")
# io_schedule_timeout (kernel/sched/core.c) is schedule_timeout with I/O-wait accounting
def schedule_timeout(k: KernelApi, timeout: int) -> int:
    t = s64(timeout)
    if t >= MAX_SCHEDULE_TIMEOUT or t < 0:
        schedule(k)
        return MAX_SCHEDULE_TIMEOUT
    sleep_until(k, k.now_ns() + t * NSEC_PER_JIFFY)
    return 0
