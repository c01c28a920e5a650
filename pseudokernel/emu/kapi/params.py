"""The standard parameter ops of kernel/params.c: param_set_*/param_get_* and the
param_ops_* tables modules point their struct kernel_param at."""

from __future__ import annotations

from errno import EINVAL, ENOMEM, ENOSPC, EROFS

from ...bits import PAGE_SIZE
from . import KernelApi, kapi, kdata
from .kstrtox import kstrto_signed, kstrto_unsigned, kstrtobool

KP_NAME, KP_MOD, KP_OPS, KP_ARG = 0, 8, 16, 32
KERNEL_PARAM_OPS_FL_NOARG = 1

# name -> (C type bits, signed, sysfs format)
STANDARD = {
    "byte": (8, False, "%hhu"),
    "short": (16, True, "%hi"),
    "ushort": (16, False, "%hu"),
    "int": (32, True, "%i"),
    "uint": (32, False, "%u"),
    "long": (64, True, "%li"),
    "ulong": (64, False, "%lu"),
    "ullong": (64, False, "%llu"),
    "hexint": (32, False, "%#08x"),
}


def _err(e: int) -> int:
    return e & 0xFFFFFFFF


def _arg(k: KernelApi, kp: int) -> int:
    return k.m.read_u64(kp + KP_ARG)


def _show(k: KernelApi, buf: int, text: bytes) -> int:
    """scnprintf(buffer, PAGE_SIZE, ...)."""
    text = text[: PAGE_SIZE - 1]
    k.m.write(buf, text + b"\0")
    return len(text)


def _standard(name: str, bits: int, signed: bool, fmt: str) -> None:
    nbytes = bits // 8

    def set_(k: KernelApi, val: int, kp: int) -> int:
        if not val:
            return _err(-EINVAL)
        err, v = (kstrto_signed if signed else kstrto_unsigned)(k.cstr(val), 0, bits)
        if err:
            return _err(err)
        k.m.write(_arg(k, kp), (v & ((1 << bits) - 1)).to_bytes(nbytes, "little"))
        return 0

    def get(k: KernelApi, buf: int, kp: int) -> int:
        v = int.from_bytes(k.m.read(_arg(k, kp), nbytes), "little", signed=signed)
        from ..vsprintf import ListArgs

        return _show(k, buf, k.format(fmt.encode() + b"\n", ListArgs([v & ((1 << 64) - 1)])))

    kapi(f"param_set_{name}", leaf=True)(set_)
    kapi(f"param_get_{name}", leaf=True)(get)
    _ops(f"param_ops_{name}", f"param_set_{name}", f"param_get_{name}")


def _ops(table: str, set_name: str | None, get_name: str | None, free_name: str | None = None, flags: int = 0) -> None:
    """A const struct kernel_param_ops in vmlinux: {flags, set, get, free}."""

    def init(k: KernelApi, addr: int) -> None:
        k.m.write_u32(addr, flags)
        for slot, fn in ((1, set_name), (2, get_name), (3, free_name)):
            k.m.write_u64(addr + 8 * slot, k.function(fn) if fn else 0)

    kdata(table, size=32)(init)


for _name, (_bits, _signed, _fmt) in STANDARD.items():
    _standard(_name, _bits, _signed, _fmt)


@kapi("param_set_charp", leaf=True)
def param_set_charp(k: KernelApi, val: int, kp: int) -> int:
    text = k.cstr(val) if val else b""
    if len(text) > 1024:
        name = k.cstr(k.m.read_u64(kp + KP_NAME)).decode(errors="replace")
        k.log.err(f"{name}: string parameter too long\n")
        return _err(-ENOSPC)
    arg = _arg(k, kp)
    k.kernel.params_kfree(k.m.read_u64(arg))
    p = k.kernel.params_kmalloc(len(text) + 1)
    if not p:
        return _err(-ENOMEM)
    k.m.write(p, text + b"\0")
    k.m.write_u64(arg, p)
    return 0


