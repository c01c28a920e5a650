"""struct module: what the kernel keeps about a loaded module."""

from __future__ import annotations

import enum
import time
from dataclasses import dataclass, field
from typing import ClassVar


class State(enum.IntEnum):
    """enum module_state (include/linux/module.h)."""

    LIVE = 0
    COMING = 1
    GOING = 2
    UNFORMED = 3


@dataclass
class ModuleLayout:
    """struct module_layout: one module_alloc() region."""

    base: int = 0
    size: int = 0
    text_size: int = 0
    ro_size: int = 0
    ro_after_init_size: int = 0


@dataclass
class ExportedSymbol:
    """An entry of a module's __ksymtab / __ksymtab_gpl."""

    name: str
    value: int
    namespace: str
    gpl: bool
    crc: int | None


@dataclass
class ModuleSymbol:
    """A kallsyms entry of the module: what /proc/kallsyms and %pS show."""

    name: str
    value: int
    size: int
    type: str
    core: bool

_VISIBLE = frozenset({"state", "refcnt", "taints"})  # what /sys/module/NAME/ shows that moves


@dataclass
class Module:
    name: str
    state: State = State.UNFORMED
    taints: int = 0
    license: str = "unspecified"
    core_layout: ModuleLayout = field(default_factory=ModuleLayout)
    init_layout: ModuleLayout = field(default_factory=ModuleLayout)
    init_layout_at_load: ModuleLayout | None = None  # the init region as it was, once freed
    # kernel-visible address of the module's struct module (.gnu.linkonce.this_module)
    struct_addr: int = 0
    init: int = 0
    exit: int = 0
    refcnt: int = 0
    # module_use: modules that use us (source_list) and that we use (target_list)
    source_list: list[Module] = field(default_factory=list)
    target_list: list[Module] = field(default_factory=list)
    syms: list[ExportedSymbol] = field(default_factory=list)
    num_syms: int = 0
    num_gpl_syms: int = 0
    has_crcs: bool = False
    has_gpl_crcs: bool = False
    using_gplonly_symbols: bool = False
    sig_ok: bool = False
    args: str = ""
    modinfo: list[str] = field(default_factory=list)
    version: str | None = None
    srcversion: str | None = None
    # section name -> address, for /sys/module/<name>/sections (every non-empty ALLOC section)
    sections: dict[str, int] = field(default_factory=dict)
    section_ranges: dict[str, tuple[int, int]] = field(default_factory=dict)
    bug_table: tuple[int, int] = (0, 0)
    param_range: tuple[int, int] = (0, 0)
    args_addr: int = 0
    # note section name -> raw bytes, for /sys/module/<name>/notes
    notes: dict[str, bytes] = field(default_factory=dict)
    params: list = field(default_factory=list)
    kallsyms: list[ModuleSymbol] = field(default_factory=list)
    percpu: int = 0
    percpu_size: int = 0
    filename: str = ""
    load_time: float = field(default_factory=time.time)
    # what the emulator learnt while running this module's code
    report: dict = field(default_factory=dict)
    # moves whenever any module's state, refcnt or taints is set: /sys/module shows them, and
    # the mount asks for what it shows again only when this moved (fs/sysfs.module_fingerprint)
    changes: ClassVar[int] = 0

    def __setattr__(self, name: str, value: object) -> None:
        object.__setattr__(self, name, value)
        if name in _VISIBLE:
            Module.changes += 1  # after the value: who sees the count sees the value

    def __hash__(self) -> int:
        return id(self)

    def __eq__(self, other: object) -> bool:
        return self is other

    @property
    def refcount(self) -> int:
        """module_refcount(): the references beyond MODULE_REF_BASE."""
        return self.refcnt - 1

    def core_symbols(self) -> list[ModuleSymbol]:
        if self.state == State.LIVE:
            return [s for s in self.kallsyms if s.core]
        return self.kallsyms

    def within(self, addr: int) -> bool:
        for lay in (self.core_layout, self.init_layout):
            if lay.size and lay.base <= addr < lay.base + lay.size:
                return True
        return False
