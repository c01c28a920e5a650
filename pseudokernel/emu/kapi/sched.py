"""The scheduler (kernel/sched/core.c): the one task running, what happens when it gives the
CPU away (schedule, wake_up_process), and the engine that runs deferred work then. Each kind of
deferred work lives in the file the kernel keeps it in and is run from here: timer.py,
hrtimer.py, workqueue.py, softirq.py (tasklets), rcu.py, kthread.py; the waits are completion.py
and wait.py, the sleeps timer.py, the busy waits delay.py, the clocks timekeeping.py and the
jiffies conversions time_.py.

There is one CPU and the module's task is the only one running, so nothing runs "in the
background". Deferred work runs when the running task gives the CPU away: when it sleeps
(msleep, schedule_timeout, usleep_range: the emulated clock jumps to the end of the sleep, and
the timers and work due by then run first), when it waits (wait_for_completion, wait_event's
schedule(), flush_work, flush_workqueue, rcu_barrier), and after a syscall's module code has
returned (what was ready runs, as kworkers would run it right after). A callback that faults
is reported as the kernel reports a fault in a kworker, and the waiting task goes on.

Kernel threads are tasks of their own (Task): each has a CPU context (cpu_context.py) and a
host thread, and runs only while it holds the CPU, handed to it by switch_to() the way the
kernel's context_switch() hands it over. Who hands it over: a process's task (init, exit, a
read) that waits or sleeps, before it moves time on; the return to user space after a system
call (a woken kthread runs before insmod returns, as need_resched makes it on the kernel);
and, when no system call holds the CPU, the idle task (idle.py), at the moment the earliest
sleeper's time comes on the emulated clock, which follows real time while nothing runs. A
kthread that sleeps (msleep, schedule, a wait) hands the CPU back (task_sleep): it never moves
time on itself.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from ...bits import s64 as _s64
from ..traps import Budget, CpuStop
from . import HZ, KernelApi, kapi, kboot
from .cpu import current, preempt_count, set_preempt_count
from .task import TASK_INTERRUPTIBLE, TASK_RUNNING, Task, next_wake_ns, notified, run_tasks, running_task, task_sleep, tasks

NSEC_PER_JIFFY = 1_000_000_000 // HZ
MAX_SCHEDULE_TIMEOUT = (1 << 63) - 1
# the system calls a process makes on a module's file: its task may sleep for real there
PROCESS_CALLS = frozenset({"open", "read", "write", "vfs_read", "vfs_write", "ioctl", "poll", "release"})
TIF_SIGPENDING = 1 << 2
MAX_DEFERRED = 2000  # callbacks run per wait: a timer re-arming itself forever stops there

# how each kind of deferred work is run, registered by the file that keeps it (as softirq
# vectors are with open_softirq()): the engine imports none of them
RUNNERS: dict[str, Callable] = {}


def runner(kind: str) -> Callable:
    """Register fn as the engine's way to run `kind`: tasklet, work, timer, hrtimer (fn(k,
    obj)), rcu (fn(k)), idle (fn(k): start the idle task)."""

    def deco(fn: Callable) -> Callable:
        RUNNERS[kind] = fn
        return fn

    return deco


class Sched:
    """Pending timers, hrtimers, work items, tasklets and RCU callbacks of one kernel."""

    def __init__(self) -> None:
        self.timers: dict[int, int] = {}  # timer_list -> expires (jiffies)
        self.hrtimers: dict[int, int] = {}  # hrtimer -> expires (ns)
        self.works: dict[int, int] = {}  # work_struct -> workqueue (FIFO by insertion)
        self.tasklets: dict[int, None] = {}
        self.rcu: list[tuple[int, int]] = []  # (head, func)
        self.workqueues: dict[int, str] = {}
        self.py: list = []  # deferred Python work (async firmware requests ...)
        self.depth = 0
        self.ran = 0



def sched(k: KernelApi) -> Sched:
    s = k.state.get("sched")
    if s is None:
        s = k.state["sched"] = Sched()
    return s


def sleepers(k: KernelApi) -> dict[int, dict]:
    """The tasks on a wait queue, by pid: {"wq": the queue, "woken": whether a wake-up came}."""
    return k.state.setdefault("sleepers", {})


def time_after_eq(a: int, b: int) -> bool:
    return _s64(a - b) >= 0


# -- running deferred callbacks -------------------------------------------------------------------

# whose task a deferred callback runs in: work on the reference machine's kworker, a tasklet on
# its ksoftirqd/0 (machine.json "tasks", recorded: tests/expected/real*/contexts.txt); a timer's
# softirq and an hrtimer's interrupt in whatever task holds the CPU when it falls due (the idle
# task, swapper/0, while the caller waits: off_cpu(); the process at the end of its system call)
CALLBACK_TASKS = {"work": "work", "firmware": "work", "tasklet": "tasklet"}
IDLE_TASK = (0, "swapper/0")  # pid and comm of the CPU's idle task
SOFTIRQ_OFFSET, HARDIRQ_OFFSET = 0x100, 0x10000
IRQ_MASK = 0x1FFF00  # softirq and hardirq counts: in_interrupt()
# the preempt_count part each kind runs with: softirqs; an hrtimer in the timer interrupt
# (__hrtimer_run_queues from hrtimer_interrupt) unless HRTIMER_MODE_SOFT (hrtimer.py says)
CALLBACK_COUNT = {"timer": SOFTIRQ_OFFSET, "tasklet": SOFTIRQ_OFFSET, "rcu": SOFTIRQ_OFFSET, "hrtimer": HARDIRQ_OFFSET}

def _callback(k: KernelApi, fn: int, arg: int, what: str, irq: int | None = None) -> int | None:
    """Run a callback as a kworker/softirq would; a fault is reported, not propagated. irq:
    its preempt_count part, if not its kind's (CALLBACK_COUNT)."""
    return _callback2(k, fn, arg, None, what, irq=irq)


