"""The sealed machine's seccomp filter (pseudokernel/seccomp.py), run on a classic-BPF
interpreter: which calls notify the launcher and which go straight to the host kernel."""

from __future__ import annotations

import struct

import pytest

from pseudokernel import seccomp

NOTIFY, ALLOW = seccomp.SECCOMP_RET_USER_NOTIF, seccomp.SECCOMP_RET_ALLOW


def run(nr: int, args: tuple[int, ...] = (), arch: int = seccomp.AUDIT_ARCH_X86_64) -> int:
    """What the filter returns for struct seccomp_data {nr, arch, ip, args[6]}."""
    data = struct.pack("=iIQ6Q", nr, arch, 0, *(list(args) + [0] * 6)[:6])
    prog = seccomp._program()
    acc, pc = 0, 0
    while True:
        op, jt, jf, k = struct.unpack_from("=HBBI", prog, pc * 8)
        pc += 1
        if op == 0x20:  # BPF_LD | BPF_W | BPF_ABS
            acc = struct.unpack_from("=I", data, k)[0]
        elif op == 0x54:  # BPF_ALU | BPF_AND | BPF_K
            acc &= k
        elif op in (0x15, 0x35):  # BPF_JMP | BPF_JEQ / BPF_JGE | BPF_K
            pc += jt if (acc == k if op == 0x15 else acc >= k) else jf
        elif op == 0x06:  # BPF_RET | BPF_K
            return k
        else:
            raise AssertionError(f"unknown op {op:#x}")


@pytest.mark.parametrize("nr, args, arch, want", [
    (313, (), seccomp.AUDIT_ARCH_X86_64, NOTIFY),  # finit_module
    (313 | seccomp.X32_SYSCALL_BIT, (), seccomp.AUDIT_ARCH_X86_64, NOTIFY),  # x32's
    (128, (), seccomp.AUDIT_ARCH_I386, NOTIFY),  # i386 init_module
    (0, (), seccomp.AUDIT_ARCH_X86_64, ALLOW),  # read
    (16, (3, 0xC0046B06, 5), seccomp.AUDIT_ARCH_X86_64, NOTIFY),  # _IOWR(.., int) with a number
    (16, (3, 0xC0046B06, 0x7FFD12345678), seccomp.AUDIT_ARCH_X86_64, ALLOW),  # ... with a pointer
    (16, (3, 0xC0046B06, 0x10000), seccomp.AUDIT_ARCH_X86_64, ALLOW),  # mmap_min_addr: may be one
    (16, (3, 0xC0046B06, 1 << 32), seccomp.AUDIT_ARCH_X86_64, ALLOW),
    (16, (3, 0x5401, 5), seccomp.AUDIT_ARCH_X86_64, ALLOW),  # TCGETS: no _IOC size, FUSE passes it on
    (54, (3, 0xC0046B06, 5), seccomp.AUDIT_ARCH_I386, ALLOW),  # i386's ioctl is not caught
])
def test_the_filter_notifies_only_what_the_launcher_answers(nr, args, arch, want):
    assert run(nr, args, arch) == want