@kapi("param_get_charp", leaf=True)
def param_get_charp(k: KernelApi, buf: int, kp: int) -> int:
    s = k.m.read_u64(_arg(k, kp))
    from ..vsprintf import ListArgs

    return _show(k, buf, k.format(b"%s\n", ListArgs([s])))


@kapi("param_free_charp", leaf=True)
def param_free_charp(k: KernelApi, arg: int) -> None:
    k.kernel.params_kfree(k.m.read_u64(arg))


_ops("param_ops_charp", "param_set_charp", "param_get_charp", "param_free_charp")


def _bool_of(k: KernelApi, val: int) -> tuple[int, bool]:
    return kstrtobool(k.cstr(val) if val else b"1")  # no '=' means "set"


@kapi("param_set_bool", leaf=True)
def param_set_bool(k: KernelApi, val: int, kp: int) -> int:
    err, v = _bool_of(k, val)
    if err:
        return _err(err)
    k.m.write_u8(_arg(k, kp), int(v))
    return 0


@kapi("param_get_bool", leaf=True)
def param_get_bool(k: KernelApi, buf: int, kp: int) -> int:
    return _show(k, buf, b"Y\n" if k.m.read_u8(_arg(k, kp)) else b"N\n")


_ops("param_ops_bool", "param_set_bool", "param_get_bool", flags=KERNEL_PARAM_OPS_FL_NOARG)


@kapi("param_set_bool_enable_only", leaf=True)
def param_set_bool_enable_only(k: KernelApi, val: int, kp: int) -> int:
    err, v = _bool_of(k, val)
    if err:
        return _err(err)
    arg = _arg(k, kp)
    if not v and k.m.read_u8(arg):
        return _err(-EROFS)
    if v:
        k.m.write_u8(arg, 1)
    return 0


_ops("param_ops_bool_enable_only", "param_set_bool_enable_only", "param_get_bool", flags=KERNEL_PARAM_OPS_FL_NOARG)


@kapi("param_set_invbool", leaf=True)
def param_set_invbool(k: KernelApi, val: int, kp: int) -> int:
    err, v = _bool_of(k, val)
    if err:
        return _err(err)
    k.m.write_u8(_arg(k, kp), int(not v))
    return 0


@kapi("param_get_invbool", leaf=True)
def param_get_invbool(k: KernelApi, buf: int, kp: int) -> int:
    return _show(k, buf, b"N\n" if k.m.read_u8(_arg(k, kp)) else b"Y\n")


_ops("param_ops_invbool", "param_set_invbool", "param_get_invbool")


@kapi("param_set_bint", leaf=True)
def param_set_bint(k: KernelApi, val: int, kp: int) -> int:
    err, v = _bool_of(k, val)
    if err:
        return _err(err)
    k.m.write_u32(_arg(k, kp), int(v))
    return 0


_ops("param_ops_bint", "param_set_bint", "param_get_int", flags=KERNEL_PARAM_OPS_FL_NOARG)


@kapi("param_set_uint_minmax", leaf=True)
def param_set_uint_minmax(k: KernelApi, val: int, kp: int, lo: int, hi: int) -> int:
    if not val:
        return _err(-EINVAL)
    err, v = kstrto_unsigned(k.cstr(val), 0, 32)
    if err:
        return _err(err)
    if v < (lo & 0xFFFFFFFF) or v > (hi & 0xFFFFFFFF):
        return _err(-EINVAL)
    k.m.write_u32(_arg(k, kp), v)
    return 0


@kapi("param_set_copystring", leaf=True)
def param_set_copystring(k: KernelApi, val: int, kp: int) -> int:
    kps = _arg(k, kp)  # const struct kparam_string { unsigned int maxlen; char *string; }
    maxlen = k.m.read_u32(kps)
    text = k.cstr(val)
    if len(text) + 1 > maxlen:
        name = k.cstr(k.m.read_u64(kp + KP_NAME)).decode(errors="replace")
        k.log.err(f"{name}: string doesn't fit in {maxlen - 1} chars.\n")
        return _err(-ENOSPC)
    k.m.write(k.m.read_u64(kps + 8), text + b"\0")
    return 0


