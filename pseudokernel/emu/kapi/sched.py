"""Time and deferred work: jiffies and clocks, delays and sleeps, timers and hrtimers,
workqueues, tasklets, RCU callbacks, completions, wait queues and kthreads
(kernel/time/, kernel/workqueue.c, kernel/sched/, kernel/kthread.c).

There is one CPU and the module's task is the only one running, so nothing runs "in the
background". Deferred work runs when the running task gives the CPU away: when it sleeps
(msleep, schedule_timeout, usleep_range: the emulated clock jumps to the end of the sleep, and
the timers and work due by then run first), when it waits (wait_for_completion, wait_event's
schedule(), flush_work, flush_workqueue, rcu_barrier), and after a syscall's module code has
returned (what was ready runs, as kworkers would run it right after). A callback that faults
is reported as the kernel reports a fault in a kworker, and the waiting task goes on.

A kthread is created but its function never runs: its loop would only end at kthread_stop(),
which then returns -EINTR as for a thread that was never woken (documented approximation).
"""

from __future__ import annotations

import time
from errno import EINTR

from ..machine import Budget, CpuStop
from . import HZ, KernelApi, VarArgs, kapi, kboot, kdata
from . import s64 as _s64

MASK64 = (1 << 64) - 1
NSEC_PER_JIFFY = 1_000_000_000 // HZ
MAX_SCHEDULE_TIMEOUT = (1 << 63) - 1
WORK_STRUCT_PENDING = 1
UINT_MAX = 0xFFFFFFFF
MAX_DEFERRED = 2000  # callbacks run per wait: a timer re-arming itself forever stops there
LIST_POISON2 = 0xDEAD000000000122


class Sched:
    """Pending timers, hrtimers, work items, tasklets and RCU callbacks of one kernel."""

    def __init__(self) -> None:
        self.timers: dict[int, int] = {}  # timer_list -> expires (jiffies)
        self.hrtimers: dict[int, int] = {}  # hrtimer -> expires (ns)
        self.works: dict[int, int] = {}  # work_struct -> workqueue (FIFO by insertion)
        self.tasklets: dict[int, None] = {}
        self.rcu: list[tuple[int, int]] = []  # (head, func)
        self.kthreads: dict[int, dict] = {}
        self.workqueues: dict[int, str] = {}
        self.py: list = []  # deferred Python work (async firmware requests ...)
        self.depth = 0
        self.ran = 0


def sched(k: KernelApi) -> Sched:
    s = k.state.get("sched")
    if s is None:
        s = k.state["sched"] = Sched()
    return s


def time_after_eq(a: int, b: int) -> bool:
    return _s64(a - b) >= 0


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


def run_ready(k: KernelApi, limit: int = MAX_DEFERRED) -> int:
    """Run what is ready now: queued work, tasklets, expired timers. Returns how many ran."""
    s = sched(k)
    if s.depth > 2:
        return 0
    s.depth += 1
    ran = 0
    try:
        while ran < limit:
            progressed = False
            if s.py:
                s.py.pop(0)(k)
                ran += 1
                progressed = True
            if s.tasklets:
                t = next(iter(s.tasklets))
                del s.tasklets[t]
                _run_tasklet(k, t)
                ran += 1
                progressed = True
            if s.works:
                work = next(iter(s.works))
                del s.works[work]
                _run_work(k, work)
                ran += 1
                progressed = True
            now = k.jiffies()
            due = [t for t, exp in s.timers.items() if time_after_eq(now, exp)]
            for t in sorted(due, key=lambda t: s.timers[t])[: max(limit - ran, 0)]:
                if t in s.timers:
                    _fire_timer(k, t)
                    ran += 1
                    progressed = True
            now_ns = k.now_ns()
            for t in [t for t, exp in s.hrtimers.items() if exp <= now_ns][: max(limit - ran, 0)]:
                if t in s.hrtimers:
                    _fire_hrtimer(k, t)
                    ran += 1
                    progressed = True
            if not progressed:
                break
    finally:
        s.depth -= 1
    s.ran += ran
    return ran


