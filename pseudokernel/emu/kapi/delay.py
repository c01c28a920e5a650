"""Busy waits (arch/x86/lib/delay.c: udelay, ndelay, the delay loop): the CPU spins, so the
emulated clock moves on and nothing else runs, unlike a sleep (timer.py)."""

from __future__ import annotations

from . import KernelApi, kapi


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
