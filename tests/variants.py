"""Broken and bent copies of hello.ko, one per loader check, made by patching bytes.

Each variant breaks exactly one thing the kernel checks (an ELF header field, a section header,
a __versions CRC, a relocation, a .modinfo string ...). The same files are loaded into the real
kernel under QEMU (tests/expected/real/variants.sh via scripts/record-reference) and into
pseudokernel (tests/kmod/test_real_tools.py), so every check's message and errno is compared.

This file parses ELF with struct on its own, independent of pseudokernel's loader.
Run as a script: `python3 tests/variants.py OUTDIR [HELLO.ko]` writes the files, made from
tests/modules/prebuilt/hello.ko or the given one (another kernel's build of it).
"""

from __future__ import annotations

import struct
import sys
from pathlib import Path

HELLO = Path(__file__).parent / "modules" / "prebuilt" / "hello.ko"
SHDR = struct.Struct("<IIQQQQIIQQ")
SHF_WRITE, SHF_ALLOC, SHF_EXECINSTR = 1, 2, 4


class Elf:
    def __init__(self, data: bytes) -> None:
        self.b = bytearray(data)
        self.shoff = struct.unpack_from("<Q", self.b, 0x28)[0]
        self.shnum, self.shstrndx = struct.unpack_from("<HH", self.b, 0x3C)

    def shdr_off(self, i: int) -> int:
        return self.shoff + 64 * i

    def shdr(self, i: int) -> list[int]:
        return list(SHDR.unpack_from(self.b, self.shdr_off(i)))

    def set_shdr(self, i: int, **fields: int) -> None:
        names = ("name", "type", "flags", "addr", "offset", "size", "link", "info", "addralign", "entsize")
        h = self.shdr(i)
        for k, v in fields.items():
            h[names.index(k)] = v
        SHDR.pack_into(self.b, self.shdr_off(i), *h)

    def name(self, i: int) -> str:
        strtab = self.shdr(self.shstrndx)
        off = strtab[4] + self.shdr(i)[0]
        return self.b[off : self.b.index(0, off)].decode()

    def index(self, name: str) -> int:
        return next(i for i in range(self.shnum) if self.name(i) == name)

    def section(self, name: str) -> tuple[int, int]:
        h = self.shdr(self.index(name))
        return h[4], h[5]

    def replace_in(self, section: str, old: bytes, new: bytes) -> None:
        """Overwrite `old` (first occurrence inside the section) with `new`, zero padded."""
        off, size = self.section(section)
        at = self.b.index(old, off, off + size)
        assert len(new) <= len(old)
        self.b[at : at + len(old)] = new + bytes(len(old) - len(new))

    def versions_crc(self, symbol: str) -> int:
        off, size = self.section("__versions")
        for e in range(off, off + size, 64):
            if self.b[e + 8 : e + 8 + len(symbol) + 1] == symbol.encode() + b"\0":
                return e
        raise KeyError(symbol)

    def data(self) -> bytes:
        return bytes(self.b)


UNTRUSTED = Path(__file__).parent / "keys" / "untrusted.pem"
MODULE_SIG_STRING = b"~Module signature appended~\n"


