"""Timers and the sleeps built on them (kernel/time/timer.c): timer_list, mod_timer, del_timer,
round_jiffies, msleep, usleep_range and schedule_timeout. A timer fires when the emulated clock
passes its expiry, while the running task sleeps or waits (sched.py); a sleep moves that clock
to its end at once."""

from __future__ import annotations

from ...bits import s64
from ...profile import versions
from . import KernelApi, kapi
from .sched import (
    MAX_SCHEDULE_TIMEOUT,
    NSEC_PER_JIFFY,
    _callback,
    kthread_schedule,
    runner,
    sched,
    schedule,
    sleep_until,
    time_after_eq,
)
from .task import TASK_INTERRUPTIBLE, notified, running_task
from .time_ import __msecs_to_jiffies, jiffies_to_msecs

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
    jiffies = __msecs_to_jiffies(k, msecs) + _extra_jiffy(k)
    sleep_until(k, k.now_ns() + jiffies * NSEC_PER_JIFFY)


def _extra_jiffy(k: KernelApi) -> int:
    """6.1's msleep() and msleep_interruptible() sleep one jiffy more than asked."""
    return 0 if k.profile.since(versions.MSLEEP_NO_EXTRA_JIFFY) else 1


@kapi("msleep_interruptible")
def msleep_interruptible(k: KernelApi, msecs: int) -> int:
    """A kthread's ends early once kthread_stop() makes signal_pending() true; what is left,
    in ms, as the kernel's loop returns it (jiffies_to_msecs of the jiffies left)."""
    if running_task(k) is None:
        msleep(k, msecs)
        return 0
    left = __msecs_to_jiffies(k, msecs) + _extra_jiffy(k)
    task = running_task(k)
    while left and not notified(k, task):
        k.m.write_u32(task.task + k.S.task_struct["__state"], TASK_INTERRUPTIBLE)
        left = schedule_timeout(k, left)
    return jiffies_to_msecs(k, left)


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
    """In a kthread, as kernel/time/timer.c's: the _interruptible/_uninterruptible/_killable/
    _idle forms set the task's state first; the sleep ends at the timeout or at a wake-up (or
    at once: TASK_RUNNING, or an interruptible state with kthread_stop()'s signal pending),
    and what is left is returned."""
    t = s64(timeout)
    task = running_task(k)
    if task is not None:
        state = TIMEOUT_STATES.get(k.stub.name if k.stub else "")
        if state is not None:
            k.m.write_u32(task.task + k.S.task_struct["__state"], state)
        if t >= MAX_SCHEDULE_TIMEOUT or t < 0:
            kthread_schedule(k, task)
            return MAX_SCHEDULE_TIMEOUT
        start = k.jiffies()
        kthread_schedule(k, task, k.now_ns() + t * NSEC_PER_JIFFY)
        return max(t - s64(k.jiffies() - start), 0)
    if t >= MAX_SCHEDULE_TIMEOUT or t < 0:
        schedule(k)
        return MAX_SCHEDULE_TIMEOUT
    sleep_until(k, k.now_ns() + t * NSEC_PER_JIFFY)
    return 0


# the state each form of schedule_timeout sets (TASK_KILLABLE, TASK_IDLE as in sched.h)
TIMEOUT_STATES = {"schedule_timeout_interruptible": 0x1, "schedule_timeout_killable": 0x102,
                  "schedule_timeout_uninterruptible": 0x2, "schedule_timeout_idle": 0x402}
