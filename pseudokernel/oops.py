"""What the kernel prints when module code goes wrong: page-fault oopses (arch/x86/mm/fault.c),
BUG()/WARN() through the __bug_table (lib/bug.c, kernel/panic.c), die() and the register and
stack dumps (arch/x86/kernel/dumpstack.c, process_64.c), dump_stack(), and the watchdog's soft
lockup report for a CPU that never comes back.

Registers, the faulting address and the call chain inside the module are real (the module's
own ORC tables are walked); the frames of the kernel around it are those the kernel shows for
the same call path; the user-space part of the trace is that of the real insmod/rmmod.
"""

from __future__ import annotations

import signal
import struct
from typing import TYPE_CHECKING

from . import taint
from .emu.memory_map import PERCPU_BASE, THREAD_SIZE
from .emu.traps import Budget, CpuStop, Fault, Halted, InterruptedCall, InvalidOpcode
from .module.internal import module_flags
from .module.module import State
from .profile.versions import DIE_HEADER_OOPS, DUMP_STACK_UID, TAINTED_VERBOSE
from .unwind import unwind

if TYPE_CHECKING:
    from .module.module import Module
    from .state import KernelState

CUT_HERE = "------------[ cut here ]------------\n"
HARDWARE = "QEMU Standard PC (i440FX + PIIX, 1996), BIOS 1.16.2-debian-1.16.2-1 04/01/2014"
PROLOGUE_SIZE = 42
EPILOGUE_SIZE = 21
X86_PF_PROT, X86_PF_WRITE, X86_PF_USER, X86_PF_INSTR = 1, 2, 4, 16
BUGFLAG_WARNING, BUGFLAG_ONCE, BUGFLAG_DONE, BUGFLAG_NO_CUT_HERE = 1, 2, 4, 8
BUG_ENTRY = struct.Struct("<iiHH")  # GENERIC_BUG_RELATIVE_POINTERS: bug_addr_disp file_disp line flags

# which paths through the kernel's own code lie below a module's code, by where it was called
# from; each path's frames are the machine's (profile.frames(): return addresses in its build)
SYSCALL_PATHS = {"init": ("init", "finit"), "exit": ("exit",), "parse_args": ("parse_args", "finit"),
                 "read": ("read",), "vfs_read": ("vfs_read",), "vfs_write": ("vfs_write",)}
KTHREAD_PATHS = frozenset({"work", "kthread", "timer", "hrtimer", "tasklet", "rcu", "firmware"})


def syscall_frames(kernel: KernelState, where: str) -> tuple[str, ...]:
    """The kernel's frames between a module's code called from a system call and user space."""
    p = kernel.profile
    return tuple(f for path in SYSCALL_PATHS.get(where, ()) for f in p.frames(path)) + p.frames("user")


KERNEL_SPACE = 0xFFFF800000000000  # fault_in_kernel_space(): the upper half
# finit_module, delete_module, sendfile (busybox cat of a /proc file), read and write of a device
SYSCALL_NR = {"init": 313, "parse_args": 313, "exit": 176, "read": 40, "vfs_read": 0, "vfs_write": 1}


def _p(level: int, text: str) -> bytes:
    return bytes((1, 0x30 + level)) + text.encode("utf-8", "replace")


def _default(text: str) -> bytes:
    """KERN_DEFAULT (""): the message gets the default level."""
    return text.encode("utf-8", "replace")


def _task(kernel: KernelState) -> tuple[int, str]:
    return kernel.current_pid, kernel.current_comm


