"""fs/seq_file.c and the read side of fs/proc: what a module's /proc file shows.

The seq_file lives in emulated memory as the kernel lays it out (buf, size, count, index, op,
private), so a module that looks at m->count or m->private sees what it would. The seq_*
output functions are the kernel's, overflow included (a record that does not fit sets count to
size, and seq_read_iter() retries it with a buffer twice as large). seq_read() below is
seq_read_iter()'s algorithm, with its calls to ->start, ->show, ->next and ->stop in the same
order and number.

A read of a module's /proc file (read_proc_entry) opens it as the VFS would: a struct inode
whose i_private is the entry's data (pde_data()), a struct file, the entry's proc_open; then it
reads until end of file in the chunks `cat` asks for (128 KiB), through seq_read() or the
module's own proc_read into a user buffer; then proc_release.
"""

from __future__ import annotations

import time
from errno import EFAULT, EIO, ENOMEM
from typing import TYPE_CHECKING

from ...bits import MASK64, PAGE_SIZE
from ...bits import s32 as _s32
from ...bits import s64 as _s64
from ..vsprintf import ListArgs, MemoryFault
from . import KernelApi, VarArgs, kapi
from . import neg_errno as _err
from .cpu import current
from .string import _va, _va_done

if TYPE_CHECKING:
    from . import Registration

READ_CHUNK = 128 * 1024  # what cat asks for in one read()
MAX_READ = 64 << 20  # what one read of a module's file may hold in the daemon
MAX_ERRNO = 4095
SEQ_START_TOKEN = 1
EFLAGS_AFTER_IS_ERR = 0x203  # CF set: a pointer below -MAX_ERRNO; IF
FMODE_READ = 0x1
FMODE_LSEEK = 0x4
FMODE_PREAD = 0x8


def _is_err(v: int) -> bool:
    return v >= (-MAX_ERRNO & MASK64)


class Seq:
    """A struct seq_file in emulated memory."""

    def __init__(self, k: KernelApi, addr: int) -> None:
        self.k, self.addr = k, addr

    def _off(self, member: str) -> int:
        return self.addr + self.k.S.seq_file[member]

    def get(self, member: str) -> int:
        return self.k.m.read_u64(self._off(member))

    def set(self, member: str, v: int) -> None:
        self.k.m.write_u64(self._off(member), v & MASK64)

    def index_addr(self) -> int:
        return self._off("index")

    def op(self, name: str) -> int:
        return self.k.m.read_u64(self.get("op") + self.k.S.seq_operations[name])

    def overflowed(self) -> bool:
        return self.get("count") == self.get("size")

    def overflow(self) -> None:
        self.set("count", self.get("size"))

    def append(self, data: bytes, strict: bool = True) -> bool:
        """Copy data after count; with strict (seq_printf, seq_write) the result must leave
        room for a NUL, else the record overflows."""
        count, size = self.get("count"), self.get("size")
        if count + len(data) > size or (strict and count + len(data) == size):
            self.overflow()
            return False
        self.k.m.write(self.get("buf") + count, data)
        self.set("count", count + len(data))
        return True


# -- output --------------------------------------------------------------------------------------

@kapi("seq_printf")
def seq_printf(k: KernelApi, m: int, fmt: int, args: VarArgs) -> None:
    Seq(k, m).append(k.format(fmt, args))


@kapi("seq_vprintf")
def seq_vprintf(k: KernelApi, m: int, fmt: int, va: int) -> None:
    args = _va(k, va)
    Seq(k, m).append(k.format(fmt, args))
    _va_done(k, va, args)


@kapi("seq_puts", "__seq_puts")  # 6.12: seq_puts() is inline, calling __seq_puts()
def seq_puts(k: KernelApi, m: int, s: int) -> None:
    Seq(k, m).append(k.cstr(s), strict=True)


@kapi("seq_putc")
def seq_putc(k: KernelApi, m: int, c: int) -> None:
    seq = Seq(k, m)
    if seq.get("count") < seq.get("size"):
        seq.append(bytes([c & 0xFF]), strict=False)


@kapi("seq_write")
def seq_write(k: KernelApi, m: int, data: int, length: int) -> int:
    return 0 if Seq(k, m).append(k.m.read(data, length) if length else b"") else MASK64  # -1


