"""The CPU: one unicorn instance is the kernel's address space.

Kernel functions a module imports are one-byte `ret` stubs in kernel text (at their real
addresses when the profile has them). A UC_HOOK_CODE bounded to the text range runs the Python
handler registered for the stub before the `ret` executes, so there is no per-instruction hook
anywhere else. Module code calls back into Python only through those stubs; Python calls module
code with call(), which may nest (a handler running a module callback).
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from unicorn import (
    UC_HOOK_CODE,
    UC_HOOK_INSN_INVALID,
    UC_HOOK_INTR,
    UC_HOOK_MEM_FETCH_PROT,
    UC_HOOK_MEM_FETCH_UNMAPPED,
    UC_HOOK_MEM_READ_UNMAPPED,
    UC_HOOK_MEM_WRITE_PROT,
    UC_HOOK_MEM_WRITE_UNMAPPED,
    UC_MEM_FETCH_PROT,
    UC_MEM_FETCH_UNMAPPED,
    UC_MEM_READ_UNMAPPED,
    UC_MEM_WRITE_PROT,
    UC_MEM_WRITE_UNMAPPED,
    UC_PROT_ALL,
    UC_PROT_READ,
    UC_PROT_WRITE,
    Uc,
    UcError,
)
from unicorn import x86_const as X

from ..bits import MASK64
from ..sigpending import signal_pending
from . import memory_map as mm
from .alloc import PAGE_SIZE, Area, PercpuAlloc, Slab, page_align
from .allocators import Allocators
from .cpu_context import Cpu, CpuContexts
from .prandom import Rand
from .retpoline import RET, thunk_code
from .traps import Budget, CpuStop, Fault, Halted, InterruptedCall, InvalidOpcode
from .vsprintf import MemoryFault
from .watchdog import WATCHDOG

if TYPE_CHECKING:
    from ..profile import KernelProfile

INT3 = b"\xcc"
ARG_REGS = (X.UC_X86_REG_RDI, X.UC_X86_REG_RSI, X.UC_X86_REG_RDX, X.UC_X86_REG_RCX, X.UC_X86_REG_R8, X.UC_X86_REG_R9)

REG_NAMES = (
    "rax", "rbx", "rcx", "rdx", "rsi", "rdi", "rbp", "rsp",
    "r8", "r9", "r10", "r11", "r12", "r13", "r14", "r15", "rip", "eflags",
)
REG_IDS = tuple(getattr(X, "UC_X86_REG_" + n.upper()) for n in REG_NAMES)


ENDBR_SIZE = 4  # endbr64


@dataclass
class Frame:
    """One active call(): where it returns, and what stopped it."""

    until: int
    deadline: float
    stop: BaseException | None = None


@dataclass
class Stub:
    name: str
    addr: int
    handler: Callable | None
    kind: str = "func"


@dataclass
class MachineStats:
    calls: int = 0
    kapi_calls: int = 0
    emu_seconds: float = 0.0
    unhandled: dict[str, int] = field(default_factory=dict)


class Machine(Allocators, CpuContexts):
    """The emulated x86_64 kernel address space with one CPU."""

    def __init__(self, profile: KernelProfile, budget: float = 5.0, seed: int | None = None) -> None:
        self.profile = profile
        # with CONFIG_X86_KERNEL_IBT every function starts with endbr64, and what skips it
        # (a kprobe's address, arch_adjust_kprobe_addr()) enters 4 bytes in
        self.ibt = profile.enabled("X86_KERNEL_IBT")
        self.budget = budget
        self.rand = Rand(seed if seed is not None else int.from_bytes(os.urandom(8), "little"))
        self.lock = threading.RLock()
        self.stats = MachineStats()
        self._mapped: list[tuple[int, int]] = []
        self._ucs: list[Uc] = []
        self._host: dict = {}
        self._windows: list = []
        self._uc_hooks: list[tuple] = []  # hooks every CPU context's instance gets (hook_all)
        self.code_log: list[tuple[int, int]] = []  # code rewritten in memory (code_written)
        self.cpu = self.main_cpu = self._bind(Cpu(self._new_uc(), 0, 0))  # the processes' context
        self._ucs.append(self.cpu.uc)
        self.cpu.install(self)

        # kernel text and data
        self.stubs: dict[int, Stub] = {}
        self.stub_by_name: dict[str, int] = {}
        self.symbols: dict[str, int] = {}  # name -> address of every imported kernel symbol
        self.symbol_names: dict[int, str] = {}
        self.dispatch: Callable[[Stub], None] | None = None
        self.on_enter: Callable[[], None] | None = None
        self.on_exit: Callable[[], None] | None = None
        self.on_tick: Callable[[], None] | None = None
        self.on_module_free: Callable[[int, int], None] | None = None
        self.on_invalid_opcode: Callable[[int], bool] | None = None
        # asked with the callee's address before each call(): a debugger armed for a module's
        # init attaches there (gdbstub.py); None, the rule, costs one test per call
        self.on_call: Callable[[int], None] | None = None
        self._map_kernel_image()
        self._pseudo_text = mm.PSEUDO_TEXT
        self._pseudo_data = Area(mm.PSEUDO_DATA, mm.PSEUDO_DATA + mm.PSEUDO_DATA_SIZE, granule=64, guard=0)
        self.map(mm.PSEUDO_TEXT, mm.PSEUDO_TEXT_SIZE, UC_PROT_ALL)
        self.uc.mem_write(mm.PSEUDO_TEXT, INT3 * mm.PSEUDO_TEXT_SIZE)
        self.map(mm.PSEUDO_DATA, mm.PSEUDO_DATA_SIZE, UC_PROT_READ | UC_PROT_WRITE)
        self.return_trampoline = self._new_text_slot("__pseudokernel_return")

        # memory allocators
        self.module_offset = (self.rand.below(1024) + 1) * PAGE_SIZE  # KASLR's module_load_offset
        self.modules_area = Area(mm.MODULES_VADDR + self.module_offset, mm.MODULES_END)
        self.add_window(mm.MODULES_VADDR, mm.MODULES_END)
        self.vmalloc_area = Area(mm.VMALLOC_START, mm.VMALLOC_END)
        self.dma_area = Area(mm.DMA_START, mm.DMA_END, guard=0)
        self.slab = Slab(mm.HEAP_START, mm.HEAP_END)
        self.percpu = PercpuAlloc(profile.percpu_size)
        self.map(mm.PERCPU_BASE, page_align(self.percpu.size), UC_PROT_READ | UC_PROT_WRITE)
        self.stack_base = self.vmalloc(mm.THREAD_SIZE)
        self.stack_top = self.stack_base + mm.THREAD_SIZE
        self.uc.reg_write(X.UC_X86_REG_RSP, self.stack_top - 0x100)
        self.hook_all(UC_HOOK_CODE, self._on_stub, begin=self.text_lo, end=self.text_hi - 1)
        self.hook_all(UC_HOOK_CODE, self._on_stub, begin=mm.PSEUDO_TEXT, end=mm.PSEUDO_TEXT + mm.PSEUDO_TEXT_SIZE - 1)
        self.hook_all(
            UC_HOOK_MEM_READ_UNMAPPED | UC_HOOK_MEM_WRITE_UNMAPPED | UC_HOOK_MEM_FETCH_UNMAPPED
            | UC_HOOK_MEM_WRITE_PROT | UC_HOOK_MEM_FETCH_PROT,
            self._on_bad_access,
        )
        self.hook_all(UC_HOOK_INSN_INVALID, self._on_invalid)
        self.hook_all(UC_HOOK_INTR, self._on_interrupt)
        self._user_buffer = 0

    # -- kernel symbols --------------------------------------------------------------------

    def _map_kernel_image(self) -> None:
        """Map vmlinux's address range, so exported data lives where the kernel has it."""
        secs = [s for s in self.profile.sections if s.addr >= mm.START_KERNEL_MAP and s.flags & 2]
        if secs:
            lo = min(s.addr for s in secs) & ~(PAGE_SIZE - 1)
            hi = page_align(max(s.addr + s.size for s in secs))
        else:
            lo, hi = mm.KERNEL_TEXT, mm.KERNEL_TEXT + PAGE_SIZE
        self.text_lo, self.text_hi = lo, hi
        self.map(lo, hi - lo, UC_PROT_ALL)

    def function_entry(self, addr: int) -> int:
        """Where a call to the function at addr that skips its endbr64 lands."""
        return addr + ENDBR_SIZE if self.ibt and addr in self.stubs else addr

    def _new_text_slot(self, name: str) -> int:
        addr = self._pseudo_text
        self._pseudo_text += 16
        if self._pseudo_text > mm.PSEUDO_TEXT + mm.PSEUDO_TEXT_SIZE:
            raise MemoryError("pseudo text area exhausted")
        self.symbol_names[addr] = name
        return addr

    def add_function(self, name: str, handler: Callable | None, addr: int | None = None) -> int:
        """A kernel function at addr (or a new pseudo-text slot): a `ret` with a handler."""
        if name in self.stub_by_name:
            return self.stub_by_name[name]
        if addr is None or not (self.text_lo <= addr < self.text_hi):
            addr = self._new_text_slot(name)
        thunk = thunk_code(name)
        self.write(addr, thunk or (RET + b"\xcc" * 3 + RET if self.ibt else RET))
        if thunk is None:
            self.stubs[addr] = Stub(name, addr, handler)
            if self.ibt:
                self.stubs[addr + ENDBR_SIZE] = self.stubs[addr]
        self.stub_by_name[name] = addr
        self.symbols[name] = addr
        self.symbol_names[addr] = name
        return addr

    def add_data(self, name: str, size: int, addr: int | None = None, init: bytes = b"") -> int:
        """A kernel data object: at its real address, or in pseudo data."""
        if name in self.symbols:
            return self.symbols[name]
        if addr is None:
            addr = self.pseudo_data(size)
        if init:
            self.write(addr, init)
        self.symbols[name] = addr
        self.symbol_names[addr] = name
        return addr

    def scratch_code(self, code: bytes) -> int:
        """A page of code outside the stub-hooked text, for the kernel's own use (CPUID at
        boot); each call overwrites the last."""
        if not getattr(self, "_scratch", 0):
            self._scratch = mm.PSEUDO_TEXT - 0x10000
            self.map(self._scratch, PAGE_SIZE, UC_PROT_ALL)
        self.write(self._scratch, code)
        self.uc.ctl_remove_cache(self._scratch, self._scratch + PAGE_SIZE)
        return self._scratch

    def function_name(self, addr: int) -> str | None:
        stub = self.stubs.get(addr)
        return stub.name if stub else self.symbol_names.get(addr)

    # -- hooks -----------------------------------------------------------------------------

    def _watchdog_stop(self, cpu: Cpu) -> None:
        """The watchdog's uc_emu_stop() for a call on cpu, declined while a handler runs (it
        retries), or while cpu is switched out (its task waits in a handler)."""
        if cpu is self.cpu and not self._in_hook:
            self.uc.emu_stop()

    def _on_stub(self, uc: Uc, addr: int, size: int, _data: object) -> None:
        self._in_hook = True
        try:
            self._run_stub(addr)
        finally:
            self._in_hook = False

    def _run_stub(self, addr: int) -> None:
        stub = self.stubs.get(addr)
        if stub is None:
            if addr in self.stub_by_name.values() or addr == self.return_trampoline:
                return
            self._stop(Halted(self.registers(), f"executing kernel text at {addr:#x} that is not emulated"))
            return
        self.stats.kapi_calls += 1
        try:
            if self.dispatch is not None:
                self.dispatch(stub)
            if self.regs.read(X.UC_X86_REG_RIP) == addr:
                # the stub's `ret`, done here: a stop that lands before this hook is back in
                # unicorn skips the instruction it hooks, and the handler would run again
                rsp = self.regs.read(X.UC_X86_REG_RSP)
                self.regs.write(X.UC_X86_REG_RSP, rsp + 8)
                self.regs.write(X.UC_X86_REG_RIP, self.read_u64(rsp))
        except CpuStop as e:
            self._stop(e)
        except MemoryFault as e:
            # the kernel function touched memory the module handed it that is not there:
            # the kernel's page fault, inside that function
            where = e.args[0] if e.args and isinstance(e.args[0], int) else 0
            self._stop(Fault(self.registers(), "read", where & MASK64))
        except Exception as e:  # a handler bug must not take the daemon down
            self._stop(e)
        if self._frames and time.monotonic() > self._frames[-1].deadline:
            self._stop(Budget(self.registers(), self.budget))

    def _on_bad_access(self, uc: Uc, access: int, addr: int, size: int, value: int, _data: object) -> bool:
        kind = {
            UC_MEM_READ_UNMAPPED: "read",
            UC_MEM_WRITE_UNMAPPED: "write",
            UC_MEM_FETCH_UNMAPPED: "fetch",
            UC_MEM_WRITE_PROT: "write",
            UC_MEM_FETCH_PROT: "fetch",
        }.get(access, "read")
        prot = access in (UC_MEM_WRITE_PROT, UC_MEM_FETCH_PROT)
        addr, hole = self.fault_address(addr & MASK64)
        prot = prot and not hole
        self._last_fault = (kind + ("-prot" if prot else ""), addr & MASK64)
        return False

    def _on_invalid(self, uc: Uc, _data: object) -> bool:
        rip = self.regs.read(X.UC_X86_REG_RIP)
        if self.on_invalid_opcode is not None:
            try:
                if self.on_invalid_opcode(rip):
                    return True
            except CpuStop as e:
                self._stop(e)
                return True
        return False

    def _on_interrupt(self, uc: Uc, intno: int, _data: object) -> None:
        self._stop(Halted(self.registers(), f"interrupt {intno}"))

    def _stop(self, exc: BaseException) -> None:
        if self._frames and self._frames[-1].stop is None:
            self._frames[-1].stop = exc
        self.uc.emu_stop()

    # -- registers -------------------------------------------------------------------------

    def reg(self, reg_id: int) -> int:
        return self.regs.read(reg_id)

    def set_reg(self, reg_id: int, value: int) -> None:
        self.regs.write(reg_id, value & MASK64)

    def set_reg_rip(self, addr: int) -> None:
        self.regs.write(X.UC_X86_REG_RIP, addr & MASK64)

    def arg(self, i: int) -> int:
        """The i-th integer-class argument of the function the CPU just entered."""
        if i < 6:
            return self.regs.read(ARG_REGS[i])
        rsp = self.regs.read(X.UC_X86_REG_RSP)
        return self.read_u64(rsp + 8 * (i - 6 + 1))

    def registers(self) -> dict[str, int]:
        return {n: self.regs.read(r) for n, r in zip(REG_NAMES, REG_IDS)}

    # -- calling module code ---------------------------------------------------------------

    def call(self, addr: int, *args: int, budget: float | None = None, ret_addr: int | None = None,
             eflags: int = 0x246) -> int:
        """Run the function at addr with SysV arguments until it returns; its RAX. eflags: the
        flags the kernel's code left before the call (0x246: IF and ZF, as a syscall entry).

        Nested calls (from a handler) run on the same stack below the caller's frame, as the
        kernel would. Raises a CpuStop when the callee faults, halts or runs out of budget.
        """
        with self.lock:
            nested = bool(self._frames)
            ctx = self.uc.context_save() if nested else None
            until = ret_addr if ret_addr is not None else self.return_trampoline
            rsp = self.regs.read(X.UC_X86_REG_RSP) if nested else self.stack_top - mm.ENTRY_DEPTH + 8
            link = None
            if nested:
                try:
                    link = (self.regs.read(X.UC_X86_REG_RIP), self.read_u64(rsp), rsp + 8,
                            self.regs.read(X.UC_X86_REG_RBP))
                except MemoryFault:
                    link = None
            if nested:
                rsp = (rsp - 0x80) & ~0xF  # past the red zone of the interrupted code
            stack_args = list(args[6:])
            if len(stack_args) % 2:
                rsp -= 8
            for v in reversed(stack_args):
                rsp -= 8
                self.write_u64(rsp, v)
            rsp -= 8
            self.write_u64(rsp, until)
            self.regs.write(X.UC_X86_REG_RSP, rsp)
            for reg, v in zip(ARG_REGS, args):
                self.regs.write(reg, v & MASK64)
            entry = not nested and self.cpu.entry
            if not nested:
                self.signal_delivered = False
                self.regs.write(X.UC_X86_REG_EFLAGS, eflags)  # as the kernel's caller left them
            if entry:
                if self.on_enter is not None:
                    self.on_enter()
            seconds = self.budget if budget is None else budget
            deadline = time.monotonic() + seconds
            if nested:
                deadline = min(deadline, self._frames[-1].deadline)
            if self.on_call is not None:
                self.on_call(addr)
            frame = Frame(until, deadline)
            self._frames.append(frame)
            self.stats.calls += 1
            t0 = time.monotonic()
            self._links.append(link)
            in_hook, self._in_hook = self._in_hook, False  # the watchdog may stop the callee
            try:
                self._run(addr, frame)
                result = self.regs.read(X.UC_X86_REG_RAX)
            except CpuStop as e:
                if link is not None:
                    e.chain.append(link)
                raise
            finally:
                self._in_hook = in_hook
                self._links.pop()
                self._frames.pop()
                self.stats.emu_seconds += time.monotonic() - t0
                if ctx is not None:
                    self.uc.context_restore(ctx)
                self._flush_stale_code()
            if entry and self.on_exit is not None:
                self.on_exit()
                self.regs.write(X.UC_X86_REG_RAX, result)
            return result

    def _run(self, addr: int, frame: Frame) -> None:
        """emu_start() for one frame. Only the outermost call arms the watchdog (watchdog.py):
        its uc_emu_stop() stops whichever run is innermost, and a nested call's budget is
        checked when it returns.
        The outermost call runs in slices of mm.TICK_SLICE seconds: between two, on_tick() lets
        time-keeping memory (jiffies) move, so that a loop polling jiffies ends."""
        self._last_fault = None
        outer = len(self._frames) == 1
        pc = addr
        while True:
            remaining = max(frame.deadline - time.monotonic(), 0.001)
            slice_ = min(remaining, mm.TICK_SLICE) if outer else 0
            t0 = time.monotonic()
            try:
                if outer:
                    with WATCHDOG.armed(id(self.cpu), t0 + slice_, self.cpu.stop):
                        self.uc.emu_start(pc, frame.until)
                else:
                    self.uc.emu_start(pc, frame.until)
            except UcError:
                regs = self.registers()
                if frame.stop is not None:
                    raise frame.stop from None
                if self._last_fault:
                    kind, where = self._last_fault
                    raise Fault(regs, kind, where) from None
                raise InvalidOpcode(regs) from None
            if frame.stop is not None:
                raise frame.stop
            rip = self.regs.read(X.UC_X86_REG_RIP)
            if rip == frame.until:
                break
            if outer and signal_pending() and not self.signal_delivered:
                raise InterruptedCall(self.registers())
            now = time.monotonic()
            # a slice ended (outermost), or the outer call's timer stopped this nested run
            if now < frame.deadline - 0.0005 and (not outer or now - t0 >= slice_ * 0.9):
                if self.on_tick is not None:
                    self.on_tick()
                pc = rip
                continue
            if now >= frame.deadline - 0.0005:
                raise Budget(self.registers(), self.budget)
            raise Halted(self.registers(), "the CPU halted")
        if self._frames and len(self._frames) > 1 and time.monotonic() > self._frames[-2].deadline:
            # the caller's budget ran out while we ran: stop it as soon as the handler returns
            self._frames[-2].stop = Budget(self.registers(), self.budget)
            self.uc.emu_stop()

    def current_chain(self) -> list[tuple[int, int, int, int]]:
        """The kernel functions that called back into the running code, innermost first."""
        return [link for link in reversed(self._links) if link is not None]

    def in_call(self) -> bool:
        return bool(self._frames)

    def depth(self) -> int:
        """How many calls are active: a task that sleeps inside one resumes only once the
        calls made after it (another task's, run nested on this CPU) have returned."""
        return len(self._frames)

    def pause_budget(self, depth: int) -> list[float]:
        """A task sleeps: the time it waits is not CPU time, so its calls' budgets stop (and
        a call run meanwhile is not bounded by them). Returns what resume_budget() needs."""
        now = time.monotonic()
        left = [f.deadline - now for f in self._frames[:depth]]
        for f in self._frames[:depth]:
            f.deadline = float("inf")
        return left

    def resume_budget(self, left: list[float]) -> None:
        now = time.monotonic()
        for f, rest in zip(self._frames, left):
            f.deadline = now + rest

    # -- a debugger (gdbstub.py) --------------------------------------------------------------

    def add_debug_hook(self, fn: Callable[[int], None]) -> int:
        """fn(address) before every instruction from now on, until remove_debug_hook(): a
        debugger's breakpoints and steps. Only a debug session pays for it. fn may wait (a stop):
        it runs as a handler does, so the watchdog declines to stop the CPU meanwhile; the
        waiting itself should pause the budget (pause_budget)."""

        def hook(uc: Uc, addr: int, size: int, _data: object) -> None:
            in_hook, self._in_hook = self._in_hook, True
            try:
                fn(addr)
            except CpuStop as e:
                self._stop(e)
            finally:
                self._in_hook = in_hook

        if not self._frames:
            self.uc.ctl_flush_tb()  # code translated before has no hook compiled in
        return self.uc.hook_add(UC_HOOK_CODE, hook, begin=1, end=0)

    def remove_debug_hook(self, handle: int) -> None:
        self.uc.hook_del(handle)
        self._stale_code = True  # translations made meanwhile still call into the hook list
        self._flush_stale_code()

    def close(self) -> None:
        """Free unicorn's memory, and ours it maps, now rather than when the garbage collector
        gets to it."""
        for uc in self._ucs:
            try:
                uc.release_handle()
            except Exception:
                pass
        self._ucs.clear()
        for w in self._windows:
            self._host[w.lo] = (w.mem, w.buf)
            w.buf = None  # type: ignore[assignment]  # its last view: the mmap can close
        self._windows.clear()
        while self._host:
            _, (mem, buf) = self._host.popitem()
            del buf
            try:
                mem.close()
            except BufferError:
                pass