def dump_stack_print_info(kernel: KernelState) -> list[bytes]:
    pid, comm = _task(kernel)
    p = kernel.profile
    version = p.uts_version.split(" ", 1)[0]
    debian = ""
    words = p.uts_version.split()
    if "Debian" in words:
        i = words.index("Debian")
        debian = f" Debian {words[i + 1]}" if i + 1 < len(words) else ""
    tainted = taint.print_tainted(kernel.tainted)
    uid = f"UID: {kernel.current_uid} " if p.since(DUMP_STACK_UID) else ""
    lines = [_default(f"CPU: 0 {uid}PID: {pid} Comm: {comm[:20]} {tainted} {p.release} {version} {debian}\n")]
    if p.since(TAINTED_VERBOSE) and kernel.tainted:
        lines.append(_default(taint.print_tainted_verbose(kernel.tainted) + "\n"))
    return [*lines, _default(f"Hardware name: {HARDWARE}\n")]


def show_opcodes(kernel: KernelState, ip: int) -> tuple[bytes, int | None]:
    """The Code: line, and where copy_from_kernel_nofault() faulted if it could not read."""
    start = (ip - PROLOGUE_SIZE) & ((1 << 64) - 1)
    m = kernel.machine
    for chunk in range(start, start + PROLOGUE_SIZE + 1 + EPILOGUE_SIZE, 8):
        for b in range(chunk, min(chunk + 8, start + PROLOGUE_SIZE + 1 + EPILOGUE_SIZE)):
            if not m.is_mapped(b):
                return _default(f"Code: Unable to access opcode bytes at 0x{start:x}.\n"), b
    code = m.read(start, PROLOGUE_SIZE + 1 + EPILOGUE_SIZE)
    text = " ".join(f"{c:02x}" for c in code[:PROLOGUE_SIZE])
    text += f" <{code[PROLOGUE_SIZE]:02x}> " + " ".join(f"{c:02x}" for c in code[PROLOGUE_SIZE + 1 :])
    return _default(f"Code: {text}\n"), None


def show_regs_lines(kernel: KernelState, regs: dict[str, int], cr2: int, short: bool = False) -> tuple[list[bytes], int]:
    """__show_regs(): RIP, Code, RSP and the register lines; returns them and the new CR2."""
    out = [_default(f"RIP: 0010:{kernel.format_symbol(regs['rip'])}\n")]
    code, fault = show_opcodes(kernel, regs["rip"])
    out.append(code)
    if fault is not None:
        cr2 = fault
    r = regs
    out += [
        _default(f"RSP: 0018:{r['rsp']:016x} EFLAGS: {r['eflags'] & 0xFFFFFFFF:08x}\n"),
        _default(f"RAX: {r['rax']:016x} RBX: {r['rbx']:016x} RCX: {r['rcx']:016x}\n"),
        _default(f"RDX: {r['rdx']:016x} RSI: {r['rsi']:016x} RDI: {r['rdi']:016x}\n"),
        _default(f"RBP: {r['rbp']:016x} R08: {r['r8']:016x} R09: {r['r9']:016x}\n"),
        _default(f"R10: {r['r10']:016x} R11: {r['r11']:016x} R12: {r['r12']:016x}\n"),
        _default(f"R13: {r['r13']:016x} R14: {r['r14']:016x} R15: {r['r15']:016x}\n"),
    ]
    if not short:

        out += [
            _default(f"FS:  {kernel.user_fs:016x}(0000) GS:{PERCPU_BASE:016x}(0000) knlGS:0000000000000000\n"),
            _default("CS:  0010 DS: 0000 ES: 0000 CR0: 0000000080050033\n"),
            _default(f"CR2: {cr2:016x} CR3: 00000000027c2000 CR4: 00000000000006f0\n"),
        ]
    return out, cr2


