"""A trace of one load: each step of load_module() under the kernel's own function name, with
the values it worked on, and the step that failed with what the kernel printed there.

The kernel shows none of this (ftrace and a debugger would); pseudokernel keeps it beside the
real output for whoever asks (`pseudokernel trace`). The loader is handed a LoadTrace or None:
every call site is `if tr:`, and the values are computed here, from the loader's own objects,
only when a trace was asked for, so the 4,000 loads of the corpus pay one test per step.

A step is opened with begin(name) before the kernel function runs and given its values with
end(...) once it returned; what the kernel logged in between is attached to it. A step that
raised is the last one begun: failed() marks it with the errno.
"""

from __future__ import annotations

import errno as errnos
from typing import TYPE_CHECKING, Any

from .elf import SHF_ALLOC, SHN_UNDEF, SHT_RELA, LoadInfo
from .layout import region_dicts, section_rows
from .relocate import RELA

if TYPE_CHECKING:
    from ..log import PrintkLog
    from ..state import KernelState
    from .module import Module

RELOCATION_NAMES = {0: "R_X86_64_NONE", 1: "R_X86_64_64", 2: "R_X86_64_PC32", 4: "R_X86_64_PLT32",
                    10: "R_X86_64_32", 11: "R_X86_64_32S", 24: "R_X86_64_PC64"}
FIRST_RELOCATIONS = 5  # how many relocations the trace shows one by one


class LoadTrace:
    """The recorder: steps as plain dicts (JSON as they are), in the order they ran."""

    def __init__(self, log: PrintkLog) -> None:
        self.log = log
        self.steps: list[dict[str, Any]] = []
        self.at = ""
        self._current: dict[str, Any] | None = None
        self._seq = log.next_seq

    def begin(self, step: str) -> None:
        self._attach_messages()
        self.at = step
        self._current = None

    def end(self, **values: Any) -> None:
        self._current = {"step": self.at, **values}
        self.steps.append(self._current)

    def failed(self, err: int) -> None:
        """The step begun last raised: finit_module(2) returns -err."""
        if self._current is None:
            self.end()
        self._current["failed"] = True
        self._current["errno"] = err
        self._current["error"] = errnos.errorcode.get(err, str(err))
        self._attach_messages()

    def finish(self) -> list[dict[str, Any]]:
        self._attach_messages()
        return self.steps

    def _attach_messages(self) -> None:
        """The kernel log lines printed since the last look belong to the step now open."""
        records = self.log.records(self._seq)
        if not records:
            return
        self._seq = records[-1].seq + 1
        lines = [r.text.decode("utf-8", "replace").rstrip("\n") for r in records]
        if self._current is None:
            self.end()
        self._current.setdefault("messages", []).extend(lines)

    # -- the values of each step, from the loader's objects --------------------------------

    def module_sig_check(self, kernel: KernelState, info: LoadInfo, size_before: int) -> None:
        signed = info.len != size_before
        if info.sig_ok:
            verdict = "signature verified"
        elif signed:
            verdict = "signature present, not verified"
        else:
            verdict = "unsigned"
        self.end(signed=signed, sig_ok=info.sig_ok, enforce=bool(kernel.sig_enforce), verdict=verdict)

    def elf_validity_check(self, info: LoadInfo, **more: Any) -> None:
        self.end(bytes=info.len, sections=info.shnum, **more)

    def check_modinfo(self, kernel: KernelState, info: LoadInfo) -> None:
        from .modinfo import get_modinfo

        self.end(vermagic=get_modinfo(info.modinfo, "vermagic"), kernel_vermagic=kernel.profile.vermagic,
                 license=get_modinfo(info.modinfo, "license"), intree=get_modinfo(info.modinfo, "intree") is not None)

    def layout_and_allocate(self, kernel: KernelState, info: LoadInfo, mod: Module) -> None:
        ranges = [(s.name, s.addr, s.size) for s in info.sechdrs if not s.empty]
        regions = region_dicts(mod, kernel.profile.enabled("STRICT_MODULE_RWX"))
        self.end(regions=regions, sections=section_rows(ranges, regions))

    def simplify_symbols(self, kernel: KernelState, info: LoadInfo, values: list[int]) -> None:
        resolved = []
        for i, sym in enumerate(info.symbols()):
            if i == 0 or sym[3] != SHN_UNDEF:
                continue
            name = info.symbol_name(sym[0])
            owner = kernel.module_at(values[i]) if values[i] else None
            source = owner.name if owner is not None else ("vmlinux" if values[i] else "unresolved (weak)")
            resolved.append({"name": name, "value": values[i], "from": source})
        self.end(symbols=resolved)

    def apply_relocations(self, info: LoadInfo, values: list[int]) -> None:
        counts: dict[str, int] = {}
        first: list[dict[str, Any]] = []
        syms = info.symbols()
        for i, sec in enumerate(info.sechdrs):
            if sec.type != SHT_RELA or sec.info >= info.shnum or not info.sechdrs[sec.info].flags & SHF_ALLOC:
                continue
            target = info.sechdrs[sec.info]
            raw = info.section_bytes(i)
            for r_offset, r_info, r_addend in RELA.iter_unpack(raw[: len(raw) - len(raw) % RELA.size]):
                kind = RELOCATION_NAMES.get(r_info & 0xFFFFFFFF, str(r_info & 0xFFFFFFFF))
                counts[kind] = counts.get(kind, 0) + 1
                symidx = r_info >> 32
                if len(first) < FIRST_RELOCATIONS and symidx < len(syms):
                    sym = syms[symidx]
                    name = info.symbol_name(sym[0])
                    if not name and sym[3] < info.shnum:  # a section symbol: named by its section
                        name = info.sechdrs[sym[3]].name
                    first.append({"type": kind, "where": f"{target.name}+{r_offset:#x}",
                                  "loc": (target.addr + r_offset) & ((1 << 64) - 1), "symbol": name,
                                  "addend": r_addend, "value": (values[symidx] + r_addend) & ((1 << 64) - 1)})
        self.end(total=sum(counts.values()), types=counts, first=first)

    def parse_args(self, mod: Module, args: str) -> None:
        from .params import next_arg

        given = []
        buf = bytearray(args.encode("utf-8", "surrogateescape") + b"\0")
        pos = 0
        while pos < len(buf) and buf[pos] and chr(buf[pos]).isspace():
            pos += 1
        while pos < len(buf) and buf[pos]:
            p_off, v_off, pos = next_arg(buf, pos)
            param = _cstr(buf, p_off)
            given.append([param, _cstr(buf, v_off) if v_off is not None else None])
        self.end(args=args, given=given, params=[p.name for p in mod.params])

    def do_init_module(self, kernel: KernelState, mod: Module, ret: int) -> None:
        self.end(init=mod.init, symbol=kernel.format_symbol(mod.init, with_offset=False) if mod.init else None,
                 ret=ret)


