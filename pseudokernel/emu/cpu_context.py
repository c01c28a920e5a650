"""A task's CPU context: the registers, the stack, the calls active on it and the unicorn
instance that holds them.

Processes' system calls share one context (a process that sleeps in a module waits inside a
handler there, and the calls other processes make meanwhile nest above it: machine.py). A
kernel thread lives as long as it likes and sleeps when it likes, so nothing nested above it
could wait for it: it has a context of its own, switched to when it gets the CPU (sched.py),
as switch_to() switches the kernel's stacks. The memory is one for all (address_space.py).

Machine keeps the installed context's state in its own attributes (the hot paths read
self.uc, self.regs, self._frames); install() and save() move it in and out.
"""

from __future__ import annotations

from collections.abc import Callable

from unicorn import UC_ARCH_X86, UC_MODE_64, UC_TLB_VIRTUAL, Uc
from unicorn import x86_const as X

from . import memory_map as mm
from .registers import Registers

# what Machine holds of the installed context
STATE = ("uc", "regs", "_frames", "_links", "_in_hook", "signal_delivered", "_last_fault", "_stale_code",
         "stack_base", "stack_top")


class Cpu:
    """One CPU context. `entry`: a call made from outside on it is a system call (on_enter and
    on_exit run around it); a kthread's context runs its thread function, not syscalls."""

    def __init__(self, uc: Uc, stack_base: int, stack_top: int, entry: bool = True) -> None:
        self.uc = uc
        self.regs = Registers(uc)  # the 64-bit registers without the binding's dispatch
        self._frames: list = []
        self._links: list = []
        self._in_hook = False  # a kernel function's handler is running (watchdog.py)
        # the module's own wait saw the caller's signal (a sleep ended by it): its code is left
        # to return -ERESTARTSYS, as the kernel's would, instead of being stopped between slices
        self.signal_delivered = False
        self._last_fault: tuple[str, int] | None = None
        self._stale_code = False  # module memory was freed since the last flush of translations
        self.stack_base = stack_base
        self.stack_top = stack_top
        self.entry = entry
        self.code_seen = 0  # how much of Machine.code_log this instance has dropped translations for
        self.stop: Callable[[], None] = lambda: None  # the watchdog's stop, bound by Machine

    def install(self, m: object) -> None:
        """Into m, a Machine (not imported: machine.py builds on this file)."""
        for name in STATE:
            setattr(m, name, getattr(self, name))
        m.cpu = self  # type: ignore[attr-defined]

    def save(self, m: object) -> None:
        for name in STATE:
            setattr(self, name, getattr(m, name))


class CpuContexts:
    """Machine's part that makes, switches and frees CPU contexts (a mixin, as AddressSpace
    is: it works on Machine's attributes)."""

    cpu: Cpu
    main_cpu: Cpu
    _ucs: list[Uc]
    _uc_hooks: list[tuple]
    code_log: list[tuple[int, int]]

    def _new_uc(self) -> Uc:
        uc = Uc(UC_ARCH_X86, UC_MODE_64)
        uc.ctl_set_cpu_model(X.UC_CPU_X86_QEMU64)
        uc.ctl_set_tlb_mode(UC_TLB_VIRTUAL)
        uc.reg_write(X.UC_X86_REG_GS_BASE, mm.PERCPU_BASE)
        # CR0.MP|NE, CR4.OSFXSR|OSXMMEXCPT: SSE works (kernel_fpu_begin() sections), as on x86_64
        uc.reg_write(X.UC_X86_REG_CR0, uc.reg_read(X.UC_X86_REG_CR0) | 0x22)
        uc.reg_write(X.UC_X86_REG_CR4, uc.reg_read(X.UC_X86_REG_CR4) | 0x600)
        for args, kwargs in self._uc_hooks:
            uc.hook_add(*args, **kwargs)
        return uc

    def _bind(self, cpu: Cpu) -> Cpu:
        cpu.stop = lambda: self._watchdog_stop(cpu)
        cpu.code_seen = len(self.code_log)
        return cpu

    def hook_all(self, *args: object, **kwargs: object) -> None:
        """uc.hook_add() on every CPU context's instance, now and to come."""
        self._uc_hooks.append((args, kwargs))
        for uc in self._ucs:
            uc.hook_add(*args, **kwargs)

    def new_cpu(self) -> Cpu:
        """A CPU context of its own (a kernel thread's), its stack in vmalloc space."""
        uc = self._new_uc()
        self.share_memory(uc)
        stack = self.vmalloc(mm.THREAD_SIZE)
        return self._bind(Cpu(uc, stack, stack + mm.THREAD_SIZE, entry=False))

    def free_cpu(self, cpu: Cpu) -> None:
        if cpu is self.cpu or cpu.uc not in self._ucs:
            return
        self.unshare_memory(cpu.uc)
        self.vfree(cpu.stack_base)
        try:
            cpu.uc.release_handle()
        except Exception:
            pass

    def switch_cpu(self, cpu: Cpu) -> Cpu:
        """Install cpu's context; returns the one that was. The instance coming in drops its
        translations of code rewritten while it was out (its own writes dropped them there)."""
        old = self.cpu
        if cpu is old:
            return old
        old.save(self)
        old.code_seen = len(self.code_log)
        cpu.install(self)
        for lo, hi in self.code_log[cpu.code_seen:]:
            cpu.uc.ctl_remove_cache(lo, hi)
        cpu.code_seen = len(self.code_log)
        return old

    def code_written(self, addr: int, size: int) -> None:
        """Instructions were rewritten in memory (a static key, an ftrace site): no CPU
        context may run its old translation."""
        self.uc.ctl_remove_cache(addr, addr + size)
        self._log_code(addr, size)

    def _log_code(self, addr: int, size: int) -> None:
        if len(self._ucs) > 1:
            self.code_log.append((addr, addr + size))