def user_regs_lines(kernel: KernelState, where: str) -> list[bytes]:
    """The insmod/rmmod process at its syscall, as the kernel shows user mode under <TASK>."""
    u = kernel.user_regs(where)
    return [
        _default(f"RIP: 0033:0x{u['rip']:x}\n"),
        _default(
            "Code: 08 89 e8 5b 5d c3 66 2e 0f 1f 84 00 00 00 00 00 90 48 89 f8 48 89 f7 48 89 d6 48 89 ca 4d 89 "
            "c2 4d 89 c8 4c 8b 4c 24 08 0f 05 <48> 3d 01 f0 ff ff 73 01 c3 48 8b 0d a7 15 0d 00 f7 d8 64 89 01 48\n"
        ),
        _default(f"RSP: 002b:{u['rsp']:016x} EFLAGS: 00000246 ORIG_RAX: {SYSCALL_NR.get(where, 313):016x}\n"),
        _default(f"RAX: ffffffffffffffda RBX: {u['rbx']:016x} RCX: {u['rip']:016x}\n"),
        _default(f"RDX: 0000000000000000 RSI: {u['rsi']:016x} RDI: 0000000000000003\n"),
        _default(f"RBP: {u['rsi']:016x} R08: 0000000000000000 R09: {u['r9']:016x}\n"),
        _default("R10: 0000000000000003 R11: 0000000000000246 R12: 0000000000000000\n"),
        _default(f"R13: 0000000000000000 R14: {u['r14']:016x} R15: 0000000000000000\n"),
    ]


def call_trace(kernel: KernelState, regs: dict[str, int], where: str, first: tuple[str, ...] = (),
               chain: list[tuple[int, int, int, int]] = ()) -> list[bytes]:
    """Call Trace: the module's frames (ORC, through kernel functions that called back into
    module code), then the kernel's path from the syscall or the kernel thread."""
    irq = where in ("timer", "hrtimer", "tasklet", "rcu")
    if where in KTHREAD_PATHS:
        chain = ()  # the callback runs on its own (kernel thread's or interrupt's) stack
    out = [_default("Call Trace:\n"), _default(" <IRQ>\n" if irq else " <TASK>\n")]
    rip = regs["rip"]
    if rip and not first and kernel.module_at(rip) is None and kernel.machine.function_name(rip) is None:
        # no ORC data for the faulting address (a jump into nothing): the unwinder falls back
        # to the frame pointer, gets lost, and every frame it lists is unreliable ("? ", not
        # shown here); it never reaches the syscall's registers
        out.append(_default(" </IRQ>\n" if irq else " </TASK>\n"))
        return out
    for name in first:
        out.append(_default(f" {name}\n"))
    for ret in unwind(kernel, regs["rip"], regs["rsp"], regs["rbp"], chain=chain):
        if ret == kernel.machine.return_trampoline:
            break
        if kernel.module_at(ret) is None and kernel.machine.function_name(ret) is None:
            break
        out.append(_default(f" {kernel.format_symbol(ret)}\n"))
    if where in KTHREAD_PATHS:
        for frame in kernel.profile.frames(where):
            out.append(_default(f" {kernel.format_kernel_frame(frame)}\n"))
        out.append(_default(" </IRQ>\n" if irq else " </TASK>\n"))
        return out
    for frame in syscall_frames(kernel, where):
        out.append(_default(f" {kernel.format_kernel_frame(frame)}\n"))
    out += user_regs_lines(kernel, where)
    out.append(_default(" </TASK>\n"))
    return out


def print_modules(kernel: KernelState) -> bytes:
    text = "Modules linked in:"
    for mod in kernel.modules:
        if mod.state == State.UNFORMED:
            continue
        text += f" {mod.name}{module_flags(mod)}"
    if kernel.last_unloaded:
        name, flags = kernel.last_unloaded
        text += f" [last unloaded: {name}{'(' + flags + ')' if flags else ''}]"
    return _default(text + "\n")


def _emit(kernel: KernelState, lines: list[bytes]) -> None:
    for line in lines:
        kernel.log.printk(line)


