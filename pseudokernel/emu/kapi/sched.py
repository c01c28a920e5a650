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

import atexit
import threading
import time
import weakref
from collections.abc import Callable
from errno import EINTR

from ...bits import s32 as _s32
from ...bits import s64 as _s64
from ..cpu_context import Cpu
from ..traps import Budget, CpuStop
from . import HZ, KernelApi, kapi, kboot
from .cpu import current, set_current_task

NSEC_PER_JIFFY = 1_000_000_000 // HZ
MAX_SCHEDULE_TIMEOUT = (1 << 63) - 1
# the system calls a process makes on a module's file: its task may sleep for real there
PROCESS_CALLS = frozenset({"open", "read", "write", "ioctl", "poll", "release"})
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
        self.tasks: dict[int, Task] = {}  # task_struct -> the kernel thread
        self.running: Task | None = None  # the kthread holding the CPU, if one does
        self.kthreads_made = 0
        self.idle: threading.Thread | None = None  # the idle task's host thread (idle.py)
        self.cond = threading.Condition()  # the CPU handed between host threads
        self.closing = False
        self.workqueues: dict[int, str] = {}
        self.py: list = []  # deferred Python work (async firmware requests ...)
        self.depth = 0
        self.ran = 0

    def close(self, timeout: float) -> bool:
        with self.cond:
            self.closing = True
            self.cond.notify_all()
        end = time.monotonic() + timeout
        threads = [t.thread for t in self.tasks.values()] + [self.idle]
        for th in threads:
            if th is not None and th is not threading.current_thread():
                th.join(max(end - time.monotonic(), 0))
        return not any(th is not None and th.is_alive() for th in threads)


LIVE: weakref.WeakSet[Sched] = weakref.WeakSet()  # schedulers with kthreads or an idle task
_tracking = False


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


# -- kernel threads: tasks with a CPU context of their own -------------------------------------

TASK_RUNNING = 0


class TaskExit(Exception):
    """do_exit() inside a kernel thread (kthread_complete_and_exit): its function ends here."""

    def __init__(self, code: int) -> None:
        super().__init__(code)
        self.code = code


class Task:
    """A kernel thread. state: new (created, not yet woken), runnable, running (holds the
    CPU), sleeping (until wake_at on the emulated clock, until() holds, or a wake-up), dead."""

    def __init__(self, task: int, pid: int, name: str, fn: int, data: int, cpu: Cpu) -> None:
        self.task, self.pid, self.name, self.fn, self.data, self.cpu = task, pid, name, fn, data, cpu
        self.state = "new"
        self.wake_at: int | None = None
        self.until: Callable[[], bool] | None = None
        self.wakeable = True  # a wake_up_process() ends the sleep (not msleep's)
        self.woken = False
        self.granted = False
        self.should_stop = False
        self.ret: int | None = None
        self.thread: threading.Thread | None = None

    def ready(self, k: KernelApi) -> bool:
        """Whether it may take the CPU now (asked by the task that holds it)."""
        if self.state == "runnable":
            return True
        if self.state != "sleeping":
            return False
        if self.woken and self.wakeable:
            return True
        if self.wake_at is not None and k.now_ns() >= self.wake_at:
            return True
        return self.until is not None and bool(self.until())


def running_task(k: KernelApi) -> Task | None:
    s = k.state.get("sched")
    return s.running if s is not None else None


def _enter(k: KernelApi, t: Task) -> None:
    """t's context on the CPU: its registers, its task_struct as current."""
    k.m.switch_cpu(t.cpu)
    kernel = k.kernel
    kernel.current_pid, kernel.current_comm, kernel.current_where = t.pid, t.name, "kthread"
    kernel.current_uid = kernel.current_gid = 0
    sched(k).running = t
    set_current_task(k, t.task)


def _leave(k: KernelApi) -> None:
    sched(k).running = None
    k.m.switch_cpu(k.m.main_cpu)
    set_current_task(k, current(k))


