"""Recipes into test cases: a seed module, mutated field by field, with its parameters and
flags (see the package's docstring)."""


from __future__ import annotations

import errno
import struct
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "tests" / "modules" / "prebuilt"
DEBIAN_TREE = Path("/work/cache/image/lib/modules/6.1.0-56-amd64/kernel")
HELLO = FIXTURES / "hello.ko"

ELF_HDR = struct.Struct("<16sHHIQQQIHHHHHH")
SHDR = struct.Struct("<IIQQQQIIQQ")
SYM = struct.Struct("<IBBHQQ")
RELA = struct.Struct("<QQq")
SIG_MAGIC = b"~Module signature appended~\n"
MODULE_SIGNATURE = struct.Struct(">BBBBB3sI")
O_NONBLOCK = 0o4000
O_TRUNC = 0o1000

# e_ident (16 bytes) then: (offset, size) of e_type .. e_shstrndx
EHDR_FIELDS = {
    "ident": (0, 16), "ei_class": (4, 1), "ei_data": (5, 1), "e_type": (16, 2), "e_machine": (18, 2),
    "e_version": (20, 4), "e_entry": (24, 8), "e_phoff": (32, 8), "e_shoff": (40, 8), "e_flags": (48, 4),
    "e_ehsize": (52, 2), "e_phentsize": (54, 2), "e_phnum": (56, 2), "e_shentsize": (58, 2),
    "e_shnum": (60, 2), "e_shstrndx": (62, 2),
}
SHDR_FIELDS = {  # offset, size within Elf64_Shdr
    "sh_name": (0, 4), "sh_type": (4, 4), "sh_flags": (8, 8), "sh_addr": (16, 8), "sh_offset": (24, 8),
    "sh_size": (32, 8), "sh_link": (40, 4), "sh_info": (44, 4), "sh_addralign": (48, 8), "sh_entsize": (56, 8),
}
SYM_FIELDS = {"st_name": (0, 4), "st_info": (4, 1), "st_other": (5, 1), "st_shndx": (6, 2), "st_value": (8, 8),
              "st_size": (16, 8)}
RELA_FIELDS = {"r_offset": (0, 8), "r_type": (8, 4), "r_sym": (12, 4), "r_addend": (16, 8)}
KPARAM_FIELDS = {"name": (0, 8), "mod": (8, 8), "ops": (16, 8), "perm": (24, 2), "level": (26, 1), "flags": (27, 1),
                 "arg": (32, 8)}
INTERESTING_SECTIONS = (
    ".symtab", ".strtab", ".shstrtab", ".modinfo", "__versions", ".gnu.linkonce.this_module", "__param",
    ".init.text", ".text", ".exit.text", ".data", ".bss", "__ksymtab", "__ksymtab_gpl", "__kcrctab",
    "__ksymtab_strings", "__mcount_loc", ".data..percpu", ".rodata", ".note.Linux", ".rela.text",
    ".rela.init.text", ".rela.gnu.linkonce.this_module", ".rela__param", ".rela__mcount_loc",
    ".data..ro_after_init", "__jump_table", ".init.data", ".exit.data", "__bug_table", ".orc_unwind",
    ".orc_unwind_ip", ".rela.orc_unwind_ip", ".return_sites", ".rela.return_sites", ".ctors", ".init_array",
)
MODINFO_TAGS = (
    "name", "vermagic", "license", "intree", "staging", "livepatch", "retpoline", "test", "import_ns", "version",
    "srcversion", "depends", "parm", "parmtype", "description", "author", "alias", "softdep", "firmware",
)
MODINFO_VALUES = (
    "", "Y", "N", "GPL", "GPL v2", "Proprietary", "Dual BSD/GPL", "hello", "hello/../x", "../../etc", "a b",
    "x" * 55, "x" * 56, "y" * 200, "\x01\x02\x1b[31m", "\xff\xfe", "6.1.0-56-amd64 SMP preempt mod_unload modversions ",
    "6.1.0-56-amd64 SMP preempt mod_unload ", "5.10.0 SMP mod_unload modversions ", "CRYPTO_INTERNAL", "USB_STORAGE",
    "hello,nosuch", "nosuch", "count:int", "who:charp", "count:", ":", "=",
)
PARAM_VALUES = (
    "0", "1", "-1", "3", "42", "255", "256", "65536", "2147483647", "2147483648", "-2147483649", "4294967295",
    "4294967296", "18446744073709551615", "18446744073709551616", "0x10", "010", "1e3", "+5", "- 1",
    "y", "n", "Y", "N", "true", "off", "on", "abc", "", "\"\"", "\"a b\"", "1,2", "1,2,3,4,5", "1,,2", ",", "x" * 64,
    "x" * 5000, "%s%s%n", "\\", "=", "\"", "'", "\t", "é", "\udcff\udcfe",
)
ERRNO_NAMES = set(errno.errorcode)


