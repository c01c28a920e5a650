"""Tasklets (kernel/softirq.c): scheduled ones run with the deferred work (sched.py)."""

from __future__ import annotations

from ...bits import MASK64
from . import KernelApi, kapi
from .sched import _callback, runner, sched

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


@runner("tasklet")
def _run_tasklet(k: KernelApi, t: int) -> None:
    k.m.write_u64(t + 8, k.m.read_u64(t + 8) & ~1 & MASK64)  # TASKLET_STATE_SCHED
    if k.m.read_u32(t + k.S.tasklet_struct.count):
        return  # disabled
    fn = k.m.read_u64(t + k.S.tasklet_struct.func)
    if k.m.read_u8(t + k.S.tasklet_struct.use_callback):
        _callback(k, fn, t, "tasklet")
    elif fn:
        _callback(k, fn, k.m.read_u64(t + k.S.tasklet_struct.data), "tasklet")


