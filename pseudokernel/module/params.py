"""Module parameters: parse_args() and the sysfs parameter files (kernel/params.c).

The parameter descriptors are the module's own struct kernel_param array (__param), relocated
in emulated memory. Setting or showing a parameter calls its ops->set / ops->get through the
CPU exactly as the kernel does, so the standard ops (whose handlers are Python) and a module's
own ops (module code) take the same path.
"""

from __future__ import annotations

from dataclasses import dataclass
from errno import EFAULT, EINVAL, ENOENT, ENOEXEC, ENOMEM, ENOSPC, EPERM
from typing import TYPE_CHECKING

from .. import taint
from ..bits import PAGE_SIZE, s32
from ..emu.kapi.dynamic_debug import exec_queries
from ..emu.vsprintf import MemoryFault

if TYPE_CHECKING:
    from ..state import KernelState
    from .module import Module

SIZEOF_KERNEL_PARAM = 40
KERNEL_PARAM_OPS_FL_NOARG = 1 << 0
KERNEL_PARAM_FL_UNSAFE = 1 << 0
KERNEL_PARAM_FL_HWPARAM = 1 << 1


@dataclass
class KernelParam:
    """One struct kernel_param: name, mod, ops, perm, level, flags, arg."""

    addr: int
    name: str | None  # None: the pointer leads nowhere (the kernel would oops reading it)
    ops: int
    perm: int
    level: int
    flags: int
    arg: int


