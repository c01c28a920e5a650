"""Opening and closing a file a module serves: fs/open.c's do_dentry_open(), fs/file_table.c's
alloc_file() and __fput(), and the open methods that pick the module's file_operations:
fs/char_dev.c chrdev_open(), drivers/char/misc.c misc_open(), fs/proc/inode.c proc_reg_open().

The struct file, inode and dentry are in emulated memory, filled as the module's callbacks
read them: file->f_path.dentry->d_name, file->f_inode, file->f_flags and f_mode,
file->private_data (the miscdevice, for a misc device), inode->i_rdev (iminor()),
inode->i_cdev (container_of() to the module's own struct), inode->i_private (pde_data()).
While a file is open the module is held (fops_get(): try_module_get(fops->owner)), so rmmod
says it is in use, as on the real kernel.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from errno import ENODEV, ENXIO

from ...bits import s32
from . import KernelApi, Registration, kapi
from .cpu import current

FMODE_READ, FMODE_WRITE, FMODE_LSEEK, FMODE_PREAD, FMODE_PWRITE = 0x1, 0x2, 0x4, 0x8, 0x10
FMODE_ATOMIC_POS = 0x8000
FMODE_CAN_READ, FMODE_CAN_WRITE, FMODE_OPENED = 0x20000, 0x40000, 0x80000
S_IFCHR, S_IFREG = 0o020000, 0o100000
MISC_MAJOR = 10


@dataclass
class OpenFile:
    """One open() of a module's file, until its release."""

    file: int
    inode: int
    dentry: int
    ops: int  # the file_operations (or proc_ops) the file uses
    owner: int = 0  # struct module * held while open
    proc: Registration | None = None  # a /proc entry: its registration
    name: str = ""
    allocs: list[int] = field(default_factory=list)
    released: bool = False
    poll_queues: set[int] = field(default_factory=set)  # wait queues its poll registered on

    def op(self, k: KernelApi, name: str) -> int:
        """A method of the file's operations, 0 if the module has none."""
        if not self.ops:
            return 0
        layout = k.S.proc_ops if self.proc is not None else k.S.file_operations
        return k.m.read_u64(self.ops + layout[name])


def _fmode(flags: int) -> int:
    acc = flags & os.O_ACCMODE
    mode = FMODE_LSEEK | FMODE_PREAD | FMODE_PWRITE | FMODE_OPENED
    if acc in (os.O_RDONLY, os.O_RDWR):
        mode |= FMODE_READ
    if acc in (os.O_WRONLY, os.O_RDWR):
        mode |= FMODE_WRITE
    return mode


def alloc_file(k: KernelApi, name: str, mode: int, flags: int, rdev: int = 0, i_private: int = 0) -> OpenFile:
    """alloc_file_pseudo() and the inode and dentry behind it, owned by no module (the unload
    report does not count them)."""
    m, S = k.m, k.S
    inode = m.kmalloc(S.inode.sizeof, "", 0, kind="inode")
    dentry = m.kmalloc(S.dentry.sizeof, "", 0, kind="dentry")
    file = m.kmalloc(S.file.sizeof, "", 0, kind="file")
    raw = name.encode("utf-8", "surrogateescape")[:255]
    name_addr = m.kmalloc(len(raw) + 1, "", 0, kind="d_name")
    m.write(name_addr, raw + b"\0")
    for obj, size in ((inode, S.inode.sizeof), (dentry, S.dentry.sizeof), (file, S.file.sizeof)):
        m.write(obj, bytes(size))
    m.write_u16(inode + S.inode.i_mode, mode)
    m.write_u32(inode + S.inode.i_rdev, rdev)
    m.write_u64(inode + S.inode.i_private, i_private)
    m.write_u64(dentry + S.dentry.d_name + S.qstr.hash_len, len(raw) << 32)
    m.write_u64(dentry + S.dentry.d_name + S.qstr.name, name_addr)
    m.write_u64(dentry + S.dentry.d_inode, inode)
    m.write_u64(dentry + S.dentry.d_parent, dentry)
    m.write_u64(file + S.file.f_path + S.path.dentry, dentry)
    m.write_u64(file + S.file.f_inode, inode)
    m.write_u32(file + S.file.f_flags, flags & 0xFFFFFFFF)
    m.write_u32(file + S.file.f_mode, _fmode(flags))
    task = current(k)
    m.write_u64(file + S.file.f_cred, m.read_u64(task + S.task_struct.cred))
    return OpenFile(file, inode, dentry, 0, name=name, allocs=[file, dentry, inode, name_addr])


def _fops_get(k: KernelApi, f: OpenFile, fops: int) -> bool:
    """fops_get(): the module that owns the operations is held while the file is open."""
    owner = k.m.read_u64(fops + k.S.file_operations.owner) if fops else 0
    if owner and not k.kernel.try_module_get(owner):
        return False
    f.ops, f.owner = fops, owner
    k.m.write_u64(f.file + k.S.file.f_op, fops)
    return True