def die_header(kernel: KernelState, what: str, err: int) -> bytes:
    kernel.die_counter += 1
    p = kernel.profile
    pr = " PREEMPT" if p.enabled("PREEMPTION") else ""
    smp = " SMP" if p.enabled("SMP") else ""
    pti = " NOPTI" if p.enabled("PAGE_TABLE_ISOLATION") else ""
    oops = "Oops: " if p.since(DIE_HEADER_OOPS) else ""
    return _default(f"{oops}{what}: {err & 0xFFFF:04x} [#{kernel.die_counter}]{pr}{smp}{pti}\n")


def oops(kernel: KernelState, regs: dict[str, int], where: str, what: str, err: int, cr2: int, head: list[bytes],
         chain: list[tuple[int, int, int, int]] = ()) -> None:
    """oops_begin() .. __die() .. oops_end(): the whole report, taint D."""
    kernel.debug_locks = False  # oops_enter() -> debug_locks_off(), silently
    lines = list(head)
    if not kernel.die_counter:
        kernel.exec_summary = regs
    lines.append(die_header(kernel, what, err))
    lines += dump_stack_print_info(kernel)
    reg_lines, cr2_now = show_regs_lines(kernel, regs, cr2)
    lines += reg_lines
    lines += call_trace(kernel, regs, where, chain=chain)
    lines.append(print_modules(kernel))
    if what == "Oops":
        lines.append(_default(f"CR2: {cr2:016x}\n"))
    _emit(kernel, lines)
    oops_end(kernel, cr2_now)


def oops_end(kernel: KernelState, cr2: int) -> None:
    """Taint D, the end marker, and the executive summary: the registers of the first oops
    since boot (__die_header() keeps them), with the control registers as they are now."""
    kernel.add_taint(taint.DIE, lockdep_ok=False)
    _emit(kernel, [_p(4, "---[ end trace 0000000000000000 ]---\n")])
    summary = kernel.exec_summary
    _emit(kernel, [summary] if isinstance(summary, bytes) else show_regs_lines(kernel, summary, cr2)[0])


def die_in_kernel(kernel: KernelState, bug_site: str, rip: str, trace: list[bytes]) -> None:
    """BUG() in the kernel's own code (a check a module's call ran into): lib/bug.c's lines and
    die()'s report. Where it stopped (rip, the file and line) is the machine's; its registers
    and code bytes are not shown, pseudokernel does not run the kernel's code."""
    _emit(kernel, [_default(CUT_HERE), _p(2, f"kernel BUG at {bug_site}!\n")])
    kernel.debug_locks = False
    rip_line = _default(f"RIP: 0010:{kernel.format_kernel_frame(rip)}\n")
    if not kernel.die_counter:
        kernel.exec_summary = rip_line
    lines = [die_header(kernel, "invalid opcode", 0)]
    lines += dump_stack_print_info(kernel)
    lines.append(rip_line)
    lines += trace
    lines.append(print_modules(kernel))
    _emit(kernel, lines)
    oops_end(kernel, kernel.cr2)


