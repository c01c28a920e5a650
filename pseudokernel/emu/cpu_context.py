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

from unicorn import Uc

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