def _call_open(k: KernelApi, f: OpenFile) -> int:
    fn = f.op(k, "proc_open" if f.proc is not None else "open")
    return s32(k.m.call(fn, f.inode, f.file)) if fn else 0


def find_cdev(k: KernelApi, devt: int) -> tuple[int, int] | None:
    """kobj_lookup() in cdev_map: (cdev, fops) of the cdev or __register_chrdev() range that
    holds devt; cdev 0 for a range registered with its operations alone."""
    major, minor = devt >> 20, devt & 0xFFFFF
    for r in reversed(k.registry.items):
        if r.kind == "cdev" and r.info["devt"] <= devt < r.info["devt"] + r.info["count"]:
            return r.obj, k.m.read_u64(r.obj + k.S.cdev.ops)
        if r.kind == "chrdev" and r.info.get("fops") and r.info["major"] == major \
                and r.info["baseminor"] <= minor < r.info["baseminor"] + r.info["count"]:
            return 0, r.info["fops"]
    return None


def find_misc(k: KernelApi, minor: int) -> Registration | None:
    return next((r for r in reversed(k.registry.items) if r.kind == "misc" and r.info["minor"] == minor), None)


def chrdev_open(k: KernelApi, devt: int, name: str, flags: int, mode: int = 0o600) -> OpenFile | int:
    """The open of a character device node: misc_open() for major 10, chrdev_open() else.
    Returns the open file or a negative errno."""
    f = alloc_file(k, name, S_IFCHR | mode, flags, rdev=devt)
    if devt >> 20 == MISC_MAJOR:
        rec = find_misc(k, devt & 0xFFFFF)
        fops = rec.info["fops"] if rec else 0
        if rec is None or not _fops_get(k, f, fops):
            free_file(k, f)
            return -ENODEV
        k.m.write_u64(f.file + k.S.file.private_data, rec.obj)  # misc_open(): the miscdevice
    else:
        found = find_cdev(k, devt)
        if found is None or not _fops_get(k, f, found[1]):
            free_file(k, f)
            return -ENXIO
        k.m.write_u64(f.inode + k.S.inode.i_cdev, found[0])
    return _finish_open(k, f)


def file_open(k: KernelApi, name: str, mode: int, flags: int, fops: int, i_private: int) -> OpenFile | int:
    """The open of a regular file with the module's file_operations (debugfs_create_file()):
    its data in inode->i_private, where simple_open() finds it."""
    f = alloc_file(k, name, S_IFREG | (mode & 0o777), flags, i_private=i_private)
    if not _fops_get(k, f, fops):
        free_file(k, f)
        return -ENODEV
    return _finish_open(k, f)


@kapi("simple_open")
def simple_open(k: KernelApi, inode: int, file: int) -> int:
    """fs/libfs.c: the file's private_data is the inode's."""
    if inode:
        k.m.write_u64(file + k.S.file.private_data, k.m.read_u64(inode + k.S.inode.i_private))
    return 0


def proc_reg_open(k: KernelApi, rec: Registration, flags: int) -> OpenFile | int:
    """A module's /proc file opened with its proc_ops (a write, or a read and a write on one
    open): proc_open runs, then each read or write, then proc_release."""
    f = alloc_file(k, rec.name, S_IFREG | (rec.info.get("mode", 0o444) & 0o777 or 0o444), flags,
                   i_private=rec.info.get("data", 0))
    f.proc, f.ops = rec, rec.info.get("ops", 0)
    return _finish_open(k, f)


def _finish_open(k: KernelApi, f: OpenFile) -> OpenFile | int:
    """do_dentry_open()'s last steps: FMODE_CAN_READ/WRITE, no FMODE_LSEEK for a file
    without llseek (a /proc file has default_llseek's), then the module's open."""
    mode = k.m.read_u32(f.file + k.S.file.f_mode)
    mode |= (FMODE_CAN_READ if f.op(k, "proc_read" if f.proc else "read") else 0)
    mode |= (FMODE_CAN_WRITE if f.op(k, "proc_write" if f.proc else "write") else 0)
    if f.proc is None and not f.op(k, "llseek"):
        mode &= ~FMODE_LSEEK
    k.m.write_u32(f.file + k.S.file.f_mode, mode)
    err = _call_open(k, f)
    if err < 0:
        f.released = True  # no release for an open that failed
        _put(k, f)
        return err
    return f


def release(k: KernelApi, f: OpenFile) -> None:
    """__fput(): the module's release, then its reference and the file go."""
    if f.released:
        return
    f.released = True
    fn = f.op(k, "proc_release" if f.proc is not None else "release")
    try:
        if fn:
            k.m.call(fn, f.inode, f.file)
    finally:
        _put(k, f)


def _put(k: KernelApi, f: OpenFile) -> None:
    if f.owner:
        k.kernel.module_put(f.owner)
        f.owner = 0
    free_file(k, f)


def free_file(k: KernelApi, f: OpenFile) -> None:
    for addr in f.allocs:
        k.kfree(addr)
    f.allocs = []