# -- the recipe --------------------------------------------------------------------------------


class Source:
    """Reads a recipe: small integers out of a byte string, zeros once it is used up."""

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.pos = 0

    def take(self, n: int) -> int:
        chunk = self.data[self.pos : self.pos + n]
        self.pos += n
        return int.from_bytes(chunk, "little") if chunk else 0

    def below(self, n: int) -> int:
        if n <= 1:
            return 0
        width = 1 if n <= 0x100 else 2 if n <= 0x10000 else 4 if n <= 1 << 32 else 8
        return self.take(width) % n

    def chance(self, num: int, den: int) -> bool:
        """True num times in den; False once the recipe is used up."""
        return den - 1 - self.below(den) < num

    def pick(self, seq):
        return seq[self.below(len(seq))]

    @property
    def exhausted(self) -> bool:
        return self.pos >= len(self.data)


# -- seeds -----------------------------------------------------------------------------------


@dataclass
class Section:
    index: int
    name: str
    type: int
    flags: int
    offset: int
    size: int
    link: int
    info: int
    entsize: int
    hdr: int  # file offset of the header


@dataclass
class Seed:
    """A real module and where its structures are in the file."""

    name: str
    body: bytes  # without the appended signature
    sig: bytes  # the signature trailer (PKCS#7, struct module_signature, marker) or b""
    sections: list[Section] = field(default_factory=list)
    by_name: dict[str, Section] = field(default_factory=dict)
    symtab: Section | None = None
    relas: list[Section] = field(default_factory=list)
    params: list[str] = field(default_factory=list)
    modinfo: list[bytes] = field(default_factory=list)
    name_off: int | None = None  # file offset of struct module's name

    @property
    def nsyms(self) -> int:
        return self.symtab.size // SYM.size if self.symtab else 0


def split_sig(data: bytes) -> tuple[bytes, bytes]:
    if not data.endswith(SIG_MAGIC) or len(data) < len(SIG_MAGIC) + MODULE_SIGNATURE.size:
        return data, b""
    end = len(data) - len(SIG_MAGIC)
    sig_len = MODULE_SIGNATURE.unpack_from(data, end - MODULE_SIGNATURE.size)[6]
    start = end - MODULE_SIGNATURE.size - sig_len
    if start <= 0:
        return data, b""
    return data[:start], data[start:]


