"""The system calls a process makes on a module's file through the mount: open(), read(),
write(), ioctl(), poll() and the last close(), each one system call of that process (its pid,
comm, uid and gid are the task's), each running the module's own file_operations (or
proc_ops) on the CPU (emu/kapi/open.py and read_write.py build the struct file and the
user buffer).

A fault in the module's method is reported as the kernel's oops and the call fails with
EFAULT, carrying the signal the process dies of (oops.TaskDead: the mount sends it, as the
real kernel ends the task); a method that never returns is stopped by the CPU budget. A
process's task that waits in the module (wait_event on a read with nothing to read) sleeps
without holding the CPU: another process's write runs and wakes it; a signal (Ctrl-C) ends
the wait with EINTR.
"""

from __future__ import annotations

import errno
import os
from collections.abc import Callable
from typing import TYPE_CHECKING

from . import sigpending
from .emu.kapi import bdev, blk_fops, pagecache, read_write
from .emu.kapi import debugfs as kdebugfs
from .emu.kapi import open as kopen
from .emu.kapi import sysfs as ksysfs
from .emu.kapi.readahead import RaState
from .emu.traps import CpuStop
from .emu.vsprintf import MemoryFault

if TYPE_CHECKING:
    from .emu.kapi import Registration
    from .emu.kapi.blkdev import Disk, Part
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
        where = "read" if self.f.proc is not None else "vfs_read"  # a device's read: read(2) straight in
        got = self._call(where, lambda: read_write.vfs_read(self.kernel.api, self.f, size, offset))
        if isinstance(got, int):
            raise OSError(-got, self.what)
        return got

    def write(self, data: bytes, offset: int) -> int:
        where = "write" if self.f.proc is not None else "vfs_write"
        got = self._call(where, lambda: read_write.vfs_write(self.kernel.api, self.f, data, offset))
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


def _syscall(kernel: Kernel, caller: Caller | None, where: str, what: str, f: kopen.OpenFile | None,
             fn: Callable[[], object]) -> object:
    """One system call of the caller's (a new process when the view does not know who asks):
    the CPU to itself (or asleep in the module, see Kernel.sleep); an oops or a stuck CPU is
    reported and ends the call with EFAULT (an oops: and the caller's task, oops.TaskDead)."""
    comm = caller.comm if caller is not None else {"read": "cat", "vfs_read": "cat"}.get(where, "sh")
    with kernel.syscall(comm, where, caller=caller):
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
            kernel.log.err(f"pseudokernel: {what}: {where.removeprefix('vfs_')} through a bad pointer ({e})\n")
            raise OSError(errno.EFAULT, what) from None


class DiskFile:
    """One open of a disk's node: blkdev_open() (the driver's open, the module held), then
    reads, writes and ioctls through the block layer to its queue_rq, each one system call of
    the process; O_DIRECT as given at open."""

    seekable = True
    poll_queues: set[int] = set()

    def __init__(self, kernel: Kernel, caller: Caller, disk: Disk, what: str, flags: int, part: Part | None = None) -> None:
        self.kernel, self.caller, self.disk, self.what, self.part = kernel, caller, disk, what, part
        acc = flags & os.O_ACCMODE
        self.mode = (bdev.FMODE_READ if acc != os.O_WRONLY else 0) | (bdev.FMODE_WRITE if acc != os.O_RDONLY else 0)
        self.direct = bool(flags & os.O_DIRECT)
        self.ra = RaState()
        self.released = False

    @classmethod
    def open(cls, kernel: Kernel, caller: Caller, disk: Disk, what: str, flags: int, part: Part | None = None) -> DiskFile:
        """A partition's open opens its disk."""
        f = cls(kernel, caller, disk, what, flags, part)
        if part is not None:
            opener = lambda: bdev.blkdev_get_part(kernel.api, disk, part, f.mode)  # noqa: E731
        else:
            opener = lambda: bdev.blkdev_get(kernel.api, disk, f.mode)  # noqa: E731
        err = _syscall(kernel, caller, "open", what, None, opener)
        if err < 0:
            raise OSError(-err, what)
        return f

    def _call(self, where: str, fn: Callable) -> object:
        got = _syscall(self.kernel, self.caller, where, self.what, None, lambda: fn(self.kernel.api))
        if isinstance(got, int) and got < 0:
            raise OSError(-got, self.what)
        return got

    def read(self, size: int, offset: int) -> bytes:
        return self._call("read", lambda api: blk_fops.blkdev_read(api, self.disk, offset, size, self.direct, self.ra,
                                                                          self.part))

    def write(self, data: bytes, offset: int) -> int:
        return self._call("write", lambda api: blk_fops.blkdev_write(api, self.disk, offset, data, self.direct,
                                                                            self.part))

    def ioctl(self, cmd: int, arg: int, data: bytes | None, out_size: int) -> tuple[int, bytes]:
        ret, out = self._call("ioctl", lambda api: _pair(blk_fops.blkdev_ioctl(api, self.disk, cmd, arg, data, out_size,
                                                                                      self.mode, self.part)))
        return ret, out[:out_size]

    def poll(self, events: int) -> int:
        return read_write.DEFAULT_POLLMASK

    def flush(self) -> None:
        """The close of the disk's last opener writes its dirty pages back before close()
        returns (blkdev_put()'s sync_blockdev()); the rest of the close comes with release."""
        if not self.released and self.disk.openers == 1 and self.disk.dirty:
            self._call("close", lambda api: pagecache.sync_blockdev(api, self.disk) and None)  # close() says nothing

    def fsync(self) -> None:
        if not self.released:
            self._call("fsync", lambda api: pagecache.sync_blockdev(api, self.disk))

    def release(self) -> None:
        if not self.released:
            self.released = True
            if self.part is not None:
                self._call("release", lambda api: bdev.blkdev_put_part(api, self.disk, self.part, self.mode))
            else:
                self._call("release", lambda api: bdev.blkdev_put(api, self.disk, self.mode))