def switch_to(k: KernelApi, t: Task) -> None:
    """Hand the CPU to t until it sleeps or ends. Called by a process's task (or the idle
    task) holding the CPU; what it was doing resumes as it was."""
    s, m, kernel = sched(k), k.m, k.kernel
    saved = (kernel.current_pid, kernel.current_comm, kernel.current_where, kernel.current_uid,
             kernel.current_gid, k.stub)
    if t.thread is None:
        track(s)
        t.thread = threading.Thread(target=_task_main, args=(k, t), name=f"kthread:{t.name}", daemon=True)
        t.thread.start()
    held = m.lock._release_save()
    try:
        with s.cond:
            t.state, t.granted = "running", True
            s.cond.notify_all()
            while t.state == "running":
                s.cond.wait()
    finally:
        m.lock._acquire_restore(held)
        (kernel.current_pid, kernel.current_comm, kernel.current_where, kernel.current_uid,
         kernel.current_gid, k.stub) = saved
        set_current_task(k, current(k))


def _granted(s: Sched, t: Task) -> bool:
    """Wait (t's host thread) until the CPU is handed to t; False: the kernel is going away."""
    with s.cond:
        while not t.granted and not s.closing:
            s.cond.wait()
        t.granted = False
        return not s.closing


def _task_main(k: KernelApi, t: Task) -> None:
    """kthread(): the thread function runs once it is first woken, unless it was stopped
    before (kthread_stop() of a thread never woken: -EINTR, its function never called)."""
    s, m = sched(k), k.m
    if not _granted(s, t):
        return
    m.lock.acquire()
    try:
        _enter(k, t)
        if t.should_stop:
            t.ret = -EINTR
        else:
            t.ret = _run_threadfn(k, t)
    finally:
        _leave(k)
        m.lock.release()
        with s.cond:
            t.state = "dead"
            s.cond.notify_all()


def _run_threadfn(k: KernelApi, t: Task) -> int | None:
    try:
        return _s32(k.m.call(t.fn, t.data))
    except TaskExit as e:
        return _s32(e.code)
    except CpuStop as stop:
        k.kernel.report_cpu_stop(k.kernel.module_at(t.fn), stop, "kthread")
        return None
    except _Closing:
        return None


class _Closing(Exception):
    """The kernel is going away while the thread sleeps: its stack unwinds."""


def task_sleep(k: KernelApi, t: Task, wake_at: int | None, until: Callable[[], bool] | None,
               wakeable: bool = True) -> None:
    """The running kthread t gives the CPU back until wake_at, until(), or (wakeable) a
    wake-up; its CPU time budget starts again when it runs again."""
    s, m = sched(k), k.m
    t.wake_at, t.until, t.wakeable, t.woken = wake_at, until, wakeable, False
    stub = k.stub
    depth = m.depth()
    m.pause_budget(depth)
    _leave(k)
    held = m.lock._release_save()
    with s.cond:
        t.state = "sleeping"
        s.cond.notify_all()
    ok = _granted(s, t)
    m.lock._acquire_restore(held)
    _enter(k, t)
    k.stub = stub
    m.resume_budget([m.budget] * depth)
    t.wake_at = t.until = None
    if not ok:
        raise _Closing()


def run_tasks(k: KernelApi, limit: int = MAX_DEFERRED) -> int:
    """Give the CPU to each kthread that may run, until none may; how many times one ran.
    Only a process's task or the idle task hands the CPU over (a kthread sleeps instead)."""
    s = k.state.get("sched")
    if s is None or not s.tasks or s.running is not None:
        return 0
    ran = 0
    while ran < limit:
        t = next((t for t in list(s.tasks.values()) if t.ready(k)), None)
        if t is None:
            break
        switch_to(k, t)
        ran += 1
    return ran


def next_wake_ns(k: KernelApi) -> int | None:
    """When the earliest sleeping kthread's time comes."""
    s = k.state.get("sched")
    times = [t.wake_at for t in s.tasks.values() if t.state == "sleeping" and t.wake_at is not None] if s else []
    return min(times) if times else None


def close_tasks(k: KernelApi, timeout: float = 2.0) -> bool:
    """The kernel goes away: every kthread's host thread and the idle task end (a sleeping
    thread's stack unwinds). False if one is still running module code after timeout: its
    CPU context must then not be freed under it."""
    s = k.state.get("sched")
    return s.close(timeout) if s is not None else True