def parse_seed(name: str, data: bytes, name_field: int = 24) -> Seed | None:
    body, sig = split_sig(data)
    if len(body) < ELF_HDR.size or body[:4] != b"\x7fELF":
        return None
    e_shoff, e_shnum, e_shstrndx = ELF_HDR.unpack_from(body)[6], ELF_HDR.unpack_from(body)[12], ELF_HDR.unpack_from(body)[13]
    seed = Seed(name, body, sig)
    raw = [SHDR.unpack_from(body, e_shoff + i * SHDR.size) for i in range(e_shnum)]
    shstr = raw[e_shstrndx]
    strtab = body[shstr[4] : shstr[4] + shstr[5]]
    for i, h in enumerate(raw):
        end = strtab.find(b"\0", h[0])
        sname = strtab[h[0] : end].decode("latin-1")
        sec = Section(i, sname, h[1], h[2], h[4], h[5], h[6], h[7], h[9], e_shoff + i * SHDR.size)
        seed.sections.append(sec)
        seed.by_name.setdefault(sname, sec)
        if h[1] == 2 and seed.symtab is None:
            seed.symtab = sec
        if h[1] == 4:
            seed.relas.append(sec)
    mi = seed.by_name.get(".modinfo")
    if mi:
        seed.modinfo = [s for s in body[mi.offset : mi.offset + mi.size].split(b"\0") if s]
        for s in seed.modinfo:
            if s.startswith(b"parmtype="):
                seed.params.append(s[9:].split(b":", 1)[0].decode("latin-1"))
    this = seed.by_name.get(".gnu.linkonce.this_module")
    if this and this.size >= name_field + 56:
        seed.name_off = this.offset + name_field
    return seed


