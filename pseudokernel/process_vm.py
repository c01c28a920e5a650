"""Another process's memory (mm/process_vm_access.c), as the kernel's copies from and to user
memory reach it: process_vm_readv/writev, not /proc/PID/mem, which forces its way past page
protections where copy_from_user and copy_to_user fault. Used by the seal (bridge.py: the
caller of init_module, syslog, mknod) and by the emulated kernel (usercopy.py: the caller of a
file operation on the mount)."""

from __future__ import annotations

import ctypes
from collections.abc import Callable

_libc = ctypes.CDLL(None, use_errno=True)
_libc.process_vm_readv.restype = _libc.process_vm_writev.restype = ctypes.c_ssize_t


class _Iovec(ctypes.Structure):
    _fields_ = [("base", ctypes.c_void_p), ("len", ctypes.c_size_t)]


def _call(pid: int, addr: int, buf: ctypes.Array, size: int, write: bool) -> int:
    local, remote = _Iovec(ctypes.addressof(buf), size), _Iovec(addr, size)
    fn = _libc.process_vm_writev if write else _libc.process_vm_readv
    return fn(pid, ctypes.byref(local), ctypes.c_ulong(1), ctypes.byref(remote), ctypes.c_ulong(1), ctypes.c_ulong(0))


def read(pid: int, addr: int, size: int) -> bytes:
    """Up to size bytes of pid's memory at addr: fewer (b"" at once) where a page faults."""
    buf = ctypes.create_string_buffer(size)
    n = _call(pid, addr, buf, size, write=False)
    return buf.raw[:n] if n > 0 else b""


def write(pid: int, addr: int, data: bytes) -> int:
    """How many bytes of data went to pid's memory at addr (0 on a fault)."""
    buf = ctypes.create_string_buffer(data, len(data))
    return max(_call(pid, addr, buf, len(data), write=True), 0)


def read_cstr(read_at: Callable[[int, int], bytes], addr: int, limit: int) -> bytes:
    """strncpy_from_user()'s walk: up to the NUL or limit bytes, a page at a time, so a string
    that ends before an unmapped page is read whole (read_at raises where memory faults)."""
    out = b""
    while len(out) < limit:
        at = addr + len(out)
        chunk = read_at(at, min(limit - len(out), 4096 - at % 4096))
        nul = chunk.find(b"\0")
        if nul >= 0:
            return out + chunk[:nul]
        out += chunk
    return out
