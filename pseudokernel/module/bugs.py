"""What the real kernel prints when the module loader itself trips over a module's name.

Both were seen on Debian's 6.1.0-56-amd64 (tests/expected/real/names.txt):
- an empty name: kobject_add_internal() (lib/kobject.c:210) WARNs "attempted to be registered
  with empty name!" from mod_sysfs_setup(), and the load fails with -EINVAL;
- a name filling all MODULE_NAME_LEN bytes of struct module's name (no NUL): the fortified
  strlen() in add_unformed_module() finds no end inside the array, prints "detected buffer
  overflow in __fortify_strlen" and BUG()s. insmod dies of the oops with module_mutex held, so
  every later module operation of that real kernel hangs; pseudokernel prints the report, taints
  D, and fails the call (-EFAULT, like an oops in init) without the hang.

The register dumps of kernel code are left out (pseudokernel does not run the kernel's own code);
the CPU, the modules and the call chain are what the kernel shows.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .. import oops, taint

if TYPE_CHECKING:
    from ..state import KernelState
    from .module import Module

def _finit(kernel: KernelState) -> tuple[str, ...]:
    """The machine's frames from load_module() down to user space."""
    return kernel.profile.frames("finit") + kernel.profile.frames("user")


def _lines(kernel: KernelState, level: int, texts: list[str]) -> None:
    for text in texts:
        kernel.log.printk(bytes((1, 0x30 + level)) + text.encode("utf-8", "replace"))


def _trace(kernel: KernelState, frames: tuple[str, ...]) -> list[bytes]:
    out = [b"Call Trace:\n", b" <TASK>\n"]
    out += [f" {kernel.format_kernel_frame(f)}\n".encode() for f in frames]
    out += oops.user_regs_lines(kernel, "init")
    out.append(b" </TASK>\n")
    return out


def kobject_empty_name(kernel: KernelState, mod: Module) -> None:
    """WARN(1, "kobject: (%p): attempted to be registered with empty name!\\n", kobj)."""
    kobj = mod.struct_addr + kernel.profile.structs.module.mkobj if mod.struct_addr else 0
    _lines(kernel, 4, [
        oops.CUT_HERE,
        f"kobject: ({kernel.hashed_pointer(kobj)}): attempted to be registered with empty name!\n",
        f"WARNING: CPU: 0 PID: {kernel.current_pid} at lib/kobject.c:210 "
        f"{kernel.format_kernel_frame('kobject_add_internal+0x241')}\n",
    ])
    lines = [oops.print_modules(kernel)]
    lines += oops.dump_stack_print_info(kernel)
    lines.append(f"RIP: 0010:{kernel.format_kernel_frame('kobject_add_internal+0x241')}\n".encode())
    lines += _trace(kernel, kernel.profile.frames("mod_sysfs_setup") + _finit(kernel))
    for line in lines:
        kernel.log.printk(line)
    _lines(kernel, 4, ["---[ end trace 0000000000000000 ]---\n"])
    kernel.add_taint(taint.WARN)


def fortify_strlen_overflow(kernel: KernelState) -> None:
    """fortify_panic("__fortify_strlen"): the message, then BUG() at lib/string_helpers.c:1027."""
    _lines(kernel, 0, ["detected buffer overflow in __fortify_strlen\n"])
    trace = _trace(kernel, kernel.profile.frames("load_module_cold") + _finit(kernel))
    oops.die_in_kernel(kernel, "lib/string_helpers.c:1027", "fortify_panic+0xf", trace)
    kernel.log.err("pseudokernel: the real kernel dies here holding module_mutex: every later module load, "
                   "unload or read of /proc/modules hangs\n")


def sysfs_warn_dup(kernel: KernelState, kname: str) -> None:
    """sysfs_create_dir_ns() found the name taken: sysfs_warn_dup()'s line and dump_stack(),
    then kobject_add_internal()'s error line."""
    _lines(kernel, 4, [f"sysfs: cannot create duplicate filename '/module/{kname}'\n"])
    lines = oops.dump_stack_print_info(kernel)
    p = kernel.profile
    lines += _trace(kernel, p.frames("dump_stack") + p.frames("sysfs_dup") + p.frames("mod_sysfs_setup") + _finit(kernel))
    for line in lines:
        kernel.log.printk(line)
    _lines(kernel, 3, [f"kobject_add_internal failed for {kname} with -EEXIST, don't try to register things with "
                       "the same name in the same directory.\n"])
