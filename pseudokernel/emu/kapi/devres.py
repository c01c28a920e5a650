"""Managed device resources (drivers/base/devres.c): allocated with a device, released with
it. Each device keeps its resources in order; devres_release_all() releases them newest
first when the driver lets the device go (a failed probe, remove, unbind) and when the
device itself goes (device_release()), so what a driver got with devm_* is not the module's
to free: the unload report does not count it."""

from __future__ import annotations

from collections.abc import Callable

from . import KernelApi, VarArgs, kapi


def _devres(k: KernelApi) -> dict[int, list[tuple]]:
    return k.state.setdefault("devres", {})


def devres_track(k: KernelApi, dev: int, *res) -> None:
    """One more resource of dev: ("mem", ptr), ("action", fn, data), ("dma", cpu, size),
    ("node", data, release)."""
    if dev:
        _devres(k).setdefault(dev, []).append(res)


# kind -> release(k, *args) for resources another file tracks here (dma.py: "dma"), so that
# this file need not import them back
RELEASERS: dict[str, Callable[..., None]] = {}


def devres_release_all(k: KernelApi, dev: int) -> None:
    """release_nodes(): every resource of dev, the newest first."""
    for res in reversed(_devres(k).pop(dev, [])):
        if res[0] == "mem":
            k.kfree(res[1])
        elif res[0] == "action":
            k.m.call(res[1], res[2])
        elif res[0] in RELEASERS:
            RELEASERS[res[0]](k, *res[1:])
        elif res[0] == "node":
            if res[2]:
                k.m.call(res[2], dev, res[1])
            k.kfree(res[1])


def _devm_alloc(k: KernelApi, dev: int, size: int, gfp: int) -> int:
    p = k.kmalloc(size, gfp, kind="devm")
    if p:
        devres_track(k, dev, "mem", p)
    return p


@kapi("__devres_alloc_node")
def __devres_alloc_node(k: KernelApi, release: int, size: int, gfp: int, nid: int, name: int) -> int:
    p = k.kmalloc(size, gfp, kind="devres")
    if p:
        k.state.setdefault("devres_release", {})[p] = release
    return p


@kapi("devres_free")
def devres_free(k: KernelApi, res: int) -> None:
    k.state.setdefault("devres_release", {}).pop(res, None)
    k.kfree(res)


@kapi("devres_add")
def devres_add(k: KernelApi, dev: int, res: int) -> None:
    devres_track(k, dev, "node", res, k.state.setdefault("devres_release", {}).pop(res, 0))


@kapi("devm_kmalloc")
def devm_kmalloc(k: KernelApi, dev: int, size: int, gfp: int) -> int:
    return _devm_alloc(k, dev, size, gfp)


@kapi("devm_kfree")
def devm_kfree(k: KernelApi, dev: int, p: int) -> None:
    mine = _devres(k).get(dev, [])
    if ("mem", p) in mine:
        mine.remove(("mem", p))
        k.kfree(p)


@kapi("devm_kstrdup", "devm_kstrdup_const")
def devm_kstrdup(k: KernelApi, dev: int, s: int, gfp: int) -> int:
    if not s:
        return 0
    data = k.cstr(s) + b"\0"
    p = _devm_alloc(k, dev, len(data), gfp)
    if p:
        k.m.write(p, data)
    return p


@kapi("devm_kasprintf")
def devm_kasprintf(k: KernelApi, dev: int, gfp: int, fmt: int, args: VarArgs) -> int:
    data = k.format(fmt, args) + b"\0"
    p = _devm_alloc(k, dev, len(data), gfp)
    if p:
        k.m.write(p, data)
    return p


@kapi("devm_kmemdup")
def devm_kmemdup(k: KernelApi, dev: int, src: int, length: int, gfp: int) -> int:
    p = _devm_alloc(k, dev, length, gfp)
    if p and length:
        k.m.write(p, k.m.read(src, length))
    return p


@kapi("__devm_add_action", "devm_add_action")
def devm_add_action(k: KernelApi, dev: int, action: int, data: int) -> int:
    devres_track(k, dev, "action", action, data)
    return 0