def read_params(kernel: KernelState, mod: Module, addr: int, size: int) -> list[KernelParam]:
    """The module's struct kernel_param array (mod->kp). A name the kernel would read and
    cannot (a parameter with a sysfs file, perm != 0) fails the load with -ENOEXEC where the
    real kernel would oops in add_sysfs_param()."""
    m = kernel.machine
    out = []
    for i in range(size // SIZEOF_KERNEL_PARAM):
        p = addr + i * SIZEOF_KERNEL_PARAM
        raw = m.read(p, SIZEOF_KERNEL_PARAM)
        name_ptr = int.from_bytes(raw[0:8], "little")
        ops = int.from_bytes(raw[16:24], "little")
        perm = int.from_bytes(raw[24:26], "little")
        level = int.from_bytes(raw[26:27], "little", signed=True)
        flags = raw[27]
        arg = int.from_bytes(raw[32:40], "little")
        try:
            name = m.read_cstr(name_ptr, 256).decode("utf-8", "replace")
        except MemoryFault:
            name = None
            if perm:
                bad_pointer(kernel, mod, f"parameter {i}: name", name_ptr)
        out.append(KernelParam(p, name, ops, perm, level, flags, arg))
    return out


def bad_pointer(kernel: KernelState, mod: Module, what: str, addr: int) -> None:
    """A pointer in the module's data that leads nowhere, where the kernel would dereference
    it and oops: the load fails instead, with -ENOEXEC."""
    kernel.log.err(f"pseudokernel: {mod.name}: {what} at {addr:#x} is not mapped\n")
    raise OSError(ENOEXEC, f"{what}: bad pointer")


def dash2underscore(c: str) -> str:
    return "_" if c == "-" else c


def parameq(a: str, b: str) -> bool:
    return len(a) == len(b) and all(dash2underscore(x) == dash2underscore(y) for x, y in zip(a, b))


def next_arg(buf: bytearray, pos: int) -> tuple[int, int, int | None]:
    """lib/cmdline.c next_arg() on buf from pos, mangling it in place like the kernel.

    Returns (offset of param, offset of val or None, position of the next argument).
    """
    i = 0
    equals = 0
    in_quote = quoted = False
    if pos < len(buf) and buf[pos] == ord('"'):
        pos += 1
        in_quote = quoted = True
    args = pos
    while args + i < len(buf) and buf[args + i]:
        c = buf[args + i]
        if chr(c).isspace() and c < 0x80 and not in_quote:
            break
        if equals == 0 and c == ord("="):
            equals = i
        if c == ord('"'):
            in_quote = not in_quote
        i += 1
    param = args
    if not equals:
        val = None
    else:
        buf[args + equals] = 0
        val = args + equals + 1
        if buf[val] == ord('"'):
            val += 1
            if buf[args + i - 1] == ord('"'):
                buf[args + i - 1] = 0
    if quoted and i > 0 and buf[args + i - 1] == ord('"'):
        buf[args + i - 1] = 0
    if args + i < len(buf) and buf[args + i]:
        buf[args + i] = 0
        nxt = args + i + 1
    else:
        nxt = args + i
    while nxt < len(buf) and buf[nxt] and chr(buf[nxt]).isspace():
        nxt += 1
    return param, val, nxt


def _cstr(buf: bytearray, off: int) -> str:
    end = buf.index(0, off)
    return buf[off:end].decode("utf-8", "surrogateescape")


def param_check_unsafe(kernel: KernelState, kp: KernelParam) -> bool:
    if kp.flags & KERNEL_PARAM_FL_UNSAFE:
        kernel.log.notice(f"Setting dangerous option {kp.name} - tainting kernel\n")
        kernel.add_taint(taint.USER)
    return True


def ops_fn(kernel: KernelState, kp: KernelParam, slot: int) -> int:
    """kp->ops->set (slot 1), ->get (2), ->free (3); ops->flags is the first word.
    Raises MemoryFault when kp->ops leads nowhere."""
    return kernel.machine.read_u64(kp.ops + 8 * slot)


def parse_args(kernel: KernelState, mod: Module, args: str) -> str | None:
    """Apply `args` to the module's parameters; returns what followed `--`, or raises OSError.

    The arguments live in a kernel buffer (mod->args) that next_arg() mangles in place, and
    ops->set() gets pointers into it, as in the kernel.
    """
    m = kernel.machine
    raw = args.encode("utf-8", "surrogateescape")
    buf = bytearray(raw + b"\0")
    base = kernel.api.kmalloc(len(buf))
    if not base:  # strndup_user(): kmalloc cannot hold it (over KMALLOC_MAX_SIZE)
        raise OSError(ENOMEM, "strndup_user")
    mod.args_addr = base
    m.write(base, bytes(buf))
    err = 0
    pos = 0
    while pos < len(buf) and buf[pos] and chr(buf[pos]).isspace():
        pos += 1
    while pos < len(buf) and buf[pos]:
        p_off, v_off, pos = next_arg(buf, pos)
        m.write(base, bytes(buf))
        param = _cstr(buf, p_off)
        val = _cstr(buf, v_off) if v_off is not None else None
        if val is None and param == "--":
            if err:
                raise OSError(err, "parse_args")
            return buf[pos:].split(b"\0", 1)[0].decode("utf-8", "surrogateescape")
        ret = parse_one(kernel, mod, param, val, base + v_off if v_off is not None else 0)
        if ret == 0:
            continue
        if v_off is not None:  # the op may have mangled the value (param_array cuts at commas)
            val = m.read_cstr(base + v_off).decode("utf-8", "surrogateescape")
        if ret == -ENOENT:
            kernel.log.err(f"{mod.name}: Unknown parameter `{param}'\n")
        elif ret == -ENOSPC:
            kernel.log.err(f"{mod.name}: `{val or ''}' too large for parameter `{param}'\n")
        else:
            kernel.log.err(f"{mod.name}: `{val or ''}' invalid for parameter `{param}'\n")
        err = -ret
    if err:
        raise OSError(err, "parse_args")
    return None


def parse_one(kernel: KernelState, mod: Module, param: str, val: str | None, val_addr: int) -> int:
    for i, kp in enumerate(mod.params):
        if kp.name is None:
            bad_pointer(kernel, mod, f"parameter {i}: name", kernel.machine.read_u64(kp.addr))
        if parameq(param, kp.name):
            if kp.level < -32768 or kp.level > 32767:
                return 0
            try:
                ops_flags = kernel.machine.read_u32(kp.ops)
                set_ = ops_fn(kernel, kp, 1)
            except MemoryFault:
                bad_pointer(kernel, mod, f"parameter {kp.name}: ops", kp.ops)
            if val is None and not ops_flags & KERNEL_PARAM_OPS_FL_NOARG:
                return -EINVAL
            if not param_check_unsafe(kernel, kp):
                return -EPERM
            return s32(kernel.run_in_module(mod, set_, val_addr, kp.addr))
    return unknown_module_param_cb(kernel, mod, param, val)


def unknown_module_param_cb(kernel: KernelState, mod: Module, param: str, val: str | None) -> int:
    if param == "async_probe":
        return 0
    if param == "dyndbg" or param.endswith(".dyndbg"):
        # ddebug_dyndbg_module_param_cb(): the query for this module's pr_debug sites; a query
        # that fails does not stop the load
        exec_queries(kernel.api, val if val is not None else "+p", mod.name)
        return 0
    kernel.log.warn(f"{mod.name}: unknown parameter '{param}' ignored\n")
    return 0


def param_attr_show(kernel: KernelState, mod: Module, kp: KernelParam) -> bytes:
    """Read /sys/module/<mod>/parameters/<name>: ops->get into a page (param_attr_show)."""
    try:
        get = ops_fn(kernel, kp, 2)
    except MemoryFault:
        raise OSError(EFAULT, kp.name) from None
    if not get:
        raise OSError(EPERM, kp.name)
    buf = kernel.api.kmalloc(PAGE_SIZE)
    try:
        count = s32(kernel.run_in_module(mod, get, buf, kp.addr))
        if count < 0:
            raise OSError(-count, kp.name)
        return kernel.machine.read(buf, min(count, PAGE_SIZE))
    finally:
        kernel.api.kfree(buf)


def param_attr_store(kernel: KernelState, mod: Module, kp: KernelParam, data: bytes) -> int:
    """Write /sys/module/<mod>/parameters/<name>: ops->set on the NUL-terminated buffer."""
    try:
        set_ = ops_fn(kernel, kp, 1)
    except MemoryFault:
        raise OSError(EFAULT, kp.name) from None
    if not set_:
        raise OSError(EPERM, kp.name)
    buf = kernel.api.kmalloc(PAGE_SIZE)
    try:
        kernel.machine.write(buf, data[: PAGE_SIZE - 1] + b"\0")
        if not param_check_unsafe(kernel, kp):
            raise OSError(EPERM, kp.name)
        err = s32(kernel.run_in_module(mod, set_, buf, kp.addr))
        if err:
            raise OSError(-err, kp.name)
        return len(data)
    finally:
        kernel.api.kfree(buf)


def destroy_params(kernel: KernelState, mod: Module) -> None:
    """Call ops->free for each parameter that has one (charp strings go back to the slab)."""
    for kp in mod.params:
        if not kp.ops:
            continue
        try:
            free = ops_fn(kernel, kp, 3)
        except MemoryFault:
            continue  # ops leads nowhere: nothing was set through it either
        if free:
            try:
                kernel.run_in_module(mod, free, kp.arg)
            except Exception:
                pass
