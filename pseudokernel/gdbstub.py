"""A GDB Remote Serial Protocol stub on the emulated CPU: gdb on a module's init.

`pseudokernel insmod --gdb PORT FILE` arms one for that load (daemon.py): at the call of the
module's init the stub puts a code hook on the CPU (Machine.add_debug_hook) and stops before
init's first instruction (gdb sees the caller's `call`), waiting for gdb on 127.0.0.1:PORT. The connection is served
synchronously from inside the hook, on the thread running the module's code: registers and
memory are there to read and write, `continue` is returning from the hook, `step` stops at the
next instruction of module code (kernel functions, answered in Python, are stepped over).
Breakpoints are addresses the hook compares with, never an int3 in module memory. While
stopped the init's budget is paused; the CPU stays taken, as a kernel stopped in kgdb is
(other callers' waits for it end on their signals).

The session ends, and init runs on unobserved, when gdb detaches (D) or its connection closes,
when nobody has connected and the insmod that asked is gone (`gone()`), or when the daemon
stops. `k` ends init as a signal would (an interrupted init, unwound). When init returns the
stub tells gdb the "process" exited (W) with the load's errno.

The protocol: qSupported, qXfer:features:read (target.xml names i386:x86-64, so the g packet is
gdb's amd64 layout), ?, g/G, p/P, m/M, Z0/z0 (and Z1/z1), c, s, C, S, vCont, D, k, qAttached,
qC, the thread queries of one thread, T/S/W stop replies, ^C while running.
"""

from __future__ import annotations

import select
import socket
from collections.abc import Callable
from typing import TYPE_CHECKING

from unicorn import x86_const as X

from .emu import memory_map as mm
from .emu.traps import InterruptedCall
from .emu.vsprintf import MemoryFault
from .sigpending import POLL, signal_pending

if TYPE_CHECKING:
    from .emu.machine import Machine

SIGINT, SIGTRAP = 2, 5
POLL_EVERY = 4096  # instructions between two looks for a ^C from gdb while running

TARGET_XML = (b'<?xml version="1.0"?>\n<!DOCTYPE target SYSTEM "gdb-target.dtd">\n'
              b"<target><architecture>i386:x86-64</architecture></target>\n")


def _reg(name: str) -> int:
    return getattr(X, "UC_X86_REG_" + name.upper())


# gdb's amd64 register numbers, in g-packet order: (unicorn register or None, size in bytes)
REGS: list[tuple[int | None, int]] = (
    [(_reg(n), 8) for n in ("rax", "rbx", "rcx", "rdx", "rsi", "rdi", "rbp", "rsp")]
    + [(_reg(f"r{i}"), 8) for i in range(8, 16)]
    + [(_reg("rip"), 8), (_reg("eflags"), 4)]
    + [(_reg(n), 4) for n in ("cs", "ss", "ds", "es", "fs", "gs")]
    + [(None, 10)] * 8  # st0-st7: the x87 stack, unused by kernel code
    + [(None, 4)] * 8  # fctrl fstat ftag fiseg fioff foseg fooff fop
    + [(_reg(f"xmm{i}"), 16) for i in range(16)]
    + [(_reg("mxcsr"), 4)]
)
X87_DEFAULTS = {32: 0x37F}  # fctrl after fninit


def checksum(data: bytes) -> bytes:
    return b"%02x" % (sum(data) & 0xFF)


