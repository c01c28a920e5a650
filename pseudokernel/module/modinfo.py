""".modinfo: get_modinfo(), check_modinfo() and the license rules (kernel/module/main.c)."""

from __future__ import annotations

from errno import ENOEXEC
from typing import TYPE_CHECKING

from .. import taint
from .elf import LoadInfo
from .internal import MODULE_INIT_IGNORE_VERMAGIC, LoadError, try_to_force_load
from .version import same_magic

if TYPE_CHECKING:
    from ..state import KernelState
    from .module import Module

GPL_COMPATIBLE = ("GPL", "GPL v2", "GPL and additional rights", "Dual BSD/GPL", "Dual MIT/GPL", "Dual MPL/GPL")


def license_is_gpl_compatible(license: str) -> bool:
    return license in GPL_COMPATIBLE


def modinfo_strings(raw: bytes) -> list[str]:
    """The NUL-separated strings of a .modinfo section; runs of NULs are padding (next_string)."""
    return [s.decode("utf-8", "surrogateescape") for s in raw.split(b"\0") if s]


def get_next_modinfo(strings: list[str], tag: str, after: int = -1) -> tuple[int, str] | None:
    prefix = tag + "="
    for i in range(after + 1, len(strings)):
        if strings[i].startswith(prefix):
            return i, strings[i][len(prefix) :]
    return None


def get_modinfo(strings: list[str], tag: str) -> str | None:
    found = get_next_modinfo(strings, tag)
    return found[1] if found else None


def get_all_modinfo(strings: list[str], tag: str) -> list[str]:
    prefix = tag + "="
    return [s[len(prefix) :] for s in strings if s.startswith(prefix)]


def load_modinfo(info: LoadInfo) -> list[str]:
    """The .modinfo strings of the image ([] when there is no such section)."""
    i = info.find_sec(".modinfo")
    return modinfo_strings(info.section_bytes(i)) if i else []


def check_modinfo(kernel: KernelState, mod: Module, info: LoadInfo, modinfo: list[str], flags: int,
                  taint: bool = True) -> None:
    """The vermagic and livepatch checks; on 6.1 also the taints that later kernels leave to
    module_augment_kernel_taints(), once the module is known to be unique."""
    log = kernel.log
    modmagic = get_modinfo(modinfo, "vermagic")
    if flags & MODULE_INIT_IGNORE_VERMAGIC:
        modmagic = None
    if modmagic is None:
        try_to_force_load(kernel, mod, "bad vermagic")
    elif not same_magic(modmagic, kernel.profile.vermagic, bool(info.index.vers)):
        log.err(f"{info.name}: version magic '{modmagic}' should be '{kernel.profile.vermagic}'\n")
        raise LoadError(ENOEXEC, "version magic")
    if taint:
        modinfo_taints(kernel, mod, modinfo)
    else:
        check_modinfo_livepatch(kernel, mod, modinfo)


def check_modinfo_livepatch(kernel: KernelState, mod: Module, modinfo: list[str]) -> None:
    if get_modinfo(modinfo, "livepatch") is not None and not kernel.profile.enabled("LIVEPATCH"):
        kernel.log.err(f"{mod.name}: module is marked as livepatch module, but livepatch support is disabled")
        raise LoadError(ENOEXEC, "livepatch")


def modinfo_taints(kernel: KernelState, mod: Module, modinfo: list[str]) -> None:
    """Out-of-tree, retpoline, staging, livepatch, license and test, in the kernel's order."""
    log = kernel.log
    if get_modinfo(modinfo, "intree") is None:
        if not kernel.test_taint(taint.OOT_MODULE):
            log.warn(f"{mod.name}: loading out-of-tree module taints kernel.\n")
        kernel.add_taint_module(mod, taint.OOT_MODULE)

    check_modinfo_retpoline(kernel, mod, modinfo)

    if get_modinfo(modinfo, "staging") is not None:
        kernel.add_taint_module(mod, taint.CRAP)
        log.warn(
            f"{mod.name}: module is from the staging directory, the quality is unknown, you have been warned.\n"
        )

    if get_modinfo(modinfo, "livepatch") is not None:
        check_modinfo_livepatch(kernel, mod, modinfo)
        kernel.add_taint_module(mod, taint.LIVEPATCH)
        log.printk_once("taint-livepatch", f"\x015{mod.name}: tainting kernel with TAINT_LIVEPATCH\n")

    set_license(kernel, mod, get_modinfo(modinfo, "license"))

    if get_modinfo(modinfo, "test") is not None:
        if not kernel.test_taint(taint.TEST):
            log.warn(f"{mod.name}: loading test module taints kernel.\n")
        kernel.add_taint_module(mod, taint.TEST)


