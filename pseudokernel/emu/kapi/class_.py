"""Device classes (drivers/base/class.c): a class a module creates or registers is recorded with
its owner, and a name already taken is refused as the kernel refuses it. The file is class_.py
because `class` is a Python keyword."""

from __future__ import annotations

from errno import EEXIST

from . import KernelApi, kapi
from . import neg_errno as _err
from .device import _owner_name, free_kernel_object
from .sysfs import create_groups, remove_attrs


@kapi("__class_create")
def __class_create(k: KernelApi, owner: int, name: int, key: int) -> int:
    cls = k.m.kmalloc(k.S["class"].sizeof, _owner_name(k, owner), k.caller, kind="class")
    k.m.write_u64(cls + k.S["class"].name, name)
    k.m.write_u64(cls + k.S["class"].owner, owner)
    k.registry.add("class", k.cname(name), cls, _owner_name(k, owner))
    return cls


@kapi("__class_register")
def __class_register(k: KernelApi, cls: int, key: int) -> int:
    name = k.cname(k.m.read_u64(cls))
    reg = k.registry
    if any(r.name == name for r in reg.of_kind("class")):
        return _err(EEXIST)
    reg.add("class", name, cls, _owner_name(k, k.m.read_u64(cls + k.S["class"].owner)))
    return create_groups(k, cls, "class", k.m.read_u64(cls + k.S["class"].class_groups))


@kapi("class_create")
def class_create(k: KernelApi, name: int) -> int:
    """6.4+ (6.12): class_create(name), without the owner struct class no longer has; the class
    belongs to the module calling. The kernel allocates it and runs class_register()."""
    cls = k.m.kmalloc(k.S["class"].sizeof, k.caller_module_name(), k.caller, kind="class")
    k.m.write_u64(cls + k.S["class"].name, name)
    k.registry.add("class", k.cname(name), cls, k.caller_module_name())
    return cls


@kapi("class_register")
def class_register(k: KernelApi, cls: int) -> int:
    """6.4+ (6.12): class_register(cls), no lock_class_key, no owner to read."""
    name = k.cname(k.m.read_u64(cls + k.S["class"].name))
    reg = k.registry
    if any(r.name == name for r in reg.of_kind("class")):
        return _err(EEXIST)
    reg.add("class", name, cls, k.caller_module_name())
    return create_groups(k, cls, "class", k.m.read_u64(cls + k.S["class"].class_groups))


@kapi("class_unregister")
def class_unregister(k: KernelApi, cls: int) -> None:
    if cls and cls < (1 << 64) - 4096:
        k.registry.remove("class", cls)
        remove_attrs(k, cls)


@kapi("class_destroy")
def class_destroy(k: KernelApi, cls: int) -> None:
    """class_unregister() of what __class_create() allocated, which goes with it."""
    if cls and cls < (1 << 64) - 4096:
        class_unregister(k, cls)
        free_kernel_object(k, cls, "class")
