"""The system calls a process makes on a module's file through the mount: open(), read(),
write(), ioctl(), poll() and the last close(), each one system call of that process (its pid,
comm, uid and gid are the task's), each running the module's own file_operations (or
proc_ops) on the CPU (emu/kapi/open.py and read_write.py build the struct file and the
user buffer).

A fault in the module's method is reported as the kernel's oops and the call fails with
EFAULT (on the real kernel the process would be killed); a method that never returns is
stopped by the CPU budget. A process's task that waits in the module (wait_event on a read
with nothing to read) sleeps without holding the CPU: another process's write runs and wakes
it; a signal (Ctrl-C) ends the wait with EINTR.
"""

from __future__ import annotations

import errno
from collections.abc import Callable
from typing import TYPE_CHECKING

from .emu.kapi import open as kopen
from .emu.kapi import read_write
from .emu.traps import CpuStop
from .emu.vsprintf import MemoryFault

if TYPE_CHECKING:
    from .emu.kapi import Registration
    from .kernel import Caller, Kernel

# a file is released by the host after the process closed it: a task of its own
RELEASE_COMM = "close"


class ModuleFile:
    """One open of a module's file, until the host releases it."""

    def __init__(self, kernel: Kernel, caller: Caller, f: kopen.OpenFile, what: str) -> None:
        self.kernel = kernel
        self.caller = caller
        self.f = f
        self.what = what  # /dev/pkmisc, for messages
        self.seekable = bool(kernel.machine.read_u32(f.file + kernel.api.S.file.f_mode) & kopen.FMODE_LSEEK)

    @classmethod
    def open(cls, kernel: Kernel, caller: Caller, what: str, opener: Callable) -> ModuleFile:
        """opener(api) -> OpenFile or a negative errno (chrdev_open, proc_reg_open)."""
        holder: list[kopen.OpenFile] = []

        def run() -> int:
            got = opener(kernel.api)
            if isinstance(got, int):
                return got
            holder.append(got)
            return 0

        err = _syscall(kernel, caller, "open", what, None, run)
        if err < 0:
            raise OSError(-err, what)
        return cls(kernel, caller, holder[0], what)

    def _call(self, where: str, fn: Callable[[], object]) -> object:
        return _syscall(self.kernel, self.caller, where, self.what, self.f, fn)

    def read(self, size: int, offset: int) -> bytes:
        got = self._call("read", lambda: read_write.vfs_read(self.kernel.api, self.f, size, offset))
        if isinstance(got, int):
            raise OSError(-got, self.what)
        return got

    def write(self, data: bytes, offset: int) -> int:
        got = self._call("write", lambda: read_write.vfs_write(self.kernel.api, self.f, data, offset))
        if got < 0:
            raise OSError(-got, self.what)
        return got

    def ioctl(self, cmd: int, arg: int, data: bytes | None, out_size: int) -> tuple[int, bytes]:
        ret, out = self._call("ioctl", lambda: read_write.vfs_ioctl(self.kernel.api, self.f, cmd, arg, data, out_size))
        if ret < 0:
            raise OSError(-ret, self.what)
        return ret, out

    def poll(self, events: int) -> int:
        return self._call("poll", lambda: read_write.vfs_poll(self.kernel.api, self.f, events))

    @property
    def poll_queues(self) -> set[int]:
        return self.f.poll_queues

    def release(self) -> None:
        if not self.f.released:
            self._call("release", lambda: kopen.release(self.kernel.api, self.f))


def _syscall(kernel: Kernel, caller: Caller, where: str, what: str, f: kopen.OpenFile | None,
             fn: Callable[[], object]) -> object:
    """One system call of the caller's: the CPU to itself (or asleep in the module, see
    Kernel.sleep); an oops or a stuck CPU is reported and ends the call with EFAULT."""
    with kernel.syscall(caller.comm, where, notify=False, caller=caller):
        kernel.api.refresh_task()
        try:
            return fn()
        except CpuStop as stop:
            owner = kernel.module_by_struct(f.owner) if f is not None and f.owner else None
            if f is not None and where == "release":
                f.released = True
                kopen.free_file(kernel.api, f)
            raise kernel._call_stopped(owner, stop, where, what) from None
        except MemoryFault as e:
            kernel.log.err(f"pseudokernel: {what}: {where} through a bad pointer ({e})\n")
            raise OSError(errno.EFAULT, what) from None


def open_device(kernel: Kernel, caller: Caller, devt: int, name: str, flags: int, mode: int) -> ModuleFile:
    """open() of a device node: misc_open() or chrdev_open() and the module's open."""
    return ModuleFile.open(kernel, caller, f"/dev/{name}",
                           lambda api: kopen.chrdev_open(api, devt, name.rsplit("/", 1)[-1], flags, mode))


def open_proc(kernel: Kernel, caller: Caller, rec: Registration, flags: int) -> ModuleFile:
    """open() of a module's /proc file with its proc_ops, for a write (proc_reg_open())."""
    path = f"/proc/{rec.info.get('path', rec.name)}"

    def opener(api):
        if kernel.registry.find("proc", rec.obj) is not rec:
            return -errno.ENOENT  # removed since the file was found
        return kopen.proc_reg_open(api, rec, flags)

    return ModuleFile.open(kernel, caller, path, opener)
