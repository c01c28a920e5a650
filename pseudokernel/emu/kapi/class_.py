"""Device classes (drivers/base/class.c): a class a module creates or registers is recorded with
its owner, and a name already taken is refused as the kernel refuses it. The file is class_.py
because `class` is a Python keyword."""

from __future__ import annotations

from . import KernelApi, kapi
from .device import _owner_name, free_kernel_object
from .sysfs import create_groups, kset_register, remove_attrs


@kapi("__class_create")
def __class_create(k: KernelApi, owner: int, name: int, key: int) -> int:
    """6.1: the kernel allocates the class and registers it (__class_register()): a name taken
    is ERR_PTR(-EEXIST)."""
    cls = k.m.kmalloc(k.S["class"].sizeof, _owner_name(k, owner), k.caller, kind="class")
    k.m.write_u64(cls + k.S["class"].name, name)
    k.m.write_u64(cls + k.S["class"].owner, owner)
    return _registered(k, cls, _owner_name(k, owner), created=True)


@kapi("__class_register")
def __class_register(k: KernelApi, cls: int, key: int) -> int:
    return _registered(k, cls, _owner_name(k, k.m.read_u64(cls + k.S["class"].owner)))


@kapi("class_create")
def class_create(k: KernelApi, name: int) -> int:
    """6.4+ (6.12): class_create(name), without the owner struct class no longer has; the class
    belongs to the module calling. The kernel allocates it and runs class_register()."""
    cls = k.m.kmalloc(k.S["class"].sizeof, k.caller_module_name(), k.caller, kind="class")
    k.m.write_u64(cls + k.S["class"].name, name)
    return _registered(k, cls, k.caller_module_name(), created=True)


@kapi("class_register")
def class_register(k: KernelApi, cls: int) -> int:
    """6.4+ (6.12): class_register(cls), no lock_class_key, no owner to read."""
    return _registered(k, cls, k.caller_module_name())


def _registered(k: KernelApi, cls: int, owner: str, created: bool = False) -> int:
    """class_register(): the class's kset under /sys/class (kset_register: a name a module's
    class or the machine's own holds is -EEXIST), then its class_groups. A class the kernel
    made for class_create() is freed on failure, and the caller gets the error as a pointer."""
    name = k.cname(k.m.read_u64(cls + k.S["class"].name))
    err = kset_register(k, "class", "class", name)
    if err:
        if created:
            k.kfree(cls)
        return err
    k.registry.add("class", name, cls, owner)
    err = create_groups(k, cls, "class", k.m.read_u64(cls + k.S["class"].class_groups))
    return cls if created and not err else err


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