def _delimiter(k: KernelApi, m: int, delimiter: int) -> None:
    delim = k.cstr(delimiter, 256) if delimiter else b""
    if len(delim) == 1:
        seq_putc(k, m, delim[0])
    elif delim:
        Seq(k, m).append(delim)


def _num_to_str(seq: Seq, digits: bytes, width: int) -> bool:
    """num_to_str() into the buffer: needs no room for a NUL; pads to width with spaces."""
    room = seq.get("size") - seq.get("count")
    if len(digits) > room or width > room:
        return False
    return seq.append(digits.rjust(width, b" "), strict=False)


@kapi("seq_put_decimal_ull_width")
def seq_put_decimal_ull_width(k: KernelApi, m: int, delimiter: int, num: int, width: int) -> None:
    seq = Seq(k, m)
    width = (width & 0xFFFFFFFF) or 1
    if seq.get("count") + 2 >= seq.get("size"):
        return seq.overflow()
    _delimiter(k, m, delimiter)
    if seq.get("count") + width >= seq.get("size") or not _num_to_str(seq, str(num & MASK64).encode(), width):
        seq.overflow()


@kapi("seq_put_decimal_ull")
def seq_put_decimal_ull(k: KernelApi, m: int, delimiter: int, num: int) -> None:
    seq_put_decimal_ull_width(k, m, delimiter, num, 0)


@kapi("seq_put_decimal_ll")
def seq_put_decimal_ll(k: KernelApi, m: int, delimiter: int, num: int) -> None:
    seq = Seq(k, m)
    if seq.get("count") + 3 >= seq.get("size"):
        return seq.overflow()
    _delimiter(k, m, delimiter)
    if seq.get("count") + 2 >= seq.get("size"):
        return seq.overflow()
    num = _s64(num)
    if num < 0:
        seq.append(b"-", strict=False)
        num = -num
    if num < 10:
        seq.append(bytes([0x30 + num]), strict=False)
    elif not _num_to_str(seq, str(num).encode(), 0):
        seq.overflow()


@kapi("seq_put_hex_ll")
def seq_put_hex_ll(k: KernelApi, m: int, delimiter: int, v: int, width: int) -> None:
    _delimiter(k, m, delimiter)
    seq = Seq(k, m)
    digits = f"{v & MASK64:x}".encode().rjust(width & 0xFFFFFFFF, b"0")
    if seq.get("count") + len(digits) > seq.get("size"):
        return seq.overflow()
    seq.append(digits, strict=False)


@kapi("seq_pad")
def seq_pad(k: KernelApi, m: int, c: int) -> None:
    seq = Seq(k, m)
    pad_until = seq.get("pad_until")
    count = seq.get("count")
    if count < pad_until:
        seq.append(b" " * (pad_until - count), strict=False)
    if c & 0xFF:
        seq_putc(k, m, c)


# -- open and release ------------------------------------------------------------------------------

@kapi("seq_open")
def seq_open(k: KernelApi, file: int, op: int) -> int:
    priv = file + k.S.file.private_data
    if k.m.read_u64(priv):
        k.log.printk(b"\x014seq_open: file->private_data already set\n")
    m = k.m.kmalloc(k.S.seq_file.sizeof, k.caller_module_name(), k.caller, kind="seq_file")
    if not m:
        return _err(ENOMEM)
    seq = Seq(k, m)
    seq.set("op", op)
    seq.set("file", file)
    k.m.write_u64(priv, m)
    return 0


def _single_ops(k: KernelApi, show: int) -> int:
    op = k.m.kmalloc(k.S.seq_operations.sizeof, k.caller_module_name(), k.caller, kind="seq_operations")
    if op:
        for name in ("start", "next", "stop"):
            k.m.write_u64(op + k.S.seq_operations[name], k.function(f"single_{name}"))
        k.m.write_u64(op + k.S.seq_operations.show, show)
    return op


@kapi("single_open")
def single_open(k: KernelApi, file: int, show: int, data: int) -> int:
    op = _single_ops(k, show)
    if not op:
        return _err(ENOMEM)
    res = seq_open(k, file, op)
    if res:
        k.kfree(op)
        return res
    Seq(k, k.m.read_u64(file + k.S.file.private_data)).set("private", data)
    return 0