def next_event_ns(k: KernelApi) -> int | None:
    """When the next timer or hrtimer is due, on the emulated clock."""
    s = sched(k)
    now_j, now_ns = k.jiffies(), k.now_ns()
    best = None
    for exp in s.timers.values():
        d = max(_s64(exp - now_j), 0) * NSEC_PER_JIFFY
        best = d if best is None else min(best, d)
    for exp in s.hrtimers.values():
        d = max(exp - now_ns, 0)
        best = d if best is None else min(best, d)
    return None if best is None else now_ns + best


def sleep_until(k: KernelApi, deadline_ns: int, until=None) -> bool:
    """Sleep until deadline_ns (or until `until()` holds): run what falls due meanwhile.
    Returns whether `until` became true."""
    for _ in range(MAX_DEFERRED):
        run_ready(k)
        if until is not None and until():
            return True
        nxt = next_event_ns(k)
        now = k.now_ns()
        if nxt is None or nxt > deadline_ns:
            if deadline_ns > now:
                k.sleep_ns(deadline_ns - now)
            run_ready(k)
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
    for _ in range(MAX_DEFERRED):
        if run_ready(k) and cond():
            return True
        if cond():
            return True
        nxt = next_event_ns(k)
        now = k.now_ns()
        if nxt is None and start_kthreads(k):
            continue
        if nxt is None or (deadline is not None and nxt > deadline):
            if deadline is not None and deadline > now:
                k.sleep_ns(deadline - now)
                run_ready(k)
            elif deadline is None:
                k._record_unhandled(f"{k.stub.name if k.stub else 'wait'} (never woken)")
            return cond()
        k.sleep_ns(max(nxt - now, 0) + 1)
    return cond()


def after_syscall(k: KernelApi) -> None:
    """Module code returned to user space: kworkers and softirqs run what is ready."""
    if k.m.in_call() or k.state.get("after_syscall"):
        return
    s = sched(k)
    if s.works or s.tasklets or s.timers or s.hrtimers or s.rcu or s.py:
        k.state["after_syscall"] = True
        try:
            run_ready(k)
            _run_rcu(k)
        finally:
            k.state["after_syscall"] = False


# -- timers ---------------------------------------------------------------------------------------

def _timer_set_pending(k: KernelApi, timer: int, pending: bool) -> None:
    if pending:
        k.m.write_u64(timer + 8, timer)  # entry.pprev: anything non-NULL means "pending"
    else:
        k.m.write_u64(timer, LIST_POISON2)
        k.m.write_u64(timer + 8, 0)


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


# -- hrtimers -------------------------------------------------------------------------------------

@kapi("hrtimer_init", "hrtimer_init_sleeper")
def hrtimer_init(k: KernelApi, timer: int, clock_id: int, mode: int) -> None:
    k.m.write(timer, bytes(k.S.hrtimer.sizeof))
    sched(k).hrtimers.pop(timer, None)


@kapi("hrtimer_start_range_ns")
def hrtimer_start_range_ns(k: KernelApi, timer: int, tim: int, delta_ns: int, mode: int) -> None:
    tim = _s64(tim)
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
    exp = _s64(k.m.read_u64(timer + off))
    now, interval = _s64(now), _s64(interval)
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


def _fire_hrtimer(k: KernelApi, timer: int) -> None:
    s = sched(k)
    s.hrtimers.pop(timer, None)
    k.m.write_u8(timer + k.S.hrtimer.state, 0)
    fn = k.m.read_u64(timer + k.S.hrtimer.function)
    if not fn:
        return
    ret = _callback(k, fn, timer, "hrtimer")
    if ret is not None and (ret & 0xFFFFFFFF) == 1:  # HRTIMER_RESTART
        exp = _s64(k.m.read_u64(timer + k.S.hrtimer.node + 24))
        if exp > k.now_ns() - 10**12:
            s.hrtimers[timer] = max(exp, k.now_ns() + 1)
            k.m.write_u8(timer + k.S.hrtimer.state, 1)


