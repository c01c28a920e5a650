"""Busy waits (arch/x86/lib/delay.c: udelay, ndelay, the delay loop): the CPU spins, so the
emulated clock moves on and no other task runs, unlike a sleep (timer.py); but the timer
interrupt still comes, and on its way out runs the softirqs: a tasklet scheduled before an
mdelay() runs during it, as do timers that expire meanwhile."""

from __future__ import annotations

from . import KernelApi, kapi
from .sched import run_ready


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
    before = k.jiffies()
    k.sleep_ns(min(ns, 10**10))
    if k.jiffies() != before:  # a tick came while the CPU spun
        run_ready(k, softirqs_only=True)