def page_fault(kernel: KernelState, stop: Fault, where: str) -> str:
    regs = stop.regs
    addr = stop.address
    access = stop.access
    prot = access.endswith("-prot")
    err = (X86_PF_PROT if prot else 0) | (X86_PF_WRITE if access.startswith("write") else 0)
    if access.startswith("fetch"):
        err |= X86_PF_INSTR
    head: list[bytes] = []
    if _is_stack_guard(kernel, addr):
        m = kernel.machine
        begin, end = kernel.hashed_pointer(m.stack_base), kernel.hashed_pointer(m.stack_top)
        kernel.log.printk(
            _p(0, f"BUG: TASK stack guard page was hit at {kernel.hashed_pointer(addr)} (stack is {begin}..{end})\n")
        )
        oops(kernel, regs, where, "stack guard page", 0, addr, head, stop.chain)
        # handle_stack_overflow() runs in the double fault handler: oops_end() finds itself
        # in an interrupt and panics (seen on the real kernel: hostile.ko mode=recurse)
        panic_after_oops(kernel, "Fatal exception in interrupt")
        return "panic"
    if err & X86_PF_INSTR and prot:
        head.append(_p(2, "kernel tried to execute NX-protected page - exploit attempt? (uid: 0)\n"))
    if addr < 4096:
        head.append(_p(1, f"BUG: kernel NULL pointer dereference, address: {addr:016x}\n"))
    else:
        head.append(_p(1, f"BUG: unable to handle page fault for address: {addr:016x}\n"))
    kind = "instruction fetch" if err & X86_PF_INSTR else "write access" if err & X86_PF_WRITE else "read access"
    head.append(_p(1, f"#PF: supervisor {kind} in kernel mode\n"))
    head.append(_p(1, f"#PF: error_code(0x{err:04x}) - {'permissions violation' if prot else 'not-present page'}\n"))
    head.append(_p(6, dump_pagetable(addr, prot, where) + "\n"))
    oops(kernel, regs, where, "Oops", err, addr, head, stop.chain)
    # do_kern_addr_fault(), and do_user_addr_fault() for kernel code fetching from user memory
    # or for a task with no mm of its own (a kthread, a kworker: `|| !mm`), oops before the
    # fault handler turns interrupts back on: the task exits with them off
    if addr >= KERNEL_SPACE or err & X86_PF_INSTR or where in KTHREAD_PATHS:
        pid, comm = _task(kernel)
        kernel.log.printk(_p(6, f"note: {comm}[{pid}] exited with irqs disabled\n"))
    return "oops"


def dump_pagetable(addr: int, present: bool, where: str = "init") -> str:
    """The page-table walk line; the entry values are those of a 1 GiB QEMU guest. A user
    address walks the faulting process's tables: insmod (a PIE far up) has nothing in the
    first 512 GiB; busybox cat, the reader of a /proc file (static, at 4 MiB), has its first
    gigabyte's PUD but nothing in the 2 MiB below its image (hostile-procoops); a kthread has
    no mm and walks the one it borrowed from the last process, busybox's (ktask-oops)."""
    if addr < (1 << 47):
        if where in ("read", "kthread") and addr < 0x400000:
            return "PGD 3ff01067 P4D 3ff01067 PUD 3fed6067 PMD 0 "
        return "PGD 0 P4D 0 "
    if present:
        return "PGD 27c6067 P4D 27c6067 PUD 27c8067 PMD 100c6067 PTE 8000000003c3b161"
    return "PGD 27c6067 P4D 27c6067 PUD 27c8067 PMD 100c6067 PTE 0"


def _is_stack_guard(kernel: KernelState, addr: int) -> bool:
    m = kernel.machine
    return m.stack_base - 4096 <= addr < m.stack_base or m.stack_top <= addr < m.stack_top + 4096


def find_bug(kernel: KernelState, rip: int) -> tuple[str | None, int, int, int] | None:
    """The __bug_table entry for a ud2 at rip: (file, line, flags, entry address)."""
    mod = kernel.module_at(rip)
    if mod is None or not getattr(mod, "bug_table", (0, 0))[1]:
        return None
    base, size = mod.bug_table
    m = kernel.machine
    raw = m.read(base, size - size % BUG_ENTRY.size)
    for i, (addr_disp, file_disp, line, flags) in enumerate(BUG_ENTRY.iter_unpack(raw)):
        entry = base + i * BUG_ENTRY.size
        if (entry + addr_disp) & ((1 << 64) - 1) != rip:
            continue
        file = None
        if file_disp:
            file = m.read_cstr(entry + 4 + file_disp, 4096).decode("utf-8", "replace")
        return file, line, flags, entry
    return None


