"""/sys/module/<name>: mod_sysfs_setup() (kernel/module/sysfs.c) as far as it can fail.

The directory is a kobject named after mod->name in the module kset. Its name is the module's
with each '/' turned into '!' (kobject_set_name_vargs(): sysfs names are path components), so
"a/b" lives in /sys/module/a!b while /proc/modules and delete_module(2) keep "a/b". Names are
otherwise taken as they are: ".", "..", spaces and control characters all make a directory
(measured on the real kernel: tests/expected/real/names.txt). The ways this step fails, in
the kernel's order:
- mod_sysfs_init(): a kobject of the module kset already has the module's name (another module's
  "a/b" is "a!b", and a built-in module's directory, which a profile does not list):
  "NAME: module is already loaded", -EINVAL;
- kobject_add_internal(): an empty name WARNs and gives -EINVAL;
- sysfs_create_dir_ns(): the name with '/' turned into '!' is taken ("a/c" after "a!c"):
  sysfs_warn_dup() and -EEXIST.
"""

from __future__ import annotations

from errno import EEXIST, EINVAL
from typing import TYPE_CHECKING

from . import bugs
from .module import Module, State

if TYPE_CHECKING:
    from ..state import KernelState


def sysfs_name(name: str) -> str:
    """The name of a module's directory under /sys/module."""
    return name.replace("/", "!")


def _dir_taken(kernel: KernelState, mod: Module, dirname: str) -> bool:
    """Another formed module has /sys/module/<dirname>. Only a name with a '!' can be
    another's with a '/': any other is looked up by name, not searched for."""
    with kernel.mutex:
        candidates = list(kernel.modules) if "!" in dirname else [kernel.by_name.get(dirname)]
    return any(m is not None and m is not mod and m.state != State.UNFORMED and sysfs_name(m.name) == dirname
               for m in candidates)


def mod_sysfs_setup(kernel: KernelState, mod: Module) -> None:
    """Raises OSError(errno) after printing what the kernel prints."""
    if _dir_taken(kernel, mod, mod.name):
        kernel.log.err(f"{mod.name}: module is already loaded\n")
        raise OSError(EINVAL, "mod_sysfs_init")
    if not mod.name:
        bugs.kobject_empty_name(kernel, mod)
        raise OSError(EINVAL, "kobject_add")
    kname = sysfs_name(mod.name)
    if _dir_taken(kernel, mod, kname):
        bugs.sysfs_warn_dup(kernel, kname)
        raise OSError(EEXIST, "sysfs_create_dir_ns")