def sign(data: bytes, pem: Path = UNTRUSTED) -> bytes:
    """What scripts/sign-file appends: a detached PKCS#7 (no certificates, no signed
    attributes, SHA-256), struct module_signature (id_type PKEY_ID_PKCS7 = 2) and the marker."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.serialization import pkcs7

    text = pem.read_bytes()
    key = serialization.load_pem_private_key(text, password=None)
    cert = x509.load_pem_x509_certificate(text[text.index(b"-----BEGIN CERTIFICATE") :])
    der = (
        pkcs7.PKCS7SignatureBuilder()
        .set_data(data)
        .add_signer(cert, key, hashes.SHA256())
        .sign(serialization.Encoding.DER, [pkcs7.PKCS7Options.DetachedSignature, pkcs7.PKCS7Options.NoAttributes,
                                            pkcs7.PKCS7Options.NoCerts, pkcs7.PKCS7Options.Binary])
    )
    return data + der + struct.pack(">BBBBB3sI", 0, 0, 2, 0, 0, b"\0\0\0", len(der)) + MODULE_SIG_STRING


def variants(hello: Path = HELLO) -> dict[str, bytes]:
    """name -> file contents, made from that build of hello.ko (each kernel's own)."""
    base = hello.read_bytes()
    out: dict[str, bytes] = {}

    def v(name: str, fn) -> None:
        e = Elf(base)
        fn(e)
        out[name] = e.data()

    out["v_hdrlen"] = base[:32]
    v("v_type", lambda e: struct.pack_into("<H", e.b, 0x10, 2))
    v("v_arch", lambda e: struct.pack_into("<H", e.b, 0x12, 3))
    v("v_shentsize", lambda e: struct.pack_into("<H", e.b, 0x3A, 40))
    v("v_shstrndx", lambda e: struct.pack_into("<H", e.b, 0x3E, e.shnum))
    v("v_strhdr", lambda e: e.set_shdr(e.shstrndx, offset=len(e.b)))
    v("v_strempty", lambda e: e.set_shdr(e.shstrndx, size=0))
    v("v_strnul", lambda e: e.b.__setitem__(e.shdr(e.shstrndx)[4] + e.shdr(e.shstrndx)[5] - 1, 0x41))
    v("v_sec0", lambda e: e.set_shdr(0, type=1))
    v("v_symlink", lambda e: e.set_shdr(e.index(".symtab"), link=0))
    v("v_secoff", lambda e: e.set_shdr(e.index(".rodata"), size=1 << 40))
    v("v_secname", lambda e: e.set_shdr(e.index(".rodata"), name=0x10000))
    v("v_nosymtab", lambda e: e.set_shdr(e.index(".symtab"), type=1))
    v("v_nothismod", lambda e: e.replace_in(".shstrtab", b".gnu.linkonce.this_module", b".gnu.linkonce.this_modulX"))
    v("v_wx", lambda e: e.set_shdr(e.index(".data"), flags=SHF_WRITE | SHF_ALLOC | SHF_EXECINSTR))
    v("v_layoutcrc", lambda e: struct.pack_into("<Q", e.b, e.versions_crc("module_layout"), 0x12345678))
    v("v_printkcrc", lambda e: struct.pack_into("<Q", e.b, e.versions_crc("_printk"), 0x12345678))
    v("v_relatype", lambda e: e.b.__setitem__(e.section(".rela.init.text")[0] + 8, 99))
    # a byte of the place the first .init.text relocation patches (the __fentry__ call's
    # operand: offset 1 in a 6.1 build, 0x15 after 6.12's 16-byte padding and endbr64)
    v("v_relaset", lambda e: e.b.__setitem__(
        e.section(".init.text")[0] + struct.unpack_from("<Q", e.b, e.section(".rela.init.text")[0])[0], 0x55))
    v("v_novermagic", lambda e: e.replace_in(".modinfo", b"vermagic=", b""))
    v("v_noretpoline", lambda e: e.replace_in(".modinfo", b"retpoline=Y", b""))
    v("v_intree", lambda e: e.replace_in(".modinfo", b"author=pseudokernel fixtures", b"intree=Y"))
    v("v_testmod", lambda e: e.replace_in(".modinfo", b"author=pseudokernel fixtures", b"test=Y"))
    v("v_livepatch", lambda e: e.replace_in(".modinfo", b"author=pseudokernel fixtures", b"livepatch=Y"))
    v("v_noname", lambda e: e.replace_in(".modinfo", b"name=hello", b""))

    def ctors(e: Elf) -> None:
        # two sections the kernel looks up by name: rename .comment to .ctors and .debug_info to
        # .init_array (same lengths or shorter, zero padded) and make both allocated
        e.replace_in(".shstrtab", b".comment", b".ctors")
        e.replace_in(".shstrtab", b".debug_info\0", b".init_array\0")
        for name in (".ctors", ".init_array"):
            i = e.index(name)
            e.set_shdr(i, flags=e.shdr(i)[2] | SHF_ALLOC)

    v("v_ctors", ctors)
    out["v_signed"] = sign(base)  # by a key the kernel does not have
    corrupt = bytearray(out["v_signed"])
    corrupt[-len(MODULE_SIG_STRING) - 12 - 20] ^= 0xFF  # a byte of the signature itself
    out["v_badsig"] = bytes(corrupt)
    return out


def compressed(hello: Path = HELLO) -> dict[str, bytes]:
    """hello.ko as kmod finds compressed modules: file name -> contents (deterministic)."""
    import gzip
    import lzma

    import zstandard

    base = hello.read_bytes()
    return {
        "v_xz.ko.xz": lzma.compress(base, check=lzma.CHECK_CRC32),
        "v_zst.ko.zst": zstandard.ZstdCompressor(level=19).compress(base),
        "v_gz.ko.gz": gzip.compress(base, mtime=0),
    }


def files(hello: Path = HELLO) -> dict[str, bytes]:
    """Every generated file, by file name."""
    out = {f"{name}.ko": data for name, data in variants(hello).items()}
    out.update(compressed(hello))
    return out


def main() -> None:
    outdir = Path(sys.argv[1])
    hello = Path(sys.argv[2]) if len(sys.argv) > 2 else HELLO
    outdir.mkdir(parents=True, exist_ok=True)
    for name, data in files(hello).items():
        (outdir / name).write_bytes(data)


if __name__ == "__main__":
    main()
