"""Static keys (kernel/jump_label.c, arch/x86/kernel/jump_label.c): static_branch_enable() and
friends patch every site of the key in the modules' __jump_table, as the kernel does, so
static_branch_unlikely() in module code takes the other path once its key changes.

A site is a 2- or 5-byte instruction (a NOP, or a JMP to the entry's target); the wanted kind
is the key's state XOR the entry's branch bit (bit 0 of its key field: likely vs unlikely
defaults). Entries are relative to themselves: code and target are s32 offsets, key an s64.
"""

from __future__ import annotations

import struct

from ...bits import MASK64
from . import KernelApi, kapi

JUMP_ENTRY = struct.Struct("<iiq")
NOP5 = bytes.fromhex("0f1f440000")  # x86 ideal nop, BYTES_NOP5
NOP2 = bytes.fromhex("6690")


def _sites(k: KernelApi, key: int):
    """(code, target, branch) of each jump entry of key in the loaded modules."""
    for mod in k.kernel.modules:
        rng = getattr(mod, "section_ranges", {}).get("__jump_table")
        if not rng:
            continue
        start, size = rng
        raw = k.m.read(start, size - size % JUMP_ENTRY.size)
        for i, (code, target, kfield) in enumerate(JUMP_ENTRY.iter_unpack(raw)):
            at = start + i * JUMP_ENTRY.size
            entry_key = (at + 8 + kfield) & MASK64
            if entry_key & ~3 == key:
                yield (at + code) & MASK64, (at + 4 + target) & MASK64, entry_key & 1


def _patch(k: KernelApi, key: int) -> None:
    enabled = k.m.read_u32(key) > 0
    for code, target, branch in _sites(k, key):
        size = 2 if k.m.read(code, 1) in (b"\xeb", b"\x66") else 5
        if enabled ^ bool(branch):  # JUMP_LABEL_JMP
            rel = target - (code + size)
            insn = bytes((0xEB, rel & 0xFF)) if size == 2 else b"\xe9" + struct.pack("<i", rel)
        else:
            insn = NOP2 if size == 2 else NOP5
        k.m.write(code, insn)
        k.m.code_written(code, size)  # the old instruction's translation goes


def set_key(k: KernelApi, key: int, count: int) -> None:
    before = k.m.read_u32(key) > 0
    k.m.write_u32(key, max(count, 0))
    if before != (count > 0):
        _patch(k, key)


@kapi("static_key_enable", "static_key_enable_cpuslocked")
def static_key_enable(k: KernelApi, key: int) -> None:
    if k.m.read_u32(key) <= 0:
        set_key(k, key, 1)


@kapi("static_key_disable", "static_key_disable_cpuslocked")
def static_key_disable(k: KernelApi, key: int) -> None:
    if k.m.read_u32(key) > 0:
        set_key(k, key, 0)


@kapi("static_key_slow_inc", "static_key_slow_inc_cpuslocked")
def static_key_slow_inc(k: KernelApi, key: int) -> None:
    set_key(k, key, k.m.read_u32(key) + 1)


@kapi("static_key_slow_dec", "static_key_slow_dec_cpuslocked", "__static_key_slow_dec_deferred")
def static_key_slow_dec(k: KernelApi, key: int) -> None:
    set_key(k, key, k.m.read_u32(key) - 1)


@kapi("static_key_count")
def static_key_count(k: KernelApi, key: int) -> int:
    return k.m.read_u32(key)
