"""seccomp user notification: the filter a sealed process carries, and its listener's ioctls.

A sealed process (`pseudokernel shell`, `pseudokernel run`) must never reach the host kernel
with init_module, finit_module or delete_module, whatever program makes the call. The filter
turns those calls (and uname, so the tools see the emulated release, syslog, so dmesg reads
the emulated log, mknod, so a node made in /dev opens a module's device, and an ioctl whose
command has an _IOC size but whose argument is a small number, so a module's device gets the
number where FUSE wants a pointer: the
others go on to the host kernel as they were) into notifications that the
launcher answers (bridge.py); every other call runs as usual. Why seccomp and not an LD_PRELOAD
shim as kmod's own test suite uses: the filter lives in the host kernel, is inherited across
fork and exec, cannot be removed, and stays on through setuid programs (sudo, which also clears
LD_PRELOAD), so static binaries (busybox), programs calling syscall(2) themselves and 32-bit
programs are caught as well. If the launcher dies, the calls fail with ENOSYS: sealed either way.
"""

from __future__ import annotations

import _socket
import ctypes
import errno
import os
import struct
import sys

libc = ctypes.CDLL(None, use_errno=True)
libc.syscall.restype = ctypes.c_long
libc.ioctl.restype = ctypes.c_int
libc.prctl.restype = ctypes.c_int

SYS_SECCOMP = 317
SECCOMP_SET_MODE_FILTER = 1
SECCOMP_FILTER_FLAG_NEW_LISTENER = 1 << 3
SECCOMP_RET_USER_NOTIF = 0x7FC00000
SECCOMP_RET_ALLOW = 0x7FFF0000
PR_SET_NO_NEW_PRIVS = 38

AUDIT_ARCH_X86_64 = 0xC000003E
AUDIT_ARCH_I386 = 0x40000003
X32_SYSCALL_BIT = 0x40000000

# the calls the seal answers, per ABI: (number, name)
X86_64 = {175: "init_module", 313: "finit_module", 176: "delete_module", 63: "uname", 103: "syslog",
          133: "mknod", 259: "mknodat", 16: "ioctl"}
IOC_SIZE_MASK = 0x3FFF0000  # an ioctl notifies only when its command has an _IOC size (rawioctl.py)
MMAP_MIN_ADDR = 0x10000  # and its argument is below vm.mmap_min_addr's default: a number
I386 = {128: "init_module", 350: "finit_module", 129: "delete_module", 122: "uname", 109: "olduname",
        59: "oldolduname", 103: "syslog", 14: "mknod", 297: "mknodat"}

# <linux/seccomp.h>: struct seccomp_notif (80 bytes), seccomp_notif_resp (24)
NOTIF = struct.Struct("=QIIiIQ6Q")
RESP = struct.Struct("=QqiI")
IOCTL_NOTIF_RECV = 0xC0502100
IOCTL_NOTIF_SEND = 0xC0182101
IOCTL_NOTIF_ID_VALID = 0x40082102


def _program() -> bytes:
    """The classic BPF filter: module calls and uname of both ABIs notify, the rest is allowed.
    x32's calls are x86_64's numbers with X32_SYSCALL_BIT set, hence the mask."""
    ld, jeq, jge, and_, ret = 0x20, 0x15, 0x35, 0x54, 0x06
    code: list[tuple] = [(ld, 4), (jeq, AUDIT_ARCH_X86_64, None, "i386"), (ld, 0), (and_, ~X32_SYSCALL_BIT & 0xFFFFFFFF)]
    code += [(jeq, nr, "ioctl" if name == "ioctl" else "notify", None) for nr, name in X86_64.items()]
    code += [(ret, SECCOMP_RET_ALLOW), "i386", (jeq, AUDIT_ARCH_I386, None, "allow"), (ld, 0)]
    code += [(jeq, nr, "notify", None) for nr in I386] + [(ret, SECCOMP_RET_ALLOW)]
    # struct seccomp_data: nr, arch, ip, then the args, 8 bytes each (low word first): a command
    # with an _IOC size (args[1]) whose argument (args[2]) is below mmap_min_addr, so a number,
    # not a pointer (no process maps memory there)
    code += ["ioctl", (ld, 24), (and_, IOC_SIZE_MASK), (jeq, 0, "allow", None),
             (ld, 36), (jeq, 0, None, "allow"), (ld, 32), (jge, MMAP_MIN_ADDR, "allow", "notify")]
    code += ["allow", (ret, SECCOMP_RET_ALLOW), "notify", (ret, SECCOMP_RET_USER_NOTIF)]
    labels, ins = {}, []
    for item in code:
        if isinstance(item, str):
            labels[item] = len(ins)
        else:
            ins.append(item)

    def offset(target, i: int) -> int:
        return 0 if target is None else labels[target] - i - 1

    out = b""
    for i, (op, k, *jumps) in enumerate(ins):
        jt, jf = (offset(jumps[0], i), offset(jumps[1], i)) if jumps else (0, 0)
        out += struct.pack("=HBBI", op, jt, jf, k)
    return out


