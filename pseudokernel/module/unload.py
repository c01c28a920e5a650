"""The unloading half of kernel/module/main.c (CONFIG_MODULE_UNLOAD): delete_module(2)'s
body, forced unloads, and the references a module's users take and drop (try_module_get &
co), which decide whether it may go."""

from __future__ import annotations

from errno import EBUSY, EFAULT, ENOENT, EWOULDBLOCK
from typing import TYPE_CHECKING

from .. import taint
from ..leaks import unload_report
from .main import _kernel_text, free_module, set_module_state
from .module import State

if TYPE_CHECKING:
    from ..state import KernelState
    from .trace import UnloadTrace

O_TRUNC = 0o1000  # delete_module(2)'s force flag


# -- delete_module(2) ---------------------------------------------------------------------------

def delete_module(kernel: KernelState, name: str, flags: int, trace: UnloadTrace | None = None) -> None:
    """The syscall's body, run by Kernel.delete_module inside the syscall: raises
    OSError(errno) as the syscall fails. What the module left behind (memory,
    registrations, locks) is reported and kept in kernel.last_report. With a trace, each
    step is recorded in it (module/trace.py's UnloadTrace), the failing one with its errno."""
    try:
        _delete_module(kernel, name, flags, trace)
    except OSError as e:
        if trace:
            trace.failed(e.errno or 0)
        raise


def _delete_module(kernel: KernelState, name: str, flags: int, tr: UnloadTrace | None) -> None:
    with kernel.mutex:
        if tr:
            tr.begin("find_module")
        mod = kernel.find_module(name)
        if tr:
            tr.find_module(mod, name)
        if mod is None:
            raise OSError(ENOENT, name)
        if tr:
            tr.begin("source_list")  # other modules depend on us: get rid of them first
            tr.end(holders=[m.name for m in mod.source_list])
        if mod.source_list:
            raise OSError(EWOULDBLOCK, name)
        if tr:
            tr.begin("module_state")  # doing init or already dying?
            tr.end(state=mod.state.name)
        if mod.state != State.LIVE:
            raise OSError(EBUSY, name)
        forced = False
        if mod.init and not mod.exit:
            if tr:
                tr.begin("try_force_unload")  # an init function needs an exit one to unload
                tr.end(init=mod.init, exit=None, force=bool(flags & O_TRUNC))
            forced = try_force_unload(kernel, flags)
            if not forced:
                raise OSError(EBUSY, name)
        if tr:
            tr.begin("try_stop_module")
            before = mod.refcount
        mod.refcnt -= 1
        if mod.refcnt != 0:
            if not forced and not try_force_unload(kernel, flags):
                mod.refcnt += 1
                if tr:
                    tr.end(refcount=before, users=before, forced=False)
                raise OSError(EWOULDBLOCK, name)
            forced = True
        set_module_state(kernel, mod, State.GOING)
        if tr:
            tr.end(refcount=before, users=before, forced=forced, state=mod.state.name)
    if tr:
        tr.begin("exit")
    outcome = "returned" if mod.exit else "no exit function"
    t0 = kernel.api.now_ns()
    if mod.exit:
        try:
            kernel.machine.call(mod.exit, ret_addr=_kernel_text(kernel, "exit_call"))
        except Exception as stop:
            outcome = kernel.report_cpu_stop(mod, stop, "exit")
            if outcome not in ("budget", "error"):
                if tr:
                    tr.exit_call(kernel, mod, kernel.api.now_ns() - t0, outcome)
                raise OSError(EFAULT, name) from None  # oopsed: left GOING, as the kernel
            kernel.log.err(f"pseudokernel: {mod.name}: exit did not return; module freed\n")
    if tr:
        tr.exit_call(kernel, mod, kernel.api.now_ns() - t0, outcome)
    kernel.last_unloaded = (mod.name, taint.module_flags_taint(mod.taints))
    if tr:
        tr.begin("unload_report")
    kernel.last_report = unload_report(kernel, mod)
    for line in kernel.last_report:
        kernel.log.printk(b"\x013" + line.encode("utf-8", "replace") + b"\n")
    if tr:
        tr.end(report=list(kernel.last_report))
        parts = tr.free_module_parts(kernel, mod)
        tr.begin("free_module")
    free_module(kernel, mod)
    if tr:
        tr.end(modules_after=len(kernel.modules), unlinked=kernel.find_module(name) is None)
        for step, values in parts:
            tr.begin(step)
            tr.end(**values)


def try_force_unload(kernel: KernelState, flags: int) -> bool:
    """O_TRUNC asks to unload a module in use or without exit: only with MODULE_FORCE_UNLOAD,
    and it taints."""
    if flags & O_TRUNC and kernel.profile.enabled("MODULE_FORCE_UNLOAD"):
        kernel.add_taint(taint.FORCED_RMMOD, lockdep_ok=False)
        return True
    return False


# -- module references (try_module_get & co) ---------------------------------------------------

def try_module_get(kernel: KernelState, struct_addr: int) -> bool:
    if not struct_addr:
        return True
    mod = kernel.module_by_struct(struct_addr)
    if mod is None:
        return True
    if mod.state == State.GOING or mod.refcnt == 0:
        return False
    mod.refcnt += 1
    kernel.generation += 1
    return True


def __module_get(kernel: KernelState, struct_addr: int) -> None:
    mod = kernel.module_by_struct(struct_addr)
    if mod is not None:
        mod.refcnt += 1
        kernel.generation += 1


def module_put(kernel: KernelState, struct_addr: int) -> None:
    mod = kernel.module_by_struct(struct_addr)
    if mod is not None and mod.refcnt > 0:
        mod.refcnt -= 1
        kernel.generation += 1
