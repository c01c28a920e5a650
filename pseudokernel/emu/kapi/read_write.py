"""Reading, writing, seeking, ioctl and poll on a module's file (fs/read_write.c vfs_read(),
vfs_write() and the llseek helpers modules name in their file_operations; fs/ioctl.c
vfs_ioctl(); fs/select.c's poll table), and the user memory the data crosses: the caller's
buffer is placed in the user half of the address space, so copy_to_user() and friends work on
it and fault with -EFAULT outside it.
"""

from __future__ import annotations

from errno import EFAULT, EINVAL, EIO, ENOTTY, ESPIPE

from ...bits import MASK64, s64
from ..vsprintf import MemoryFault
from . import KernelApi, kapi
from . import neg_errno as _err
from .open import FMODE_ATOMIC_POS, FMODE_LSEEK, FMODE_PREAD, FMODE_PWRITE, OpenFile
from .usercopy import caller_mm, copy_user, user_read

FMODE_STREAM = 0x200000
SEEK_SET, SEEK_CUR, SEEK_END = 0, 1, 2
MAX_LFS_FILESIZE = (1 << 63) - 1
ERESTARTSYS, ERESTARTNOINTR, ERESTARTNOHAND, ERESTART_RESTARTBLOCK = 512, 513, 514, 516
EINTR = 4
DEFAULT_POLLMASK = 0x145  # EPOLLIN | EPOLLOUT | EPOLLRDNORM | EPOLLWRNORM


def _user_errno(ret: int) -> int:
    """What the process sees of a negative return: the restart codes a signal causes are
    EINTR once the signal is delivered (the process here is the one that was interrupted)."""
    return -EINTR if -ret in (ERESTARTSYS, ERESTARTNOINTR, ERESTARTNOHAND, ERESTART_RESTARTBLOCK) else ret


def _ppos(k: KernelApi, f: OpenFile, offset: int | None) -> int:
    """The loff_t * a read or write gets: NULL for a stream (stream_open()), else the file's
    own position, moved first to where the caller is. FUSE tells no lseek(), only the offset
    of each read and write: a caller who moved (dd skip=, lseek, pread) gets the module's
    llseek run then, with the distance from where the file was (SEEK_CUR, as dd asks)."""
    mode = k.m.read_u32(f.file + k.S.file.f_mode)
    if mode & FMODE_STREAM:
        return 0
    pos = f.file + k.S.file.f_pos
    now = s64(k.m.read_u64(pos))
    if offset is not None and offset != now and mode & FMODE_LSEEK:
        got = vfs_llseek(k, f, offset - now, SEEK_CUR)
        if got < 0:
            return got
    return pos


def vfs_llseek(k: KernelApi, f: OpenFile, offset: int, whence: int) -> int:
    """The file's llseek (a /proc file without proc_lseek has default_llseek's)."""
    fn = f.op(k, "proc_lseek" if f.proc is not None else "llseek") or k.function("default_llseek")
    return s64(k.m.call(fn, f.file, offset & MASK64, whence))


def vfs_read(k: KernelApi, f: OpenFile, size: int, offset: int | None) -> bytes | int:
    read = f.op(k, "proc_read" if f.proc is not None else "read")
    if not read:
        return -EIO if f.proc is not None else -EINVAL  # pde_read(): no proc_read
    ppos = _ppos(k, f, offset)
    if ppos < 0:
        return ppos
    buf = k.m.user_buffer(max(size, 1))
    got = s64(k.m.call(read, f.file, buf, size, ppos))
    if got < 0:
        return _user_errno(got)
    return k.m.read(buf, min(got, size))


def vfs_write(k: KernelApi, f: OpenFile, data: bytes, offset: int | None) -> int:
    write = f.op(k, "proc_write" if f.proc is not None else "write")
    if not write:
        return -EIO if f.proc is not None else -EINVAL
    ppos = _ppos(k, f, offset)
    if ppos < 0:
        return ppos
    buf = k.m.user_buffer(max(len(data), 1))
    k.m.write(buf, data)
    got = s64(k.m.call(write, f.file, buf, len(data), ppos))
    return _user_errno(got) if got < 0 else min(got, len(data))


