"""Stack traces: the ORC unwinder (arch/x86/kernel/unwind_orc.c) over a module's own
.orc_unwind_ip / .orc_unwind tables, as the kernel walks a module's frames in an oops."""

from __future__ import annotations

import bisect
import struct
from typing import TYPE_CHECKING

from .emu.kapi.ftrace import ftrace_graph_ret_addr

if TYPE_CHECKING:
    from .module.module import Module
    from .state import KernelState

ORC_REG_UNDEFINED = 0
ORC_REG_PREV_SP = 1
ORC_REG_BP = 4
ORC_REG_SP = 5
ORC_TYPE_CALL = 0
ORC_ENTRY = struct.Struct("<hhH")


class OrcTable:
    """A module's ORC entries, sorted by address (unwind_module_init sorts them)."""

    def __init__(self, ips: list[int], entries: list[tuple[int, int, int]]) -> None:
        order = sorted(range(len(ips)), key=ips.__getitem__)
        self.ips = [ips[i] for i in order]
        self.entries = [entries[i] for i in order]

    @classmethod
    def read(cls, kernel: KernelState, mod: Module) -> OrcTable | None:
        ip_sec = mod.section_ranges.get(".orc_unwind_ip")
        u_sec = mod.section_ranges.get(".orc_unwind")
        if not ip_sec or not u_sec:
            return None
        m = kernel.machine
        raw_ip = m.read(ip_sec[0], ip_sec[1])
        raw_u = m.read(u_sec[0], u_sec[1])
        n = min(len(raw_ip) // 4, len(raw_u) // ORC_ENTRY.size)
        ips = [(ip_sec[0] + 4 * i + off) & ((1 << 64) - 1) for i, (off,) in enumerate(struct.iter_unpack("<i", raw_ip[: 4 * n]))]
        return cls(ips, list(ORC_ENTRY.iter_unpack(raw_u[: n * ORC_ENTRY.size])))

    def find(self, ip: int) -> tuple[int, int, int] | None:
        i = bisect.bisect_right(self.ips, ip) - 1
        return self.entries[i] if i >= 0 else None


def unwind(kernel: KernelState, rip: int, rsp: int, rbp: int, limit: int = 256,
           chain: list[tuple[int, int, int, int]] = ()) -> list[int]:
    """Return addresses of the frames above rip, while they are in module code. A frame that
    returns into the machine's call trampoline was called by a kernel function (a callback
    from a handler): the walk goes on in the module code that called that function (`chain`,
    from CpuStop.chain), listing the kernel function in between."""
    out: list[int] = []
    m = kernel.machine
    links = list(chain)
    if rip == 0 and limit:
        # arch/x86/kernel/unwind_orc.c null_orc_entry: a call through a NULL pointer
        try:
            rip = m.read_u64(rsp)
        except Exception:
            return out
        rsp += 8
        out.append(rip)
    for _ in range(limit):
        mod = kernel.module_at(rip)
        if mod is None:
            break
        table = kernel.orc_table(mod)
        entry = table.find(rip) if table else None
        if entry is None:
            break
        sp_offset, bp_offset, bits = entry
        sp_reg, bp_reg, typ, end = bits & 0xF, (bits >> 4) & 0xF, (bits >> 8) & 3, (bits >> 10) & 1
        if end or typ != ORC_TYPE_CALL:
            break
        if sp_reg == ORC_REG_SP:
            cfa = rsp + sp_offset
        elif sp_reg == ORC_REG_BP:
            cfa = rbp + sp_offset
        else:
            break
        try:
            ret = ftrace_graph_ret_addr(kernel.api, m.read_u64(cfa - 8), cfa - 8)  # the graph tracer's
            if bp_reg == ORC_REG_PREV_SP:
                rbp = m.read_u64(cfa + bp_offset)
            elif bp_reg == ORC_REG_BP:
                rbp = m.read_u64(rbp + bp_offset)
        except Exception:
            break
        if ret == m.return_trampoline and links:
            stub, ret, cfa, rbp = links.pop(0)
            out.append(stub)
        out.append(ret)
        rip, rsp = ret, cfa
    return out
