"""Kernel threads (kernel/kthread.c): created and stopped as the kernel does; wake_up_process()
is the scheduler's (sched.py). A woken thread's function runs only when a waiting task would
otherwise block forever, and then once, with kthread_should_stop() true inside it, since its loop
would only end at kthread_stop(); kthread_stop() returns what it returned, or -EINTR for a thread
that never ran (documented approximation)."""

from __future__ import annotations

from errno import EINTR

from ...bits import MASK64
from . import KernelApi, VarArgs, kapi
from .completion import complete
from .sched import _callback2, runner, sched

# -- kthreads --------------------------------------------------------------------------------------

@kapi("kthread_create_on_node")
def kthread_create_on_node(k: KernelApi, threadfn: int, data: int, node: int, namefmt: int, args: VarArgs) -> int:
    name = k.format(namefmt, args).decode("utf-8", "replace")
    task = k.m.kmalloc(k.S.task_struct.sizeof, "", k.caller, kind="task")  # the kernel frees it when the thread is reaped
    s = sched(k)
    pid = 200 + len(s.kthreads)
    off_comm = k.S.task_struct.comm
    k.m.write(task + off_comm, name.encode()[:15] + b"\0")
    k.m.write_u32(task + k.S.task_struct.pid, pid)
    k.m.write_u32(task + k.S.task_struct.tgid, pid)
    k.m.write_u32(task + k.S.task_struct.usage, 1)
    s.kthreads[task] = {"fn": threadfn, "data": data, "name": name, "woken": False}
    k.registry.add("kthread", name, task, k.caller_module_name())
    return task


@kapi("kthread_create_on_cpu")
def kthread_create_on_cpu(k: KernelApi, threadfn: int, data: int, cpu: int, namefmt: int) -> int:
    from ..vsprintf import ListArgs

    return kthread_create_on_node(k, threadfn, data, 0, namefmt, ListArgs([cpu]))


@kapi("kthread_stop", "kthread_stop_put")
def kthread_stop(k: KernelApi, p: int) -> int:
    t = sched(k).kthreads.pop(p, None)
    if t is None:
        return 0
    k.registry.remove("kthread", p)
    if t.get("ran") and t.get("ret") is not None:
        return t["ret"] & 0xFFFFFFFF
    return -EINTR & MASK64


@kapi("complete_and_exit", "kthread_complete_and_exit")
def complete_and_exit(k: KernelApi, x: int, code: int) -> None:
    if x:
        complete(k, x)


@runner("kthreads")
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


@kapi("kthread_bind", "kthread_bind_mask", "kthread_park", "kthread_unpark")
def kthread_bind(k: KernelApi, p: int) -> None:
    return None
