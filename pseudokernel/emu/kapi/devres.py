"""Managed device resources (drivers/base/devres.c): allocated with a device, freed with it."""

from __future__ import annotations

from . import KernelApi, VarArgs, kapi
from .device import dev_off

# -- device resources (devres): allocated with the device, freed with it ----------------------------

@kapi("devm_kmalloc")
def devm_kmalloc(k: KernelApi, dev: int, size: int, gfp: int) -> int:
    return k.kmalloc(size, gfp, kind="devm")


@kapi("devm_kfree")
def devm_kfree(k: KernelApi, dev: int, p: int) -> None:
    k.kfree(p)


@kapi("devm_kstrdup", "devm_kstrdup_const")
def devm_kstrdup(k: KernelApi, dev: int, s: int, gfp: int) -> int:
    if not s:
        return 0
    data = k.cstr(s) + b"\0"
    p = k.kmalloc(len(data), gfp, kind="devm")
    k.m.write(p, data)
    return p


@kapi("devm_kasprintf")
def devm_kasprintf(k: KernelApi, dev: int, gfp: int, fmt: int, args: VarArgs) -> int:
    data = k.format(fmt, args) + b"\0"
    p = k.kmalloc(len(data), gfp, kind="devm")
    k.m.write(p, data)
    return p


@kapi("devm_kmemdup")
def devm_kmemdup(k: KernelApi, dev: int, src: int, length: int, gfp: int) -> int:
    p = k.kmalloc(length, gfp, kind="devm")
    if p and length:
        k.m.write(p, k.m.read(src, length))
    return p


@kapi("dev_get_drvdata")
def dev_get_drvdata(k: KernelApi, dev: int) -> int:
    return k.m.read_u64(dev + dev_off(k, "driver_data"))


@kapi("__devm_add_action", "devm_add_action")
def devm_add_action(k: KernelApi, dev: int, action: int, data: int) -> int:
    return 0


@kapi("dev_err_probe")
def dev_err_probe(k: KernelApi, dev: int, err: int, fmt: int, args: VarArgs) -> int:
    """drivers/base/core.c: `error %pe: %pV` at KERN_ERR; -EPROBE_DEFER is only noted."""
    import errno as _errno

    from .printk import dev_emit

    e = err & 0xFFFFFFFF
    e = e - (1 << 32) if e >> 31 else e
    if e != -517:
        name = "-" + _errno.errorcode[-e] if -e in _errno.errorcode else str(e)
        dev_emit(k, 3, dev, b"error " + name.encode() + b": " + k.format(fmt, args))
    return err & 0xFFFFFFFF



