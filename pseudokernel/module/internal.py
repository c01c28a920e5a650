"""What kernel/module/internal.h shares among the loader's files: the flags finit_module(2)
takes, the name length of struct module, module_flags(), and the error every step raises."""

from __future__ import annotations

import errno as _errno
import os
from errno import ENOEXEC
from typing import TYPE_CHECKING

from .. import taint
from .module import State

if TYPE_CHECKING:
    from ..state import KernelState
    from .module import Module

MODULE_INIT_IGNORE_MODVERSIONS = 1
MODULE_INIT_IGNORE_VERMAGIC = 2
MODULE_INIT_COMPRESSED_FILE = 4
MODULE_NAME_LEN = 64 - 8  # MAX_PARAM_PREFIX_LEN: struct module's name[]


class LoadError(OSError):
    """A load_module() step failed: the errno finit_module(2) returns (positive, like errno).
    An OSError, so a caller catching the syscall's failure catches every step's."""

    def __init__(self, err: int, reason: str = "") -> None:
        super().__init__(err, reason or os.strerror(err))
        self.reason = reason
        self.unknown_symbols: list[str] = []  # for ENOENT/EINVAL: the symbols that did not resolve
        self.signal = 0  # an oops in init: the signal insmod dies of (oops.fatal_signal)

    def __str__(self) -> str:
        return self.reason or os.strerror(self.errno)

    @property
    def name(self) -> str:
        return _errno.errorcode.get(self.errno, str(self.errno))


def module_flags(mod: Module, show_state: bool = True) -> str:
    """module_flags(): '(OE)', '(OE+)' while coming, '(OE-)' while going, for /proc/modules
    and the oops' module list."""
    if not mod.taints and not show_state:
        return ""
    if mod.taints or mod.state in (State.GOING, State.COMING):
        out = "(" + taint.module_flags_taint(mod.taints)
        if show_state and mod.state == State.GOING:
            out += "-"
        if show_state and mod.state == State.COMING:
            out += "+"
        return out + ")"
    return ""


def try_to_force_load(kernel: KernelState, mod: Module, reason: str) -> None:
    """CONFIG_MODULE_FORCE_LOAD: taint F and go on; without it, -ENOEXEC."""
    if not kernel.profile.enabled("MODULE_FORCE_LOAD"):
        raise LoadError(ENOEXEC, f"{reason}: forced load not supported")
    if not kernel.test_taint(taint.FORCED_MODULE):
        kernel.log.warn(f"{mod.name}: {reason}: kernel tainted.\n")
    kernel.add_taint_module(mod, taint.FORCED_MODULE, lockdep_ok=False)