def defer(k: KernelApi, fn) -> None:
    """Run a Python callable fn(k) as deferred kernel work (an async completion)."""
    sched(k).py.append(fn)


def _callback2(k: KernelApi, fn: int, arg: int, arg2: int | None, what: str, budget: float | None = None,
               irq: int | None = None) -> int | None:
    kernel = k.kernel
    if kernel.module_at(fn) is None and k.m.function_name(fn) is None:
        return None  # the module that armed it is gone
    saved = kernel.current_pid, kernel.current_comm, kernel.current_where
    who = CALLBACK_TASKS.get(what)
    if who is not None:
        kernel.current_pid, kernel.current_comm = k.profile.machine["tasks"][who]
    kernel.current_where = what
    count = preempt_count(k)
    # in_interrupt() in a softirq or an interrupt; not in a work item, even one a timer's
    # softirq queued and that runs as it returns
    set_preempt_count(k, (count & ~IRQ_MASK) | (CALLBACK_COUNT.get(what, 0) if irq is None else irq))
    current(k)  # the task the module reads: a nested call (a process asleep in module code) too
    try:
        if arg2 is None:
            return k.m.call(fn, arg, budget=budget)
        return k.m.call(fn, arg, arg2, budget=budget)
    except Budget:
        if k.m.in_call() and time.monotonic() < k.m._frames[-1].deadline:
            return None  # a kthread still running when its time slice ended
        raise
    except CpuStop as stop:
        mod = kernel.module_at(fn)
        kernel.report_cpu_stop(mod, stop, what)
        return None
    finally:
        set_preempt_count(k, count)
        kernel.current_pid, kernel.current_comm, kernel.current_where = saved
        current(k)