def _pair(got: tuple[int, bytes]) -> tuple[int, bytes] | int:
    """An ioctl's (ret, bytes), or its negative errno alone (what _call raises)."""
    return got[0] if got[0] < 0 else got


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


def run_as_process(kernel: Kernel, where: str, what: str, fn: Callable, alive: Callable[[], bool]) -> object:
    """fn(api) as one system call of a process (a sysfs or debugfs read or write, a bind):
    ENOENT if what it works on went away meanwhile (alive()), a negative result is an errno."""
    def run():
        return fn(kernel.api) if alive() else -errno.ENOENT

    got = _syscall(kernel, None, where, what, None, run)
    if isinstance(got, int) and got < 0:
        raise OSError(-got, what)
    return got


def attr_read(kernel: Kernel, rec: Registration, what: str) -> bytes:
    """A read of a sysfs attribute a module made: its show, once per open."""
    return run_as_process(kernel, "read", what, lambda api: ksysfs.attr_show(api, rec),
                          lambda: rec in kernel.registry.items)


def attr_write(kernel: Kernel, rec: Registration, data: bytes, what: str) -> int:
    """A write to a sysfs attribute a module made: its store, whose return the writer gets."""
    return run_as_process(kernel, "write", what, lambda api: ksysfs.attr_store(api, rec, data),
                          lambda: rec in kernel.registry.items)


class KernelFile:
    """An open file whose reads and writes the kernel answers (the module's code runs through
    it, not through its own file_operations): no ioctl, always ready for poll."""

    seekable = True
    poll_queues: set[int] = set()

    def __init__(self, kernel: Kernel, rec: Registration, what: str) -> None:
        self.kernel, self.rec, self.what = kernel, rec, what

    def _run(self, where: str, fn: Callable) -> object:
        return run_as_process(self.kernel, where, self.what, fn, lambda: self.rec in self.kernel.registry.items)

    def ioctl(self, cmd: int, arg: int, data: bytes | None, out_size: int) -> tuple[int, bytes]:
        raise OSError(errno.ENOTTY, self.what)

    def poll(self, events: int) -> int:
        return read_write.DEFAULT_POLLMASK

    def release(self) -> None:
        pass


class DebugfsValue(KernelFile):
    """An open debugfs_create_u8() (and friends) file: the content is formatted at the first
    read, as simple_attr_read() does at position 0; a write sets the variable."""

    def __init__(self, kernel: Kernel, rec: Registration, what: str) -> None:
        super().__init__(kernel, rec, what)
        self.content: bytes | None = None

    def read(self, size: int, offset: int) -> bytes:
        if self.content is None or offset == 0:
            self.content = self._run("read", lambda api: kdebugfs.value_read(api, self.rec))
        return self.content[offset:offset + size]

    def write(self, data: bytes, offset: int) -> int:
        return self._run("write", lambda api: kdebugfs.value_write(api, self.rec, data))


class BinAttrFile(KernelFile):
    """An open binary sysfs attribute (fs/sysfs/file.c's bin ops): each read and write runs
    the module's function at the file position, a page at most, clamped to the size."""

    def read(self, size: int, offset: int) -> bytes:
        return self._run("read", lambda api: ksysfs.bin_read(api, self.rec, offset, size))

    def write(self, data: bytes, offset: int) -> int:
        return self._run("write", lambda api: ksysfs.bin_write(api, self.rec, data, offset))


def open_binattr(kernel: Kernel, rec: Registration, flags: int, what: str) -> BinAttrFile:
    """kernfs_fop_open(): even root is refused (EACCES) a direction the mode or the
    attribute's functions do not allow."""
    has = {"read": False, "write": False}
    def look(api):
        for op in has:
            has[op] = bool(api.m.read_u64(rec.obj + getattr(api.S.bin_attribute, op)))
        return 0
    run_as_process(kernel, "open", what, look, lambda: rec in kernel.registry.items)
    acc = flags & os.O_ACCMODE
    mode = rec.info["mode"]
    if acc != os.O_RDONLY and (not mode & 0o222 or not has["write"]):
        raise OSError(errno.EACCES, what)
    if acc != os.O_WRONLY and (not mode & 0o444 or not has["read"]):
        raise OSError(errno.EACCES, what)
    return BinAttrFile(kernel, rec, what)


def open_debugfs(kernel: Kernel, caller: Caller, rec: Registration, flags: int) -> ModuleFile | DebugfsValue:
    """open() of a debugfs file: a value file answered by the kernel, or the module's fops."""
    what = f"/sys/kernel/debug/{rec.info['path']}"
    if "value" in rec.info:
        return DebugfsValue(kernel, rec, what)

    def opener(api):
        if kernel.registry.find("debugfs", rec.obj) is not rec:
            return -errno.ENOENT
        return kopen.file_open(api, rec.name, rec.info.get("mode", 0o444), flags, rec.info.get("fops", 0),
                               rec.info.get("data", 0))

    return ModuleFile.open(kernel, caller, what, opener)


def peek(kernel: Kernel, fn: Callable) -> object:
    """fn(api) reading the emulated memory while no module code runs (a view of a kernel
    struct: a netdev's attributes); a caller waiting for the CPU stays killable."""
    sigpending.acquire(kernel.machine.lock)
    try:
        return fn(kernel.api)
    finally:
        kernel.machine.lock.release()