# -- workqueues -----------------------------------------------------------------------------------

def _wq_alloc(k: KernelApi, name: str) -> int:
    wq = k.m.kmalloc(k.S.workqueue_struct.sizeof, "", 0, kind="workqueue")
    sched(k).workqueues[wq] = name
    k.kernel_registry().add("workqueue", name, wq, k.caller_module_name())
    return wq


@kapi("alloc_workqueue")
def alloc_workqueue(k: KernelApi, fmt: int, flags: int, max_active: int, args: VarArgs) -> int:
    name = k.format(fmt, args).decode("utf-8", "replace")
    wq = k.m.kmalloc(k.S.workqueue_struct.sizeof, k.caller_module_name(), k.caller, kind="workqueue")
    sched(k).workqueues[wq] = name
    k.kernel_registry().add("workqueue", name, wq, k.caller_module_name())
    return wq


@kapi("destroy_workqueue")
def destroy_workqueue(k: KernelApi, wq: int) -> None:
    flush_workqueue(k, wq)
    s = sched(k)
    if wq in s.workqueues:
        del s.workqueues[wq]
        k.kernel_registry().remove("workqueue", wq)
        k.kfree(wq)


for _wq in ("system_wq", "system_highpri_wq", "system_long_wq", "system_unbound_wq", "system_freezable_wq",
            "system_power_efficient_wq", "system_freezable_power_efficient_wq"):
    def _init(k: KernelApi, addr: int, _name: str = _wq) -> None:
        wq = k.m.kmalloc(k.S.workqueue_struct.sizeof, "", 0, kind="workqueue")
        sched(k).workqueues[wq] = _name.replace("system_", "events_").replace("events_wq", "events")
        k.m.write_u64(addr, wq)

    kdata(_wq)(_init)


def _work_pending(k: KernelApi, work: int) -> bool:
    return bool(k.m.read_u64(work) & WORK_STRUCT_PENDING)


def _queue(k: KernelApi, wq: int, work: int) -> bool:
    if _work_pending(k, work):
        return False
    k.m.write_u64(work, k.m.read_u64(work) | WORK_STRUCT_PENDING)
    sched(k).works[work] = wq
    return True


def _run_work(k: KernelApi, work: int) -> None:
    k.m.write_u64(work, k.m.read_u64(work) & ~WORK_STRUCT_PENDING & MASK64)
    fn = k.m.read_u64(work + k.S.work_struct.func)
    if fn:
        _callback(k, fn, work, "work")


@kapi("queue_work_on")
def queue_work_on(k: KernelApi, cpu: int, wq: int, work: int) -> int:
    return int(_queue(k, wq, work))


@kapi("queue_work_node")
def queue_work_node(k: KernelApi, node: int, wq: int, work: int) -> int:
    return int(_queue(k, wq, work))


def _dwork_timer(k: KernelApi, dwork: int) -> int:
    return dwork + k.S.delayed_work.timer


@kapi("queue_delayed_work_on")
def queue_delayed_work_on(k: KernelApi, cpu: int, wq: int, dwork: int, delay: int) -> int:
    if _work_pending(k, dwork):
        return 0
    return int(_queue_delayed(k, wq, dwork, delay))


def _queue_delayed(k: KernelApi, wq: int, dwork: int, delay: int) -> bool:
    k.m.write_u64(dwork + k.S.delayed_work.wq, wq)
    if delay == 0:
        return _queue(k, wq, dwork)
    k.m.write_u64(dwork, k.m.read_u64(dwork) | WORK_STRUCT_PENDING)
    timer = _dwork_timer(k, dwork)
    k.m.write_u64(timer + k.S.timer_list.function, k.function("delayed_work_timer_fn"))
    expires = (k.jiffies() + delay) & MASK64
    k.m.write_u64(timer + k.S.timer_list.expires, expires)
    sched(k).timers[timer] = expires
    _timer_set_pending(k, timer, True)
    return True