class GdbStub:
    """One debugging session, for one call of a module's init."""

    def __init__(self, machine: Machine, port: int, host: str = "127.0.0.1",
                 gone: Callable[[], bool] | None = None) -> None:
        self.m = machine
        self.gone = gone or (lambda: False)
        self.listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            self.listener.bind((host, port))
            self.listener.listen(1)
        except OSError:
            self.listener.close()
            raise
        self.port = self.listener.getsockname()[1]
        self.conn: socket.socket | None = None
        self.handle: int | None = None  # the CPU hook, while a session lasts
        self.attached = False  # init was reached (once per stub)
        self.breakpoints: set[int] = set()
        self.stepping = False
        self._skip: int | None = None  # the address resumed from: its hook may come again
        self._count = 0
        self._buf = b""
        self._stop_reply = b"S05"
        self._running = False  # gdb waits for a stop reply
        self._precall = False  # the first stop is still to come
        self._virtual: dict[int, int] = {}  # registers as gdb sees them before init's call

    # -- the session's life -----------------------------------------------------------------

    def attach(self) -> None:
        """The init's call begins: the first stop comes before its first instruction."""
        self.attached = True
        self._precall = True
        self.handle = self.m.add_debug_hook(self._hook)

    def finish(self, status: int = 0) -> None:
        """The load is over (init returned, failed, or never ran): gdb is told, all closes."""
        if self.conn is not None and self._running:
            try:
                self._send(b"W%02x" % (status & 0xFF))
            except OSError:
                pass
        self._end()
        self.listener.close()

    def _end(self) -> None:
        """No more debugging: the hook off, init runs on at full speed."""
        if self.handle is not None:
            self.m.remove_debug_hook(self.handle)
            self.handle = None
        self.breakpoints.clear()
        self.stepping = False
        if self.conn is not None:
            self.conn.close()
            self.conn = None

    # -- the CPU hook -----------------------------------------------------------------------

    def _hook(self, addr: int) -> None:
        if self.handle is None:
            return
        if not mm.MODULES_VADDR <= addr < mm.MODULES_END:
            return  # a kernel function (its handler runs as one step) or a thunk
        if self._skip is not None:
            again, self._skip = addr == self._skip, None
            if again:
                return
        if self._precall:
            self._precall = False
            self._stop_before_call(addr)
        if self.handle is not None and (self.stepping or addr in self.breakpoints):
            swbreak = not self.stepping
            self._stopped(SIGTRAP, swbreak)
            self._skip = addr
        elif self.conn is not None:
            self._count += 1
            if self._count % POLL_EVERY == 0 and self._interrupt_pending():
                self._stopped(SIGINT, False)
                self._skip = addr

    def _stop_before_call(self, addr: int) -> None:
        """The first stop: init is called but has not run an instruction. gdb sees the CPU at
        the caller's `call` (do_one_initcall's), so `break hello_init` then `continue` stops at
        the breakpoint and `stepi` lands on init's first instruction, as on a kernel."""
        rsp = self.m.uc.reg_read(X.UC_X86_REG_RSP)
        self._virtual = {X.UC_X86_REG_RIP: self.m.read_u64(rsp) - 5, X.UC_X86_REG_RSP: rsp + 8}
        try:
            self._stopped(SIGTRAP, False)
        finally:
            self._virtual = {}

    def _interrupt_pending(self) -> bool:
        try:
            if select.select([self.conn], [], [], 0)[0]:
                data = self.conn.recv(4096)
                if not data:
                    self._end()
                    return False
                self._buf += data
                if b"\x03" in self._buf:
                    self._buf = self._buf.replace(b"\x03", b"")
                    return True
        except OSError:
            self._end()
        return False

    def _stopped(self, sig: int, swbreak: bool) -> None:
        self.stepping = False
        self._stop_reply = b"T%02xthread:1;%s" % (sig, b"swbreak:;" if swbreak else b"")
        left = self.m.pause_budget(self.m.depth())
        try:
            if self.conn is None and not self._accept():
                self._end()
                return
            if self._running:
                self._running = False
                self._send(self._stop_reply)
            self._serve()
        except OSError:
            self._end()
        finally:
            self.m.resume_budget(left)

    def _accept(self) -> bool:
        """Wait for gdb, in slices: given up when the daemon stops or the insmod is gone."""
        self.listener.settimeout(POLL)
        while True:
            if signal_pending() or self.gone():
                return False
            try:
                conn, _ = self.listener.accept()
            except TimeoutError:
                continue
            conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            self.conn = conn
            return True

    # -- packets ----------------------------------------------------------------------------

    def _packet(self) -> bytes | None:
        """The next packet from gdb (acknowledged), None when the session is over."""
        while True:
            while self._buf[:1] in (b"+", b"-", b"\x03"):
                self._buf = self._buf[1:]
            start = self._buf.find(b"$")
            end = self._buf.find(b"#", start)
            if start >= 0 and end >= 0 and len(self._buf) >= end + 3:
                data, self._buf = self._buf[start + 1:end], self._buf[end + 3:]
                self.conn.sendall(b"+")
                return data
            if signal_pending():
                return None
            self.conn.settimeout(POLL)
            try:
                chunk = self.conn.recv(4096)
            except TimeoutError:
                continue
            if not chunk:
                return None
            self._buf += chunk

    def _send(self, data: bytes) -> None:
        self.conn.sendall(b"$" + data + b"#" + checksum(data))

    def _serve(self) -> None:
        """Answer gdb until it resumes the CPU (return) or the session ends."""
        while True:
            pkt = self._packet()
            if pkt is None:
                self._end()
                return
            try:
                reply = self._answer(pkt)
            except (MemoryFault, ValueError, IndexError):
                reply = b"E01"
            if reply is None:  # resumed
                self._running = True
                return
            self._send(reply)
            if pkt[:1] in (b"D", b"k"):
                self._end()
                if pkt[:1] == b"k":
                    raise InterruptedCall(self.m.registers())
                return

    def _answer(self, pkt: bytes) -> bytes | None:
        cmd, rest = pkt[:1], pkt[1:]
        if pkt.startswith(b"qSupported"):
            return b"PacketSize=4000;qXfer:features:read+;swbreak+;hwbreak+;vContSupported+"
        if pkt.startswith(b"qXfer:features:read:target.xml:"):
            off, length = (int(x, 16) for x in pkt.rsplit(b":", 1)[1].split(b","))
            chunk = TARGET_XML[off:off + length]
            return (b"m" if off + length < len(TARGET_XML) else b"l") + chunk
        if pkt == b"?":
            return self._stop_reply
        if pkt in (b"qAttached",) or pkt.startswith(b"qAttached:"):
            return b"1"
        if pkt == b"qC":
            return b"QC1"
        if pkt == b"qfThreadInfo":
            return b"m1"
        if pkt == b"qsThreadInfo":
            return b"l"
        if cmd == b"H" or cmd == b"T" or pkt.startswith(b"qSymbol"):
            return b"OK"
        if pkt == b"vCont?":
            return b"vCont;c;C;s;S"
        if pkt.startswith(b"vCont;"):
            action = pkt[6:].split(b";")[0].split(b":")[0]
            return self._resume(action[:1] in (b"s", b"S"))
        if cmd in (b"c", b"C"):
            return self._resume(False)
        if cmd in (b"s", b"S"):
            return self._resume(True)
        if cmd == b"g":
            return b"".join(self._read_reg(i) for i in range(len(REGS)))
        if cmd == b"G":
            data, at = bytes.fromhex(rest.decode()), 0
            for i, (_, size) in enumerate(REGS):
                if at + size > len(data):
                    break
                self._write_reg(i, data[at:at + size])
                at += size
            return b"OK"
        if cmd == b"p":
            n = int(rest, 16)
            return self._read_reg(n) if n < len(REGS) else b"E00"
        if cmd == b"P":
            n, value = rest.split(b"=")
            self._write_reg(int(n, 16), bytes.fromhex(value.decode()))
            return b"OK"
        if cmd == b"m":
            addr, length = (int(x, 16) for x in rest.split(b","))
            return self._read_memory(addr, length)
        if cmd == b"M":
            where, data = rest.split(b":")
            addr, _ = (int(x, 16) for x in where.split(b","))
            self.m.write(addr, bytes.fromhex(data.decode()))
            return b"OK"
        if cmd in (b"Z", b"z") and rest[:1] in (b"0", b"1"):
            addr = int(rest.split(b",")[1], 16)
            if cmd == b"Z":
                self.breakpoints.add(addr)
            else:
                self.breakpoints.discard(addr)
            return b"OK"
        if cmd in (b"D", b"k"):
            return b"OK"
        return b""  # not supported

    def _resume(self, step: bool) -> None:
        self.stepping = step
        return None

    def _read_memory(self, addr: int, length: int) -> bytes:
        """What is readable from addr on (gdb takes a short read), E14 (EFAULT) if nothing."""
        out = b""
        while len(out) < length:
            n = min(length - len(out), 4096 - (addr + len(out)) % 4096)
            try:
                out += self.m.read(addr + len(out), n)
            except MemoryFault:
                break
        return out.hex().encode() if out else b"E14"

    def _read_reg(self, n: int) -> bytes:
        reg, size = REGS[n]
        if reg in self._virtual:
            value = self._virtual[reg]
        else:
            value = self.m.uc.reg_read(reg) if reg is not None else X87_DEFAULTS.get(n, 0)
        if isinstance(value, tuple):  # x87 registers come as (mantissa, exponent)
            value = 0
        return (value & ((1 << (8 * size)) - 1)).to_bytes(size, "little").hex().encode()

    def _write_reg(self, n: int, data: bytes) -> None:
        reg, size = REGS[n]
        if reg is None or reg in self._virtual or len(data) < size:
            return
        value = int.from_bytes(data[:size], "little")
        # an unchanged RIP is not written: a write of it from a hook restarts the instruction
        if self.m.uc.reg_read(reg) != value:
            self.m.uc.reg_write(reg, value)