@kapi("single_open_size")
def single_open_size(k: KernelApi, file: int, show: int, data: int, size: int) -> int:
    buf = k.m.kmalloc(size, k.caller_module_name(), k.caller, kind="seq_buf") if size else 0
    if size and not buf:
        return _err(ENOMEM)
    res = single_open(k, file, show, data)
    if res:
        k.kfree(buf)
        return res
    seq = Seq(k, k.m.read_u64(file + k.S.file.private_data))
    seq.set("buf", buf)
    seq.set("size", size)
    return 0


@kapi("__seq_open_private")
def __seq_open_private(k: KernelApi, file: int, ops: int, psize: int) -> int:
    private = k.m.kmalloc(psize or 1, k.caller_module_name(), k.caller, kind="seq_private")
    if not private or seq_open(k, file, ops):
        k.kfree(private)
        return 0
    Seq(k, k.m.read_u64(file + k.S.file.private_data)).set("private", private)
    return private


@kapi("seq_open_private")
def seq_open_private(k: KernelApi, file: int, ops: int, psize: int) -> int:
    return 0 if __seq_open_private(k, file, ops, psize) else _err(ENOMEM)


def _seq_of(k: KernelApi, file: int) -> int:
    return k.m.read_u64(file + k.S.file.private_data)


@kapi("seq_release")
def seq_release(k: KernelApi, inode: int, file: int) -> int:
    m = _seq_of(k, file)
    if m:
        k.kfree(Seq(k, m).get("buf"))
        k.kfree(m)
    return 0


@kapi("single_release")
def single_release(k: KernelApi, inode: int, file: int) -> int:
    m = _seq_of(k, file)
    op = Seq(k, m).get("op") if m else 0
    res = seq_release(k, inode, file)
    k.kfree(op)
    return res


@kapi("seq_release_private")
def seq_release_private(k: KernelApi, inode: int, file: int) -> int:
    m = _seq_of(k, file)
    if m:
        k.kfree(Seq(k, m).get("private"))
        Seq(k, m).set("private", 0)
    return seq_release(k, inode, file)


@kapi("single_start")
def single_start(k: KernelApi, m: int, pos: int) -> int:
    return 0 if k.m.read_u64(pos) else SEQ_START_TOKEN


@kapi("single_next")
def single_next(k: KernelApi, m: int, v: int, pos: int) -> int:
    k.m.write_u64(pos, k.m.read_u64(pos) + 1)
    return 0


@kapi("single_stop")
def single_stop(k: KernelApi, m: int, v: int) -> None:
    return None


# -- list iteration --------------------------------------------------------------------------------

@kapi("seq_list_start")
def seq_list_start(k: KernelApi, head: int, pos: int) -> int:
    lh = k.m.read_u64(head)
    while lh != head:
        if pos == 0:
            return lh
        pos -= 1
        lh = k.m.read_u64(lh)
    return 0


@kapi("seq_list_start_head")
def seq_list_start_head(k: KernelApi, head: int, pos: int) -> int:
    return head if pos == 0 else seq_list_start(k, head, pos - 1)


@kapi("seq_list_next")
def seq_list_next(k: KernelApi, v: int, head: int, ppos: int) -> int:
    k.m.write_u64(ppos, k.m.read_u64(ppos) + 1)
    nxt = k.m.read_u64(v)
    return 0 if nxt == head else nxt


@kapi("seq_hlist_start", "seq_hlist_start_rcu")
def seq_hlist_start(k: KernelApi, head: int, pos: int) -> int:
    node = k.m.read_u64(head)
    while node:
        if pos == 0:
            return node
        pos -= 1
        node = k.m.read_u64(node)
    return 0


@kapi("seq_hlist_start_head", "seq_hlist_start_head_rcu")
def seq_hlist_start_head(k: KernelApi, head: int, pos: int) -> int:
    return SEQ_START_TOKEN if pos == 0 else seq_hlist_start(k, head, pos - 1)


@kapi("seq_hlist_next", "seq_hlist_next_rcu")
def seq_hlist_next(k: KernelApi, v: int, head: int, ppos: int) -> int:
    k.m.write_u64(ppos, k.m.read_u64(ppos) + 1)
    return k.m.read_u64(head) if v == SEQ_START_TOKEN else k.m.read_u64(v)


