"""kernel/trace/: ftrace's function_graph tracer over the module's code, and trace_printk().

The kernel's way, kept: a module's functions start with `call __fentry__`, turned into a NOP
at load (module/main.py, ftrace_module_init). Choosing function_graph (current_tracer) turns
those sites back into calls (ftrace_modify_all_code), and the `__fentry__` stub then hooks the
function's return: the return address on the stack is swapped for `return_to_handler`
(prepare_ftrace_return), whose stub records the exit and resumes at the real one. Kernel
functions are Python handlers: each call through the stub doorway (KernelApi._dispatch) is
recorded around its handler, nested in whatever module function called it.

The cost when the tracer is nop: none on the doorway (the machine's dispatch is KernelApi's
own; `Ftrace.set_tracer` swaps in the tracing one and back), none on module functions (NOPs).

Events are kept as the ring buffer keeps them (an entry and a return per call, a print);
fs/tracing.py prints them in trace_functions_graph.c's format.
"""

from __future__ import annotations

import errno
import fnmatch
import threading
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from unicorn import x86_const as X

from ...bits import MASK64
from . import KernelApi, VarArgs, kapi

NOP5 = bytes((0x0F, 0x1F, 0x44, 0x00, 0x00))  # what ftrace_init_nop() left at each site
TRACERS = ("nop", "function", "function_graph")  # the ones that run here
# the tracers a kernel registers, in the order it registers them (nop in tracer_alloc_buffers,
# then the initcalls: core, device, late), each with the option that builds it in
REGISTERED = (("nop", ""), ("function", "FUNCTION_TRACER"), ("irqsoff", "IRQSOFF_TRACER"),
              ("preemptoff", "PREEMPT_TRACER"), ("preemptirqsoff", "PREEMPT_TRACER"), ("wakeup", "SCHED_TRACER"),
              ("wakeup_rt", "SCHED_TRACER"), ("wakeup_dl", "SCHED_TRACER"), ("function_graph", "FUNCTION_GRAPH_TRACER"),
              ("mmiotrace", "MMIOTRACE"), ("blk", "BLK_DEV_IO_TRACE"), ("hwlat", "HWLAT_TRACER"),
              ("osnoise", "OSNOISE_TRACER"), ("timerlat", "TIMERLAT_TRACER"))
CLOCKS = ("local", "global", "counter", "uptime", "perf", "mono", "mono_raw", "boot", "tai", "x86-tsc")
BUFFER_EVENTS = 1 << 18  # the ring buffer overwrites its oldest events past this
# asm the kernel never traces (notrace): the thunks and ftrace's own entry points
_NOTRACE_PREFIX = ("__x86_", "__fentry__", "return_to_handler", "__trace_", "__SCT__")


@dataclass
class Event:
    """One ring buffer entry. kind: "ent" (func entered at depth), "ret" (returned, with its
    calltime and rettime), "print" (trace_printk's text, func = the caller)."""

    kind: str
    ts: int
    pid: int
    comm: str
    func: str
    depth: int = 0
    calltime: int = 0
    text: str = ""


@dataclass
class Frame:
    func: str
    calltime: int
    slot: int  # where its return address lives on the stack
    orig: int = 0  # the real return address (module functions: return_to_handler stands there)
    recorded: bool = True  # filtered out: kept for the return, not in the buffer


