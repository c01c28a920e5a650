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


class MemType(enum.IntEnum):
    """enum mod_mem_type (include/linux/module.h, since 6.4): the kinds of module memory, each
    with its own page permissions. 6.1 allocates two regions, core and init, each a run of
    these kinds (text, rodata, ro_after_init, data) at page boundaries; 6.4 on allocates each
    kind on its own. Both are described with the types, so what reads a module's memory (the
    views, kallsyms, the permissions) need not know which kernel laid it out."""

    TEXT = 0
    DATA = 1
    RODATA = 2
    RO_AFTER_INIT = 3
    INIT_TEXT = 4
    INIT_DATA = 5
    INIT_RODATA = 6

    @property
    def is_init(self) -> bool:
        return self >= MemType.INIT_TEXT

    @property
    def is_text(self) -> bool:
        return self in (MemType.TEXT, MemType.INIT_TEXT)


@dataclass
class ModuleMemory:
    """struct module_memory: where one kind of the module's memory is."""

    base: int = 0
    size: int = 0

    def __contains__(self, addr: int) -> bool:
        return self.size > 0 and 0 <= addr - self.base < self.size


@dataclass
class Allocation:
    """One module_alloc()/execmem_alloc() block: 6.1's core or init region, or one type's
    memory from 6.4 on. `name` is what the trace and `pseudokernel layout` call it."""

    name: str
    base: int
    size: int
    types: tuple[MemType, ...]

    @property
    def init(self) -> bool:
        return self.types[0].is_init


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
    mem: list[ModuleMemory] = field(default_factory=lambda: [ModuleMemory() for _ in MemType])
    allocations: list[Allocation] = field(default_factory=list)
    # the init memory as it was at load (what `pseudokernel layout` draws), once freed
    init_at_load: list[Allocation] | None = None
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
    btf: bytes = b""  # its .BTF section (CONFIG_DEBUG_INFO_BTF_MODULES): /sys/kernel/btf/NAME
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

    def mem_type_at(self, addr: int) -> MemType | None:
        for t in MemType:
            if addr in self.mem[t]:
                return t
        return None

    def within(self, addr: int) -> bool:
        """within_module(): in any of the module's memory, core or init."""
        return self.mem_type_at(addr) is not None

    def within_init(self, addr: int) -> bool:
        t = self.mem_type_at(addr)
        return t is not None and t.is_init

    def core_size(self) -> int:
        return sum(self.mem[t].size for t in MemType if not t.is_init)

    def init_size(self) -> int:
        return sum(self.mem[t].size for t in MemType if t.is_init)

    def total_size(self) -> int:
        """module_total_size(): what /proc/modules shows."""
        return self.core_size() + self.init_size()
