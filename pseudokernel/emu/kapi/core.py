"""The handful of functions every module calls: ftrace, retpolines, stack protector, module
references (kernel/module/main.c), and the data symbols they read."""

from __future__ import annotations

from ..traps import Halted
from . import KernelApi, kapi, kdata


@kapi("__fentry__")
def __fentry__(k: KernelApi) -> None:
    """Only reached if a call site escaped ftrace_module_init()'s conversion to a NOP."""


@kapi("__stack_chk_fail")
def __stack_chk_fail(k: KernelApi) -> None:
    """kernel/panic.c: panic("stack-protector: Kernel stack is corrupted in: %pB"), with the
    caller's frame (the stub's return address) as the top of the dumped stack."""
    where = k.kernel.format_symbol(k.caller, with_offset=True)
    regs = k.m.registers()
    regs["rip"] = k.caller  # the function that found its canary smashed
    regs["rsp"] += 8
    k.kernel.panic(f"stack-protector: Kernel stack is corrupted in: {where}", regs)
    raise Halted(k.m.registers(), "stack-protector")


@kapi("try_module_get")
def try_module_get(k: KernelApi, module: int) -> int:
    return int(k.kernel.try_module_get(module))


@kapi("__module_get")
def __module_get(k: KernelApi, module: int) -> None:
    k.kernel.module_get(module)


@kapi("module_put")
def module_put(k: KernelApi, module: int) -> None:
    k.kernel.module_put(module)


@kapi("module_refcount")
def module_refcount(k: KernelApi, module: int) -> int:
    mod = k.kernel.module_by_struct(module)
    return (mod.refcount if mod else 0) & 0xFFFFFFFF


@kdata("kmalloc_caches", size=8 * 14 * 4)
def kmalloc_caches(k: KernelApi, addr: int) -> None:
    """struct kmem_cache *kmalloc_caches[NR_KMALLOC_TYPES][KMALLOC_SHIFT_HIGH + 1]: modules
    only pass the entries to kmalloc_trace(), which sizes by its own argument."""