@dataclass
class Ftrace:
    k: KernelApi
    tracer: str = "nop"
    tracing_on: bool = True
    clock: str = "local"
    filters: list[str] = field(default_factory=list)  # set_ftrace_filter, as written
    events: deque = field(default_factory=lambda: deque(maxlen=BUFFER_EVENTS))
    written: int = 0  # entries-written (overwritten ones too)
    stacks: dict[int, list[Frame]] = field(default_factory=dict)  # ret_stack per task
    patched: dict[int, tuple[Any, list[int]]] = field(default_factory=dict)  # id(module) -> it, sites
    lock: threading.Lock = field(default_factory=threading.Lock)
    _match: dict[str, bool] = field(default_factory=dict)

    # -- the files' operations -----------------------------------------------------------

    def available(self) -> list[str]:
        """available_tracers: register_tracer() pushes each on the list's head."""
        profile = self.k.profile
        return [name for name, opt in reversed(REGISTERED) if not opt or profile.enabled(opt)]

    def set_tracer(self, name: str) -> None:
        """tracing_set_tracer(): the buffer is reset, the sites patched or NOPed again."""
        if name not in self.available():
            raise OSError(errno.EINVAL, name)
        if name not in TRACERS:
            raise OSError(errno.ENODEV, f"{name}: not emulated")  # listed, but not run here
        if name == self.tracer:
            return
        k = self.k
        with k.m.lock:
            was, self.tracer = self.tracer, name
            self.clear()
            if was == "nop":
                k.m.dispatch = self.dispatch
                k.enter_hooks.append(_patch_hook)
                patch_modules(self)
            elif name == "nop":
                k.m.dispatch = k._dispatch
                if _patch_hook in k.enter_hooks:
                    k.enter_hooks.remove(_patch_hook)
                self.unpatch_all()

    def set_clock(self, name: str) -> None:
        if name not in CLOCKS:
            raise OSError(errno.EINVAL, name)
        self.clock = name
        self.clear()  # tracing_set_clock() resets the buffers

    def clear(self) -> None:
        with self.lock:
            self.events.clear()
            self.written = 0

    def filter_reset(self) -> None:
        self.filters = []
        self._match = {}

    def filter_write(self, text: str) -> None:
        """ftrace_regex_write(): whitespace-separated globs, `!glob` removes, `glob:mod:NAME`
        limits to a module's functions; a glob that names no function is -EINVAL."""
        for word in text.split():
            neg = word.startswith("!")
            pat = word[1:] if neg else word
            if ":mod:" not in pat and not self.functions((pat,)):
                raise OSError(errno.EINVAL, word)  # a :mod: one waits for its module (cache_mod)
            if neg:
                self.filters = [f for f in self.filters if f != pat]
                if self.filters:  # !glob over a set: what remains is the set minus the glob
                    keep = [n for n in self.functions(self.filters) if not _match(pat, *_split(n))]
                    self.filters = keep
            else:
                self.filters.append(pat)
            self._match = {}

    def functions(self, patterns) -> list[str]:
        """The traceable functions (kallsyms text, then the modules') matching a pattern, as
        set_ftrace_filter lists them (%ps: `name [module]`)."""
        out = []
        kallsyms = self.k.profile.kallsyms
        for pat in patterns:
            glob, mod = _parse(pat)
            if mod is None:
                out.extend(name for _, typ, name in kallsyms if typ in "tT" and fnmatch.fnmatchcase(name, glob))
            for m in getattr(self.k.kernel, "modules", []):
                if mod is not None and m.name != mod:
                    continue
                out.extend(f"{name} [{m.name}]" for name in module_functions(self.k, m)
                           if fnmatch.fnmatchcase(name, glob))
        return list(dict.fromkeys(out))

    def wanted(self, func: str) -> bool:
        if not self.filters:
            return True
        hit = self._match.get(func)
        if hit is None:
            name, mod = _split(func)
            hit = self._match[func] = any(_match(p, name, mod) for p in self.filters)
        return hit

    def snapshot(self) -> tuple[list[Event], int]:
        with self.lock:
            return list(self.events), self.written

    # -- recording -----------------------------------------------------------------------

    def emit(self, ev: Event) -> None:
        if self.tracing_on:
            with self.lock:
                self.events.append(ev)
                self.written += 1

    def _task(self) -> tuple[int, str, list[Frame]]:
        kern = self.k.kernel
        pid = getattr(kern, "current_pid", 0)
        return pid, getattr(kern, "current_comm", ""), self.stacks.setdefault(pid, [])

    def dispatch(self, stub) -> None:
        """The machine's dispatch while function or function_graph is the tracer."""
        k = self.k
        name = stub.name
        if name == "__fentry__":
            if self.tracer == "function":
                self.function_call(k.m.read_u64(k.m.reg(_RSP)) - 5, k.m.read_u64(k.m.reg(_RSP) + 8))
            else:
                self.function_entry()
            return
        if name.startswith(_NOTRACE_PREFIX):
            k._dispatch(stub)
            return
        if self.tracer == "function":
            if self.wanted(name):
                self.emit_fn(name, k.caller)
            k._dispatch(stub)
            return
        m = k.m
        pid, comm, stack = self._task()
        slot = m.reg(_RSP)
        _prune(stack, slot)
        wanted = self.wanted(name)
        frame = Frame(name, k.now_ns(), slot, recorded=wanted)
        depth = sum(f.recorded for f in stack)
        if wanted:
            self.emit(Event("ent", frame.calltime, pid, comm, name, depth))
        stack.append(frame)
        try:
            k._dispatch(stub)
        finally:
            while stack and stack.pop() is not frame:
                pass
            if wanted:
                now = k.now_ns()
                self.emit(Event("ret", now, pid, comm, name, depth, frame.calltime))

    def function_call(self, site: int, parent: int) -> None:
        """function_trace_call() for a module function: its name and its caller's."""
        func = self.k.kernel.format_symbol(site, with_offset=False)
        if not func.startswith("0x") and self.wanted(func):
            self.emit_fn(func, parent)

    def emit_fn(self, func: str, parent: int) -> None:
        pid, comm, _ = self._task()
        self.emit(Event("fn", self.k.now_ns(), pid, comm, func, text=self.k.kernel.format_symbol(parent, False)))

    def function_entry(self) -> None:
        """__fentry__ from a module function's first instructions: prepare_ftrace_return()."""
        k = self.k
        m = k.m
        rsp = m.reg(_RSP)
        site = m.read_u64(rsp) - 5
        func = k.kernel.format_symbol(site, with_offset=False)
        if func.startswith("0x"):
            return
        pid, comm, stack = self._task()
        slot = rsp + 8
        _prune(stack, slot)
        wanted = self.wanted(func)
        if not wanted:
            return  # the kernel patches only the filtered functions
        orig = m.read_u64(slot)
        frame = Frame(func, k.now_ns(), slot, orig)
        depth = sum(f.recorded for f in stack)
        self.emit(Event("ent", frame.calltime, pid, comm, func, depth))
        stack.append(frame)
        m.write_u64(slot, k.function("return_to_handler"))

    def function_return(self) -> None:
        """return_to_handler: ftrace_return_to_handler(), then on to the real return address."""
        k = self.k
        m = k.m
        slot = m.reg(_RSP) - 8
        pid, comm, stack = self._task()
        for i in range(len(stack) - 1, -1, -1):
            if stack[i].slot == slot and stack[i].orig:
                frame = stack[i]
                depth = sum(f.recorded for f in stack[:i])
                del stack[i:]
                break
        else:  # the task's frames are another's (a call nested in a sleeper): look wider
            for other in self.stacks.values():
                found = [f for f in other if f.slot == slot and f.orig]
                if found:
                    frame = found[-1]
                    del other[other.index(frame):]
                    depth = 0
                    break
            else:
                raise RuntimeError(f"return_to_handler with no traced frame at {slot:#x}")
        now = k.now_ns()
        self.emit(Event("ret", now, pid, comm, frame.func, depth, frame.calltime))
        m.set_reg_rip(frame.orig)

    def print_(self, caller: int, text: str) -> None:
        pid, comm, _ = self._task()
        func = self.k.kernel.format_symbol(caller, with_offset=False)
        self.emit(Event("print", self.k.now_ns(), pid, comm, func, text=text))

    # -- the code ------------------------------------------------------------------------

    def unpatch_all(self) -> None:
        m = self.k.m
        fentry = m.stub_by_name.get("__fentry__")
        for _, sites in self.patched.values():
            for site in sites:
                try:
                    if fentry is not None and m.read(site, 5) == _call(site, fentry):
                        _write_code(m, site, NOP5)
                except Exception:
                    continue  # init text freed since
        self.patched.clear()