def run_ready(k: KernelApi, limit: int = MAX_DEFERRED, softirqs_only: bool = False) -> int:
    """Run what is ready now: queued work, tasklets, expired timers. Returns how many ran.
    softirqs_only: irq_exit() after a timer tick that interrupted a busy task, where the
    softirqs run (tasklets, expired timers and hrtimers) and work items do not (their kworker
    would need the CPU)."""
    s = sched(k)
    if s.depth > 2:
        return 0
    s.depth += 1
    ran = 0
    try:
        while ran < limit:
            before = ran
            if s.py and not softirqs_only:
                s.py.pop(0)(k)
                ran += 1
            if s.tasklets:
                t = next(iter(s.tasklets))
                del s.tasklets[t]
                RUNNERS["tasklet"](k, t)
                ran += 1
            if s.works and not softirqs_only:
                work = next(iter(s.works))
                del s.works[work]
                RUNNERS["work"](k, work)
                ran += 1
            now = k.jiffies()
            due = [t for t, exp in s.timers.items() if time_after_eq(now, exp)]
            for t in sorted(due, key=lambda t: s.timers[t])[: max(limit - ran, 0)]:
                if t in s.timers:
                    RUNNERS["timer"](k, t)
                    ran += 1
            now_ns = k.now_ns()
            for t in [t for t, exp in s.hrtimers.items() if exp <= now_ns][: max(limit - ran, 0)]:
                if t in s.hrtimers:
                    RUNNERS["hrtimer"](k, t)
                    ran += 1
            if ran == before:
                break
    finally:
        s.depth -= 1
    s.ran += ran
    return ran


def next_event_ns(k: KernelApi) -> int | None:
    """When the next timer or hrtimer is due, or a sleeping kthread's time comes, on the
    emulated clock."""
    s = sched(k)
    now_j, now_ns = k.jiffies(), k.now_ns()
    best = None
    for exp in s.timers.values():
        d = max(_s64(exp - now_j), 0) * NSEC_PER_JIFFY
        best = d if best is None else min(best, d)
    for exp in s.hrtimers.values():
        d = max(exp - now_ns, 0)
        best = d if best is None else min(best, d)
    wake = next_wake_ns(k)
    if wake is not None:
        d = max(wake - now_ns, 0)
        best = d if best is None else min(best, d)
    return None if best is None else now_ns + best


def sleep_until(k: KernelApi, deadline_ns: int, until=None) -> bool:
    """Sleep until deadline_ns (or until `until()` holds): run what falls due meanwhile.
    Returns whether `until` became true. A kthread sleeps instead (task_sleep)."""
    t = running_task(k)
    if t is not None:
        while not (until is not None and until()) and k.now_ns() < deadline_ns:
            task_sleep(k, t, deadline_ns, until, wakeable=False)
        return until is not None and until()
    for _ in range(MAX_DEFERRED):
        run_ready(k)
        run_tasks(k)
        if until is not None and until():
            return True
        nxt = next_event_ns(k)
        now = k.now_ns()
        if nxt is None or nxt > deadline_ns:
            if deadline_ns > now:
                k.sleep_ns(deadline_ns - now)
            run_ready(k)
            run_tasks(k)
            return until is not None and until()
        if nxt > now:
            k.sleep_ns(nxt - now + 1)
    return until is not None and until()


@contextmanager
def off_cpu(k: KernelApi) -> Iterator[None]:
    """The task waits (init in wait_for_completion, msleep): the CPU is idle meanwhile, so a
    timer or hrtimer that fires finds the idle task in current, as on the real kernel
    (contexts.ko's recording); a work item or tasklet is on its kworker or ksoftirqd anyway."""
    kernel = k.kernel
    saved = kernel.current_pid, kernel.current_comm, kernel.current_uid, kernel.current_gid
    kernel.current_pid, kernel.current_comm = IDLE_TASK
    kernel.current_uid = kernel.current_gid = 0
    current(k)
    try:
        yield
    finally:
        kernel.current_pid, kernel.current_comm, kernel.current_uid, kernel.current_gid = saved
        current(k)


