"""The idle task (kernel/sched/idle.c): the CPU's task when no other wants it.

While no system call holds the CPU, it waits on the host for the moment the earliest sleeping
kthread's time comes or a timer is due (the emulated clock follows real time while nothing
runs), then takes the CPU, as pid 0 (swapper/0), and runs what is due: the timer softirq,
work items, and the kthreads that may run. So a kthread that prints each second, or a timer
re-armed each second, goes on between insmod and rmmod as on the real kernel. It exists from
the first kthread or timer a module makes; a kernel without either has no such thread.
"""

from __future__ import annotations

import threading
import weakref

from . import KernelApi
from .sched import IDLE_TASK, RUNNERS, next_event_ns, run_ready, runner, sched
from .task import run_tasks, tasks, track

POLL = 0.02  # seconds: how soon a timer armed meanwhile (the next event moved closer) is seen
IDLE_WAIT = 0.5  # seconds, with nothing pending at all


@runner("idle")
def start_idle(k: KernelApi) -> None:
    """There is something the idle task may have to run later (a kthread, a timer)."""
    s = tasks(k)
    if s.idle is None and not s.closing:
        track(s)
        s.idle = threading.Thread(target=_idle_loop, args=(weakref.ref(k),), name="pseudokernel-idle", daemon=True)
        s.idle.start()


def _due(k: KernelApi) -> tuple[bool, float]:
    """(whether something is due now, seconds until something may be), asked holding the CPU."""
    s, ts = sched(k), tasks(k)
    if ts.running is not None:
        return False, POLL
    if any(t.ready(k) for t in ts.tasks.values()) or s.works or s.tasklets or s.py:
        return True, 0.0
    nxt = next_event_ns(k)
    if nxt is None:
        return False, IDLE_WAIT if not ts.tasks else POLL
    left = (nxt - k.now_ns()) / 1e9
    return left <= 0, min(max(left, 0.0), POLL)


def _idle_loop(ref: weakref.ref) -> None:
    """Holds the kernel only while it looks (a kernel dropped without close() is collected,
    and its idle task ends); ends when nothing is left that could fall due."""
    wait = 0.0
    while True:
        k = ref()
        if k is None:
            return
        s, ts = sched(k), tasks(k)
        cond = ts.cond
        del k
        with cond:
            if ts.closing:
                return
            if wait:
                cond.wait(wait)
            if ts.closing:
                return
        k = ref()
        if k is None:
            return
        kernel, m = k.kernel, k.m
        if not kernel.syscall_lock.acquire(timeout=POLL):  # a system call runs: it runs what is due
            wait = 0.0
            del k, kernel, m
            continue
        ran = False
        try:
            with m.lock:
                if not (ts.tasks or s.timers or s.hrtimers or s.works or s.tasklets):
                    ts.idle = None
                    return
                due, wait = _due(k)
                if due:
                    (kernel.current_pid, kernel.current_comm), kernel.current_where = IDLE_TASK, "idle"
                    kernel.current_uid = kernel.current_gid = 0
                    k._tick()
                    ran = bool(run_ready(k) + run_tasks(k))
                    RUNNERS["rcu"](k)
                    _, wait = _due(k)
                    wait = max(wait, 0.001)  # a kthread that never sleeps leaves the others a turn
        except Exception:  # the idle task must never end the daemon (a fault is reported where it happens)
            wait = POLL
        finally:
            kernel.syscall_lock.release()
            del k, m
        if ran:
            kernel._changed(wait=False)
        del kernel