_RSP = X.UC_X86_REG_RSP


def _call(site: int, target: int) -> bytes:
    return b"\xe8" + ((target - site - 5) & 0xFFFFFFFF).to_bytes(4, "little")


def _write_code(m, site: int, code: bytes) -> None:
    m.write(site, code)
    m.code_written(site, len(code))


def patch_modules(tr: Ftrace) -> None:
    """ftrace_module_enable(): each formed module's __fentry__ sites become calls again."""
    k = tr.k
    m = k.m
    for mod in getattr(k.kernel, "modules", []):
        if id(mod) in tr.patched or mod.state.name == "UNFORMED":
            continue
        sites: list[int] = []
        for site in mcount_sites(k, mod):
            try:
                if m.read(site, 5) == NOP5:
                    _write_code(m, site, _call(site, k.function("__fentry__")))
                    sites.append(site)
            except Exception:
                continue  # init text freed
        tr.patched[id(mod)] = (mod, sites)


def mcount_sites(k: KernelApi, mod) -> list[int]:
    """The module's __mcount_loc: where its traceable functions call __fentry__."""
    rng = mod.section_ranges.get("__mcount_loc")
    if not rng:
        return []
    raw = k.m.read(rng[0], rng[1])
    return [int.from_bytes(raw[j:j + 8], "little") for j in range(0, len(raw) - 7, 8)]


