"""Dynamic debug (lib/dynamic_debug.c): each pr_debug()/dev_dbg() site of a module is a struct
_ddebug in its __dyndbg section, off by default; a query (the module's `dyndbg=` parameter,
or a write to <debugfs>/dynamic_debug/control) turns sites on or off and chooses the prefix.
A site's call is behind a static branch on the descriptor's own key, so turning it on patches
the module's code (jump_label.py) and __dynamic_pr_debug() then prints at KERN_DEBUG."""

from __future__ import annotations

import fnmatch
from errno import EINVAL

from . import KernelApi, VarArgs, kapi
from .device import dev_driver_string, dev_name, dev_printk_info
from .jump_label import set_key

DDEBUG = 56  # sizeof(struct _ddebug)
FLAG_BITS = {"p": 1 << 0, "m": 1 << 1, "f": 1 << 2, "l": 1 << 3, "t": 1 << 4}
PRINT = FLAG_BITS["p"]


class Site:
    """One struct _ddebug in module memory."""

    def __init__(self, k: KernelApi, addr: int) -> None:
        self.k, self.addr = k, addr
        m, d = k.m, k.S["_ddebug"]
        self.modname = k.cname(m.read_u64(addr + d.modname))
        self.function = k.cname(m.read_u64(addr + d.function))
        self.filename = k.cname(m.read_u64(addr + d.filename))
        self.format = k.cstr(m.read_u64(addr + d.format)) if m.read_u64(addr + d.format) else b""
        self.lineno = m.read_u32(addr + d.lineno) & 0x3FFFF

    @property
    def flags(self) -> int:
        return self.k.m.read_u8(self.addr + self.k.S["_ddebug"].flags)

    @flags.setter
    def flags(self, value: int) -> None:
        was = self.flags
        self.k.m.write_u8(self.addr + self.k.S["_ddebug"].flags, value)
        if (was ^ value) & PRINT:  # the site's static branch follows its p flag
            set_key(self.k, self.addr + self.k.S["_ddebug"].key, 1 if value & PRINT else 0)