def debian_sample(limit: int = 48, max_size: int = 96 << 10) -> list[Path]:
    """A fixed spread of Debian's small modules (every k-th by path), or [] without the tree."""
    if limit <= 0 or not DEBIAN_TREE.is_dir():
        return []
    files = sorted(p for p in DEBIAN_TREE.rglob("*.ko") if p.stat().st_size <= max_size)
    if not files:
        return []
    step = max(1, len(files) // limit)
    return files[::step][:limit]


def load_seeds(debian: int = 48, name_field: int = 24) -> list[Seed]:
    paths = sorted(FIXTURES.glob("*.ko")) + debian_sample(debian)
    seeds = []
    for p in paths:
        s = parse_seed(p.name, p.read_bytes(), name_field)
        if s is not None:
            seeds.append(s)
    return seeds


# -- mutations -------------------------------------------------------------------------------


def put(buf: bytearray, off: int, size: int, value: int) -> None:
    if 0 <= off and off + size <= len(buf):
        buf[off : off + size] = (value & ((1 << (8 * size)) - 1)).to_bytes(size, "little")


def fits(buf: bytes, off: int, size: int) -> bool:
    return 0 <= off and off + size <= len(buf)


def get(buf: bytes, off: int, size: int) -> int:
    return int.from_bytes(buf[off : off + size], "little") if 0 <= off and off + size <= len(buf) else 0


def interesting(src: Source, old: int, size: int, seed: Seed, extra: tuple[int, ...] = ()) -> int:
    """A new value for a field of `size` bytes that held `old`."""
    bits = 8 * size
    top = (1 << bits) - 1
    n = len(seed.body)
    shnum = len(seed.sections)
    k = src.below(16)
    if k == 0:
        return 0
    if k == 1:
        return top
    if k == 2:
        return old + src.below(64) + 1
    if k == 3:
        return old - src.below(64) - 1
    if k == 4:
        return old ^ (1 << src.below(bits))
    if k == 5:
        return src.pick((1, 2, 4, 7, 8, 16, 55, 56, 57, 63, 64, 4095, 4096, 0x7F, 0x80, 0xFF, 0x7FFF, 0x8000))
    if k == 6:
        return src.pick((n, n - 1, n + 1, n // 2, n - 64, n + 4096))
    if k == 7:
        return src.pick((shnum, shnum - 1, shnum + 1, 0xFF00, 0xFF20, 0xFFF1, 0xFFF2, 0xFFFF))
    if k == 8:
        return src.pick((0x7FFFFFFF, 0x80000000, 0xFFFFFFFF, 1 << 32, (1 << 63) - 1, 1 << 63, (1 << 64) - 1,
                         (1 << 63) + 0x1000, 0x3F000000, 0x40000000, 0x10000000))
    if k == 9:
        return src.below(n + 1)
    if k == 10:
        return src.take(size)
    if k == 11 and extra:
        return src.pick(extra)
    if k == 12:
        return old * 2
    if k == 13:
        return -old
    if k == 14:
        return old + src.pick((4096, 1 << 20, 1 << 30, 1 << 32))
    return old + (src.below(7) - 3)


def pick_section(src: Source, seed: Seed) -> Section:
    if src.chance(2, 3):
        named = [seed.by_name[n] for n in INTERESTING_SECTIONS if n in seed.by_name]
        if named:
            return src.pick(named)
    return src.pick(seed.sections)


def mut_flip(buf: bytearray, seed: Seed, src: Source) -> None:
    if not buf:
        return
    where = src.below(4)
    if where == 0:
        lo, hi = 0, min(64, len(buf))
    elif where == 1:
        e_shoff = get(buf, 40, 8)
        lo, hi = e_shoff, min(len(buf), e_shoff + SHDR.size * len(seed.sections))
    elif where == 2:
        sec = pick_section(src, seed)
        lo, hi = sec.offset, min(len(buf), sec.offset + sec.size)
    else:
        lo, hi = 0, len(buf)
    if hi <= lo:
        lo, hi = 0, len(buf)
    for _ in range(1 + src.below(8)):
        i = lo + src.below(hi - lo)
        k = src.below(4)
        if k == 0:
            buf[i] ^= 1 << src.below(8)
        elif k == 1:
            buf[i] = src.pick((0, 0xFF, 0x7F, 0x80, 0x20, ord("/"), ord("."), 0x0A))
        elif k == 2:
            buf[i] = src.take(1)
        else:
            buf[i] = (buf[i] + 1) & 0xFF


def mut_ehdr(buf: bytearray, seed: Seed, src: Source) -> None:
    name = src.pick(tuple(EHDR_FIELDS))
    off, size = EHDR_FIELDS[name]
    if name == "ident":
        put(buf, off + src.below(16), 1, src.take(1))
        return
    put(buf, off, size, interesting(src, get(buf, off, size), size, seed, (0, 1, 2, 3, 62, 64, 40, 256)))


def mut_shdr(buf: bytearray, seed: Seed, src: Source) -> None:
    sec = pick_section(src, seed)
    name = src.pick(tuple(SHDR_FIELDS))
    off, size = SHDR_FIELDS[name]
    others = tuple(get(buf, s.hdr + off, size) for s in seed.sections[:32])
    extra = {
        "sh_type": (0, 1, 2, 3, 4, 7, 8, 9, 11, 0x6FFFFFF6, 0x70000001),
        "sh_flags": (0, 2, 3, 6, 7, 0x100002, 0x200002, 0x40, 0x802, 1 << 63),
    }.get(name, others)
    put(buf, sec.hdr + off, size, interesting(src, get(buf, sec.hdr + off, size), size, seed, extra))


def mut_shdr_copy(buf: bytearray, seed: Seed, src: Source) -> None:
    """One section header over another, or two exchanged."""
    a, b = pick_section(src, seed), pick_section(src, seed)
    ha, hb = bytes(buf[a.hdr : a.hdr + SHDR.size]), bytes(buf[b.hdr : b.hdr + SHDR.size])
    if len(ha) == len(hb) == SHDR.size:
        buf[b.hdr : b.hdr + SHDR.size] = ha
        if src.chance(1, 2):
            buf[a.hdr : a.hdr + SHDR.size] = hb


def pick_symbol(src: Source, seed: Seed) -> int | None:
    if not seed.symtab or not seed.nsyms:
        return None
    return seed.symtab.offset + src.below(seed.nsyms) * SYM.size


def mut_sym(buf: bytearray, seed: Seed, src: Source) -> None:
    for _ in range(1 + src.below(3)):
        at = pick_symbol(src, seed)
        if at is None:
            return
        name = src.pick(tuple(SYM_FIELDS))
        off, size = SYM_FIELDS[name]
        extra = {"st_shndx": (0, 1, 0xFF00, 0xFF20, 0xFFF1, 0xFFF2, 0xFFFF, len(seed.sections)),
                 "st_info": (0x00, 0x10, 0x12, 0x20, 0x22, 0x11, 0x1A, 0xFF)}.get(name, ())
        put(buf, at + off, size, interesting(src, get(buf, at + off, size), size, seed, extra))


def mut_rela(buf: bytearray, seed: Seed, src: Source) -> None:
    if not seed.relas:
        return
    rel = src.pick(seed.relas)
    n = rel.size // RELA.size
    if not n:
        return
    for _ in range(1 + src.below(3)):
        at = rel.offset + src.below(n) * RELA.size
        name = src.pick(tuple(RELA_FIELDS))
        off, size = RELA_FIELDS[name]
        extra = {"r_type": tuple(range(0, 43)), "r_sym": (0, 1, seed.nsyms - 1, seed.nsyms, seed.nsyms + 1)}.get(name, ())
        put(buf, at + off, size, interesting(src, get(buf, at + off, size), size, seed, extra))


def modinfo_string(src: Source, seed: Seed) -> bytes:
    if seed.modinfo and src.chance(1, 3):
        s = bytearray(src.pick(seed.modinfo))
        if s:
            for _ in range(1 + src.below(3)):
                s[src.below(len(s))] = src.pick((0, ord("="), ord("/"), ord(" "), 0xFF, ord("x"), src.take(1)))
        return bytes(s)
    tag = src.pick(MODINFO_TAGS)
    if tag in ("parm", "parmtype") and seed.params and src.chance(1, 2):
        val = src.pick(seed.params) + src.pick((":int", ":charp", ":", ":bogus", ""))
    else:
        val = src.pick(MODINFO_VALUES)
    return (tag + "=" + val).encode("utf-8", "surrogateescape")


def rebuild_modinfo(src: Source, seed: Seed) -> bytes:
    strings = list(seed.modinfo)
    for _ in range(1 + src.below(4)):
        k = src.below(4)
        if k == 0 and strings:
            del strings[src.below(len(strings))]
        elif k == 1 and strings:
            strings[src.below(len(strings))] = modinfo_string(src, seed)
        else:
            strings.insert(src.below(len(strings) + 1), modinfo_string(src, seed))
    out = b"\0".join(strings) + b"\0"
    if src.chance(1, 8):
        out = out.rstrip(b"\0")  # no terminating NUL
    return out


def replace_section(buf: bytearray, sec: Section, content: bytes, src: Source) -> bytearray:
    """New content for a section: in place when it fits, else appended and re-pointed."""
    if len(content) <= sec.size and fits(buf, sec.offset, sec.size) and src.chance(1, 2):
        buf[sec.offset : sec.offset + sec.size] = content + bytes(sec.size - len(content))
        return buf
    align = 8
    off = (len(buf) + align - 1) // align * align
    buf += bytes(off - len(buf)) + content
    put(buf, sec.hdr + 24, 8, off)
    put(buf, sec.hdr + 32, 8, len(content))
    return buf


def mut_modinfo(buf: bytearray, seed: Seed, src: Source) -> bytearray:
    sec = seed.by_name.get(".modinfo")
    if sec is None:
        return buf
    return replace_section(buf, sec, rebuild_modinfo(src, seed), src)


def mut_versions(buf: bytearray, seed: Seed, src: Source) -> bytearray:
    sec = seed.by_name.get("__versions")
    if sec is None or sec.size < 64 or not fits(buf, sec.offset, sec.size):
        return buf
    n = sec.size // 64
    k = src.below(5)
    if k == 0:  # a CRC
        at = sec.offset + src.below(n) * 64
        put(buf, at, 8, interesting(src, get(buf, at, 8), 8, seed))
    elif k == 1:  # a name, maybe without its NUL
        at = sec.offset + src.below(n) * 64 + 8
        name = src.pick((b"module_layout", b"x" * 56, b"_printk", b"", b"\xff" * 8, b"__fentry__"))
        buf[at : at + 56] = name[:56] + bytes(56 - len(name[:56]))
    elif k == 2:  # duplicate an entry over another
        a, b = src.below(n), src.below(n)
        buf[sec.offset + b * 64 : sec.offset + b * 64 + 64] = buf[sec.offset + a * 64 : sec.offset + a * 64 + 64]
    elif k == 3:  # a size that is not a multiple of the entry
        put(buf, sec.hdr + 32, 8, sec.size - 1 - src.below(63))
    else:
        raw = bytearray(buf[sec.offset : sec.offset + sec.size])
        i = src.below(n) * 64
        del raw[i : i + 64]
        buf = replace_section(buf, sec, bytes(raw), src)
    return buf


def mut_param(buf: bytearray, seed: Seed, src: Source) -> None:
    """struct kernel_param fields in __param, or the relocations that fill its pointers."""
    sec = seed.by_name.get("__param")
    if sec is None or sec.size < 40:
        return
    n = sec.size // 40
    if src.chance(1, 2):
        name = src.pick(("perm", "level", "flags"))
        off, size = KPARAM_FIELDS[name]
        at = sec.offset + src.below(n) * 40 + off
        put(buf, at, size, interesting(src, get(buf, at, size), size, seed, (0, 0o644, 0o444, 0o200, 0o777, 0xFFFF, 1, 2, 3)))
        return
    rel = seed.by_name.get(".rela__param")
    if rel is None or rel.size < RELA.size:
        return
    at = rel.offset + src.below(rel.size // RELA.size) * RELA.size
    name = src.pick(("r_offset", "r_sym", "r_addend", "r_type"))
    off, size = RELA_FIELDS[name]
    put(buf, at + off, size, interesting(src, get(buf, at + off, size), size, seed,
                                        (0, 8, 16, 24, 32, 40, 1, seed.nsyms - 1, seed.nsyms)))


def mut_name(buf: bytearray, seed: Seed, src: Source) -> None:
    """struct module's name field (56 bytes in .gnu.linkonce.this_module)."""
    if seed.name_off is None or not fits(buf, seed.name_off, 56):
        return
    name = src.pick((b"", b"hello", b"a/b", b"..", b".", b"../x", b"a b", b"x" * 55, b"y" * 56, b"\x01\x7f",
                     b"\xff\xfe", b"-", b"hello\n", b"params", b"a" * 20))
    if src.chance(1, 3):
        buf[seed.name_off : seed.name_off + 56] = name[:56] + bytes(56 - len(name[:56]))
    else:
        buf[seed.name_off + src.below(56)] = src.pick((0, ord("/"), ord(" "), 0xFF, 0x01, ord("."), ord("x")))


def mut_truncate(buf: bytearray, seed: Seed, src: Source) -> bytearray:
    k = src.below(4)
    if k == 0:
        return buf[: src.below(len(buf) + 1)]
    if k == 1:
        return buf[: src.below(128)]
    if k == 2:
        return buf[: max(0, len(buf) - 1 - src.below(256))]
    return buf + bytes(src.take(1)) * src.below(300)


def mut_sig(buf: bytearray, seed: Seed, src: Source) -> bytearray:
    k = src.below(5)
    if k == 0 and seed.sig:
        return buf + seed.sig
    if k == 1:
        return buf + SIG_MAGIC
    if k == 2 and seed.sig:
        sig = bytearray(seed.sig)
        sig[src.below(len(sig))] ^= 1 << src.below(8)
        return buf + sig
    body = bytes(src.take(1)) * src.below(64)
    trailer = MODULE_SIGNATURE.pack(src.below(3), src.below(3), src.pick((0, 1, 2, 3)), src.below(2), src.below(2),
                                    b"\0\0\0", src.pick((0, len(body), len(body) + 1, 0xFFFFFFFF, len(buf) + len(body))))
    return buf + body + trailer + SIG_MAGIC


def mut_move(buf: bytearray, seed: Seed, src: Source) -> bytearray:
    """A section's content moved to the end of the file, grown, shrunk or changed on the way."""
    sec = pick_section(src, seed)
    content = bytearray(buf[sec.offset : sec.offset + sec.size])
    k = src.below(3)
    if k == 0 and content:
        del content[src.below(len(content)) :]
    elif k == 1:
        content += bytes(src.take(1)) * src.below(200)
    elif content:
        for _ in range(1 + src.below(4)):
            content[src.below(len(content))] = src.take(1)
    sec2 = Section(**{**sec.__dict__, "size": sec.size})
    return replace_section(buf, sec2, bytes(content), Source(b"\x01"))


MUTATORS = (
    mut_flip, mut_ehdr, mut_shdr, mut_shdr, mut_shdr, mut_shdr_copy, mut_sym, mut_sym, mut_rela, mut_rela,
    mut_modinfo, mut_modinfo, mut_versions, mut_param, mut_name, mut_truncate, mut_sig, mut_move,
)


def make_args(src: Source, seed: Seed) -> str:
    parts = []
    for _ in range(src.below(4)):
        k = src.below(8)
        name = src.pick(seed.params) if seed.params and k < 5 else src.pick(
            ("nosuch", "--", "dyndbg", "async_probe", "a-b", "", "x" * 300, "hello.count", "=x", "\"q"))
        form = src.below(6)
        val = src.pick(PARAM_VALUES)
        if form == 0:
            parts.append(name)
        elif form == 1:
            parts.append(f'{name}="{val}"')
        elif form == 2:
            parts.append(f'"{name}={val}"')
        else:
            parts.append(f"{name}={val}")
    sep = src.pick((" ", " ", "  ", "\t", "\n"))
    args = sep.join(parts)
    if src.chance(1, 16):
        args = " " + args + src.pick(("", " --", " -- rest", "\0tail", "\""))
    return args


@dataclass
class Case:
    seed: str
    data: bytes
    args: str
    flags: int
    entry: str  # finit or init
    ops: list[str]


def build_case(recipe: bytes, seeds: list[Seed], seed_name: str | None = None) -> Case:
    """The input a recipe describes (pure: the same recipe and seeds give the same input).
    seed_name overrides the seed the recipe picks (the fixtures may have changed since)."""
    src = Source(recipe)
    seed = seeds[src.below(len(seeds))]
    if seed_name is not None:
        seed = next(s for s in seeds if s.name == seed_name)
    buf = bytearray(seed.body)
    ops = []
    nmut = src.pick((0, 1, 1, 1, 2, 2, 3, 4)) if len(recipe) > 4 else 0
    for _ in range(nmut):
        mut = src.pick(MUTATORS)
        ops.append(mut.__name__[4:])
        out = mut(buf, seed, src)
        if out is not None:
            buf = out
    if seed.sig and src.chance(1, 8):
        buf += seed.sig
        ops.append("resigned")
    args = make_args(src, seed) if src.chance(1, 2) else ""
    flags = 0
    if src.chance(1, 10):
        flags = src.pick((1, 2, 3, 4, 5, 8, 0x80000000, 7))
    entry = "init" if src.chance(1, 12) else "finit"
    return Case(seed.name, bytes(buf), args, flags, entry, ops)


# -- running ---------------------------------------------------------------------------------

# LoadError reasons for which the real kernel prints nothing itself (kernel/module/*.c):
# signature failures other than the three non-fatal ones, a name already loaded, init's own
# error, the syscall's argument checks, module_alloc() failing, and try_to_force_load() after
# the kernel is already F-tainted (it prints once).
SILENT_REASONS = {
    "flags", "empty file", "in-kernel decompression", "shorter than an ELF header", "signature", "already loaded",
    "init", "module_alloc", "module_layout", "bad vermagic: forced load not supported", "strndup_user",
    "unsigned module", "module with unsupported crypto", "module with unavailable key",
}


# LoadError reasons that mean module code ran (init or a parameter op) and went wrong
CODE_REASONS = {"init", "budget", "oops", "panic", "halted", "error", "parameter op faulted"}

