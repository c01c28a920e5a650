"""Read a kernel image: the facts about the emulated kernel that only its vmlinux holds.

Why: Module.symvers names the exports and their CRCs, but not where they live; the image has
the real address of every symbol (kallsyms), the exports (`__ksymtab*`), the section layout,
`.data..percpu`'s size, the built-in certificates, `linux_banner` and the BTF types. With them
`%pS` prints `do_one_initcall+0x59/0x220` and a module's relocations point where the real ones do.

Input is what a distribution ships: a bzImage `vmlinuz` (its payload after the real-mode setup is a
compressed vmlinux ELF), a Debian `linux-image-*.deb` holding one, or a plain vmlinux ELF.
Distribution vmlinux images have no ELF symbol table, so kallsyms is found by the structure
scripts/kallsyms.c gives it (see find_kallsyms).
"""

from __future__ import annotations

import bz2
import io
import itertools
import lzma
import re
import struct
import tarfile
import zlib
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

from elftools.elf.elffile import ELFFile

ELF_MAGIC = b"\x7fELF"
SHF_WRITE = 0x1
SHF_ALLOC = 0x2
SHF_EXECINSTR = 0x4
KERNEL_HALF = 0xFFFF800000000000


class ImageError(ValueError):
    """The file is not a kernel image this reader understands (the message says why)."""


# --- from a file to vmlinux bytes -------------------------------------------------------------


def read_vmlinux(path: Path) -> bytes:
    """The vmlinux ELF held by `path`: a .deb, a bzImage, a bare compressed stream, or an ELF."""
    data = Path(path).read_bytes()
    if data.startswith(b"!<arch>\n"):
        data = vmlinuz_from_deb(data)
    if data.startswith(ELF_MAGIC):
        return data
    return extract_vmlinux(data)


def _ar_members(archive: bytes) -> dict[str, bytes]:
    """The members of an ar(1) archive (the container of a .deb)."""
    members: dict[str, bytes] = {}
    pos = 8
    while pos + 60 <= len(archive):
        header = archive[pos:pos + 60]
        name = header[:16].decode("ascii").strip().rstrip("/")
        size = int(header[48:58].decode("ascii").strip())
        members[name] = archive[pos + 60:pos + 60 + size]
        pos += 60 + size + (size & 1)
    return members


def vmlinuz_from_deb(deb: bytes) -> bytes:
    """The `./boot/vmlinuz-*` file of a linux-image .deb, read without dpkg."""
    members = _ar_members(deb)
    names = [name for name in members if name.startswith("data.tar")]
    if not names:
        raise ImageError("not a Debian package: no data.tar member")
    payload = members[names[0]]
    if names[0].endswith(".zst"):
        payload = _zstd_decompress(payload)
    with tarfile.open(fileobj=io.BytesIO(payload), mode="r:*") as tar:
        for member in tar:  # ./boot comes first in Debian's packages, so this stops early
            base = member.name.removeprefix("./")
            if member.isfile() and re.fullmatch(r"boot/vmlinuz-.+", base):
                handle = tar.extractfile(member)
                assert handle is not None
                return handle.read()
    raise ImageError("the package holds no ./boot/vmlinuz-*")


def _zstd_decompress(data: bytes) -> bytes:
    try:
        from compression import zstd  # type: ignore[import-not-found]  # Python 3.14+

        return zstd.ZstdDecompressor().decompress(data)
    except ImportError:
        pass
    try:
        import zstandard  # type: ignore[import-not-found]
    except ImportError:
        raise ImageError("zstd-compressed data needs the 'zstandard' module "
                         "(pip install zstandard), which is not installed") from None
    return zstandard.ZstdDecompressor().decompressobj().decompress(data)


def _gzip_decompress(data: bytes) -> bytes:
    return zlib.decompressobj(wbits=31).decompress(data)  # stops at the stream's end


def _xz_decompress(data: bytes) -> bytes:
    return lzma.LZMADecompressor(format=lzma.FORMAT_XZ).decompress(data)


def _lzma_decompress(data: bytes) -> bytes:
    return lzma.LZMADecompressor(format=lzma.FORMAT_ALONE).decompress(data)