def module_functions(k: KernelApi, mod) -> list[str]:
    """The module's traceable functions still there (__init ones until init is freed; __exit
    ones are notrace, so never)."""
    try:
        sites = mcount_sites(k, mod)
    except Exception:
        return []
    return [s.name for s in mod.core_symbols() if s.type in "tT" and s.name
            and any(s.value <= site < s.value + max(s.size, 1) for site in sites)]


def _patch_hook(k: KernelApi) -> None:
    """Before the CPU runs module code: modules loaded since the tracer was chosen."""
    tr = ftrace(k)
    if tr.tracer != "nop":
        live = {id(mod) for mod in getattr(k.kernel, "modules", [])}
        for gone in [a for a in tr.patched if a not in live]:
            del tr.patched[gone]
        patch_modules(tr)


def _prune(stack: list[Frame], rsp: int) -> None:
    """Frames whose return slot is below the stack pointer died without returning (a fault
    unwound them): the stack grows down, a live caller's slot is above."""
    while stack and stack[-1].slot < rsp:
        stack.pop()


def _parse(pat: str) -> tuple[str, str | None]:
    if ":mod:" in pat:
        glob, mod = pat.split(":mod:", 1)
        return glob or "*", mod
    return pat, None


def _split(func: str) -> tuple[str, str | None]:
    if func.endswith("]") and " [" in func:
        name, mod = func[:-1].split(" [", 1)
        return name, mod
    return func, None


def _match(pat: str, name: str, mod: str | None) -> bool:
    glob, want = _parse(pat)
    if want is not None and mod != want:
        return False
    return fnmatch.fnmatchcase(name, glob)


def ftrace_graph_ret_addr(k: KernelApi, ret: int, slot: int) -> int:
    """The return address an unwinder should see at `slot`: the real one where the graph
    tracer put return_to_handler (arch/x86's ftrace_graph_ret_addr, for the ORC walk)."""
    tr = k.state.get("ftrace")
    if tr is None or ret != k.m.stub_by_name.get("return_to_handler"):
        return ret
    for stack in tr.stacks.values():  # type: ignore[attr-defined]
        for f in stack:
            if f.slot == slot and f.orig:
                return f.orig
    return ret


def ftrace(k: KernelApi) -> Ftrace:
    tr = k.state.get("ftrace")
    if tr is None:
        tr = k.state["ftrace"] = Ftrace(k)
    return tr  # type: ignore[return-value]


@kapi("return_to_handler")
def return_to_handler(k: KernelApi) -> None:
    ftrace(k).function_return()


def _trace_text(k: KernelApi, ip: int, text: bytes) -> int:
    ftrace(k).print_(ip, text.decode("utf-8", "replace"))
    return len(text)


@kapi("__trace_bprintk")
def __trace_bprintk(k: KernelApi, ip: int, fmt: int, args: VarArgs) -> int:
    """trace_printk() with a constant format (the binary form: formatted here at once)."""
    return _trace_text(k, ip, k.format(fmt, args))


@kapi("__trace_printk")
def __trace_printk(k: KernelApi, ip: int, fmt: int, args: VarArgs) -> int:
    return _trace_text(k, ip, k.format(fmt, args))


@kapi("__trace_puts")
def __trace_puts(k: KernelApi, ip: int, s: int, size: int) -> int:
    return _trace_text(k, ip, k.m.read(s, size & MASK64 & 0xFFFFFFFF) if size else b"")


@kapi("__trace_bputs")
def __trace_bputs(k: KernelApi, ip: int, s: int) -> int:
    return _trace_text(k, ip, k.cstr(s))


def tracing(k: Any) -> Ftrace:
    """The tracing state of a Kernel (fs/tracing.py's entry)."""
    return ftrace(k.api)
