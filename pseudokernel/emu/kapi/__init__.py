"""The kernel API as seen by modules: Python handlers registered by symbol name.

A handler is a plain function whose first parameter is the KernelApi (the running kernel) and
whose other parameters are the C function's arguments, read from the SysV registers (and the
stack past the sixth). A last parameter annotated `VarArgs` receives the variadic arguments.
A handler returns the C return value, or None for void. Data symbols are registered with
@kdata and initialise their memory when a module first imports them.

    @kapi("kmalloc_trace")
    def kmalloc_trace(k, s, gfpflags, size):
        return k.kmalloc(size, gfpflags)

A kernel function without a handler still works: it returns what its BTF prototype promises
(see KernelApi._default_return) and is recorded with its arguments, so a user can see which
kernel calls were approximated. Functions registered with @kboot run once when the Kernel is
created (the state of the machine a module finds: the running task, CPU data, timers).
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from unicorn import x86_const as X

from ...bits import MASK64
from ..machine import Machine, Stub
from ..vsprintf import Args

if TYPE_CHECKING:
    from ...log import PrintkLog
    from ...profile import KernelProfile, KernelSymbol
    from ..traps import CpuStop


def neg_errno(e: int) -> int:
    """-e in RAX: a negative errno as an int or pointer return (ERR_PTR)."""
    return -e & MASK64


class VarArgs(Args):
    """The variadic arguments of the current call, from register `first` on."""

    def __init__(self, machine: Machine, first: int) -> None:
        self.machine = machine
        self.i = first

    def next(self) -> int:
        v = self.machine.arg(self.i)
        self.i += 1
        return v & MASK64


@dataclass
class KapiFunc:
    name: str
    fn: Callable
    nargs: int
    varargs: bool
    leaf: bool = False  # calls nothing back, never sleeps: the kernel may call it without the CPU


@dataclass
class KapiData:
    name: str
    size: int
    init: Callable | None


FUNCS: dict[str, KapiFunc] = {}
DATA: dict[str, KapiData] = {}
BOOT: list[Callable] = []


def kapi(*names: str, leaf: bool = False) -> Callable:
    """Register a handler for the kernel functions `names`. leaf: it only reads and writes
    memory (no module code called back, no sleep), so the kernel's own calls of it through a
    pointer need not start the CPU (KernelApi.leaf)."""

    def deco(fn: Callable) -> Callable:
        params = list(inspect.signature(fn).parameters.values())[1:]
        varargs = bool(params) and params[-1].annotation in ("VarArgs", VarArgs)
        nargs = len(params) - (1 if varargs else 0)
        for name in names:
            if name in FUNCS:  # two answers to one kernel function: only the last would be heard
                raise ValueError(f"{name} has two handlers: {FUNCS[name].fn.__module__} and {fn.__module__}")
            FUNCS[name] = KapiFunc(name, fn, nargs, varargs, leaf)
        return fn

    return deco


def kdata(name: str, size: int = 8) -> Callable:
    """Register the initialiser of a kernel data symbol: fn(k, addr) fills its memory."""

    def deco(fn: Callable) -> Callable:
        DATA[name] = KapiData(name, size, fn)
        return fn

    return deco


def kboot(fn: Callable) -> Callable:
    """Register fn(k) to run when a Kernel is created."""
    BOOT.append(fn)
    return fn


_loaded = False


def _load_handlers() -> None:
    """Import every handler file once (importing one of them alone, as the views do with
    open.py, must not leave the others out)."""
    global _loaded
    if not _loaded:
        for info in pkgutil.iter_modules(__path__):
            importlib.import_module(f"{__name__}.{info.name}")
        _loaded = True


@dataclass
class Registration:
    """Something a module registered with the kernel: a misc device, a PCI driver, a crypto
    algorithm, a proc entry ... `obj` is the kernel object's address (the key for its
    unregistration), `info` what a view would show (minor, id table, major ...)."""

    kind: str
    name: str
    obj: int
    owner: str
    info: dict = field(default_factory=dict)


class Registry:
    """What modules registered, by kind, in registration order (Kernel.registry)."""

    def __init__(self) -> None:
        self.items: list[Registration] = []

    def add(self, kind: str, name: str, obj: int, owner: str = "", **info) -> Registration:
        r = Registration(kind, name, obj, owner, info)
        self.items.append(r)
        return r

    def remove(self, kind: str, obj: int) -> Registration | None:
        for i in range(len(self.items) - 1, -1, -1):
            r = self.items[i]
            if r.kind == kind and r.obj == obj:
                del self.items[i]
                return r
        return None

    def find(self, kind: str, obj: int | None = None, name: str | None = None) -> Registration | None:
        for r in reversed(self.items):
            if r.kind == kind and (obj is None or r.obj == obj) and (name is None or r.name == name):
                return r
        return None

    def of_kind(self, kind: str) -> list[Registration]:
        return [r for r in self.items if r.kind == kind]

    def owned_by(self, owner: str) -> list[Registration]:
        return [r for r in self.items if r.owner == owner]


class KernelSide(Protocol):
    """What handlers may ask of the rest of the kernel (kernel.Kernel answers): the one doorway
    from the emulator to the module table, the task running, and the kernel's own reports.
    Modules come back as opaque objects: the emulator does not depend on the loader."""

    current_pid: int
    current_comm: str
    current_where: str  # init, exit, kthread, read ...: the call path the CPU is on
    current_uid: int
    current_gid: int
    user_mms: dict[int, int]  # pid -> the real process whose memory is its user half (usercopy.py)
    cr2: int
    held_locks: dict[int, int]  # lockdep: lock address -> depth
    drivers: dict[int, dict[str, str]]  # per module: its drivers/ links in /sys/module
    modules: list[Any]  # the loaded modules, newest first (their sections: __jump_table ...)

    def find_module(self, name: str) -> Any: ...
    def module_at(self, addr: int) -> Any: ...
    def module_by_struct(self, addr: int) -> Any: ...
    def try_module_get(self, module: int) -> bool: ...
    def module_get(self, module: int) -> None: ...
    def module_put(self, module: int) -> None: ...
    def percpu_address(self, ptr: int) -> int: ...
    def params_kmalloc(self, size: int) -> int: ...
    def params_kfree(self, addr: int) -> None: ...
    def vsnprintf(self, fmt: bytes, args: Args) -> bytes: ...
    def format_symbol(self, addr: int, with_offset: bool = True) -> str: ...
    def format_kernel_frame(self, frame: str) -> str: ...
    def hashed_pointer(self, addr: int) -> str: ...
    def dump_stack_at(self, regs: dict[str, int], first: tuple[str, ...], chain: list) -> None: ...
    def panic(self, message: str, regs: dict[str, int]) -> None: ...
    def die_at(self, bug: str, regs: dict[str, int], chain: list) -> None: ...
    def report_cpu_stop(self, mod: Any, stop: CpuStop, where: str) -> str: ...
    def sleep(self, woken: Callable[[], bool]) -> bool: ...
    def wake_up(self) -> None: ...


class KernelApi:
    """The bridge between the CPU's stubs and the kernel: imports, dispatch, and what handlers
    need (memory, the log, allocation with owner tracking, formatting). Its collaborators are
    given one by one: the machine, the log, the profile, the registry of what modules
    registered, and the KernelSide for the rest."""

    def __init__(self, machine: Machine, *, log: PrintkLog, profile: KernelProfile, registry: Registry,
                 kernel: KernelSide) -> None:
        _load_handlers()
        self.kernel = kernel
        self.m = machine
        self.log = log
        self.profile = profile
        self.registry = registry
        self.stub: Stub | None = None
        self.unhandled: dict[str, int] = {}
        self.unhandled_by_module: dict[str, dict[str, int]] = {}
        self.unhandled_calls: dict[str, list[tuple[str, tuple[int, ...]]]] = {}
        self._defaults: dict[str, tuple[str, int, int]] = {}
        self.S = profile.structs  # struct layouts: k.S.file.private_data
        self._strings: dict[str, int] = {}
        self.state: dict[str, object] = {}  # what handler families keep per kernel
        self.t0 = time.monotonic()
        self.skipped_ns = 0  # time the emulated kernel slept through instead of waiting
        self.boot_ns = int(log._clock()) if hasattr(log, "_clock") else 0
        self.enter_hooks: list[Callable] = []
        self.exit_hooks: list[Callable] = []
        self.free_hooks: list[Callable] = []
        self.wake_hooks: list[Callable[[int], None]] = []  # fn(wait queue) on each wake_up
        self._jiffies_addr: int | None = None
        self._next_tick = 0.0
        machine.dispatch = self._dispatch
        machine.on_enter = self._on_enter
        machine.on_exit = self._on_exit
        machine.on_tick = self._on_tick
        machine.on_module_free = self._on_module_free
        for name in ("__x86_return_thunk", *(f"__x86_indirect_thunk_{r}" for r in _REGS)):
            self._import_function(name)
        for fn in BOOT:
            fn(self)

    # -- imports ---------------------------------------------------------------------------

    def import_symbol(self, sym: KernelSymbol, hint: str = "") -> int:
        """The address a module's reference to an exported vmlinux symbol resolves to."""
        m = self.m
        if sym.name in m.symbols:
            return m.symbols[sym.name]
        if sym.name in FUNCS:
            return self._import_function(sym.name, sym.addr)
        kind = sym.kind or self._guess_kind(sym.name, hint)
        if sym.name in DATA and kind != "percpu":
            return self._import_data(sym.name, sym.addr)
        if kind == "text":
            return self._import_function(sym.name, sym.addr)
        if kind == "percpu":
            addr = sym.addr if sym.addr is not None else m.percpu.alloc(64, 64)
            m.symbols[sym.name] = addr
            d = DATA.get(sym.name)
            if d and d.init:
                d.init(self, self.kernel.percpu_address(addr))
            return addr
        return self._import_data(sym.name, sym.addr)

    def _guess_kind(self, name: str, hint: str) -> str:
        btf = self.profile.btf
        if btf is not None and btf.func_proto(name) is not None:
            return "text"
        return "text" if hint == "call" else "data"

    def _import_function(self, name: str, addr: int | None = None) -> int:
        f = FUNCS.get(name)
        return self.m.add_function(name, f, addr)

    def _import_data(self, name: str, addr: int | None) -> int:
        d = DATA.get(name)
        size = d.size if d else 4096
        addr = self.m.add_data(name, size, addr)
        if d and d.init:
            d.init(self, addr)
        return addr

    def function(self, name: str) -> int:
        """The address of a kernel function for the kernel's own use (ops tables, callbacks)."""
        if name in self.m.stub_by_name:
            return self.m.stub_by_name[name]
        sym = self.profile.exports.get(name)
        return self._import_function(name, sym.addr if sym else self.profile.kallsyms_by_name.get(name))

    def data_symbol(self, name: str) -> int:
        """The address of a kernel data object (initialised as a module importing it would see)."""
        if name in self.m.symbols:
            return self.m.symbols[name]
        sym = self.profile.exports.get(name)
        if sym is not None:
            return self.import_symbol(sym)
        return self._import_data(name, self.profile.kallsyms_by_name.get(name))

    def btf_struct(self, name: str):
        """A kernel struct with all its members from BTF, or None (profile/structs.py)."""
        return self.S.btf(name)

    def static_string(self, text: str) -> int:
        """A string in kernel rodata (a name the kernel hands out)."""
        addr = self._strings.get(text)
        if addr is None:
            data = text.encode() + b"\0"
            addr = self.m.pseudo_data(len(data), 8)
            self.m.write(addr, data)
            self._strings[text] = addr
        return addr

    # -- time --------------------------------------------------------------------------------

    def now_ns(self) -> int:
        """CLOCK_MONOTONIC of the emulated kernel: real time since boot plus time slept."""
        return self.boot_ns + int((time.monotonic() - self.t0) * 1e9) + self.skipped_ns

    def jiffies(self) -> int:
        return (INITIAL_JIFFIES + self.now_ns() * HZ // 1_000_000_000) & MASK64

    def sleep_ns(self, ns: int) -> None:
        """The task sleeps: time passes at once, and the jiffies counter follows."""
        if ns > 0:
            self.skipped_ns += ns
        self._next_tick = 0.0
        self._tick()

    def _tick(self) -> None:
        now = time.monotonic()
        if now < self._next_tick:
            return
        self._next_tick = now + 1.0 / HZ
        if self._jiffies_addr is None:
            sym = self.profile.exports.get("jiffies")
            self._jiffies_addr = self.data_symbol("jiffies") if sym is not None else 0
        if self._jiffies_addr:
            self.m.write_u64(self._jiffies_addr, self.jiffies())

    def _on_enter(self) -> None:
        """The CPU is about to run module code for a syscall."""
        self._next_tick = 0.0
        self._tick()
        for hook in self.enter_hooks:
            hook(self)

    def refresh_task(self) -> None:
        """A system call begins, perhaps while another task's call is asleep on the CPU (so
        run nested, without _on_enter): current becomes the calling process."""
        for hook in self.enter_hooks:
            hook(self)

    def _on_module_free(self, addr: int, size: int) -> None:
        """Module memory is gone: what lived in it can no longer be registered or pending
        (a driver struct in its .data, a timer in its .bss)."""
        reg = self.registry
        reg.items = [r for r in reg.items if not addr <= r.obj < addr + size]
        for hook in self.free_hooks:
            hook(self, addr, size)

    def _on_tick(self) -> None:
        self._next_tick = 0.0
        self._tick()

    def _on_exit(self) -> None:
        """Module code returned to the syscall: what the kernel runs right after."""
        for hook in self.exit_hooks:
            hook(self)

    # -- dispatch --------------------------------------------------------------------------

    def leaf(self, addr: int) -> Callable[..., int] | None:
        """The kernel's call of the kernel function at addr, as Python, when it is a leaf
        (kapi(leaf=True): a parameter's standard get and set ops) and no tracer listens at
        the doorway; else None, and the call goes through the CPU. Starting the CPU for one
        stub costs some 100 us: a quarter of a walk of /sys/module read every parameter so."""
        stub = self.m.stubs.get(addr)
        f: KapiFunc | None = stub.handler if stub is not None else None
        if f is None or not f.leaf or f.varargs or self.m.dispatch != self._dispatch:
            return None

        def call(*args: int) -> int:
            outer, self.stub = self.stub, stub
            try:
                ret = f.fn(self, *(a & MASK64 for a in args[: f.nargs]))
            finally:
                self.stub = outer
            return (ret or 0) & MASK64

        return call

    def _dispatch(self, stub: Stub) -> None:
        m = self.m
        outer, self.stub = self.stub, stub
        f: KapiFunc | None = stub.handler
        if time.monotonic() >= self._next_tick:
            self._tick()
        if f is None:
            m.set_reg(X.UC_X86_REG_RAX, self._default_return(stub.name))
            self.stub = outer
            return
        args = [m.arg(i) for i in range(f.nargs)]
        if f.varargs:
            args.append(VarArgs(m, f.nargs))
        try:
            ret = f.fn(self, *args)
        finally:
            self.stub = outer  # the handler that called back into module code sees its own again
        if ret is not None:
            m.set_reg(X.UC_X86_REG_RAX, ret)

    def _default_info(self, name: str) -> tuple[str, int, int]:
        """(kind, size, nargs) of what a function without a handler returns, from BTF."""
        info = self._defaults.get(name)
        if info is None:
            btf = self.profile.btf
            proto = btf.func_proto(name) if btf is not None else None
            kind, size, nargs = "int", 0, 6
            if proto is not None:
                nargs = min(len(proto.params), 6)
                ret = proto.ret
                if ret.kind == "pointer":
                    target = ret.target
                    size = target.size if target is not None and target.size > 0 else 64
                    size = max(min(size, 1 << 16), 64)
                    first = proto.params[0].type if proto.params else None
                    if _NULL_RETURN.search(name):
                        kind = "null"
                    elif first is not None and first.kind == "pointer" and first.target is not None \
                            and target is not None and first.target.name == target.name and target.name:
                        kind = "arg0"  # get_device(dev), kobject_get(kobj), skb_get(skb) ...
                    else:
                        kind = "object"
                elif ret.kind == "void":
                    kind = "void"
                elif ret.kind == "bool":
                    kind = "true" if _TRUE_RETURN.search(name) else "int"
            info = self._defaults[name] = (kind, size, nargs)
        return info

    def _default_return(self, name: str) -> int:
        """What a kernel function without a handler returns, from its C prototype: a valid
        zeroed object for a pointer (the success path callers expect), the object itself for a
        get-a-reference function, NULL for a lookup that would find nothing on this machine
        (pci_get_device, dmi_find_device, ...), 0 for the rest. The call is recorded."""
        kind, size, nargs = self._default_info(name)
        self._record_unhandled(name, nargs)
        if kind == "object":
            return self.m.kmalloc(size, "", self.caller, kind="default")
        if kind == "arg0":
            return self.m.arg(0)
        if kind == "true":
            return 1
        return 0

    def _record_unhandled(self, name: str, nargs: int = 0) -> None:
        self.unhandled[name] = self.unhandled.get(name, 0) + 1
        mod = self.caller_module
        key = mod.name if mod else ""
        per = self.unhandled_by_module.setdefault(key, {})
        n = per.get(name, 0)
        per[name] = n + 1
        if n < 4:  # the first calls of each function, with their arguments
            args = tuple(self.m.arg(i) & MASK64 for i in range(nargs))
            self.unhandled_calls.setdefault(key, []).append((name, args))

    # -- what handlers use -----------------------------------------------------------------

    @property
    def caller(self) -> int:
        """The return address of the current kernel call (_RET_IP_)."""
        return self.m.read_u64(self.m.reg(X.UC_X86_REG_RSP))

    @property
    def caller_module(self) -> Any:
        try:
            return self.kernel.module_at(self.caller)
        except Exception:
            return None

    def caller_module_name(self) -> str:
        mod = self.caller_module
        return mod.name if mod else ""

    def cstr(self, addr: int, limit: int = 1 << 16) -> bytes:
        return self.m.read_cstr(addr, limit)

    def cname(self, addr: int) -> str:
        """A name a module passed (a driver's, a class's, a proc entry's): '' for NULL."""
        return self.cstr(addr, 256).decode("utf-8", "replace") if addr else ""

    def kmalloc(self, size: int, gfp: int = 0, kind: str = "kmalloc") -> int:
        mod = self.caller_module
        return self.m.kmalloc(size, mod.name if mod else "", self.caller, kind, gfp)

    def kfree(self, addr: int) -> None:
        if addr <= 0x10:  # NULL and ZERO_SIZE_PTR
            return
        self.m.slab.free(addr)

    def format(self, fmt: int | bytes, args: Args) -> bytes:
        """vsnprintf() of a format string in emulated memory (or given as bytes)."""
        if isinstance(fmt, int):
            fmt = self.cstr(fmt)
        return self.kernel.vsnprintf(fmt, args)


HZ = 250
INITIAL_JIFFIES = (-300 * HZ) & 0xFFFFFFFF
# lookups that find nothing on a machine without the hardware, or iterators at their end
_NULL_RETURN = re.compile(r"(^|_)(find|lookup|next|first|get_device|get_class|get_base_class|get_subsys|get_slot|get_domain_bus"
                          r"|get_bus_and_slot|iter|match_device|match_id|search|by_name|_by_)")
# bool checks whose failure would stop the caller on a healthy kernel (lib/list_debug.c, capable)
_TRUE_RETURN = re.compile(r"(_valid$|^capable$|^ns_capable|^file_ns_capable|^has_capability)")

_REGS = ("rax", "rbx", "rcx", "rdx", "rsi", "rdi", "rbp", "r8", "r9", "r10", "r11", "r12", "r13", "r14", "r15")
