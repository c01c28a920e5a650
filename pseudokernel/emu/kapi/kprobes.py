"""kprobes (kernel/kprobes.c) as far as modules use them without a debugger behind: the probe
resolves kp->symbol_name + offset to kp->addr through kallsyms, as register_kprobe() does
(the common trick to reach kallsyms_lookup_name, unexported since 5.7). Handlers are never
hit: nothing single-steps the kernel here. kallsyms_lookup_name() answers from the profile's
kallsyms and the modules' symbols, with the addresses the module sees for the same names."""

from __future__ import annotations

from errno import EINVAL, ENOENT

from . import KernelApi, kapi
from . import neg_errno as _err


def lookup_name(k: KernelApi, name: str) -> int:
    """kallsyms_lookup_name(): vmlinux first, then the modules; the address a module importing
    the name resolves to (a function's stub, a variable's memory)."""
    if not name:
        return 0
    prof = k.profile
    if name in k.m.stub_by_name or name in k.m.symbols:
        return k.m.stub_by_name.get(name) or k.m.symbols[name]
    addr = prof.kallsyms_by_name.get(name)
    if addr is not None:
        sym = prof.exports.get(name)
        if sym is not None:
            return k.import_symbol(sym)
        typ = next((t for a, t, n in prof.kallsyms if n == name), "T")
        return k.function(name) if typ in "tTwW" else k.data_symbol(name)
    for mod in k.kernel.modules:
        for s in mod.core_symbols():
            if s.name == name:
                return s.value
    return 0


@kapi("kallsyms_lookup_name")
def kallsyms_lookup_name(k: KernelApi, name: int) -> int:
    return lookup_name(k, k.cname(name))


@kapi("register_kprobe")
def register_kprobe(k: KernelApi, kp: int) -> int:
    """kprobe_addr(): symbol_name + offset, or addr as given; both at once is -EINVAL."""
    p = k.S.kprobe
    addr = k.m.read_u64(kp + p.addr)
    sym = k.m.read_u64(kp + p.symbol_name)
    offset = k.m.read_u32(kp + p.offset)
    if sym and addr or not sym and not addr:
        return _err(EINVAL)
    if sym:
        base = lookup_name(k, k.cname(sym))
        if not base:
            return _err(ENOENT)
        # arch_adjust_kprobe_addr(): with IBT a probe at a function's entry (offset 0 or 4)
        # goes past its endbr64
        if offset in (0, 4) and k.m.function_entry(base) != base:
            offset = 4
        addr = base + offset
        k.m.write_u64(kp + p.addr, addr)
    k.registry.add("kprobe", k.cname(sym) if sym else f"{addr:#x}", kp, k.caller_module_name(), addr=addr)
    return 0


@kapi("unregister_kprobe")
def unregister_kprobe(k: KernelApi, kp: int) -> None:
    k.registry.remove("kprobe", kp)


@kapi("register_kprobes")
def register_kprobes(k: KernelApi, kps: int, num: int) -> int:
    for i in range(num & 0xFFFFFFFF):
        ret = register_kprobe(k, k.m.read_u64(kps + 8 * i))
        if ret:
            for j in range(i):
                unregister_kprobe(k, k.m.read_u64(kps + 8 * j))
            return ret
    return 0


@kapi("unregister_kprobes")
def unregister_kprobes(k: KernelApi, kps: int, num: int) -> None:
    for i in range(num & 0xFFFFFFFF):
        unregister_kprobe(k, k.m.read_u64(kps + 8 * i))
