"""printk and its relatives (kernel/printk/printk.c)."""

from __future__ import annotations

from ..vsprintf import VaListArgs
from . import KernelApi, VarArgs, kapi


@kapi("_printk", "printk")
def _printk(k: KernelApi, fmt: int, args: VarArgs) -> int:
    return k.log.printk(k.format(fmt, args))


@kapi("vprintk")
def vprintk(k: KernelApi, fmt: int, va: int) -> int:
    args = VaListArgs(k.m, va)
    n = k.log.printk(k.format(fmt, args))
    k.m.write(va, args.tag_bytes())
    return n


@kapi("_printk_deferred")
def _printk_deferred(k: KernelApi, fmt: int, args: VarArgs) -> int:
    return k.log.printk(k.format(fmt, args))
