"""High-resolution timers (kernel/time/hrtimer.c): fired by sched.py's deferred-work engine when
the emulated clock reaches them, re-armed as their callback asks."""

from __future__ import annotations

from ...bits import MASK64, s64
from . import KernelApi, kapi
from .sched import SOFTIRQ_OFFSET, _callback, runner, sched

HRTIMER_MODE_SOFT = 0x04
HRTIMER_MODE_HARD = 0x08

# -- hrtimers -------------------------------------------------------------------------------------

@kapi("hrtimer_init", "hrtimer_init_sleeper")
def hrtimer_init(k: KernelApi, timer: int, clock_id: int, mode: int) -> None:
    k.m.write(timer, bytes(k.S.hrtimer.sizeof))
    sched(k).hrtimers.pop(timer, None)
    soft = k.state.setdefault("hrtimer_soft", set())
    (soft.add if mode & HRTIMER_MODE_SOFT else soft.discard)(timer)
    # __hrtimer_init(): what a callback may look at (hrtimer_is_soft ...)
    k.m.write_u8(timer + k.S.hrtimer.is_soft, 1 if mode & HRTIMER_MODE_SOFT else 0)
    k.m.write_u8(timer + k.S.hrtimer.is_hard, 1 if mode & HRTIMER_MODE_HARD else 0)


@kapi("hrtimer_start_range_ns")
def hrtimer_start_range_ns(k: KernelApi, timer: int, tim: int, delta_ns: int, mode: int) -> None:
    tim = s64(tim)
    expires = tim if not (mode & 1) else k.now_ns() + tim  # HRTIMER_MODE_REL = 1
    k.m.write_u64(timer + k.S.hrtimer.node + 24, expires & MASK64)
    k.m.write_u64(timer + k.S.hrtimer._softexpires, expires & MASK64)
    k.m.write_u8(timer + k.S.hrtimer.state, 1)
    sched(k).hrtimers[timer] = expires


@kapi("hrtimer_cancel", "hrtimer_try_to_cancel")
def hrtimer_cancel(k: KernelApi, timer: int) -> int:
    was = sched(k).hrtimers.pop(timer, None) is not None
    k.m.write_u8(timer + k.S.hrtimer.state, 0)
    return int(was)


@kapi("hrtimer_forward")
def hrtimer_forward(k: KernelApi, timer: int, now: int, interval: int) -> int:
    off = k.S.hrtimer.node + 24
    exp = s64(k.m.read_u64(timer + off))
    now, interval = s64(now), s64(interval)
    if now < exp or interval <= 0:
        return 0
    n = (now - exp) // interval + 1
    exp += n * interval
    k.m.write_u64(timer + off, exp & MASK64)
    k.m.write_u64(timer + k.S.hrtimer._softexpires, exp & MASK64)
    return n


@kapi("hrtimer_active")
def hrtimer_active(k: KernelApi, timer: int) -> int:
    return int(timer in sched(k).hrtimers)


@runner("hrtimer")
def _fire_hrtimer(k: KernelApi, timer: int) -> None:
    s = sched(k)
    s.hrtimers.pop(timer, None)
    k.m.write_u8(timer + k.S.hrtimer.state, 0)
    fn = k.m.read_u64(timer + k.S.hrtimer.function)
    if not fn:
        return
    soft = timer in k.state.get("hrtimer_soft", ())
    ret = _callback(k, fn, timer, "hrtimer", irq=SOFTIRQ_OFFSET if soft else None)
    if ret is not None and (ret & 0xFFFFFFFF) == 1:  # HRTIMER_RESTART
        exp = s64(k.m.read_u64(timer + k.S.hrtimer.node + 24))
        if exp > k.now_ns() - 10**12:
            s.hrtimers[timer] = max(exp, k.now_ns() + 1)
            k.m.write_u8(timer + k.S.hrtimer.state, 1)


