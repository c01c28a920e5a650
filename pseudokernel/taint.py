"""Taint flags, as kernel/panic.c defines them.

The bit numbers are ABI: /proc/sys/kernel/tainted prints the mask, and the letters show up in
/proc/modules, /sys/module/*/taint and oops headers. Only flags marked `module` are shown per
module (module_flags_taint).
"""

from typing import NamedTuple


class TaintFlag(NamedTuple):
    bit: int
    c_true: str
    c_false: str
    module: bool


PROPRIETARY_MODULE = 0
FORCED_MODULE = 1
CPU_OUT_OF_SPEC = 2
FORCED_RMMOD = 3
MACHINE_CHECK = 4
BAD_PAGE = 5
USER = 6
DIE = 7
OVERRIDDEN_ACPI_TABLE = 8
WARN = 9
CRAP = 10
FIRMWARE_WORKAROUND = 11
OOT_MODULE = 12
UNSIGNED_MODULE = 13
SOFTLOCKUP = 14
LIVEPATCH = 15
AUX = 16
RANDSTRUCT = 17
TEST = 18

TAINT_FLAGS: tuple[TaintFlag, ...] = (
    TaintFlag(PROPRIETARY_MODULE, "P", "G", True),
    TaintFlag(FORCED_MODULE, "F", " ", True),
    TaintFlag(CPU_OUT_OF_SPEC, "S", " ", False),
    TaintFlag(FORCED_RMMOD, "R", " ", False),
    TaintFlag(MACHINE_CHECK, "M", " ", False),
    TaintFlag(BAD_PAGE, "B", " ", False),
    TaintFlag(USER, "U", " ", False),
    TaintFlag(DIE, "D", " ", False),
    TaintFlag(OVERRIDDEN_ACPI_TABLE, "A", " ", False),
    TaintFlag(WARN, "W", " ", False),
    TaintFlag(CRAP, "C", " ", True),
    TaintFlag(FIRMWARE_WORKAROUND, "I", " ", False),
    TaintFlag(OOT_MODULE, "O", " ", True),
    TaintFlag(UNSIGNED_MODULE, "E", " ", True),
    TaintFlag(SOFTLOCKUP, "L", " ", False),
    TaintFlag(LIVEPATCH, "K", " ", True),
    TaintFlag(AUX, "X", " ", True),
    TaintFlag(RANDSTRUCT, "T", " ", True),
    TaintFlag(TEST, "N", " ", True),
)


def module_flags_taint(taints: int) -> str:
    """The letters of a module's taints, in bit order (kernel/module/main.c)."""
    return "".join(t.c_true for t in TAINT_FLAGS if t.module and taints & (1 << t.bit))


# each flag's name (panic.c's TAINT_FLAG() desc, #taint), by bit: print_tainted_verbose()
NAMES = ("PROPRIETARY_MODULE", "FORCED_MODULE", "CPU_OUT_OF_SPEC", "FORCED_RMMOD", "MACHINE_CHECK", "BAD_PAGE",
         "USER", "DIE", "OVERRIDDEN_ACPI_TABLE", "WARN", "CRAP", "FIRMWARE_WORKAROUND", "OOT_MODULE",
         "UNSIGNED_MODULE", "SOFTLOCKUP", "LIVEPATCH", "AUX", "RANDSTRUCT", "TEST")


def print_tainted_verbose(mask: int) -> str:
    """'Tainted: [O]=OOT_MODULE, [E]=UNSIGNED_MODULE' (later kernels' dump_stack)."""
    if not mask:
        return "Not tainted"
    return "Tainted: " + ", ".join(f"[{t.c_true}]={NAMES[t.bit]}" for t in TAINT_FLAGS if mask & (1 << t.bit))


def print_tainted(mask: int) -> str:
    """The 'Tainted: P        W  O ' string of oops and warning headers (kernel/panic.c)."""
    if not mask:
        return "Not tainted"
    return "Tainted: " + "".join(t.c_true if mask & (1 << t.bit) else t.c_false for t in TAINT_FLAGS)