def ioctl_arg(k: KernelApi, arg: int, data: bytes | None, out_size: int) -> tuple[int, bool]:
    """An ioctl's argument, and whether it is the caller's own pointer. A command with an
    _IOC size has a pointer: the caller's own when its memory can be reached (usercopy.py),
    so what it points at may run past the size (a string, a structure of pointers); else a
    user copy of the data the host sent, size bytes read back after. Else the caller's
    number as given."""
    if data is None and not out_size:
        return arg, True
    size = max(len(data or b""), out_size, 1)
    if caller_mm(k) is not None:
        try:
            user_read(k, arg, size)
            return arg, True
        except MemoryFault:
            pass
    buf = k.m.user_buffer(size)
    k.m.write(buf, (data or b"").ljust(size, b"\0"))
    return buf, False


def vfs_ioctl(k: KernelApi, f: OpenFile, cmd: int, arg: int, data: bytes | None, out_size: int) -> tuple[int, bytes]:
    """unlocked_ioctl(file, cmd, arg); the bytes the host copies back to the caller's arg for
    an _IOC_READ command (what the module left there)."""
    fn = f.op(k, "proc_ioctl" if f.proc is not None else "unlocked_ioctl")
    if not fn:
        return -ENOTTY, b""
    arg, own = ioctl_arg(k, arg, data, out_size)
    ret = s64(k.m.call(fn, f.file, cmd & 0xFFFFFFFF, arg & MASK64))
    if ret < 0:
        return _user_errno(ret), b""
    return ret, ioctl_out(k, arg, own, out_size)


def ioctl_out(k: KernelApi, arg: int, own: bool, out_size: int) -> bytes:
    """What an _IOC_READ command left at its argument, for the host to copy back there."""
    if not out_size:
        return b""
    try:
        return user_read(k, arg, out_size) if own else k.m.read(arg, out_size)
    except MemoryFault:
        return b""


def vfs_poll(k: KernelApi, f: OpenFile, events: int) -> int:
    """The file's poll with a poll table whose queueing (__pollwait) records the wait queues,
    so a wake-up on one tells the caller (the mount's poll handle)."""
    fn = f.op(k, "proc_poll" if f.proc is not None else "poll")
    if not fn:
        return DEFAULT_POLLMASK
    table = k.state.get("poll_table")
    if table is None:
        table = k.state["poll_table"] = k.m.kmalloc(k.S.poll_table_struct.sizeof, "", 0, kind="poll_table")
        k.m.write_u64(table + k.S.poll_table_struct._qproc, k.function("__pollwait"))
    k.m.write_u32(table + k.S.poll_table_struct._key, events & 0xFFFFFFFF)
    k.state["polling"] = f
    try:
        return k.m.call(fn, f.file, table) & 0xFFFF
    finally:
        k.state["polling"] = None


@kapi("__pollwait")
def __pollwait(k: KernelApi, filp: int, wait_address: int, p: int) -> None:
    f = k.state.get("polling")
    if f is not None and wait_address:
        f.poll_queues.add(wait_address)


# -- what modules put in their file_operations ---------------------------------------------------

def _f_pos(k: KernelApi, file: int) -> int:
    return file + k.S.file.f_pos


def vfs_setpos(k: KernelApi, file: int, offset: int, maxsize: int) -> int:
    if offset < 0 or offset > maxsize:
        return _err(EINVAL)
    k.m.write_u64(_f_pos(k, file), offset)
    return offset


