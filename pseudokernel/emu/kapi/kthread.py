"""Kernel threads (kernel/kthread.c): each a task of its own with its own CPU context
(task.py's Task), created asleep as kthreadd leaves it, run from the first wake_up_process(),
stopped by kthread_stop() as the kernel stops one: the stop flag and TIF_NOTIFY_SIGNAL set (so
its interruptible waits end), the thread woken, and the caller waits until its function has
returned, whose value kthread_stop() returns."""

from __future__ import annotations

from errno import EINTR

from ...bits import MASK64
from . import KernelApi, VarArgs, kapi
from .completion import complete
from .idle import start_idle
from .sched import wait_until
from .task import TIF_NOTIFY_SIGNAL, Task, TaskExit, running_task, tasks

FIRST_KTHREAD_PID = 200

# -- kthreads --------------------------------------------------------------------------------------

@kapi("kthread_create_on_node")
def kthread_create_on_node(k: KernelApi, threadfn: int, data: int, node: int, namefmt: int, args: VarArgs) -> int:
    name = k.format(namefmt, args).decode("utf-8", "replace")
    task = k.m.kmalloc(k.S.task_struct.sizeof, "", k.caller, kind="task")  # the kernel frees it when the thread is reaped
    s = tasks(k)
    pid = FIRST_KTHREAD_PID + s.kthreads_made
    s.kthreads_made += 1
    off_comm = k.S.task_struct.comm
    k.m.write(task + off_comm, name.encode()[:15] + b"\0")
    k.m.write_u32(task + k.S.task_struct.pid, pid)
    k.m.write_u32(task + k.S.task_struct.tgid, pid)
    k.m.write_u32(task + k.S.task_struct.usage, 1)
    k.m.write_u32(task + k.S.task_struct["__state"], 0x2)  # TASK_UNINTERRUPTIBLE, as kthread() waits
    s.tasks[task] = Task(task, pid, name, threadfn, data, k.m.new_cpu())
    k.registry.add("kthread", name, task, k.caller_module_name())
    start_idle(k)
    return task


@kapi("kthread_create_on_cpu")
def kthread_create_on_cpu(k: KernelApi, threadfn: int, data: int, cpu: int, namefmt: int) -> int:
    from ..vsprintf import ListArgs

    return kthread_create_on_node(k, threadfn, data, 0, namefmt, ListArgs([cpu]))


@kapi("kthread_stop", "kthread_stop_put")
def kthread_stop(k: KernelApi, p: int) -> int:
    """Set the stop flag, wake the thread, wait for its function to return: its value (or
    -EINTR for a thread never woken, whose function never runs)."""
    s = tasks(k)
    t = s.tasks.get(p)
    if t is None:
        return 0
    t.should_stop = True
    k.m.write_u64(p, k.m.read_u64(p) | TIF_NOTIFY_SIGNAL)  # interruptible waits end (-ERESTARTSYS)
    if t.state == "new":
        t.state = "runnable"
    t.woken = True
    if t.state != "dead":
        wait_until(k, lambda: t.state == "dead", None)
    if t.state != "dead":
        return -EINTR & MASK64  # it could not be run to its end (the daemon is going away)
    del s.tasks[p]
    if t.cpu is not None:
        k.m.free_cpu(t.cpu)
    k.registry.remove("kthread", p)
    return (t.ret if t.ret is not None else 0) & MASK64


@kapi("complete_and_exit", "kthread_complete_and_exit", "kthread_exit", "do_exit")
def kthread_complete_and_exit(k: KernelApi, x: int, code: int | None = None) -> None:
    """do_exit() of the running kthread: its function ends here with code (after complete(x)
    for the _complete_ variants)."""
    name = k.stub.name if k.stub else ""
    if name in ("kthread_exit", "do_exit"):
        x, code = 0, x
    if x:
        complete(k, x)
    if running_task(k) is not None:
        raise TaskExit(code or 0)


@kapi("kthread_should_stop", "kthread_freezable_should_stop")
def kthread_should_stop(k: KernelApi) -> int:
    t = running_task(k)
    return int(t is not None and t.should_stop)


@kapi("kthread_should_park")
def kthread_should_park(k: KernelApi) -> int:
    return 0


@kapi("kthread_bind", "kthread_bind_mask", "kthread_park", "kthread_unpark")
def kthread_bind(k: KernelApi, p: int) -> None:
    return None
