"""What a module left behind when it unloaded (beyond the kernel, which only notices with
kmemleak, off in Debian's build): memory it allocated and never freed, things it registered
and never unregistered, locks it still holds. Printed to the log in kmemleak's style, prefixed
"pseudokernel:" as the real kernel prints none of it, and returned to `rmmod --report`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .module.module import Module
    from .state import KernelState

HEX_DUMP = 32


def hex_dump(data: bytes) -> list[str]:
    """kmemleak's hex dump: 16 bytes a row, then the printable characters."""
    rows = []
    for i in range(0, len(data), 16):
        chunk = data[i : i + 16]
        text = "".join(chr(c) if 0x20 <= c < 0x7F else "." for c in chunk)
        rows.append("    " + " ".join(f"{c:02x}" for c in chunk).ljust(47) + "  " + text)
    return rows


def unload_report(kernel: KernelState, mod: Module) -> list[str]:
    """The report's lines, computed while the module's symbols are still known."""
    m = kernel.machine
    lines: list[str] = []
    objects = sorted((a for a in m.slab.live.values() if a.owner == mod.name), key=lambda a: a.addr)
    if objects:
        lines.append(f"pseudokernel: {mod.name}: {len(objects)} new suspected memory leaks at unload")
        for a in objects:
            lines.append(f"unreferenced object 0x{a.addr:016x} (size {a.size}):")
            try:
                data = m.read(a.addr, min(a.size, HEX_DUMP))
                lines.append(f"  hex dump (first {len(data)} bytes):")
                lines += hex_dump(data)
            except Exception:
                pass
            lines.append("  backtrace:")
            lines.append(f"    [<{a.caller:016x}>] {kernel.format_symbol(a.caller)}")
    for r in kernel.registry.owned_by(mod.name):
        lines.append(f"pseudokernel: {mod.name}: {r.kind} '{r.name}' still registered at unload")
    for lock, caller in sorted(kernel.held_locks.items()):
        if mod.within(lock) or mod.within(caller):
            lines.append(
                f"pseudokernel: {mod.name}: lock 0x{lock:016x} taken at {kernel.format_symbol(caller)} still held at unload"
            )
    return lines