@kapi("mod_delayed_work_on")
def mod_delayed_work_on(k: KernelApi, cpu: int, wq: int, dwork: int, delay: int) -> int:
    was = _cancel(k, dwork, delayed=True)
    _queue_delayed(k, wq, dwork, delay)
    return int(was)


@kapi("delayed_work_timer_fn")
def delayed_work_timer_fn(k: KernelApi, t: int) -> None:
    dwork = t - k.S.delayed_work.timer
    wq = k.m.read_u64(dwork + k.S.delayed_work.wq)
    k.m.write_u64(dwork, k.m.read_u64(dwork) & ~WORK_STRUCT_PENDING & MASK64)
    _queue(k, wq, dwork)


def _cancel(k: KernelApi, work: int, delayed: bool) -> bool:
    s = sched(k)
    was = False
    if delayed:
        timer = _dwork_timer(k, work)
        if s.timers.pop(timer, None) is not None:
            _timer_set_pending(k, timer, False)
            was = True
    if s.works.pop(work, None) is not None:
        was = True
    if _work_pending(k, work):
        was = True
    k.m.write_u64(work, k.m.read_u64(work) & ~WORK_STRUCT_PENDING & MASK64)
    return was


@kapi("cancel_work_sync", "cancel_work")
def cancel_work_sync(k: KernelApi, work: int) -> int:
    return int(_cancel(k, work, delayed=False))


@kapi("cancel_delayed_work", "cancel_delayed_work_sync")
def cancel_delayed_work(k: KernelApi, dwork: int) -> int:
    return int(_cancel(k, dwork, delayed=True))


@kapi("flush_work")
def flush_work(k: KernelApi, work: int) -> int:
    s = sched(k)
    if work in s.works:
        del s.works[work]
        _run_work(k, work)
        return 1
    return 0


@kapi("flush_delayed_work")
def flush_delayed_work(k: KernelApi, dwork: int) -> int:
    s = sched(k)
    timer = _dwork_timer(k, dwork)
    if s.timers.pop(timer, None) is not None:
        _timer_set_pending(k, timer, False)
        k.m.write_u64(dwork, k.m.read_u64(dwork) & ~WORK_STRUCT_PENDING & MASK64)
        _queue(k, k.m.read_u64(dwork + k.S.delayed_work.wq), dwork)
    return flush_work(k, dwork)


@kapi("__flush_workqueue", "drain_workqueue", "flush_scheduled_work")
def flush_workqueue(k: KernelApi, wq: int = 0) -> None:
    s = sched(k)
    for _ in range(MAX_DEFERRED):
        mine = [w for w, q in s.works.items() if q == wq or not wq]
        if not mine:
            break
        for w in mine:
            if w in s.works:
                del s.works[w]
                _run_work(k, w)


@kapi("work_busy")
def work_busy(k: KernelApi, work: int) -> int:
    return int(_work_pending(k, work))


@kapi("workqueue_set_max_active", "set_workqueue_cpumask")
def workqueue_set_max_active(k: KernelApi, wq: int, max_active: int) -> None:
    return None


# -- tasklets and softirqs ----------------------------------------------------------------------

@kapi("tasklet_setup")
def tasklet_setup(k: KernelApi, t: int, callback: int) -> None:
    k.m.write(t, bytes(k.S.tasklet_struct.sizeof))
    k.m.write_u8(t + k.S.tasklet_struct.use_callback, 1)
    k.m.write_u64(t + k.S.tasklet_struct.callback, callback)


@kapi("tasklet_init")
def tasklet_init(k: KernelApi, t: int, func: int, data: int) -> None:
    k.m.write(t, bytes(k.S.tasklet_struct.sizeof))
    k.m.write_u64(t + k.S.tasklet_struct.func, func)
    k.m.write_u64(t + k.S.tasklet_struct.data, data)