def _bzip2_decompress(data: bytes) -> bytes:
    return bz2.BZ2Decompressor().decompress(data)


def _unsupported(name: str):
    def fail(data: bytes) -> bytes:
        raise ImageError(f"{name}-compressed kernels are not supported (no decompressor in Python)")
    return fail


# Magic numbers from Documentation/x86/boot.rst (payload_offset).
_DECOMPRESSORS = [
    (b"\xfd7zXZ\x00", "xz", _xz_decompress),
    (b"\x1f\x8b\x08", "gzip", _gzip_decompress),
    (b"\x28\xb5\x2f\xfd", "zstd", _zstd_decompress),
    (b"BZh", "bzip2", _bzip2_decompress),
    (b"\x5d\x00\x00", "lzma", _lzma_decompress),
    (b"\x02\x21\x4c\x18", "lz4", _unsupported("lz4")),
    (b"\x89\x4c\x5a\x4f", "lzo", _unsupported("lzo")),
]


def extract_vmlinux(image: bytes) -> bytes:
    """Decompress the vmlinux ELF from a bzImage (or from a bare compressed stream).

    The x86 boot header (protocol 2.08+) says where the payload is: payload_offset (0x248) from
    the start of the protected-mode code, which follows (setup_sects + 1) * 512 bytes of setup.
    Without that header the first known compression magic is tried, as extract-vmlinux does.
    """
    candidates: list[int] = []
    if image[0x202:0x206] == b"HdrS" and struct.unpack_from("<H", image, 0x206)[0] >= 0x208:
        setup_sects = image[0x1F1] or 4
        (payload_offset,) = struct.unpack_from("<I", image, 0x248)
        start = (setup_sects + 1) * 512 + payload_offset
        candidates.append(start)
    for magic, _, _ in _DECOMPRESSORS:
        found = image.find(magic)
        if found >= 0:
            candidates.append(found)
    errors: list[str] = []
    for start in candidates:
        for magic, name, decompress in _DECOMPRESSORS:
            if image.startswith(magic, start):
                try:
                    vmlinux = decompress(image[start:])
                except (lzma.LZMAError, zlib.error, OSError, EOFError) as err:
                    errors.append(f"{name} at {start:#x}: {err}")
                    continue
                if vmlinux.startswith(ELF_MAGIC):
                    return vmlinux
                errors.append(f"{name} at {start:#x} did not hold an ELF file")
    raise ImageError("no compressed vmlinux found in the image" +
                     (f" ({'; '.join(errors)})" if errors else ""))


# --- the ELF and what it holds ------------------------------------------------------------


@dataclass(frozen=True)
class Section:
    name: str
    addr: int
    size: int
    flags: int  # sh_flags
    nobits: bool
    offset: int  # in the ELF file


@dataclass(frozen=True)
class Export:
    """One entry of __ksymtab or __ksymtab_gpl."""

    name: str
    addr: int
    gpl: bool
    namespace: str


@dataclass(frozen=True)
class KallsymsTables:
    """Where scripts/kallsyms.c's tables sit in .rodata (addresses) and how many symbols."""

    offsets: int
    relative_base: int
    num_syms: int
    names: int
    markers: int
    seqs_of_names: int | None
    token_table: int
    token_index: int


