"""Jiffies conversions (kernel/time/time.c, and get_jiffies_64 from include/linux/jiffies.h, an
inline on 64-bit kernels): the answers depend on HZ, which is the reference kernel's (250). The
file is time_.py because a submodule named time would replace the `time` module the package's
__init__ imports."""

from __future__ import annotations

from . import HZ, KernelApi, kapi
from .sched import MAX_SCHEDULE_TIMEOUT, NSEC_PER_JIFFY


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
