"""Managed device resources (drivers/base/devres.c): allocated with a device, freed with it."""

from __future__ import annotations

from . import KernelApi, VarArgs, kapi

# -- device resources (devres): allocated with the device, freed with it ----------------------------

@kapi("__devres_alloc_node")
def __devres_alloc_node(k: KernelApi, release: int, size: int, gfp: int, nid: int, name: int) -> int:
    return k.kmalloc(size, gfp, kind="devres")


@kapi("devres_free")
def devres_free(k: KernelApi, res: int) -> None:
    k.kfree(res)


@kapi("devres_add")
def devres_add(k: KernelApi, dev: int, res: int) -> None:
    return None


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


@kapi("__devm_add_action", "devm_add_action")
def devm_add_action(k: KernelApi, dev: int, action: int, data: int) -> int:
    return 0