def handle_ud2(kernel: KernelState, rip: int) -> bool:
    """do_error_trap for #UD: a WARN continues after the ud2; BUG and the rest die."""
    m = kernel.machine
    try:
        insn = m.read(rip, 2)
    except Exception:
        insn = b""
    where = kernel.current_where
    bug = find_bug(kernel, rip) if insn == b"\x0f\x0b" else None
    regs = m.registers()
    if bug is not None:
        file, line, flags, entry = bug
        if flags & BUGFLAG_WARNING:
            if flags & BUGFLAG_ONCE:
                if flags & BUGFLAG_DONE:
                    m.set_reg_rip(rip + 2)
                    return True
                m.write_u16(entry + 10, flags | BUGFLAG_DONE)
            lines = [] if flags & BUGFLAG_NO_CUT_HERE else [_default(CUT_HERE)]
            caller = kernel.format_symbol(rip)
            at = f"{file}:{line} " if file else ""
            lines.append(_p(4, f"WARNING: CPU: 0 PID: {kernel.current_pid} at {at}{caller}\n"))
            lines.append(print_modules(kernel))
            lines += dump_stack_print_info(kernel)
            lines += show_regs_lines(kernel, regs, kernel.cr2)[0]
            lines += call_trace(kernel, regs, where, chain=m.current_chain())
            _emit(kernel, lines)
            _emit(kernel, [_p(4, "---[ end trace 0000000000000000 ]---\n")])
            kernel.add_taint(flags >> 8 if flags >> 8 else taint.WARN)
            m.set_reg_rip(rip + 2)
            return True
        lines = [] if flags & BUGFLAG_NO_CUT_HERE else [_default(CUT_HERE)]
        if file:
            lines.append(_p(2, f"kernel BUG at {file}:{line}!\n"))
        else:
            lines.append(_p(2, f"Kernel BUG at {kernel.format_symbol(rip)} [verbose debug info unavailable]\n"))
        _emit(kernel, lines)
    raise InvalidOpcode(regs)


def invalid_opcode(kernel: KernelState, stop: InvalidOpcode, where: str) -> str:
    oops(kernel, stop.regs, where, "invalid opcode", 0, kernel.cr2, [], stop.chain)
    return "oops"


def soft_lockup(kernel: KernelState, stop: Budget, where: str) -> str:
    pid, comm = _task(kernel)
    lines = [_p(0, f"watchdog: BUG: soft lockup - CPU#0 stuck for {max(int(stop.seconds), 1)}s! [{comm}:{pid}]\n")]
    lines.append(print_modules(kernel))
    lines += dump_stack_print_info(kernel)
    lines += show_regs_lines(kernel, stop.regs, kernel.cr2)[0]
    lines += call_trace(kernel, stop.regs, where, chain=stop.chain)
    _emit(kernel, lines)
    kernel.add_taint(taint.SOFTLOCKUP)
    return "budget"


def fatal_signal(stop: BaseException) -> int:
    """The signal make_task_dead() ends the calling task with after the report (0: the task
    lives on, or has nothing the kernel would end): a page fault's oops_end(SIGKILL), die()'s
    SIGSEGV for a BUG or an invalid opcode; a panicked machine's tasks never come back."""
    if isinstance(stop, Fault):
        return signal.SIGKILL
    if isinstance(stop, InvalidOpcode):
        return signal.SIGSEGV
    if isinstance(stop, Halted):
        return signal.SIGSEGV if stop.reason == "die" else signal.SIGKILL
    return 0


class TaskDead(OSError):
    """A system call whose task the oops ended: the errno for whoever still waits for an answer
    (the mount's host, the seal), and the signal the calling process dies of."""

    def __init__(self, err: int, name: str, sig: int) -> None:
        super().__init__(err, name)
        self.signal = sig