def _run_waiting(k: KernelApi) -> int:
    with off_cpu(k):
        return run_ready(k) + run_tasks(k)


def wait_until(k: KernelApi, cond, timeout_ns: int | None) -> bool:
    """A task waiting for cond: deferred work runs, time moves to the next timer; with no
    timeout and nothing left that could make cond true, the wait ends (it would block forever
    on the real kernel: recorded as an approximation)."""
    if cond():
        return True
    deadline = k.now_ns() + timeout_ns if timeout_ns is not None else None
    t = running_task(k)
    if t is not None:  # a kthread waits: the CPU goes to others until cond() or the timeout
        while not cond() and (deadline is None or k.now_ns() < deadline):
            task_sleep(k, t, deadline, cond, wakeable=False)
        return cond()
    for _ in range(MAX_DEFERRED):
        if _run_waiting(k) and cond():
            return True
        if cond():
            return True
        nxt = next_event_ns(k)
        now = k.now_ns()
        if nxt is None or (deadline is not None and nxt > deadline):
            if deadline is not None and deadline > now:
                k.sleep_ns(deadline - now)
                _run_waiting(k)
            elif deadline is None:
                k._record_unhandled(f"{k.stub.name if k.stub else 'wait'} (never woken)")
            return cond()
        k.sleep_ns(max(nxt - now, 0) + 1)
    return cond()


def process_sleep(k: KernelApi, cond: Callable[[], bool]) -> bool:
    """A process's task sleeps (Kernel.sleep) until cond() or a signal: what it armed before
    (a timer whose callback wakes it, as ldd3's jit does in its /proc read) runs meanwhile on
    the idle task."""
    s = sched(k)
    if s.works or s.tasklets or s.timers or s.hrtimers or tasks(k).tasks:
        RUNNERS["idle"](k)
    return k.kernel.sleep(cond)


def block(k: KernelApi, cond: Callable[[], bool], interruptible: bool = False) -> bool:
    """The task blocks until cond() (a contended mutex or semaphore): a kthread sleeps; a
    process's system call sleeps for real, the CPU going to others, until a wake-up makes
    cond() true or (interruptible, or the daemon stopping) its caller is signalled: False;
    init and exit wait as for a completion. An uninterruptible sleep still ends on the FUSE
    interrupt: no caller is left unkillable on the mount."""
    if cond():
        return True
    t = running_task(k)
    if t is not None:
        while not cond():
            task_sleep(k, t, None, cond, wakeable=False)
        return True
    if k.kernel.current_where in PROCESS_CALLS and k.m.in_call():
        while not cond():
            if not process_sleep(k, cond):
                return False
        return True
    return wait_until(k, cond, None)


def after_syscall(k: KernelApi) -> None:
    """Module code returned to user space: kworkers and softirqs run what is ready."""
    if k.m.in_call() or k.state.get("after_syscall"):
        return
    s = sched(k)
    if s.works or s.tasklets or s.timers or s.hrtimers or s.rcu or s.py or tasks(k).tasks:
        k.state["after_syscall"] = True
        try:
            run_ready(k)
            RUNNERS["rcu"](k)
            run_tasks(k)
        finally:
            k.state["after_syscall"] = False
        if s.timers or s.hrtimers or tasks(k).tasks:
            RUNNERS["idle"](k)  # what falls due later runs then, syscall or not


def forget_module_memory(k: KernelApi, addr: int, size: int) -> None:
    """Timers, work and tasklets that lived in a freed module's memory are gone with it."""
    s = sched(k)
    inside = lambda a: addr <= a < addr + size  # noqa: E731
    for table in (s.timers, s.hrtimers, s.works, s.tasklets):
        for obj in [o for o in table if inside(o)]:
            del table[obj]
    s.rcu = [(h, f) for h, f in s.rcu if not inside(h) and not inside(f)]


@kboot
def setup_sched(k: KernelApi) -> None:
    k.exit_hooks.append(after_syscall)
    k.free_hooks.append(forget_module_memory)


