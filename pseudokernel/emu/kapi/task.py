"""Tasks on the one CPU (kernel/sched/core.c's context_switch, kernel/kthread.c's kthread()):
a kernel thread has a CPU context of its own (cpu_context.py) and a host thread, and runs only
while it holds the CPU. switch_to() hands it over (the giver waits), task_sleep() gives it
back; who gives it away and when is sched.py's (a waiting task, the return to user space) and
idle.py's (what falls due while no system call runs). A kthread never moves the clock itself.
"""

from __future__ import annotations

import atexit
import threading
import time
import weakref
from collections.abc import Callable
from errno import EINTR

from ...bits import s32 as _s32
from ..cpu_context import Cpu
from ..traps import CpuStop
from . import KernelApi
from .cpu import current, set_current_task

MAX_SWITCHES = 2000  # kthreads run per hand-over: one that only yields stops there


class Tasks:
    """The kernel threads of one kernel, and who holds the CPU among them."""

    def __init__(self) -> None:
        self.tasks: dict[int, Task] = {}  # task_struct -> the kernel thread
        self.running: Task | None = None  # the kthread holding the CPU, if one does
        self.kthreads_made = 0
        self.idle: threading.Thread | None = None  # the idle task's host thread (idle.py)
        self.cond = threading.Condition()  # the CPU handed between host threads
        self.closing = False

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


LIVE: weakref.WeakSet[Tasks] = weakref.WeakSet()  # kernels with kthreads or an idle task
_tracking = False


def tasks(k: KernelApi) -> Tasks:
    t = k.state.get("tasks")
    if t is None:
        t = k.state["tasks"] = Tasks()
    return t


TASK_RUNNING = 0
TASK_INTERRUPTIBLE = 0x1
TIF_SIGPENDING = 1 << 2
TIF_NOTIFY_SIGNAL = 1 << 17  # kthread_stop() sets it: signal_pending() is true from then on


def notified(k: KernelApi, t: Task) -> bool:
    """signal_pending(t) of a kthread (include/linux/sched/signal.h): thread_info.flags, the
    first word of its task_struct, has TIF_NOTIFY_SIGNAL (kthread_stop()) or TIF_SIGPENDING."""
    return bool(k.m.read_u64(t.task) & (TIF_NOTIFY_SIGNAL | TIF_SIGPENDING))


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
    s = k.state.get("tasks")
    return s.running if s is not None else None


def _enter(k: KernelApi, t: Task) -> None:
    """t's context on the CPU: its registers, its task_struct as current."""
    k.m.switch_cpu(t.cpu)
    kernel = k.kernel
    kernel.current_pid, kernel.current_comm, kernel.current_where = t.pid, t.name, "kthread"
    kernel.current_uid = kernel.current_gid = 0
    tasks(k).running = t
    set_current_task(k, t.task)


def _leave(k: KernelApi) -> None:
    tasks(k).running = None
    k.m.switch_cpu(k.m.main_cpu)
    set_current_task(k, current(k))


def switch_to(k: KernelApi, t: Task) -> None:
    """Hand the CPU to t until it sleeps or ends. Called by a process's task (or the idle
    task) holding the CPU; what it was doing resumes as it was."""
    s, m, kernel = tasks(k), k.m, k.kernel
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


def _granted(s: Tasks, t: Task) -> bool:
    """Wait (t's host thread) until the CPU is handed to t; False: the kernel is going away."""
    with s.cond:
        while not t.granted and not s.closing:
            s.cond.wait()
        t.granted = False
        return not s.closing


def _task_main(k: KernelApi, t: Task) -> None:
    """kthread(): the thread function runs once it is first woken, unless it was stopped
    before (kthread_stop() of a thread never woken: -EINTR, its function never called)."""
    s, m = tasks(k), k.m
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
        if not t.should_stop:
            # it ended on its own (do_exit, a return): reaped, nothing of it is the module's
            # to stop; a kthread_stop() that still comes (holding a reference) reads its value
            k.registry.remove("kthread", t.task)
            m.free_cpu(t.cpu)
            t.cpu = None
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
    s, m = tasks(k), k.m
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


def run_tasks(k: KernelApi, limit: int = MAX_SWITCHES) -> int:
    """Give the CPU to each kthread that may run, until none may; how many times one ran.
    Only a process's task or the idle task hands the CPU over (a kthread sleeps instead)."""
    s = k.state.get("tasks")
    if s is None or not s.tasks or s.running is not None:
        return 0
    ran = 0
    while ran < limit:
        t = next((t for t in list(s.tasks.values()) if t.ready(k)), None)
        if t is None:
            break
        switch_to(k, t)
        ran += 1
        if s.tasks.get(t.task) is t:  # to the back of the line: one that only yields leaves the others a turn
            s.tasks[t.task] = s.tasks.pop(t.task)
    return ran


def next_wake_ns(k: KernelApi) -> int | None:
    """When the earliest sleeping kthread's time comes."""
    s = k.state.get("tasks")
    times = [t.wake_at for t in s.tasks.values() if t.state == "sleeping" and t.wake_at is not None] if s else []
    return min(times) if times else None


def close_tasks(k: KernelApi, timeout: float = 2.0) -> bool:
    """The kernel goes away: every kthread's host thread and the idle task end (a sleeping
    thread's stack unwinds). False if one is still running module code after timeout: its
    CPU context must then not be freed under it."""
    s = k.state.get("tasks")
    return s.close(timeout) if s is not None else True


def track(s: Tasks) -> None:
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