def install(sock) -> None:
    """In the child, between fork and exec: put the filter on and send its listener to the
    launcher over the socket. Without CAP_SYS_ADMIN the kernel wants no_new_privs first (then
    setuid programs run without their privileges); with it, sudo keeps working."""
    prog = _program()
    buf = ctypes.create_string_buffer(prog)
    fprog = struct.pack("=HxxxxxxQ", len(prog) // 8, ctypes.addressof(buf))
    fbuf = ctypes.create_string_buffer(fprog)

    def seccomp() -> int:
        return libc.syscall(ctypes.c_long(SYS_SECCOMP), ctypes.c_long(SECCOMP_SET_MODE_FILTER),
                            ctypes.c_long(SECCOMP_FILTER_FLAG_NEW_LISTENER), fbuf)

    fd = seccomp()
    if fd < 0 and ctypes.get_errno() == errno.EACCES:
        if libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0:
            raise OSError(ctypes.get_errno(), "prctl(PR_SET_NO_NEW_PRIVS)")
        fd = seccomp()
    if fd < 0:
        e = ctypes.get_errno()
        raise OSError(e, f"seccomp(SECCOMP_SET_MODE_FILTER): {os.strerror(e)}")
    rights = fd.to_bytes(4, sys.byteorder, signed=True)
    sock.sendmsg([b"L"], [(_socket.SOL_SOCKET, _socket.SCM_RIGHTS, rights)])
    os.close(fd)


def receive_listener(sock) -> tuple[int | None, str]:
    """The launcher's side of install(): (the listener fd, ""), or (None, what failed)."""
    msg, anc, _flags, _addr = sock.recvmsg(4096, _socket.CMSG_SPACE(4))
    for level, kind, data in anc:
        if level == _socket.SOL_SOCKET and kind == _socket.SCM_RIGHTS:
            fd = int.from_bytes(data[:4], sys.byteorder, signed=True)
            # then end of file: the exec succeeded (the socket closed with it); or why it failed
            why = msg[1:] + b"".join(iter(lambda: sock.recv(4096), b""))
            if why:
                os.close(fd)
                return None, why.decode(errors="replace")
            return fd, ""
    return None, msg.decode(errors="replace") or "the sealed command could not start"


class Notification:
    """One system call waiting for our answer."""

    def __init__(self, raw: bytes) -> None:
        self.id, self.pid, _flags, self.nr, self.arch, self.ip, *self.args = NOTIF.unpack(raw)

    @property
    def name(self) -> str:
        if self.arch == AUDIT_ARCH_I386:
            return I386.get(self.nr, "")
        return X86_64.get(self.nr & ~X32_SYSCALL_BIT, "")

    @property
    def compat(self) -> bool:
        """A 32-bit call: its pointers and longs are 32 bits."""
        return self.arch == AUDIT_ARCH_I386


def _ioctl(fd: int, request: int, buf) -> int:
    r = libc.ioctl(fd, ctypes.c_ulong(request), buf)
    if r < 0:
        e = ctypes.get_errno()
        raise OSError(e, os.strerror(e))
    return r


def receive(listener: int) -> Notification | None:
    """The next notification; None if its caller went away between poll and here."""
    buf = ctypes.create_string_buffer(NOTIF.size)  # the kernel wants it zeroed
    try:
        _ioctl(listener, IOCTL_NOTIF_RECV, buf)
    except OSError as e:
        if e.errno in (errno.ENOENT, errno.EINTR):
            return None
        raise
    return Notification(buf.raw)


SECCOMP_USER_NOTIF_FLAG_CONTINUE = 1


def respond(listener: int, n: Notification, value: int = 0, err: int = 0, cont: bool = False) -> None:
    """The call returns `value`, or fails with errno `err`, or (cont) goes on to the host
    kernel as the caller made it. A caller killed meanwhile is fine."""
    flags = SECCOMP_USER_NOTIF_FLAG_CONTINUE if cont else 0
    buf = ctypes.create_string_buffer(RESP.pack(n.id, value, -err if err else 0, flags))
    try:
        _ioctl(listener, IOCTL_NOTIF_SEND, buf)
    except OSError as e:
        if e.errno != errno.ENOENT:
            raise


def still_waiting(listener: int, n: Notification) -> bool:
    """After reading the caller's memory or fds by pid: is it still the caller that asked (a
    pid can be reused once the caller dies)?"""
    try:
        _ioctl(listener, IOCTL_NOTIF_ID_VALID, ctypes.byref(ctypes.c_uint64(n.id)))
    except OSError:
        return False
    return True