class KernelImage:
    """A vmlinux ELF: sections, memory reads by address, and the kernel data decoded from them."""

    def __init__(self, vmlinux: bytes) -> None:
        if not vmlinux.startswith(ELF_MAGIC):
            raise ImageError("not an ELF file")
        self.data = vmlinux
        elf = ELFFile(io.BytesIO(vmlinux))
        if elf.get_machine_arch() != "x64":
            raise ImageError(f"not an x86_64 kernel ({elf.get_machine_arch()})")
        self.sections = [
            Section(s.name, s["sh_addr"], s["sh_size"], s["sh_flags"],
                    s["sh_type"] == "SHT_NOBITS", s["sh_offset"])
            for s in elf.iter_sections() if s["sh_flags"] & SHF_ALLOC
        ]

    @classmethod
    def open(cls, path: Path) -> KernelImage:
        """Read a .deb, vmlinuz or vmlinux file."""
        return cls(read_vmlinux(path))

    def section(self, name: str) -> Section | None:
        return next((s for s in self.sections if s.name == name), None)

    def section_bytes(self, name: str) -> bytes:
        section = self.section(name)
        if section is None or section.nobits:
            raise ImageError(f"the image has no {name} section")
        return self.data[section.offset:section.offset + section.size]

    @property
    def percpu_size(self) -> int:
        """Size of .data..percpu: with KALLSYMS_ABSOLUTE_PERCPU, per-CPU symbols are the
        addresses 0..percpu_size."""
        section = self.section(".data..percpu")
        return section.size if section else 0

    def read(self, addr: int, size: int) -> bytes:
        """Bytes at a kernel virtual address (initialised sections only; .data..percpu is
        addressed from 0)."""
        for s in self.sections:
            if not s.nobits and s.addr <= addr and addr + size <= s.addr + s.size:
                start = s.offset + addr - s.addr
                return self.data[start:start + size]
        raise ImageError(f"address {addr:#x} (+{size}) is not in an initialised section")

    def read_cstring(self, addr: int, limit: int = 4096) -> bytes:
        for s in self.sections:
            if not s.nobits and s.addr <= addr < s.addr + s.size:
                start = s.offset + addr - s.addr
                end = self.data.find(b"\0", start, min(start + limit, s.offset + s.size))
                if end < 0:
                    raise ImageError(f"no string end at {addr:#x}")
                return self.data[start:end]
        raise ImageError(f"address {addr:#x} is not in an initialised section")

    # --- exports ---------------------------------------------------------------------------

    @cached_property
    def exports(self) -> list[Export]:
        """__ksymtab and __ksymtab_gpl. With HAVE_ARCH_PREL32_RELOCATIONS (x86_64) each entry
        is `struct kernel_symbol { int value_offset, name_offset, namespace_offset; }`, each
        relative to its own field (offset_to_ptr); names live in __ksymtab_strings. A symbol
        outside a namespace points to an empty string, or has namespace_offset 0
        (kernel_symbol_namespace)."""
        strings_section = self.section("__ksymtab_strings")
        if strings_section is None:
            raise ImageError("the image has no __ksymtab_strings")
        strings = self.section_bytes("__ksymtab_strings")
        result: list[Export] = []
        for name, gpl in (("__ksymtab", False), ("__ksymtab_gpl", True)):
            section = self.section(name)
            if section is None:
                continue
            raw = self.section_bytes(name)
            for i, (value, name_off, ns_off) in enumerate(struct.iter_unpack("<iii", raw)):
                entry = section.addr + 12 * i
                addr = (entry + value) & 0xFFFFFFFFFFFFFFFF
                name_at = entry + 4 + name_off - strings_section.addr
                sym = strings[name_at:strings.index(b"\0", name_at)].decode()
                namespace = ""
                if ns_off:  # 0 from asm-generic/export.h (exports in .S files): no namespace
                    ns_at = entry + 8 + ns_off - strings_section.addr
                    namespace = strings[ns_at:strings.index(b"\0", ns_at)].decode()
                result.append(Export(sym, addr, gpl, namespace))
        return result

    # --- kallsyms -----------------------------------------------------------------------------

    @cached_property
    def kallsyms_tables(self) -> KallsymsTables:
        rodata = self.section(".rodata")
        if rodata is None:
            raise ImageError("the image has no .rodata")
        return find_kallsyms(self.section_bytes(".rodata"), rodata.addr)

    @cached_property
    def kallsyms(self) -> list[tuple[int, str, str]]:
        """Every vmlinux symbol as /proc/kallsyms lists it: (address, type letter, name), in
        the table's (address) order."""
        rodata = self.section(".rodata")
        assert rodata is not None
        return decode_kallsyms(self.section_bytes(".rodata"), rodata.addr, self.kallsyms_tables)

    @cached_property
    def symbol_addresses(self) -> dict[str, int]:
        """Name to address; for a name used twice (static symbols), the first in address order."""
        result: dict[str, int] = {}
        for addr, _, name in self.kallsyms:
            result.setdefault(name, addr)
        return result

    # --- other data -------------------------------------------------------------------------

    @cached_property
    def certificates(self) -> list[bytes]:
        """The DER X.509 certificates of certs/system_certificates.S: `system_certificate_list`
        holds `system_certificate_list_size` bytes of concatenated DER objects."""
        symbols = self.symbol_addresses
        start = symbols.get("system_certificate_list")
        size_at = symbols.get("system_certificate_list_size")
        if start is not None and size_at is not None:
            (size,) = struct.unpack("<Q", self.read(size_at, 8))
            return split_der(self.read(start, size))
        return self._scan_certificates()

    def _scan_certificates(self) -> list[bytes]:
        """Without kallsyms: find a run of DER certificates in .init.data that is followed
        (8-aligned) by a quad equal to the run's length, as system_certificates.S lays out."""
        if self.section(".init.data") is None:
            return []
        data = self.section_bytes(".init.data")
        for match in re.finditer(rb"\x30\x82..\x30\x82", data, re.DOTALL):
            start = match.start()
            if start % 8:
                continue
            certs = split_der(data[start:], strict=False)
            end = start + sum(len(c) for c in certs)
            quad_at = (end + 7) & ~7
            if certs and data[quad_at:quad_at + 8] == struct.pack("<Q", end - start):
                return certs
        return []

    @cached_property
    def banner(self) -> str:
        """linux_banner: "Linux version <release> (<by>@<host>) (<compiler>) <version>\\n"."""
        addr = self.symbol_addresses.get("linux_banner")
        if addr is not None:
            return self.read_cstring(addr).decode()
        rodata = self.section_bytes(".rodata")
        match = re.search(rb"Linux version [^\0%]*\n\0", rodata)
        if match is None:
            raise ImageError("no linux_banner in the image")
        return match.group()[:-1].decode()

    @cached_property
    def btf(self) -> bytes:
        """The raw .BTF section (vmlinux's types)."""
        return self.section_bytes(".BTF")


