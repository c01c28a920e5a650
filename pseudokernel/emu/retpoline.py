"""The retpoline thunks (arch/x86/lib/retpoline.S): a module compiled with retpolines calls
__x86_indirect_thunk_<reg> for each indirect call, so the stub at that symbol must jump to
<reg>, and __x86_return_thunk must return."""

from __future__ import annotations

RET = b"\xc3"
THUNK_REGS = {
    "rax": 0, "rcx": 1, "rdx": 2, "rbx": 3, "rsp": 4, "rbp": 5, "rsi": 6, "rdi": 7,
    "r8": 8, "r9": 9, "r10": 10, "r11": 11, "r12": 12, "r13": 13, "r14": 14, "r15": 15,
}


def thunk_code(name: str) -> bytes | None:
    """Code for the retpoline thunks: __x86_indirect_thunk_<reg> must jump to <reg>."""
    prefix = "__x86_indirect_thunk_"
    if name.startswith(prefix) and name[len(prefix) :] in THUNK_REGS:
        n = THUNK_REGS[name[len(prefix) :]]
        return (b"\x41" if n >= 8 else b"") + bytes((0xFF, 0xE0 | (n & 7)))
    if name in ("__x86_return_thunk", "__x86_indirect_jump_thunk_array"):
        return RET
    return None
