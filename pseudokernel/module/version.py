"""Module versioning: vermagic and the __versions CRCs (kernel/module/version.c)."""

from __future__ import annotations

import struct
from errno import ENOEXEC
from typing import TYPE_CHECKING

from .elf import LoadInfo
from .internal import MODULE_NAME_LEN, LoadError, try_to_force_load

if TYPE_CHECKING:
    from ..state import KernelState
    from .module import Module

MODVERSION_INFO = struct.Struct(f"<Q{MODULE_NAME_LEN}s")  # struct modversion_info


def same_magic(amagic: str, bmagic: str, has_crcs: bool) -> bool:
    """With CRCs the first word (the kernel release) is not compared."""
    if has_crcs:
        amagic = amagic[len(amagic.split(" ", 1)[0]) :]
        bmagic = bmagic[len(bmagic.split(" ", 1)[0]) :]
    return amagic == bmagic


def read_versions(info: LoadInfo) -> dict[str, int]:
    """name -> CRC from __versions; the first entry of a name wins, as the kernel's loop does."""
    if not info.index.vers:
        return {}
    raw = info.section_bytes(info.index.vers)
    out: dict[str, int] = {}
    for crc, name in MODVERSION_INFO.iter_unpack(raw[: len(raw) - len(raw) % MODVERSION_INFO.size]):
        key = name.split(b"\0", 1)[0].decode("utf-8", "replace")
        out.setdefault(key, crc)
    return out


def check_version(kernel: KernelState, info: LoadInfo, symname: str, mod: Module, crc: int | None) -> bool:
    """check_version(): False when the module was built against a different symbol."""
    if crc is None:
        return True
    if not info.index.vers:
        try:
            try_to_force_load(kernel, mod, symname)
        except LoadError:
            return False
        return True
    versions = info.versions
    if symname in versions:
        if versions[symname] == crc:
            return True
        kernel.log.warn(f"{info.name}: disagrees about version of symbol {symname}\n")
        return False
    text = f"{info.name}: no symbol version for {symname}\n"
    kernel.log.printk_once("no-symbol-version", b"\x014" + text.encode("utf-8", "surrogateescape"))
    return True


def check_modstruct_version(kernel: KernelState, info: LoadInfo, mod: Module) -> None:
    """The CRC of module_layout stands for the layout of struct module and friends."""
    sym = kernel.profile.exports.get("module_layout")
    crc = sym.crc if sym else None
    if not check_version(kernel, info, "module_layout", mod, crc):
        raise LoadError(ENOEXEC, "module_layout")