@kapi("param_get_string", leaf=True)
def param_get_string(k: KernelApi, buf: int, kp: int) -> int:
    kps = _arg(k, kp)
    from ..vsprintf import ListArgs

    return _show(k, buf, k.format(b"%s\n", ListArgs([k.m.read_u64(kps + 8)])))


_ops("param_ops_string", "param_set_copystring", "param_get_string")


def _kparam_array(k: KernelApi, kp: int) -> tuple[int, int, int, int, int]:
    """struct kparam_array { uint max; uint elemsize; uint *num; ops *ops; void *elem; }"""
    arr = _arg(k, kp)
    m = k.m
    return m.read_u32(arr), m.read_u32(arr + 4), m.read_u64(arr + 8), m.read_u64(arr + 16), m.read_u64(arr + 24)


def _call_on_elem(k: KernelApi, fn: int, first: int, kp: int, elem: int) -> int:
    """fn(first, &copy) where copy is the struct kernel_param pointed at one element
    (param_array()'s local kp); the copy lives in kernel memory for the call."""
    tmp = k.m.kmalloc(40, kind="param")
    try:
        k.m.write(tmp, k.m.read(kp, 40))
        k.m.write_u64(tmp + KP_ARG, elem)
        return k.m.call(fn, first, tmp)
    finally:
        k.m.slab.free(tmp)


@kapi("param_array_set")
def param_array_set(k: KernelApi, val: int, kp: int) -> int:
    m = k.m
    max_, elemsize, num_ptr, ops, elem = _kparam_array(k, kp)
    name = k.cstr(m.read_u64(kp + KP_NAME)).decode(errors="replace")
    set_fn = m.read_u64(ops + 8)
    text = k.cstr(val)
    num = 0
    pos = 0
    while True:
        if num == max_:
            k.log.err(f"{name}: can only take {max_} arguments\n")
            return _err(-EINVAL)
        end = text.find(b",", pos)
        end = len(text) if end < 0 else end
        m.write_u8(val + end, 0)  # nul-terminate and parse, as param_array() does
        ret = _call_on_elem(k, set_fn, val + pos, kp, elem + num * elemsize) & 0xFFFFFFFF
        if ret:
            return ret
        num += 1
        if end >= len(text):
            break
        pos = end + 1
    if num_ptr:
        m.write_u32(num_ptr, num)
    return 0


@kapi("param_array_get")
def param_array_get(k: KernelApi, buf: int, kp: int) -> int:
    m = k.m
    max_, elemsize, num_ptr, ops, elem = _kparam_array(k, kp)
    get_fn = m.read_u64(ops + 16)
    n = m.read_u32(num_ptr) if num_ptr else max_
    off = 0
    for i in range(n):
        if i:
            m.write_u8(buf + off - 1, ord(","))
        ret = _call_on_elem(k, get_fn, buf + off, kp, elem + elemsize * i)
        ret = ret - (1 << 32) if ret & 0x80000000 else ret & 0xFFFFFFFF
        if ret < 0:
            return _err(ret)
        off += ret
    m.write_u8(buf + off, 0)
    return off


@kapi("param_array_free")
def param_array_free(k: KernelApi, arr: int) -> None:
    m = k.m
    max_, elemsize, num_ptr = m.read_u32(arr), m.read_u32(arr + 4), m.read_u64(arr + 8)
    ops, elem = m.read_u64(arr + 16), m.read_u64(arr + 24)
    free_fn = m.read_u64(ops + 24)
    if free_fn:
        for i in range(m.read_u32(num_ptr) if num_ptr else max_):
            m.call(free_fn, elem + elemsize * i)


_ops("param_array_ops", "param_array_set", "param_array_get", "param_array_free")