def check_modinfo_retpoline(kernel: KernelState, mod: Module, modinfo: list[str]) -> None:
    """retpoline_module_ok(): with CONFIG_RETPOLINE, a module must say retpoline=Y.

    arch/x86/kernel/cpu/bugs.c lets it pass only when spectre_v2 is not mitigated; the emulated
    CPU, like QEMU's qemu64, has the bug and gets retpolines.
    """
    if not kernel.profile.enabled("RETPOLINE"):
        return
    if get_modinfo(modinfo, "retpoline") is not None:
        return
    kernel.log.err("Spectre V2 : System may be vulnerable to spectre v2\n")  # bugs.c's pr_fmt
    kernel.log.warn(f"{mod.name}: loading module not compiled with retpoline compiler.\n")


def set_license(kernel: KernelState, mod: Module, license: str | None) -> None:
    if license is None:
        license = "unspecified"
    mod.license = license
    if not license_is_gpl_compatible(license):
        if not kernel.test_taint(taint.PROPRIETARY_MODULE):
            kernel.log.warn(f"{mod.name}: module license '{license}' taints kernel.\n")
        kernel.add_taint_module(mod, taint.PROPRIETARY_MODULE, lockdep_ok=False)


def module_sig_taint(kernel: KernelState, mod: Module, info: LoadInfo) -> None:
    mod.sig_ok = info.sig_ok
    if kernel.profile.enabled("MODULE_SIG") and not mod.sig_ok:
        kernel.log.printk_once(
            "module-sig",
            f"\x015{mod.name}: module verification failed: signature and/or required key missing - tainting kernel\n",
        )
        kernel.add_taint_module(mod, taint.UNSIGNED_MODULE)


def module_augment_kernel_taints(kernel: KernelState, mod: Module, info: LoadInfo) -> None:
    """Later kernels' taints, all once the module is in the list. The proprietary test is
    taken before the license taints, so a proprietary module gets both license lines."""
    prev = kernel.test_taint(taint.PROPRIETARY_MODULE)
    modinfo_taints(kernel, mod, info.modinfo)
    module_sig_taint(kernel, mod, info)
    _license_taints(kernel, mod, prev)


def _license_taints(kernel: KernelState, mod: Module, prev: bool) -> None:
    """ndiswrapper, driverloader and lve: GPL by their word, not by their source."""
    if mod.name == "ndiswrapper":
        kernel.add_taint(taint.PROPRIETARY_MODULE, lockdep_ok=False)
    if mod.name in ("driverloader", "lve"):
        kernel.add_taint_module(mod, taint.PROPRIETARY_MODULE, lockdep_ok=False)
    if not prev and kernel.test_taint(taint.PROPRIETARY_MODULE):
        kernel.log.warn(f"{mod.name}: module license taints kernel.\n")


def check_module_license_and_versions(kernel: KernelState, mod: Module) -> None:
    _license_taints(kernel, mod, kernel.test_taint(taint.PROPRIETARY_MODULE))
    check_export_symbol_versions(kernel, mod)


def check_export_symbol_versions(kernel: KernelState, mod: Module) -> None:
    if kernel.profile.enabled("MODVERSIONS") and (
        (mod.num_syms and not mod.has_crcs) or (mod.num_gpl_syms and not mod.has_gpl_crcs)
    ):
        try_to_force_load(kernel, mod, "no versions for exported symbols")