def sites(k: KernelApi, modname: str | None = None) -> list[Site]:
    out = []
    for mod in k.kernel.modules:
        if modname is not None and mod.name != modname:
            continue
        rng = mod.section_ranges.get("__dyndbg")
        if rng:
            out += [Site(k, rng[0] + i * DDEBUG) for i in range(rng[1] // DDEBUG)]
    return out


def exec_queries(k: KernelApi, text: str, modname: str | None = None) -> int:
    """ddebug_exec_queries(): queries split at ';' and newlines; the number of sites changed,
    or -EINVAL for a query that does not parse (the others still apply)."""
    total, err = 0, 0
    for query in text.replace("\n", ";").split(";"):
        words = query.split("#", 1)[0].split()
        if not words:
            continue
        got = _exec_query(k, words, modname)
        if got < 0:
            err = got
        else:
            total += got
    return err if err and not total else total


def _exec_query(k: KernelApi, words: list[str], modname: str | None) -> int:
    spec = words[-1]
    if not spec or spec[0] not in "+-=" or any(c not in FLAG_BITS and c != "_" for c in spec[1:]):
        return -EINVAL
    match: dict[str, str] = {}
    pairs = words[:-1]
    if len(pairs) % 2:
        return -EINVAL
    for key, value in zip(pairs[::2], pairs[1::2]):
        if key not in ("func", "file", "module", "format", "line", "class"):
            return -EINVAL
        match[key] = value.strip('"')
    if modname is not None:
        match["module"] = modname
    bits = 0
    for c in spec[1:]:
        bits |= FLAG_BITS.get(c, 0)
    n = 0
    for site in sites(k):
        if not _matches(site, match):
            continue
        old = site.flags
        new = old | bits if spec[0] == "+" else old & ~bits if spec[0] == "-" else bits
        if new != old:
            site.flags = new
        n += 1
    return n


def _matches(site: Site, match: dict[str, str]) -> bool:
    if "module" in match and not fnmatch.fnmatchcase(site.modname, match["module"]):
        return False
    if "func" in match and not fnmatch.fnmatchcase(site.function, match["func"]):
        return False
    if "file" in match:
        f = match["file"]
        if not (fnmatch.fnmatchcase(site.filename, f) or fnmatch.fnmatchcase(site.filename.rsplit("/", 1)[-1], f)):
            return False
    if "format" in match and match["format"].encode() not in site.format:
        return False
    if "line" in match:
        lo, _, hi = match["line"].partition("-")
        try:
            lo_n = int(lo) if lo else 0
            hi_n = int(hi) if hi else (lo_n if not _ else 1 << 18)
        except ValueError:
            return False
        if not lo_n <= site.lineno <= hi_n:
            return False
    return True


def describe_flags(flags: int) -> str:
    out = "".join(c for c, bit in FLAG_BITS.items() if flags & bit)
    return out or "_"


def control_text(k: KernelApi) -> bytes:
    """ddebug_proc_show(): the header, then each site of the modules (the kernel's own sites,
    thousands on the real machine, are not known here)."""
    lines = [b"# filename:lineno [module]function flags format\n"]
    for site in sites(k):
        fmt = site.format.replace(b"\\", b"\\\\")
        for raw, esc in ((b"\t", b"\\t"), (b"\r", b"\\r"), (b"\n", b"\\n"), (b'"', b'\\"')):
            fmt = fmt.replace(raw, esc)
        head = f"{site.filename}:{site.lineno} [{site.modname}]{site.function} ={describe_flags(site.flags)} \""
        lines.append(head.encode() + fmt + b'"\n')
    return b"".join(lines)


def prefix(k: KernelApi, site: Site) -> bytes:
    """dynamic_emit_prefix(): "[pid] mod:func:line: " as the flags ask."""
    flags, out = site.flags, ""
    if flags & FLAG_BITS["t"]:
        out += f"[{k.kernel.current_pid}] "
    tail = ""
    if flags & FLAG_BITS["m"]:
        tail += f"{site.modname}:"
    if flags & FLAG_BITS["f"]:
        tail += f"{site.function}:"
    if flags & FLAG_BITS["l"]:
        tail += f"{site.lineno}:"
    return (out + tail + (" " if tail else "")).encode()


@kapi("__dynamic_pr_debug")
def __dynamic_pr_debug(k: KernelApi, descriptor: int, fmt: int, args: VarArgs) -> None:
    site = Site(k, descriptor)
    if site.flags & PRINT:
        k.log.printk(b"\x017" + prefix(k, site) + k.format(fmt, args))


@kapi("__dynamic_dev_dbg")
def __dynamic_dev_dbg(k: KernelApi, descriptor: int, dev: int, fmt: int, args: VarArgs) -> None:
    """"(NULL device *): " without a device, else the prefix, "driver device: " and the
    device's SUBSYSTEM/DEVICE dictionary (dev_printk_emit at LOGLEVEL_DEBUG)."""
    site = Site(k, descriptor)
    if not site.flags & PRINT:
        return
    text = k.format(fmt, args)
    if not dev:
        k.log.printk(b"\x017(NULL device *): " + text)
        return
    head = prefix(k, site) + f"{dev_driver_string(k, dev)} {dev_name(k, dev)}: ".encode()
    k.log.printk(b"\x017" + head + text, dev_info=dev_printk_info(k, dev))


@kapi("__dynamic_netdev_dbg", "__dynamic_ibdev_dbg")
def __dynamic_netdev_dbg(k: KernelApi, descriptor: int, dev: int, fmt: int, args: VarArgs) -> None:
    site = Site(k, descriptor)
    if site.flags & PRINT:
        k.log.printk(b"\x017" + prefix(k, site) + k.format(fmt, args))