def split_der(blob: bytes, strict: bool = True) -> list[bytes]:
    """Split concatenated DER objects (certificates: SEQUENCE, 0x30, with a long-form length)."""
    result: list[bytes] = []
    pos = 0
    while pos < len(blob):
        if blob[pos] != 0x30 or pos + 2 > len(blob):
            break
        first = blob[pos + 1]
        if first < 0x80:
            header, length = 2, first
        else:
            count = first & 0x7F
            if not 1 <= count <= 4 or pos + 2 + count > len(blob):
                break
            header, length = 2 + count, int.from_bytes(blob[pos + 2:pos + 2 + count], "big")
        if pos + header + length > len(blob):
            break
        result.append(blob[pos:pos + header + length])
        pos += header + length
    if strict and pos != len(blob):
        raise ImageError(f"certificate list: {len(blob) - pos} bytes after the last DER object")
    return result


# --- kallsyms: finding and decoding scripts/kallsyms.c's tables -----------------------------------


def _align8(value: int) -> int:
    return (value + 7) & ~7


def find_kallsyms(rodata: bytes, base: int) -> KallsymsTables:
    """Locate the kallsyms tables in .rodata by their structure (scripts/kallsyms.c write_src).

    Each label is `.balign 8`. Two orders exist:
      up to 6.3 (6.1):  kallsyms_offsets (s32 x N), kallsyms_relative_base (u64),
        kallsyms_num_syms (u32), kallsyms_names (N entries: ULEB128 length + token bytes),
        kallsyms_markers (u32 per 256), kallsyms_seqs_of_names (3 bytes x N; since 6.2, also in
        later 6.1.y), kallsyms_token_table (256 NUL-terminated strings), kallsyms_token_index
        (u16 x 256);
      since 6.4 (6.12; "scripts/kallsyms: change the output order", so that the tables the
        final link can change come last): kallsyms_num_syms, kallsyms_names, kallsyms_markers,
        kallsyms_token_table, kallsyms_token_index, kallsyms_offsets, kallsyms_relative_base,
        kallsyms_seqs_of_names.
    1. kallsyms_token_index is 256 strictly increasing u16 starting at 0, and each entry points
       just past a NUL of the string table right before it; nothing else in .rodata looks so.
    2. Walking back from the token table, the old order has kallsyms_relative_base (an 8-aligned
       kernel address) followed by num_syms and 4 bytes of padding; the new one has num_syms
       and padding followed by the names, with the markers right before the token table and
       the offsets right after the token index. A candidate is accepted only if decoding
       num_syms names from it ends where the markers start and the markers agree with the
       names (and, for the new order, a kernel-address relative_base follows the offsets).
    """
    token_index = _find_token_index(rodata)
    if token_index is None:
        raise ImageError("kallsyms_token_index not found in .rodata")
    index = struct.unpack_from("<256H", rodata, token_index)
    token_table = _token_table_start(rodata, token_index, index)
    if token_table is None:
        raise ImageError("kallsyms_token_table not found before kallsyms_token_index")
    found = _find_kallsyms_old_order(rodata, token_table) or \
        _find_kallsyms_new_order(rodata, token_table, token_index)
    if found is None:
        raise ImageError("kallsyms_num_syms/kallsyms_names not found (is the kernel built with "
                         "CONFIG_KALLSYMS_BASE_RELATIVE?)")
    offsets, relative_base, num_syms, names, markers, seqs = found
    return KallsymsTables(
        offsets=base + offsets, relative_base=base + relative_base, num_syms=base + num_syms,
        names=base + names, markers=base + markers,
        seqs_of_names=base + seqs if seqs is not None else None,
        token_table=base + token_table, token_index=base + token_index)