def _cstr(buf: bytearray, off: int) -> str:
    return bytes(buf[off:]).split(b"\0", 1)[0].decode("utf-8", "surrogateescape")


class UnloadTrace(LoadTrace):
    """The trace of one delete_module(2): its checks under the kernel's names (find_module,
    the holders in source_list, the state, the exit function, try_stop_module), the exit
    call and its duration, pseudokernel's unload report, and free_module()'s parts.

    free_module() is one call of the loader (main.py); its parts' values are taken from the
    module just before it runs and recorded once it returned (the module is gone then)."""

    def failed(self, err: int) -> None:
        super().failed(err)
        if err == errnos.EWOULDBLOCK and self._current is not None:
            self._current["error"] = "EWOULDBLOCK"  # delete_module's own name for EAGAIN

    def find_module(self, mod: Module | None, name: str) -> None:
        if mod is None:
            self.end(name=name, found=False)
            return
        self.end(name=name, found=True, state=mod.state.name, refcount=mod.refcount,
                 holders=[m.name for m in mod.source_list], uses=[m.name for m in mod.target_list],
                 init=mod.init, exit=mod.exit)

    def exit_call(self, kernel: KernelState, mod: Module, ns: int, outcome: str) -> None:
        self.end(exit=mod.exit, symbol=kernel.format_symbol(mod.exit, with_offset=False) if mod.exit else None,
                 duration_ns=ns, outcome=outcome)

    def free_module_parts(self, kernel: KernelState, mod: Module) -> list[tuple[str, dict[str, Any]]]:
        """What each part of free_module() is about to release."""
        from .module import MemType

        regions = [{**r, "freed": True} for r in region_dicts(mod, kernel.profile.enabled("STRICT_MODULE_RWX"))]
        kinds = [{"type": t.name.lower(), "base": mod.mem[t].base, "size": mod.mem[t].size}
                 for t in sorted(MemType, key=lambda t: mod.mem[t].base) if mod.mem[t].size]
        return [
            ("mod_sysfs_teardown", {"path": f"/sys/module/{mod.name}", "parameters": [p.name for p in mod.params],
                                    "sections": len(mod.sections)}),
            ("destroy_params", {"parameters": [p.name for p in mod.params]}),
            ("list_del_rcu", {"modules_before": len(kernel.modules)}),
            ("module_memfree", {"regions": regions, "kinds": kinds,
                                "percpu": mod.percpu_size, "total": sum(k["size"] for k in kinds)}),
        ]