@kapi("__tasklet_schedule", "__tasklet_hi_schedule")
def __tasklet_schedule(k: KernelApi, t: int) -> None:
    sched(k).tasklets[t] = None


@kapi("tasklet_kill", "tasklet_unlock_wait")
def tasklet_kill(k: KernelApi, t: int) -> None:
    sched(k).tasklets.pop(t, None)
    k.m.write_u64(t + 8, 0)


def _run_tasklet(k: KernelApi, t: int) -> None:
    k.m.write_u64(t + 8, k.m.read_u64(t + 8) & ~1 & MASK64)  # TASKLET_STATE_SCHED
    if k.m.read_u32(t + k.S.tasklet_struct.count):
        return  # disabled
    fn = k.m.read_u64(t + k.S.tasklet_struct.func)
    if k.m.read_u8(t + k.S.tasklet_struct.use_callback):
        _callback(k, fn, t, "tasklet")
    elif fn:
        _callback(k, fn, k.m.read_u64(t + k.S.tasklet_struct.data), "tasklet")


# -- RCU ------------------------------------------------------------------------------------------

@kapi("call_rcu", "call_srcu_head")
def call_rcu(k: KernelApi, head: int, func: int) -> None:
    sched(k).rcu.append((head, func))


@kapi("call_srcu")
def call_srcu(k: KernelApi, ssp: int, head: int, func: int) -> None:
    sched(k).rcu.append((head, func))


@kapi("kvfree_call_rcu")
def kvfree_call_rcu(k: KernelApi, head: int, func: int) -> None:
    """kfree_rcu(): `func` is the offset of the rcu_head in the object (< 4096)."""
    if func < 4096:
        k.kfree(head - func)
    else:
        sched(k).rcu.append((head, func))


def _run_rcu(k: KernelApi) -> None:
    s = sched(k)
    for _ in range(10):
        if not s.rcu:
            break
        todo, s.rcu = s.rcu, []
        for head, func in todo:
            _callback(k, func, head, "rcu")


@kapi("synchronize_rcu", "synchronize_rcu_expedited", "rcu_barrier", "synchronize_net", "synchronize_srcu",
      "srcu_barrier", "synchronize_rcu_tasks", "rcu_barrier_tasks", "synchronize_rcu_tasks_trace",
      "rcu_barrier_tasks_trace")
def synchronize_rcu(k: KernelApi) -> None:
    _run_rcu(k)


@kapi("__rcu_read_lock", "__rcu_read_unlock", "rcu_read_unlock_strict")
def rcu_read_lock(k: KernelApi) -> None:
    return None


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


@kapi("__udelay", "__ndelay", "__const_udelay", "__delay")
def __udelay(k: KernelApi, n: int) -> None:
    """A busy wait: time passes, nothing else runs (one CPU, spinning)."""
    name = k.stub.name if k.stub else "__udelay"
    if name == "__const_udelay":
        ns = n * 1000 // 0x10C7  # xloops = usecs * 0x10c7
    elif name == "__ndelay":
        ns = n
    elif name == "__delay":
        ns = n // 2
    else:
        ns = n * 1000
    k.sleep_ns(min(ns, 10**10))


@kapi("schedule_timeout", "schedule_timeout_interruptible", "schedule_timeout_killable",
      "schedule_timeout_uninterruptible", "schedule_timeout_idle", "io_schedule_timeout")
def schedule_timeout(k: KernelApi, timeout: int) -> int:
    t = _s64(timeout)
    if t >= MAX_SCHEDULE_TIMEOUT or t < 0:
        schedule(k)
        return MAX_SCHEDULE_TIMEOUT
    sleep_until(k, k.now_ns() + t * NSEC_PER_JIFFY)
    return 0


@kapi("schedule", "io_schedule", "preempt_schedule", "preempt_schedule_notrace", "__SCT__preempt_schedule",
      "__SCT__preempt_schedule_notrace", "yield")
