"""A device's uevent variables (lib/kobject_uevent.c add_uevent_var(), drivers/base/core.c
dev_uevent()): what /sys/.../uevent shows, the bus's and the type's callbacks included (a
module's bus adds its own variables, as LDD3's lddbus does)."""

from __future__ import annotations

from errno import ENOMEM

from . import KernelApi, VarArgs, kapi
from . import neg_errno as _err
from .device import dev_off

UEVENT_NUM_ENVP, UEVENT_BUFFER_SIZE = 64, 2048


@kapi("add_uevent_var")
def add_uevent_var(k: KernelApi, env: int, fmt: int, args: VarArgs) -> int:
    e = k.S.kobj_uevent_env
    idx, buflen = k.m.read_u32(env + e.envp_idx), k.m.read_u32(env + e.buflen)
    room = UEVENT_BUFFER_SIZE - buflen
    text = k.format(fmt, args)
    if idx >= UEVENT_NUM_ENVP or len(text) >= room:
        return _err(ENOMEM)  # the kernel WARNs: too many keys, or the buffer is too small
    at = env + e.buf + buflen
    k.m.write(at, text + b"\0")
    k.m.write_u64(env + e.envp + 8 * idx, at)
    k.m.write_u32(env + e.envp_idx, idx + 1)
    k.m.write_u32(env + e.buflen, buflen + len(text) + 1)
    return 0


def device_uevent_vars(k: KernelApi, dev: int) -> list[bytes]:
    """What dev_uevent() adds after its own variables (the node's numbers and name, which the
    view makes): the bus's uevent(), the class's dev_uevent() and the type's uevent(), in that
    order, each the module's code run on the CPU."""
    bus = k.m.read_u64(dev + dev_off(k, "bus"))
    cls = k.m.read_u64(dev + dev_off(k, "class"))
    dtype = k.m.read_u64(dev + dev_off(k, "type"))
    calls = [k.m.read_u64(bus + k.S.bus_type.uevent) if bus else 0,
             k.m.read_u64(cls + k.S["class"].dev_uevent) if cls else 0,
             k.m.read_u64(dtype + k.S.device_type.uevent) if dtype else 0]
    if not any(calls):
        return []
    e = k.S.kobj_uevent_env
    env = k.kmalloc(e.sizeof, kind="uevent_env")
    try:
        for fn in calls:
            if fn and k.m.call(fn, dev, env) & 0x80000000:
                return []  # a callback's error: uevent_show() shows nothing
        n = k.m.read_u32(env + e.envp_idx)
        return [k.cstr(k.m.read_u64(env + e.envp + 8 * i), UEVENT_BUFFER_SIZE) for i in range(n)]
    finally:
        k.kfree(env)
