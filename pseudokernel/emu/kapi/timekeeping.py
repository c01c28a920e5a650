"""Clocks (kernel/time/timekeeping.c, time.c): the emulated machine's monotonic, boot and wall
clocks and jiffies conversions."""

from __future__ import annotations

from . import HZ, KernelApi, kapi, kboot
from .sched import MAX_SCHEDULE_TIMEOUT, NSEC_PER_JIFFY, after_syscall, sched

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
