"""Wait queues (kernel/sched/wait.c; swait.c's and wait_bit.c's wake-ups, and
default_wake_function from kernel/sched/core.c, share its handlers): with one task running, the
waiter is the task itself, so a wait is wait_event's loop calling schedule() (sched.py) and a
wake-up has no one to wake."""

from __future__ import annotations

from ...sigpending import signal_pending
from . import KernelApi, kapi
from .cpu import current
from .sched import sleepers
from .task import notified, running_task
from .timer import schedule_timeout


@kapi("__init_waitqueue_head", "__init_swait_queue_head")
def __init_waitqueue_head(k: KernelApi, wq: int, name: int, key: int) -> None:
    """The lock, and the list of waiters empty (waitqueue_active() reads it)."""
    k.m.write_u64(wq, 0)
    k.m.write_u64(wq + 8, wq + 8)
    k.m.write_u64(wq + 16, wq + 8)


@kapi("init_wait_entry")
def init_wait_entry(k: KernelApi, wq_entry: int, flags: int) -> None:
    k.m.write_u32(wq_entry, flags & 0xFFFFFFFF)
    k.m.write_u64(wq_entry + 8, current(k))
    k.m.write_u64(wq_entry + 16, k.function("autoremove_wake_function"))
    k.m.write_u64(wq_entry + 24, wq_entry + 24)
    k.m.write_u64(wq_entry + 32, wq_entry + 24)


TASK_INTERRUPTIBLE, TASK_WAKEKILL = 0x1, 0x100
ERESTARTSYS = 512


def set_current_state(k: KernelApi, state: int) -> None:
    """What set_current_state() stores: schedule() of a kthread reads it (sched.py)."""
    k.m.write_u32(current(k) + k.S.task_struct["__state"], state)


def _enqueue(k: KernelApi, wq_head: int, state: int) -> None:
    set_current_state(k, state)
    s = sleepers(k).get(k.kernel.current_pid)
    if s is None or s["wq"] != wq_head:
        sleepers(k)[k.kernel.current_pid] = {"wq": wq_head, "woken": False}


@kapi("prepare_to_wait_event")
def prepare_to_wait_event(k: KernelApi, wq_head: int, wq_entry: int, state: int) -> int:
    """The task goes on the queue, unless a signal is pending for an interruptible (or
    killable) wait: -ERESTARTSYS, which the process sees as EINTR."""
    t = running_task(k)
    # signal_pending_state(): a kthread's only signal is kthread_stop()'s notify, not fatal
    pending = (state & TASK_INTERRUPTIBLE and notified(k, t)) if t is not None else \
        (state & (TASK_INTERRUPTIBLE | TASK_WAKEKILL) and signal_pending())
    if pending:
        sleepers(k).pop(k.kernel.current_pid, None)
        return -ERESTARTSYS & 0xFFFFFFFFFFFFFFFF
    _enqueue(k, wq_head, state)
    return 0


@kapi("prepare_to_wait", "prepare_to_wait_exclusive")
def prepare_to_wait(k: KernelApi, wq_head: int, wq_entry: int, state: int) -> None:
    _enqueue(k, wq_head, state)


@kapi("add_wait_queue", "add_wait_queue_exclusive", "add_wait_queue_priority")
def add_wait_queue(k: KernelApi, wq_head: int, wq_entry: int) -> None:
    """On the queue; the state is the caller's to set (set_current_state before schedule)."""
    s = sleepers(k).get(k.kernel.current_pid)
    if s is None or s["wq"] != wq_head:
        sleepers(k)[k.kernel.current_pid] = {"wq": wq_head, "woken": False}


@kapi("finish_wait")
def finish_wait(k: KernelApi, wq_head: int, wq_entry: int) -> None:
    set_current_state(k, 0)  # __set_current_state(TASK_RUNNING)
    sleepers(k).pop(k.kernel.current_pid, None)


@kapi("remove_wait_queue")
def remove_wait_queue(k: KernelApi, wq_head: int, wq_entry: int) -> None:
    sleepers(k).pop(k.kernel.current_pid, None)


@kapi("__wake_up", "__wake_up_sync", "__wake_up_sync_key", "__wake_up_locked", "__wake_up_locked_key",
      "swake_up_one", "swake_up_all", "swake_up_locked", "wake_up_bit", "wake_up_var", "__wake_up_pollfree")
def __wake_up(k: KernelApi, wq_head: int) -> int:
    """Tasks asleep on the queue (a process blocked in a read) are woken; one that is not
    asleep (the task itself, looping in wait_event on one CPU) sees its condition when it
    looks again. Pollers of the queue are told (poll_queues)."""
    woke = 0
    for s in sleepers(k).values():
        if s["wq"] == wq_head and not s["woken"]:
            s["woken"] = True
            woke += 1
    for fn in k.wake_hooks:
        fn(wq_head)
    if woke:
        k.kernel.wake_up()
    return 0


@kapi("autoremove_wake_function", "default_wake_function", "woken_wake_function")
def autoremove_wake_function(k: KernelApi, wq_entry: int, mode: int, sync: int, key: int) -> int:
    return 1


@kapi("wait_woken")
def wait_woken(k: KernelApi, wq_entry: int, mode: int, timeout: int) -> int:
    return schedule_timeout(k, timeout)