# -- reading ----------------------------------------------------------------------------------------

def seq_read(k: KernelApi, m: int, want: int, deadline: float = float("inf")) -> bytes | int:
    """seq_read_iter() for one read() of `want` bytes: the bytes, or a negative errno. Past
    the deadline (->next never ends the file, records stay empty) it stops where it is."""
    seq, call = Seq(k, m), k.m.call
    if not seq.get("buf"):
        buf = k.m.kmalloc(PAGE_SIZE, "", 0, kind="seq_buf")
        if not buf:
            return -ENOMEM
        seq.set("buf", buf)
        seq.set("size", PAGE_SIZE)
    out = b""
    if seq.get("count"):  # left over from the last read: copy it out first
        frm, count = seq.get("from"), seq.get("count")
        n = min(count, want)
        out = k.m.read(seq.get("buf") + frm, n)
        seq.set("count", count - n)
        seq.set("from", frm + n)
        if count - n:
            return out
    seq.set("from", 0)
    index = seq.index_addr()
    p = call(seq.op("start"), m, index)
    err = 0
    while True:
        if not p or _is_err(p):  # end of file or an error
            err = _s64(p) if p else 0
            call(seq.op("stop"), m, p)
            seq.set("count", 0)
            return out if out else err
        # the flags of IS_ERR()'s compare, as seq_read_iter() calls ->show (hostile-procoops)
        err = _s32(call(seq.op("show"), m, p, eflags=EFLAGS_AFTER_IS_ERR))
        if err < 0:
            call(seq.op("stop"), m, p)
            seq.set("count", 0)
            return out if out else err
        if err:  # ->show() says "skip it"
            seq.set("count", 0)
        if not seq.get("count"):  # an empty record
            p = call(seq.op("next"), m, p, index)
            if time.monotonic() > deadline:
                call(seq.op("stop"), m, p)
                return out
            continue
        if not seq.overflowed():
            break
        # the record did not fit: a buffer twice as large, and the same record again
        call(seq.op("stop"), m, p)
        k.kfree(seq.get("buf"))
        seq.set("count", 0)
        size = seq.get("size") << 1
        buf = k.m.kmalloc(size, "", 0, kind="seq_buf")
        seq.set("buf", buf)
        seq.set("size", size)
        if not buf:
            return out if out else -ENOMEM
        p = call(seq.op("start"), m, index)
    # one record is in the buffer: fill it with as many more as fit
    while True:
        offs, pos = seq.get("count"), k.m.read_u64(index)
        p = call(seq.op("next"), m, p, index)
        if k.m.read_u64(index) == pos:
            if _ratelimit(k, "seq_buggy_next"):
                k.log.printk(b"\x016" + k.format(b"buggy .next function %ps did not update position index\n",
                                                  ListArgs([seq.op("next")])))
            k.m.write_u64(index, pos + 1)
        if not p or _is_err(p):
            break
        if seq.get("count") >= want - len(out) or time.monotonic() > deadline:
            break
        err = _s32(call(seq.op("show"), m, p))
        if err > 0:
            seq.set("count", offs)
        elif err or seq.overflowed():
            seq.set("count", offs)
            break
    call(seq.op("stop"), m, p)
    count = seq.get("count")
    n = min(count, want - len(out))
    out += k.m.read(seq.get("buf"), n)
    seq.set("count", count - n)
    seq.set("from", n)
    return out


def _ratelimit(k: KernelApi, key: str, burst: int = 10, interval: float = 5.0) -> bool:
    """___ratelimit() with DEFAULT_RATELIMIT_BURST and _INTERVAL: ten a window of 5 s."""
    now = time.monotonic()
    start, n = k.state.get(key, (now, 0))
    if now - start >= interval:
        start, n = now, 0
    k.state[key] = (start, n + 1)
    return n < burst


@kapi("seq_read")
def seq_read_handler(k: KernelApi, file: int, ubuf: int, size: int, ppos: int) -> int:
    """A module calling seq_read() itself (from its own proc_read)."""
    got = seq_read(k, _seq_of(k, file), size)
    if isinstance(got, int):
        return got & MASK64
    try:
        k.m.write(ubuf, got)
    except MemoryFault:
        return _err(EFAULT)
    k.m.write_u64(ppos, k.m.read_u64(ppos) + len(got))
    return len(got)


