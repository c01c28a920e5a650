"""Clocks (kernel/time/timekeeping.c): the emulated machine's monotonic, boot and wall clocks,
read from KernelApi.now_ns(), which moves on when the task sleeps (sched.py)."""

from __future__ import annotations

from . import KernelApi, kapi


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