def schedule(k: KernelApi) -> None:
    """The task blocks: deferred work runs; if nothing was ready, time moves on to the next
    timer (or by a tick, so that jiffies-based loops end)."""
    if run_ready(k):
        return
    nxt = next_event_ns(k)
    now = k.now_ns()
    if nxt is not None:
        k.sleep_ns(max(nxt - now, 0) + 1)
        run_ready(k)
    else:
        k.sleep_ns(NSEC_PER_JIFFY)


@kapi("__cond_resched", "_cond_resched", "__SCT__cond_resched", "__SCT__might_resched", "__might_sleep",
      "__might_resched", "__might_fault", "__cant_sleep", "__SCT__preempt_schedule")
def cond_resched(k: KernelApi) -> int:
    return 0


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
    t = _s64(timeout)
    start = k.jiffies()
    ok = wait_until(k, lambda: k.m.read_u32(x) != 0, max(t, 0) * NSEC_PER_JIFFY)
    if not ok:
        return 0
    _take(k, x)
    left = t - _s64(k.jiffies() - start)
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


# -- kthreads --------------------------------------------------------------------------------------

@kapi("kthread_create_on_node")
def kthread_create_on_node(k: KernelApi, threadfn: int, data: int, node: int, namefmt: int, args: VarArgs) -> int:
    name = k.format(namefmt, args).decode("utf-8", "replace")
    task = k.m.kmalloc(k.S.task_struct.sizeof, k.caller_module_name(), k.caller, kind="task")
    s = sched(k)
    pid = 200 + len(s.kthreads)
    off_comm = k.S.task_struct.comm
    k.m.write(task + off_comm, name.encode()[:15] + b"\0")
    k.m.write_u32(task + k.S.task_struct.pid, pid)
    k.m.write_u32(task + k.S.task_struct.tgid, pid)
    k.m.write_u32(task + k.S.task_struct.usage, 1)
    s.kthreads[task] = {"fn": threadfn, "data": data, "name": name, "woken": False}
    k.kernel_registry().add("kthread", name, task, k.caller_module_name())
    return task


@kapi("kthread_create_on_cpu")
def kthread_create_on_cpu(k: KernelApi, threadfn: int, data: int, cpu: int, namefmt: int) -> int:
    from ..vsprintf import ListArgs

    return kthread_create_on_node(k, threadfn, data, 0, namefmt, ListArgs([cpu]))


@kapi("wake_up_process", "wake_up_state")
def wake_up_process(k: KernelApi, p: int) -> int:
    t = sched(k).kthreads.get(p)
    if t is not None and not t["woken"]:
        t["woken"] = True
        return 1
    return 0


@kapi("kthread_stop", "kthread_stop_put")
def kthread_stop(k: KernelApi, p: int) -> int:
    t = sched(k).kthreads.pop(p, None)
    if t is None:
        return 0
    k.kernel_registry().remove("kthread", p)
    if t.get("ran") and t.get("ret") is not None:
        return t["ret"] & 0xFFFFFFFF
    return -EINTR & MASK64


def start_kthreads(k: KernelApi) -> bool:
    """The waiting task would block forever: let the woken kthreads run. Each runs its loop
    once and is then asked to stop (kthread_should_stop() is true inside it), since a thread's
    loop only ends on kthread_stop(); its function's return is kept for kthread_stop()."""
    s = sched(k)
    todo = [t for t, info in s.kthreads.items() if info["woken"] and not info.get("ran")]
    for task in todo:
        info = s.kthreads[task]
        info["ran"] = True
        k.state["kthread_stopping"] = k.state.get("kthread_stopping", 0) + 1
        try:
            ret = _callback2(k, info["fn"], info["data"], None, "kthread", budget=0.2)
        finally:
            k.state["kthread_stopping"] -= 1
        info["ret"] = ret
    return bool(todo)


@kapi("kthread_should_stop", "kthread_freezable_should_stop", "kthread_should_park")
def kthread_should_stop(k: KernelApi) -> int:
    return int(k.state.get("kthread_stopping", 0) > 0 and (k.stub is None or k.stub.name != "kthread_should_park"))


