"""Completions and wait queues (kernel/sched/completion.c, kernel/sched/wait.c): a wait runs the
deferred work that could end it, on the emulated clock, and honours the caller's signals."""

from __future__ import annotations

from ...bits import s64
from . import KernelApi, kapi
from .sched import NSEC_PER_JIFFY, UINT_MAX, wait_until
from .timer import schedule_timeout

# -- completions, wait queues --------------------------------------------------------------------

@kapi("complete")
def complete(k: KernelApi, x: int) -> None:
    done = k.m.read_u32(x)
    if done != UINT_MAX:
        k.m.write_u32(x, done + 1)


@kapi("complete_all")
def complete_all(k: KernelApi, x: int) -> None:
    k.m.write_u32(x, UINT_MAX)


@kapi("complete_and_exit", "kthread_complete_and_exit")
def complete_and_exit(k: KernelApi, x: int, code: int) -> None:
    if x:
        complete(k, x)


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


@kapi("__init_swait_queue_head", "__init_waitqueue_head")
def __init_waitqueue_head(k: KernelApi, wq: int, name: int, key: int) -> None:
    k.m.write_u64(wq, 0)
    k.m.write_u64(wq + 8, wq + 8)
    k.m.write_u64(wq + 16, wq + 8)


@kapi("init_wait_entry")
def init_wait_entry(k: KernelApi, wq_entry: int, flags: int) -> None:
    k.m.write_u32(wq_entry, flags & 0xFFFFFFFF)
    k.m.write_u64(wq_entry + 8, k.current_task())
    k.m.write_u64(wq_entry + 16, k.function("autoremove_wake_function"))
    k.m.write_u64(wq_entry + 24, wq_entry + 24)
    k.m.write_u64(wq_entry + 32, wq_entry + 24)


@kapi("prepare_to_wait_event")
def prepare_to_wait_event(k: KernelApi, wq_head: int, wq_entry: int, state: int) -> int:
    return 0


@kapi("prepare_to_wait", "prepare_to_wait_exclusive", "finish_wait", "add_wait_queue", "remove_wait_queue",
      "add_wait_queue_exclusive", "add_wait_queue_priority")
def prepare_to_wait(k: KernelApi, wq_head: int, wq_entry: int) -> None:
    return None


@kapi("__wake_up", "__wake_up_sync", "__wake_up_sync_key", "__wake_up_locked", "__wake_up_locked_key",
      "swake_up_one", "swake_up_all", "swake_up_locked", "wake_up_bit", "wake_up_var", "__wake_up_pollfree")
def __wake_up(k: KernelApi, wq_head: int) -> int:
    """The waiter is this task itself, which is not asleep while the waker runs (one CPU):
    wait_event's loop sees the condition when it looks again."""
    return 0


@kapi("autoremove_wake_function", "default_wake_function", "woken_wake_function")
def autoremove_wake_function(k: KernelApi, wq_entry: int, mode: int, sync: int, key: int) -> int:
    return 1


@kapi("wait_woken")
def wait_woken(k: KernelApi, wq_entry: int, mode: int, timeout: int) -> int:
    return schedule_timeout(k, timeout)


