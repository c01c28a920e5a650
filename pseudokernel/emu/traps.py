"""Why a call into module code ended without returning (arch/x86/kernel/traps.c's cases and
the emulator's own): a fault, an invalid opcode, a budget run out, a signalled caller, a halt
on purpose. The CPU raises them; the oops code reports them as the kernel does."""

from __future__ import annotations


class CpuStop(Exception):
    """Emulation of a call ended without the callee returning."""

    def __init__(self, regs: dict[str, int]) -> None:
        super().__init__(type(self).__name__)
        self.regs = regs
        # for a stop inside a nested call: (kernel function, return address in its caller,
        # the caller's rsp and rbp) of each call level below, innermost first
        self.chain: list[tuple[int, int, int, int]] = []


class Fault(CpuStop):
    """A page fault the kernel cannot handle: access to an address that is not mapped, or a
    write to read-only memory, or an instruction fetch from non-executable memory."""

    def __init__(self, regs: dict[str, int], access: str, address: int) -> None:
        super().__init__(regs)
        self.access = access  # read, write, fetch
        self.address = address


class InvalidOpcode(CpuStop):
    """#UD that is not a WARN: BUG(), a missing CPU feature, or garbage."""


class Budget(CpuStop):
    """The call ran past its time budget (an endless loop, or simply too slow)."""

    def __init__(self, regs: dict[str, int], seconds: float) -> None:
        super().__init__(regs)
        self.seconds = seconds


class InterruptedCall(CpuStop):
    """The caller the call ran for was signalled (or the daemon is going down): the call is
    abandoned so that no process is left waiting on the mount (sigpending.py)."""


class Halted(CpuStop):
    """A handler stopped the CPU on purpose (panic, BUG, do_exit ...)."""

    def __init__(self, regs: dict[str, int], reason: str) -> None:
        super().__init__(regs)
        self.reason = reason