_Found = tuple[int, int, int, int, int, int | None]  # offsets, relative_base, num_syms, names,
#                                                      markers, seqs_of_names (in .rodata)


def _find_kallsyms_old_order(rodata: bytes, token_table: int) -> _Found | None:
    for q in range((token_table - 16) & ~7, 7, -8):
        relative_base, num, pad = struct.unpack_from("<QII", rodata, q)
        if relative_base < KERNEL_HALF or pad or not 0 < num < 1 << 24 or 4 * num > q:
            continue
        tables = _check_kallsyms(rodata, q + 16, num, token_table)
        if tables is not None:
            return q - _align8(4 * num), q, q + 8, q + 16, tables[0], tables[1]
    return None


def _find_kallsyms_new_order(rodata: bytes, token_table: int, token_index: int
                             ) -> _Found | None:
    offsets = token_index + 2 * 256  # token_index is 8-aligned, so is its end
    for q in range((token_table - 16) & ~7, -1, -8):
        num, pad = struct.unpack_from("<II", rodata, q)
        if pad or not 0 < num < 1 << 24:
            continue
        count = (num + 255) >> 8
        markers = (token_table - 4 * count) & ~7
        if markers <= q or rodata[markers:markers + 4] != bytes(4):
            continue
        relative_base = _align8(offsets + 4 * num)
        seqs = relative_base + 8
        if seqs + 3 * num > len(rodata) or \
                struct.unpack_from("<Q", rodata, relative_base)[0] < KERNEL_HALF:
            continue
        tables = _check_kallsyms(rodata, q + 8, num, token_table, seqs_between=False)
        if tables is not None:
            return offsets, relative_base, q, q + 8, tables[0], seqs
    return None


def _find_token_index(rodata: bytes) -> int | None:
    # From the end: kallsyms is linked last, so its .rodata comes late in the section.
    for pos in range((len(rodata) - 512) & ~7, -1, -8):
        if rodata[pos] or rodata[pos + 1] or rodata[pos + 3] or rodata[pos + 2] < 2:
            continue
        index = struct.unpack_from("<256H", rodata, pos)
        if all(a < b for a, b in itertools.pairwise(index)) and \
                _token_table_start(rodata, pos, index) is not None:
            return pos
    return None


def _token_table_start(rodata: bytes, token_index: int, index: tuple[int, ...]) -> int | None:
    """The 8-aligned start T of the token table such that the last token ends (NUL included)
    in the 8 bytes before token_index and every token_index[i] follows a NUL."""
    lowest = max(0, token_index - index[255] - 2 - 512)
    start = (token_index - index[255] - 2) & ~7
    while start >= lowest:
        end = rodata.find(b"\0", start + index[255])
        if end >= 0 and _align8(end + 1) == token_index and \
                all(rodata[start + i - 1] == 0 for i in index[1:]):
            return start
        start -= 8
    return None