def _llseek_size(k: KernelApi, file: int, offset: int, whence: int, maxsize: int, eof: int) -> int:
    """generic_file_llseek_size()."""
    offset, whence = s64(offset), whence & 0xFFFFFFFF
    pos = s64(k.m.read_u64(_f_pos(k, file)))
    if whence == SEEK_END:
        offset += eof
    elif whence == SEEK_CUR:
        if offset == 0:
            return pos & MASK64
        offset += pos
    elif whence == 3:  # SEEK_DATA
        if offset < 0 or offset >= eof:
            return _err(6)  # -ENXIO
    elif whence == 4:  # SEEK_HOLE
        if offset < 0 or offset >= eof:
            return _err(6)
        offset = eof
    elif whence != SEEK_SET:
        return _err(EINVAL)
    return vfs_setpos(k, file, offset, maxsize)


def _i_size(k: KernelApi, file: int) -> int:
    inode = k.m.read_u64(file + k.S.file.f_inode)
    return s64(k.m.read_u64(inode + k.S.inode.i_size)) if inode else 0


@kapi("generic_file_llseek", "default_llseek")
def default_llseek(k: KernelApi, file: int, offset: int, whence: int) -> int:
    return _llseek_size(k, file, offset, whence, MAX_LFS_FILESIZE, _i_size(k, file))


@kapi("fixed_size_llseek")
def fixed_size_llseek(k: KernelApi, file: int, offset: int, whence: int, size: int) -> int:
    return _llseek_size(k, file, offset, whence, s64(size), s64(size))


@kapi("no_seek_end_llseek")
def no_seek_end_llseek(k: KernelApi, file: int, offset: int, whence: int) -> int:
    if whence & 0xFFFFFFFF not in (SEEK_SET, SEEK_CUR):
        return _err(EINVAL)
    return _llseek_size(k, file, offset, whence, MAX_LFS_FILESIZE, 0)


@kapi("no_llseek")
def no_llseek(k: KernelApi, file: int, offset: int, whence: int) -> int:
    return _err(ESPIPE)


@kapi("noop_llseek")
def noop_llseek(k: KernelApi, file: int, offset: int, whence: int) -> int:
    return k.m.read_u64(_f_pos(k, file))


@kapi("nonseekable_open")
def nonseekable_open(k: KernelApi, inode: int, filp: int) -> int:
    mode = filp + k.S.file.f_mode
    k.m.write_u32(mode, k.m.read_u32(mode) & ~(FMODE_LSEEK | FMODE_PREAD | FMODE_PWRITE))
    return 0


@kapi("stream_open")
def stream_open(k: KernelApi, inode: int, filp: int) -> int:
    mode = filp + k.S.file.f_mode
    k.m.write_u32(mode, k.m.read_u32(mode) & ~(FMODE_LSEEK | FMODE_PREAD | FMODE_PWRITE | FMODE_ATOMIC_POS)
                  | FMODE_STREAM)
    return 0


# -- fs/libfs.c: a buffer of the module's read or written at the file position ------------------

def _span(k: KernelApi, ppos: int, available: int, count: int) -> tuple[int, int] | int:
    """(pos, bytes to copy), or what to return at once: -EINVAL, or 0 past the end."""
    pos = s64(k.m.read_u64(ppos))
    if pos < 0:
        return _err(EINVAL)
    if pos >= available or not count:
        return 0
    return pos, min(count, available - pos)


@kapi("simple_read_from_buffer")
def simple_read_from_buffer(k: KernelApi, to: int, count: int, ppos: int, frm: int, available: int) -> int:
    span = _span(k, ppos, available, count)
    if isinstance(span, int):
        return span
    pos, count = span
    left = copy_user(k, to, frm + pos, count, "to")
    if left == count:
        return _err(EFAULT)
    k.m.write_u64(ppos, pos + count - left)
    return count - left


@kapi("simple_write_to_buffer")
def simple_write_to_buffer(k: KernelApi, to: int, available: int, ppos: int, frm: int, count: int) -> int:
    span = _span(k, ppos, available, count)
    if isinstance(span, int):
        return span
    pos, count = span
    left = copy_user(k, to + pos, frm, count, "from")
    if left == count:
        return _err(EFAULT)
    k.m.write_u64(ppos, pos + count - left)
    return count - left
