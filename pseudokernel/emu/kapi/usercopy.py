"""Copies from and to user memory (arch/x86/lib/usercopy_64.c, getuser.S, putuser.S,
lib/strncpy_from_user.c, lib/strnlen_user.c).

The user half of the emulated address space holds what the kernel copied in for a system
call (a read's or write's buffer, user_buffer()). When the caller is a real process on the
mount (FUSE tells its pid), the rest of the user half is that process's own memory, reached
with process_vm_readv/writev as it blocks in its system call: an ioctl whose argument
points at a string or a structure holding pointers (the command's _IOC size says only
"a pointer") reads and writes what the program really has there, as on the real kernel. An
address neither holds faults: the copy reports the bytes not copied (-EFAULT for the caller).
"""

from __future__ import annotations

from errno import EFAULT

from unicorn import x86_const as X

from ... import process_vm
from ..vsprintf import MemoryFault
from . import KernelApi, kapi
from . import neg_errno as _err

USER_TOP = 0x00007FFFFFFFF000


def caller_mm(k: KernelApi) -> int | None:
    """The host pid whose memory is current's user half, if current is a mount's caller."""
    kernel = k.kernel
    return kernel.user_mms.get(kernel.current_pid) if kernel is not None else None


def user_ok(addr: int, n: int) -> bool:
    """access_ok(): the range lies in user space."""
    return 0 <= addr and addr + n <= USER_TOP


def user_read(k: KernelApi, addr: int, n: int) -> bytes:
    """n bytes of current's user memory at addr; MemoryFault where none is."""
    if not user_ok(addr, n):
        raise MemoryFault(addr)
    try:
        return k.m.read(addr, n)
    except MemoryFault:
        pid = caller_mm(k)
        if pid is None or n == 0:
            raise
    data = process_vm.read(pid, addr, n)
    if len(data) != n:
        raise MemoryFault(addr)
    return data


def user_write(k: KernelApi, addr: int, data: bytes) -> None:
    """Store data in current's user memory at addr; MemoryFault where none is."""
    if not user_ok(addr, len(data)):
        raise MemoryFault(addr)
    try:
        k.m.write(addr, data)
        return
    except MemoryFault:
        pid = caller_mm(k)
        if pid is None or not data:
            raise
    if process_vm.write(pid, addr, data) != len(data):  # no FOLL_FORCE: a read-only page faults
        raise MemoryFault(addr)


def user_cstr(k: KernelApi, addr: int, limit: int) -> bytes:
    """A NUL-terminated string of user memory, at most limit bytes (without the NUL)."""
    return process_vm.read_cstr(lambda at, n: user_read(k, at, n), addr, limit)


def copy_user(k: KernelApi, to: int, frm: int, n: int, user: str | None) -> int:
    """Copy n bytes, user being which side is user memory ("from", "to" or None); the
    number NOT copied, as raw_copy_*_user returns (byte-exact on a partial copy: the part
    before the first page that faults is copied)."""
    if n == 0:
        return 0
    done = 0
    while done < n:
        chunk = min(n - done, 4096 - ((frm if user == "from" else to) + done) % 4096)
        try:
            data = user_read(k, frm + done, chunk) if user == "from" else k.m.read(frm + done, chunk)
            if user == "to":
                user_write(k, to + done, data)
            else:
                k.m.write(to + done, data)
        except MemoryFault:
            return n - done
        done += chunk
    return 0


def _side(k: KernelApi) -> str | None:
    name = k.stub.name if k.stub else ""
    return "from" if "from_user" in name else "to" if "to_user" in name else None


@kapi("_copy_from_user", "copy_from_user_nofault", "__copy_from_user_inatomic", "copy_from_kernel_nofault",
      "raw_copy_from_user")
def _copy_from_user(k: KernelApi, to: int, frm: int, n: int) -> int:
    left = copy_user(k, to, frm, n, _side(k))
    if left and k.stub and k.stub.name == "_copy_from_user":
        try:
            k.m.write(to + n - left, bytes(left))  # the uncopied tail is zeroed
        except MemoryFault:
            pass
    return left


@kapi("_copy_to_user", "copy_to_user_nofault", "copy_to_kernel_nofault", "raw_copy_to_user")
def _copy_to_user(k: KernelApi, to: int, frm: int, n: int) -> int:
    return copy_user(k, to, frm, n, _side(k))


@kapi("clear_user", "__clear_user")
def clear_user(k: KernelApi, to: int, n: int) -> int:
    try:
        user_write(k, to, bytes(n))
        return 0
    except MemoryFault:
        return n


@kapi("strncpy_from_user")
def strncpy_from_user(k: KernelApi, dst: int, src: int, count: int) -> int:
    try:
        s = user_cstr(k, src, count)
    except MemoryFault:
        return _err(EFAULT)
    k.m.write(dst, s + (b"\0" if len(s) < count else b""))
    return len(s)


@kapi("strnlen_user")
def strnlen_user(k: KernelApi, src: int, count: int) -> int:
    try:
        return len(user_cstr(k, src, count)) + 1
    except MemoryFault:
        return 0


def _get_user(size: int):
    def handler(k: KernelApi) -> None:
        """getuser.S: address in %rax; value in %rdx, error in %rax."""
        m = k.m
        addr = m.reg(X.UC_X86_REG_RAX)
        try:
            v = int.from_bytes(user_read(k, addr, size), "little")
            m.set_reg(X.UC_X86_REG_RDX, v)
            m.set_reg(X.UC_X86_REG_RAX, 0)
        except MemoryFault:
            m.set_reg(X.UC_X86_REG_RDX, 0)
            m.set_reg(X.UC_X86_REG_RAX, _err(EFAULT))

    return handler


def _put_user(size: int):
    def handler(k: KernelApi) -> None:
        """putuser.S: value in %rax, address in %rcx; error in %rcx."""
        m = k.m
        addr = m.reg(X.UC_X86_REG_RCX)
        try:
            user_write(k, addr, (m.reg(X.UC_X86_REG_RAX) & ((1 << (8 * size)) - 1)).to_bytes(size, "little"))
            m.set_reg(X.UC_X86_REG_RCX, 0)
        except MemoryFault:
            m.set_reg(X.UC_X86_REG_RCX, _err(EFAULT))

    return handler


for _n in (1, 2, 4, 8):
    kapi(f"__get_user_{_n}", f"__get_user_nocheck_{_n}")(_get_user(_n))
    kapi(f"__put_user_{_n}", f"__put_user_nocheck_{_n}")(_put_user(_n))