def _check_kallsyms(rodata: bytes, names: int, num: int, token_table: int,
                    seqs_between: bool = True) -> tuple[int, int | None] | None:
    """(markers, seqs_of_names) offsets if the `num` names from `names` are followed by
    markers that agree with them, then (with `seqs_between`, the old order: maybe) by
    kallsyms_seqs_of_names, then by the token table at `token_table`."""
    pos = names
    starts: list[int] = []
    for i in range(num):
        if pos >= token_table:
            return None
        if i & 0xFF == 0:
            starts.append(pos - names)
        length, pos = _name_length(rodata, pos)
        if not length:
            return None
        pos += length
    markers = _align8(pos)
    count = (num + 255) >> 8
    if markers + 4 * count > token_table:
        return None
    if list(struct.unpack_from(f"<{count}I", rodata, markers)) != starts:
        return None
    after = markers + 4 * count
    if _align8(after) == token_table:
        return markers, None
    seqs = _align8(after)
    if seqs_between and _align8(seqs + 3 * num) == token_table:
        return markers, seqs
    return None


def _name_length(rodata: bytes, pos: int) -> tuple[int, int]:
    """A compressed name's length byte, two bytes when the high bit is set (6.1's
    kallsyms_names with names longer than 127 tokens); returns it and where the name starts."""
    length = rodata[pos]
    if length & 0x80:
        return (length & 0x7F) | (rodata[pos + 1] << 7), pos + 2
    return length, pos + 1


def decode_kallsyms(rodata: bytes, base: int, tables: KallsymsTables
                    ) -> list[tuple[int, str, str]]:
    """Expand every name (kernel/kallsyms.c kallsyms_expand_symbol: each byte is a token; the
    first character is the type letter) and compute each address (kallsyms_sym_address:
    with KALLSYMS_ABSOLUTE_PERCPU a non-negative offset is an absolute value, a negative one is
    relative_base - 1 - offset; without it every offset is unsigned from relative_base)."""
    index = struct.unpack_from("<256H", rodata, tables.token_index - base)
    table = tables.token_table - base
    tokens = [rodata[table + i:rodata.index(b"\0", table + i)].decode("latin-1") for i in index]
    (relative_base,) = struct.unpack_from("<Q", rodata, tables.relative_base - base)
    (num,) = struct.unpack_from("<I", rodata, tables.num_syms - base)
    offsets = struct.unpack_from(f"<{num}i", rodata, tables.offsets - base)
    # Which mode the kernel was built in shows in the data: with ABSOLUTE_PERCPU every
    # ordinary symbol has a negative offset; without it no offset is (the image is < 2 GiB).
    absolute_percpu = any(offset < 0 for offset in offsets)
    symbols: list[tuple[int, str, str]] = []
    pos = tables.names - base
    for offset in offsets:
        length, pos = _name_length(rodata, pos)
        name = "".join([tokens[c] for c in rodata[pos:pos + length]])
        pos += length
        if not absolute_percpu:
            addr = relative_base + (offset & 0xFFFFFFFF)
        elif offset >= 0:
            addr = offset
        else:
            addr = relative_base - 1 - offset
        symbols.append((addr, name[0], name[1:]))
    return symbols


def kallsyms_sizes(addresses: list[int], end: int) -> list[int]:
    """Each symbol's size as kallsyms_lookup_size_offset reports it: the distance to the next
    symbol at a higher address (aliases share it); the last ones extend to `end` (the kernel
    uses _end with KALLSYMS_ALL, _einittext inside init text)."""
    sizes = [0] * len(addresses)
    next_higher = end
    for i in range(len(addresses) - 1, -1, -1):
        if i + 1 < len(addresses) and addresses[i + 1] > addresses[i]:
            next_higher = addresses[i + 1]
        sizes[i] = next_higher - addresses[i]
    return sizes
