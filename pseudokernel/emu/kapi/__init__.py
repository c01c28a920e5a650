"""The kernel API as seen by modules: Python handlers registered by symbol name.

A handler is a plain function whose first parameter is the KernelApi (the running kernel) and
whose other parameters are the C function's arguments, read from the SysV registers (and the
stack past the sixth). A last parameter annotated `VarArgs` receives the variadic arguments.
A handler returns the C return value, or None for void. Data symbols are registered with
@kdata and initialise their memory when a module first imports them.

    @kapi("kmalloc_trace")
    def kmalloc_trace(k, s, gfpflags, size):
        return k.kmalloc(size, gfpflags)

A kernel function without a handler still works: it returns 0 and is recorded, so a user can
see which kernel calls were approximated.
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from unicorn import x86_const as X

from ..machine import MASK64, Machine, Stub
from ..vsprintf import Args

if TYPE_CHECKING:
    from ...kernel import Kernel
    from ...module.module import Module
    from ...profile import KernelSymbol


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


@dataclass
class KapiData:
    name: str
    size: int
    init: Callable | None


FUNCS: dict[str, KapiFunc] = {}
DATA: dict[str, KapiData] = {}


def kapi(*names: str) -> Callable:
    """Register a handler for the kernel functions `names`."""

    def deco(fn: Callable) -> Callable:
        params = list(inspect.signature(fn).parameters.values())[1:]
        varargs = bool(params) and params[-1].annotation in ("VarArgs", VarArgs)
        nargs = len(params) - (1 if varargs else 0)
        for name in names:
            FUNCS[name] = KapiFunc(name, fn, nargs, varargs)
        return fn

    return deco


def kdata(name: str, size: int = 8) -> Callable:
    """Register the initialiser of a kernel data symbol: fn(k, addr) fills its memory."""

    def deco(fn: Callable) -> Callable:
        DATA[name] = KapiData(name, size, fn)
        return fn

    return deco


def _load_handlers() -> None:
    for info in pkgutil.iter_modules(__path__):
        importlib.import_module(f"{__name__}.{info.name}")


class KernelApi:
    """The bridge between the CPU's stubs and the Kernel: imports, dispatch, and what handlers
    need from the kernel (memory, the log, allocation with owner tracking, formatting)."""

    def __init__(self, kernel: Kernel, machine: Machine) -> None:
        if not FUNCS:
            _load_handlers()
        self.kernel = kernel
        self.m = machine
        self.log = kernel.log
        self.stub: Stub | None = None
        self.unhandled: dict[str, int] = {}
        self.unhandled_by_module: dict[str, dict[str, int]] = {}
        self._default_sizes: dict[str, int] = {}
        machine.dispatch = self._dispatch
        for name in ("__x86_return_thunk", *(f"__x86_indirect_thunk_{r}" for r in _REGS)):
            self._import_function(name)

    # -- imports ---------------------------------------------------------------------------

    def import_symbol(self, sym: KernelSymbol, hint: str = "") -> int:
        """The address a module's reference to an exported vmlinux symbol resolves to."""
        m = self.m
        if sym.name in m.symbols:
            return m.symbols[sym.name]
        if sym.name in FUNCS:
            return self._import_function(sym.name, sym.addr)
        if sym.name in DATA:
            return self._import_data(sym.name, sym.addr)
        kind = sym.kind or self._guess_kind(sym.name, hint)
        if kind == "text":
            return self._import_function(sym.name, sym.addr)
        if kind == "percpu":
            addr = sym.addr if sym.addr is not None else m.percpu.alloc(64, 64)
            m.symbols[sym.name] = addr
            return addr
        return self._import_data(sym.name, sym.addr)

    def _guess_kind(self, name: str, hint: str) -> str:
        btf = self.kernel.profile.btf
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
        sym = self.kernel.profile.exports.get(name)
        return self._import_function(name, sym.addr if sym else self.kernel.profile.kallsyms_by_name.get(name))

    # -- dispatch --------------------------------------------------------------------------

    def _dispatch(self, stub: Stub) -> None:
        m = self.m
        self.stub = stub
        f: KapiFunc | None = stub.handler
        if f is None:
            self._record_unhandled(stub.name)
            m.set_reg(X.UC_X86_REG_RAX, self._default_return(stub.name))
            return
        args = [m.arg(i) for i in range(f.nargs)]
        if f.varargs:
            args.append(VarArgs(m, f.nargs))
        ret = f.fn(self, *args)
        if ret is not None:
            m.set_reg(X.UC_X86_REG_RAX, ret)

    def _default_return(self, name: str) -> int:
        """What a kernel function without a handler returns, from its C prototype: a valid
        zeroed object for a pointer (the success path callers expect), 0 for the rest."""
        size = self._default_sizes.get(name)
        if size is None:
            size = 0
            btf = self.kernel.profile.btf
            proto = btf.func_proto(name) if btf is not None else None
            if proto is not None and proto.ret.kind == "pointer":
                target = proto.ret.target
                size = target.size if target is not None and target.size > 0 else 64
                size = max(min(size, 1 << 16), 64)
            self._default_sizes[name] = size
        if not size:
            return 0
        return self.m.kmalloc(size, "", self.caller, kind="default")

    def _record_unhandled(self, name: str) -> None:
        self.unhandled[name] = self.unhandled.get(name, 0) + 1
        mod = self.caller_module
        key = mod.name if mod else ""
        per = self.unhandled_by_module.setdefault(key, {})
        per[name] = per.get(name, 0) + 1

    # -- what handlers use -----------------------------------------------------------------

    @property
    def caller(self) -> int:
        """The return address of the current kernel call (_RET_IP_)."""
        return self.m.read_u64(self.m.reg(X.UC_X86_REG_RSP))

    @property
    def caller_module(self) -> Module | None:
        try:
            return self.kernel.module_at(self.caller)
        except Exception:
            return None

    def cstr(self, addr: int, limit: int = 1 << 16) -> bytes:
        return self.m.read_cstr(addr, limit)

    def kmalloc(self, size: int, gfp: int = 0, kind: str = "kmalloc") -> int:
        mod = self.caller_module
        return self.m.kmalloc(size, mod.name if mod else "", self.caller, kind)

    def kfree(self, addr: int) -> None:
        if addr <= 0x10:  # NULL and ZERO_SIZE_PTR
            return
        self.m.slab.free(addr)

    def format(self, fmt: int | bytes, args: Args) -> bytes:
        """vsnprintf() of a format string in emulated memory (or given as bytes)."""
        if isinstance(fmt, int):
            fmt = self.cstr(fmt)
        return self.kernel.vsnprintf(fmt, args)


_REGS = ("rax", "rbx", "rcx", "rdx", "rsi", "rdi", "rbp", "r8", "r9", "r10", "r11", "r12", "r13", "r14", "r15")