def report(kernel: KernelState, mod: Module | None, stop: CpuStop | BaseException, where: str) -> str:
    """Print the kernel's report for a call that did not return; the outcome's name."""
    if isinstance(stop, Fault):
        return page_fault(kernel, stop, where)
    if isinstance(stop, InvalidOpcode):
        return invalid_opcode(kernel, stop, where)
    if isinstance(stop, Budget):
        return soft_lockup(kernel, stop, where)
    if isinstance(stop, InterruptedCall):
        return "interrupted"  # the caller went away: the kernel has nothing to say
    if isinstance(stop, Halted):
        if stop.reason in ("stack-protector", "panic"):
            return "panic"
        if stop.reason == "die":  # a kernel function's BUG(), reported where it was found
            return "oops"
        kernel.log.err(f"pseudokernel: {mod.name if mod else 'kernel'}: {stop.reason}\n")
        return "halted"
    kernel.log.err(f"pseudokernel: internal error while running {mod.name if mod else 'kernel'}: {stop!r}\n")
    return "error"


def panic(kernel: KernelState, message: str, regs: dict[str, int], where: str) -> None:
    """kernel/panic.c panic(): the message, the stack of the panicking task, the kernel
    offset, and the end marker. The machine is dead after it (on the reference machine,
    panic=-1 reboots it)."""
    kernel.log.printk(_p(0, f"Kernel panic - not syncing: {message}\n"))
    lines = dump_stack_print_info(kernel)
    lines.append(_default("Call Trace:\n"))
    lines.append(_default(" <TASK>\n"))
    for frame in kernel.profile.frames("dump_stack") + kernel.profile.frames("panic"):
        lines.append(_default(f" {kernel.format_kernel_frame(frame)}\n"))
    lines.append(_default(f" {kernel.format_kernel_frame('__stack_chk_fail+0x10')}\n"))
    lines.append(_default(f" {kernel.format_symbol(regs['rip'])}\n"))
    for ret in unwind(kernel, regs["rip"], regs["rsp"], regs["rbp"], chain=kernel.machine.current_chain()):
        if kernel.module_at(ret) is None and kernel.machine.function_name(ret) is None:
            break
        lines.append(_default(f" {kernel.format_symbol(ret)}\n"))
    for frame in syscall_frames(kernel, where):
        lines.append(_default(f" {kernel.format_kernel_frame(frame)}\n"))
    lines += user_regs_lines(kernel, where)
    lines.append(_default(" </TASK>\n"))
    lines.append(_p(0, "Kernel Offset: disabled\n"))
    lines.append(_p(0, f"---[ end Kernel panic - not syncing: {message} ]---\n"))
    _emit(kernel, lines)


def panic_after_oops(kernel: KernelState, message: str) -> None:
    """panic() right after an oops: taint D is set, so no stack is dumped again. With a
    panic= timeout the machine reboots before the end marker. The real machine is dead after
    it; pseudokernel says so and goes on."""
    lines = [_p(0, f"Kernel panic - not syncing: {message}\n"), _p(0, "Kernel Offset: disabled\n")]
    try:
        timeout = int(kernel.cmdline_param("panic", "0") or 0)
    except ValueError:
        timeout = 0
    if timeout > 0:
        lines.append(_p(0, f"Rebooting in {timeout} seconds..\n"))
    if timeout == 0:
        lines.append(_p(0, f"---[ end Kernel panic - not syncing: {message} ]---\n"))
    _emit(kernel, lines)
    kernel.log.err("pseudokernel: the real kernel stops here (panic); this one goes on, its state is the panic's\n")


def dump_stack(kernel: KernelState, mod: Module | None) -> None:
    """dump_stack() from do_init_module (the "suspiciously returned" case)."""
    p = kernel.profile
    lines = dump_stack_print_info(kernel)
    lines.append(_default("Call Trace:\n"))
    lines.append(_default(" <TASK>\n"))
    for frame in p.frames("dump_stack") + p.frames("init_returned") + p.frames("finit") + p.frames("user"):
        lines.append(_default(f" {kernel.format_kernel_frame(frame)}\n"))
    lines += user_regs_lines(kernel, "init")
    lines.append(_default(" </TASK>\n"))
    _emit(kernel, lines)


__all__ = ["report", "handle_ud2", "dump_stack", "THREAD_SIZE"]
