"""Completions (kernel/sched/completion.c): a wait for one runs the deferred work that could
complete it, on the emulated clock (sched.py's wait_until)."""

from __future__ import annotations

from ...bits import s64
from . import KernelApi, kapi
from .sched import NSEC_PER_JIFFY, wait_until

UINT_MAX = 0xFFFFFFFF  # complete_all(): done for every waiter to come


@kapi("complete")
def complete(k: KernelApi, x: int) -> None:
    done = k.m.read_u32(x)
    if done != UINT_MAX:
        k.m.write_u32(x, done + 1)


@kapi("complete_all")
def complete_all(k: KernelApi, x: int) -> None:
    k.m.write_u32(x, UINT_MAX)


def _take(k: KernelApi, x: int) -> bool:
    done = k.m.read_u32(x)
    if not done:
        return False
    if done != UINT_MAX:
        k.m.write_u32(x, done - 1)
    return True


@kapi("try_wait_for_completion")
def try_wait_for_completion(k: KernelApi, x: int) -> int:
    return int(_take(k, x))


@kapi("completion_done")
def completion_done(k: KernelApi, x: int) -> int:
    return int(k.m.read_u32(x) != 0)


@kapi("wait_for_completion", "wait_for_completion_io", "wait_for_completion_killable",
      "wait_for_completion_interruptible", "wait_for_completion_state")
def wait_for_completion(k: KernelApi, x: int) -> int:
    wait_until(k, lambda: k.m.read_u32(x) != 0, None)
    _take(k, x)
    return 0


@kapi("wait_for_completion_timeout", "wait_for_completion_io_timeout", "wait_for_completion_killable_timeout",
      "wait_for_completion_interruptible_timeout")
def wait_for_completion_timeout(k: KernelApi, x: int, timeout: int) -> int:
    t = s64(timeout)
    start = k.jiffies()
    ok = wait_until(k, lambda: k.m.read_u32(x) != 0, max(t, 0) * NSEC_PER_JIFFY)
    if not ok:
        return 0
    _take(k, x)
    left = t - s64(k.jiffies() - start)
    return max(left, 1)