def track(s: Sched) -> None:
    """s has host threads of its own: at the interpreter's exit, a kernel never closed (a
    test's) stops them while they can still unwind. Registered after unicorn's finalizers
    (weakref.finalize's exit hook), so it runs before them: a CPU context freed under a
    suspended thread crashes the process."""
    global _tracking
    LIVE.add(s)
    if not _tracking:
        _tracking = True
        atexit.register(_close_all)


def _close_all() -> None:
    for s in list(LIVE):
        s.close(1.0)


# -- running deferred callbacks -------------------------------------------------------------------

def _callback(k: KernelApi, fn: int, arg: int, what: str) -> int | None:
    """Run a callback as a kworker/softirq would; a fault is reported, not propagated."""
    return _callback2(k, fn, arg, None, what)


def defer(k: KernelApi, fn) -> None:
    """Run a Python callable fn(k) as deferred kernel work (an async completion)."""
    sched(k).py.append(fn)


def _callback2(k: KernelApi, fn: int, arg: int, arg2: int | None, what: str, budget: float | None = None) -> int | None:
    kernel = k.kernel
    if kernel.module_at(fn) is None and k.m.function_name(fn) is None:
        return None  # the module that armed it is gone
    saved = kernel.current_pid, kernel.current_comm, kernel.current_where
    kernel.current_pid, kernel.current_comm, kernel.current_where = 7, "kworker/0:1", what
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
        kernel.current_pid, kernel.current_comm, kernel.current_where = saved


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
        if (run_ready(k) + run_tasks(k)) and cond():
            return True
        if cond():
            return True
        nxt = next_event_ns(k)
        now = k.now_ns()
        if nxt is None or (deadline is not None and nxt > deadline):
            if deadline is not None and deadline > now:
                k.sleep_ns(deadline - now)
                run_ready(k)
                run_tasks(k)
            elif deadline is None:
                k._record_unhandled(f"{k.stub.name if k.stub else 'wait'} (never woken)")
            return cond()
        k.sleep_ns(max(nxt - now, 0) + 1)
    return cond()


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
            if not k.kernel.sleep(cond):
                return False
        return True
    return wait_until(k, cond, None)


def after_syscall(k: KernelApi) -> None:
    """Module code returned to user space: kworkers and softirqs run what is ready."""
    if k.m.in_call() or k.state.get("after_syscall"):
        return
    s = sched(k)
    if s.works or s.tasklets or s.timers or s.hrtimers or s.rcu or s.py or s.tasks:
        k.state["after_syscall"] = True
        try:
            run_ready(k)
            RUNNERS["rcu"](k)
            run_tasks(k)
        finally:
            k.state["after_syscall"] = False
        if s.timers or s.hrtimers or s.tasks:
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
        woken = k.kernel.sleep(lambda: sleeper["woken"])
        sleeper["woken"] = False
        task = current(k)
        flags = k.m.read_u64(task)  # thread_info.flags, first in task_struct
        k.m.write_u64(task, flags & ~TIF_SIGPENDING if woken else flags | TIF_SIGPENDING)
        return
    if run_ready(k) + run_tasks(k):
        return
    nxt = next_event_ns(k)
    now = k.now_ns()
    if nxt is not None:
        k.sleep_ns(max(nxt - now, 0) + 1)
        run_ready(k)
        run_tasks(k)
    else:
        k.sleep_ns(NSEC_PER_JIFFY)


def kthread_schedule(k: KernelApi, t: Task, wake_at: int | None = None) -> None:
    """schedule() in a kthread, by the state it set before (set_current_state): TASK_RUNNING
    only yields; any other sleeps until a wake-up (wake_up_process, a wait queue it is on,
    kthread_stop) or wake_at (schedule_timeout); the wake-up makes it TASK_RUNNING."""
    state_off = k.S.task_struct["__state"]
    if k.m.read_u32(t.task + state_off) == TASK_RUNNING and wake_at is None:
        task_sleep(k, t, k.now_ns(), None)
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
    t = sched(k).tasks.get(p)
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
