"""lib/string.c and the formatting entry points of lib/vsprintf.c."""

from __future__ import annotations

from ...bits import MASK64
from ..vsprintf import VaListArgs, scnprintf_result, snprintf_result
from . import KernelApi, VarArgs, kapi


@kapi("memcpy", "__memcpy", "memmove", "__memmove")
def memcpy(k: KernelApi, dest: int, src: int, count: int) -> int:
    if count:
        k.m.write(dest, k.m.read(src, count))
    return dest


@kapi("memset", "__memset")
def memset(k: KernelApi, s: int, c: int, count: int) -> int:
    if count:
        k.m.write(s, bytes([c & 0xFF]) * count)
    return s


@kapi("memcmp", "bcmp")
def memcmp(k: KernelApi, a: int, b: int, count: int) -> int:
    x, y = k.m.read(a, count), k.m.read(b, count)
    for i in range(count):
        if x[i] != y[i]:
            return (x[i] - y[i]) & MASK64
    return 0


@kapi("strlen")
def strlen(k: KernelApi, s: int) -> int:
    return len(k.cstr(s))


@kapi("strnlen")
def strnlen(k: KernelApi, s: int, count: int) -> int:
    return len(k.cstr(s, count))


def _cmp(a: bytes, b: bytes) -> int:
    for x, y in zip(a + b"\0", b + b"\0"):
        if x != y:
            return -1 & MASK64 if x < y else 1
    return 0


@kapi("strcmp")
def strcmp(k: KernelApi, a: int, b: int) -> int:
    return _cmp(k.cstr(a), k.cstr(b))


@kapi("strncmp")
def strncmp(k: KernelApi, a: int, b: int, count: int) -> int:
    return _cmp(k.cstr(a, count), k.cstr(b, count))


@kapi("strcpy")
def strcpy(k: KernelApi, dest: int, src: int) -> int:
    k.m.write(dest, k.cstr(src) + b"\0")
    return dest


@kapi("strncpy")
def strncpy(k: KernelApi, dest: int, src: int, count: int) -> int:
    s = k.cstr(src, count)
    k.m.write(dest, (s + bytes(count))[:count])
    return dest


@kapi("strscpy", "sized_strscpy")
def strscpy(k: KernelApi, dest: int, src: int, count: int) -> int:
    """Copy at most count-1 bytes and always NUL-terminate; -E2BIG when truncated."""
    if count == 0 or count > 0x7FFFFFFF:
        return -7 & MASK64
    s = k.cstr(src, count)
    if len(s) >= count:
        k.m.write(dest, s[: count - 1] + b"\0")
        return -7 & MASK64
    k.m.write(dest, s + b"\0")
    return len(s)


@kapi("strlcpy")
def strlcpy(k: KernelApi, dest: int, src: int, size: int) -> int:
    s = k.cstr(src)
    if size:
        n = min(len(s), size - 1)
        k.m.write(dest, s[:n] + b"\0")
    return len(s)


@kapi("strcat")
def strcat(k: KernelApi, dest: int, src: int) -> int:
    d = k.cstr(dest)
    k.m.write(dest + len(d), k.cstr(src) + b"\0")
    return dest


@kapi("strchr")
def strchr(k: KernelApi, s: int, c: int) -> int:
    data = k.cstr(s) + b"\0"
    i = data.find(bytes([c & 0xFF]))
    return s + i if i >= 0 else 0


@kapi("strrchr")
def strrchr(k: KernelApi, s: int, c: int) -> int:
    data = k.cstr(s) + b"\0"
    i = data.rfind(bytes([c & 0xFF]))
    return s + i if i >= 0 else 0


@kapi("strstr")
def strstr(k: KernelApi, s1: int, s2: int) -> int:
    i = k.cstr(s1).find(k.cstr(s2))
    return s1 + i if i >= 0 else 0


def _store(k: KernelApi, buf: int, result: tuple[bytes, int]) -> int:
    data, ret = result
    if data:
        k.m.write(buf, data)
    return ret


def _va(k: KernelApi, va: int) -> VaListArgs:
    return VaListArgs(k.m, va)


def _va_done(k: KernelApi, va: int, args: VaListArgs) -> None:
    """va_list is an array type on x86_64: the callee's va_arg advanced the caller's tag."""
    k.m.write(va, args.tag_bytes())


@kapi("snprintf")
def snprintf(k: KernelApi, buf: int, size: int, fmt: int, args: VarArgs) -> int:
    return _store(k, buf, snprintf_result(k.format(fmt, args), size))


@kapi("vsnprintf")
def vsnprintf(k: KernelApi, buf: int, size: int, fmt: int, va: int) -> int:
    args = _va(k, va)
    ret = _store(k, buf, snprintf_result(k.format(fmt, args), size))
    _va_done(k, va, args)
    return ret


@kapi("scnprintf")
def scnprintf(k: KernelApi, buf: int, size: int, fmt: int, args: VarArgs) -> int:
    if size == 0:
        return 0  # vscnprintf() returns before formatting anything
    return _store(k, buf, scnprintf_result(k.format(fmt, args), size))


@kapi("vscnprintf")
def vscnprintf(k: KernelApi, buf: int, size: int, fmt: int, va: int) -> int:
    if size == 0:
        return 0
    args = _va(k, va)
    ret = _store(k, buf, scnprintf_result(k.format(fmt, args), size))
    _va_done(k, va, args)
    return ret


@kapi("sprintf")
def sprintf(k: KernelApi, buf: int, fmt: int, args: VarArgs) -> int:
    out = k.format(fmt, args)
    k.m.write(buf, out + b"\0")
    return len(out)


@kapi("vsprintf")
def vsprintf(k: KernelApi, buf: int, fmt: int, va: int) -> int:
    args = _va(k, va)
    out = k.format(fmt, args)
    k.m.write(buf, out + b"\0")
    _va_done(k, va, args)
    return len(out)


@kapi("kasprintf")
def kasprintf(k: KernelApi, gfp: int, fmt: int, args: VarArgs) -> int:
    out = k.format(fmt, args) + b"\0"
    p = k.kmalloc(len(out), gfp)
    if p:
        k.m.write(p, out)
    return p


@kapi("kvasprintf")
def kvasprintf(k: KernelApi, gfp: int, fmt: int, va: int) -> int:
    args = _va(k, va)
    out = k.format(fmt, args) + b"\0"
    _va_done(k, va, args)
    p = k.kmalloc(len(out), gfp)
    if p:
        k.m.write(p, out)
    return p