@kapi("pde_data")
def pde_data(k: KernelApi, inode: int) -> int:
    return k.m.read_u64(inode + k.S.inode.i_private) if inode else 0


def read_proc_entry(k: KernelApi, rec: Registration) -> bytes:
    """The whole content of a module's /proc file, read through its callbacks; OSError(errno)
    when its open or read fails."""
    m = k.m
    with m.lock:
        inode = m.kmalloc(k.S.inode.sizeof, "", 0, kind="inode")
        file = m.kmalloc(k.S.file.sizeof, "", 0, kind="file")
        pos = m.kmalloc(8, "", 0, kind="loff_t")
        try:
            m.write_u64(inode + k.S.inode.i_private, rec.info.get("data", 0))
            m.write_u64(file + k.S.file.f_inode, inode)
            m.write_u32(file + k.S.file.f_mode, FMODE_READ | FMODE_LSEEK | FMODE_PREAD)
            task = current(k)  # the reader's credentials (seq_user_ns(), %pK's checks)
            m.write_u64(file + k.S.file.f_cred, m.read_u64(task + k.S.task_struct.cred))
            return _read_file(k, rec, inode, file, pos)
        finally:
            for addr in (pos, file, inode):
                k.kfree(addr)


def _proc_op(k: KernelApi, ops: int, name: str) -> int:
    return k.m.read_u64(ops + k.S.proc_ops[name]) if ops else 0


def _read_file(k: KernelApi, rec: Registration, inode: int, file: int, pos: int) -> bytes:
    m = k.m
    info = rec.info
    ops = info.get("ops", 0)
    net = k.data_symbol("init_net") if info.get("net") else 0
    if "show" in info:  # proc_create_single_data(): proc_single_open(); single_open_net()
        res = single_open(k, file, info["show"], net or info.get("data", 0))
        release = k.function("single_release")
    elif "seq_ops" in info:  # proc_create_seq_private(): proc_seq_open(); seq_open_net()
        size = max(info.get("state_size", 0), 8 if net else 0)
        res = seq_open_private(k, file, info["seq_ops"], size)
        if not res and net:
            m.write_u64(Seq(k, _seq_of(k, file)).get("private"), net)  # struct seq_net_private
        release = k.function("seq_release_private")
    elif not ops:  # nothing to read with: pde_read() without a proc_read
        raise OSError(EIO, rec.name)
    else:
        opener = _proc_op(k, ops, "proc_open")
        res = m.call(opener, inode, file) if opener else 0
        release = _proc_op(k, ops, "proc_release")
    if _s32(res) < 0:
        raise OSError(-_s32(res), rec.name)
    try:
        read = _proc_op(k, ops, "proc_read") if ops else k.function("seq_read")
        read_iter = _proc_op(k, ops, "proc_read_iter") if ops else 0
        seq_fns = {k.function("seq_read"), k.function("seq_read_iter")}
        out, length = [], 0
        deadline = time.monotonic() + m.budget
        while True:
            if time.monotonic() > deadline or length > MAX_READ:
                # a file that never ends (on the real kernel, cat would go on forever)
                k.log.printk(f"\x013pseudokernel: {rec.owner}: /proc/{rec.info.get('path', rec.name)}: read stopped "
                             f"after {length} bytes and {m.budget:g}s: the file does not end\n".encode())
                break
            if read in seq_fns or (not read and read_iter in seq_fns):
                got = seq_read(k, _seq_of(k, file), READ_CHUNK, deadline)
            elif read:
                buf = m.user_buffer(READ_CHUNK)
                got = _s64(m.call(read, file, buf, READ_CHUNK, pos))
                got = m.read(buf, got) if got > 0 else got
            else:  # pde_read(): no proc_read is -EIO
                if read_iter:
                    k.log.printk(f"\x013pseudokernel: {rec.owner}: /proc/{rec.info.get('path', rec.name)}: "
                                 "the module's own proc_read_iter is not run\n".encode())
                raise OSError(EIO, rec.name)
            if isinstance(got, int):
                if got < 0:
                    raise OSError(-got, rec.name)
                break
            if not got:
                break
            out.append(got)
            length += len(got)
        return b"".join(out)
    finally:
        if release:
            m.call(release, inode, file)