# -- the task gives the CPU away ----------------------------------------------------------------

@kapi("schedule", "io_schedule", "preempt_schedule", "preempt_schedule_notrace",
      "__SCT__preempt_schedule_notrace", "yield")
def schedule(k: KernelApi) -> None:
    """The task blocks. A process's task on a wait queue (a read waiting for data) really
    sleeps: other processes' calls run until a wake-up or a signal (TIF_SIGPENDING is then
    set, so the module's signal_pending(current) sees it). Otherwise (module init, a work
    item: the only task there is) deferred work runs; if nothing was ready, time moves on to
    the next timer (or by a tick, so that jiffies-based loops end)."""
    t = running_task(k)
    if t is not None:
        kthread_schedule(k, t)
        return
    sleeper = sleepers(k).get(k.kernel.current_pid)
    if sleeper is not None and k.kernel.current_where in PROCESS_CALLS:
        woken = process_sleep(k, lambda: sleeper["woken"])
        sleeper["woken"] = False
        task = current(k)
        flags = k.m.read_u64(task)  # thread_info.flags, first in task_struct
        k.m.write_u64(task, flags & ~TIF_SIGPENDING if woken else flags | TIF_SIGPENDING)
        return
    if _run_waiting(k):
        return
    nxt = next_event_ns(k)
    now = k.now_ns()
    if nxt is not None:
        k.sleep_ns(max(nxt - now, 0) + 1)
        _run_waiting(k)
    else:
        k.sleep_ns(NSEC_PER_JIFFY)


def kthread_schedule(k: KernelApi, t: Task, wake_at: int | None = None) -> None:
    """schedule() in a kthread, by the state it set before (set_current_state): TASK_RUNNING
    only yields; an interruptible state with a signal pending (kthread_stop()'s) does not
    sleep (__schedule() leaves the task runnable); any other sleeps until a wake-up
    (wake_up_process, a wait queue it is on, kthread_stop) or wake_at (schedule_timeout); the
    wake-up makes it TASK_RUNNING."""
    state_off = k.S.task_struct["__state"]
    state = k.m.read_u32(t.task + state_off)
    if state == TASK_RUNNING and wake_at is None:
        task_sleep(k, t, k.now_ns(), None)
        return
    if state & TASK_INTERRUPTIBLE and notified(k, t):
        k.m.write_u32(t.task + state_off, TASK_RUNNING)
        return
    sleeper = sleepers(k).get(t.pid)
    woken = (lambda: sleeper["woken"]) if sleeper is not None else None
    task_sleep(k, t, wake_at, woken, wakeable=True)
    if sleeper is not None:
        sleeper["woken"] = False
    k.m.write_u32(t.task + state_off, TASK_RUNNING)


@kapi("__cond_resched", "_cond_resched", "__SCT__cond_resched", "__SCT__might_resched", "__might_sleep",
      "__might_resched", "__might_fault", "__cant_sleep", "__SCT__preempt_schedule")
def cond_resched(k: KernelApi) -> int:
    return 0


@kapi("wake_up_process", "wake_up_state")
def wake_up_process(k: KernelApi, p: int) -> int:
    """A new kthread becomes runnable; a sleeping one's sleep ends (not msleep's: it sleeps
    on to its time). It runs when the task holding the CPU gives it away."""
    t = tasks(k).tasks.get(p)
    if t is None:
        return 0
    if t.state == "new":
        t.state = "runnable"
        return 1
    if t.state == "sleeping" and not t.woken:
        t.woken = True
        return 1
    return 0


@kapi("set_user_nice", "sched_set_fifo", "sched_set_fifo_low", "sched_set_normal")
def set_user_nice(k: KernelApi, p: int) -> None:
    """One CPU and one task running at a time: a priority or policy changes nothing."""
    return None


@kapi("get_current", "__get_current")
def get_current(k: KernelApi) -> int:
    return current(k)