@kapi("kthread_bind", "kthread_bind_mask", "set_user_nice", "sched_set_fifo", "sched_set_fifo_low",
      "sched_set_normal", "kthread_park", "kthread_unpark")
def kthread_bind(k: KernelApi, p: int) -> None:
    return None


@kapi("get_current", "__get_current")
def get_current(k: KernelApi) -> int:
    return k.current_task()


# -- clocks ---------------------------------------------------------------------------------------

@kapi("ktime_get", "ktime_get_raw", "ktime_get_mono_fast_ns", "ktime_get_raw_fast_ns", "local_clock",
      "sched_clock", "sched_clock_cpu", "ktime_get_boot_fast_ns", "ktime_get_tai_fast_ns", "running_clock",
      "ktime_get_coarse", "ktime_get_coarse_with_offset")
def ktime_get(k: KernelApi) -> int:
    return k.now_ns()


REALTIME_OFFSET_NS = 1_795_000_000 * 10**9  # wall clock of the emulated machine at boot


@kapi("ktime_get_with_offset")
def ktime_get_with_offset(k: KernelApi, offs: int) -> int:
    return k.now_ns() + (REALTIME_OFFSET_NS if offs == 0 else 0)


@kapi("ktime_get_real_seconds", "ktime_get_seconds")
def ktime_get_real_seconds(k: KernelApi) -> int:
    base = REALTIME_OFFSET_NS if k.stub and k.stub.name == "ktime_get_real_seconds" else 0
    return (k.now_ns() + base) // 10**9


@kapi("ktime_get_real_ts64", "ktime_get_ts64", "ktime_get_raw_ts64", "ktime_get_coarse_real_ts64",
      "ktime_get_coarse_ts64", "ktime_get_boottime_ts64")
def ktime_get_ts64(k: KernelApi, ts: int) -> None:
    ns = k.now_ns() + (REALTIME_OFFSET_NS if "real" in (k.stub.name if k.stub else "") else 0)
    k.m.write_u64(ts, ns // 10**9)
    k.m.write_u64(ts + 8, ns % 10**9)


@kapi("get_jiffies_64")
def get_jiffies_64(k: KernelApi) -> int:
    return k.jiffies()


@kapi("jiffies_to_msecs")
def jiffies_to_msecs(k: KernelApi, j: int) -> int:
    return (j * (1000 // HZ)) & 0xFFFFFFFF


@kapi("jiffies_to_usecs")
def jiffies_to_usecs(k: KernelApi, j: int) -> int:
    return (j * (1_000_000 // HZ)) & 0xFFFFFFFF


@kapi("__msecs_to_jiffies")
def __msecs_to_jiffies(k: KernelApi, m: int) -> int:
    m &= 0xFFFFFFFF
    if m >> 31:
        return MAX_SCHEDULE_TIMEOUT
    return (m + (1000 // HZ) - 1) // (1000 // HZ)


@kapi("__usecs_to_jiffies")
def __usecs_to_jiffies(k: KernelApi, u: int) -> int:
    u &= 0xFFFFFFFF
    return (u + (1_000_000 // HZ) - 1) // (1_000_000 // HZ)


@kapi("nsecs_to_jiffies", "nsecs_to_jiffies64")
def nsecs_to_jiffies(k: KernelApi, n: int) -> int:
    return n // NSEC_PER_JIFFY


@kapi("jiffies_to_timespec64")
def jiffies_to_timespec64(k: KernelApi, j: int, value: int) -> None:
    ns = j * NSEC_PER_JIFFY
    k.m.write_u64(value, ns // 10**9)
    k.m.write_u64(value + 8, ns % 10**9)


@kapi("round_jiffies", "round_jiffies_up", "round_jiffies_relative", "round_jiffies_up_relative",
      "__round_jiffies", "__round_jiffies_relative")
def round_jiffies(k: KernelApi, j: int) -> int:
    return j


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
