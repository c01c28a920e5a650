"""Misc devices (drivers/char/misc.c; misc.py holds other things): major 10 and the dynamic
minors the reference kernel would hand out, so a module's device gets the number it gets there;
each registration is recorded in Kernel.registry."""

from __future__ import annotations

from errno import EBUSY

from ...profile.versions import MISC_MINOR_IDA
from . import KernelApi, kapi
from . import neg_errno as _err
from .device import DYNAMIC_MINORS, _state, boot_misc, new_device, release_device

MISC_MAJOR = 10
MISC_DYNAMIC_MINOR = 255
MINORMASK = (1 << 20) - 1


@kapi("misc_register")
def misc_register(k: KernelApi, misc: int) -> int:
    """drivers/char/misc.c: a dynamic minor counts down from 127 past the built-in ones (6.1),
    or is the lowest free one from 256 up (an IDA, later kernels); the device is misc/<name>."""
    md = k.S.miscdevice
    st = _state(k)
    minor = k.m.read_u32(misc + md.minor)
    dynamic = minor == MISC_DYNAMIC_MINOR
    taken = set(st["misc"].values()) | {m for m, _name in boot_misc(k.kernel.profile)}
    if k.kernel.profile.since(MISC_MINOR_IDA):
        if dynamic:
            minor = next(m for m in range(MISC_DYNAMIC_MINOR + 1, MINORMASK + 2) if m not in taken)
            if minor > MINORMASK:
                return _err(EBUSY)
            k.m.write_u32(misc + md.minor, minor)
        elif minor in taken:
            return _err(EBUSY)
    elif dynamic:
        bits = st["misc_bits"]
        i = 0
        while bits >> i & 1:
            i += 1
        if i >= DYNAMIC_MINORS:
            return _err(EBUSY)
        minor = DYNAMIC_MINORS - i - 1
        st["misc_bits"] |= 1 << i
        k.m.write_u32(misc + md.minor, minor)
    elif minor in taken:
        return _err(EBUSY)
    name = k.cname(k.m.read_u64(misc + md.name))
    dev = new_device(k, name, k.m.read_u64(misc + md.parent), (MISC_MAJOR << 20) | minor, 0, misc)
    k.m.write_u64(misc + md.this_device, dev)
    st["misc"][misc] = minor
    nodename = k.m.read_u64(misc + md.nodename)  # misc_devnode()
    k.registry.add("misc", name, misc, k.caller_module_name(), minor=minor,
                   fops=k.m.read_u64(misc + md.fops), device=dev,
                   devnode=k.cname(nodename) if nodename else name,
                   devmode=k.m.read_u16(misc + md.mode) & 0o7777)
    return 0


@kapi("misc_deregister")
def misc_deregister(k: KernelApi, misc: int) -> None:
    st = _state(k)
    minor = st["misc"].pop(misc, None)
    if minor is None:
        return
    rec = k.registry.remove("misc", misc)
    if rec is not None:
        release_device(k, rec.info["device"])
    i = DYNAMIC_MINORS - minor - 1
    if 0 <= i < DYNAMIC_MINORS:
        st["misc_bits"] &= ~(1 << i)
