"""Tests for building a profile: image extraction, __ksymtab, kallsyms, certificates, BTF and
build_profile.

Facts about the real Debian 6.1.0-56-amd64 kernel come from its linux-image .deb when it is in
the download cache (scripts/regen-default-profile puts it there; PSEUDOKERNEL_DEBS overrides the
directory), otherwise from the profile shipped in pseudokernel/profile/data, so the same
assertions hold for the code and for the data committed to git.
"""

from __future__ import annotations

import gzip
import io
import json
import lzma
import struct
import sys
import tarfile
import zlib
from dataclasses import dataclass
from pathlib import Path

import debs
import pytest
from elftools.elf.elffile import ELFFile
from realref import ROOT

from pseudokernel.profile import build
from pseudokernel.profile.btf import Btf
from pseudokernel.profile.image import (
    ImageError,
    KernelImage,
    extract_vmlinux,
    kallsyms_sizes,
    split_der,
    vmlinuz_from_deb,
)

REPO = ROOT
RELEASE = "6.1.0-56-amd64"
DATA = REPO / "pseudokernel/profile/data" / RELEASE
HEADERS = Path("/usr/src") / f"linux-headers-{RELEASE}"
DEB_CACHE = debs.DEB_CACHE
HELLO_KO = REPO / "tests/modules/prebuilt/hello.ko"


@pytest.fixture(scope="module")
def image() -> KernelImage:
    return debs.image(RELEASE)


@dataclass
class Facts:
    """What a test needs to know about the kernel, from the image or from the shipped data."""

    kallsyms: list[tuple[int, str, str]]
    exports: dict[str, tuple[int, str]]  # name -> (address, kind)
    certificates: list[bytes]
    btf: bytes
    percpu_size: int
    banner: str


@pytest.fixture(scope="module")
def facts() -> Facts:
    kernel = debs.cached_image(RELEASE)
    if kernel is not None:
        return Facts(kernel.kallsyms,
                     {e.name: (e.addr, build.symbol_kind(e.addr, kernel)) for e in kernel.exports},
                     kernel.certificates, kernel.btf, kernel.percpu_size, kernel.banner)
    if not (DATA / "kallsyms.gz").is_file():
        pytest.skip(f"neither the linux-image .deb (in {DEB_CACHE}) nor {DATA} is available")
    kallsyms = [(int(line[:16], 16), line[17], line[19:]) for line in
                gzip.decompress((DATA / "kallsyms.gz").read_bytes()).decode().splitlines()]
    exports = {}
    for line in gzip.decompress((DATA / "exports.tsv.gz").read_bytes()).decode().splitlines():
        name, addr, kind = line.split("\t")
        exports[name] = (int(addr, 16), kind)
    certs = [p.read_bytes() for p in sorted((DATA / "certs").glob("*.der"))]
    sections = json.loads((DATA / "sections.json").read_text())
    profile = json.loads((DATA / "profile.json").read_text())
    return Facts(kallsyms, exports, certs, lzma.decompress((DATA / "btf.xz").read_bytes()),
                 sections["percpu_size"], profile["banner"])


@pytest.fixture(scope="module")
def btf(facts: Facts) -> Btf:
    return Btf(facts.btf)


# --- image extraction (synthetic images: no download needed) -----------------------------------

FAKE_ELF = b"\x7fELF" + bytes(range(256)) * 4


def fake_bzimage(payload: bytes, setup_sects: int = 3) -> bytes:
    """The parts of an x86 boot header that extract_vmlinux reads, then the payload."""
    setup = bytearray((setup_sects + 1) * 512)
    setup[0x1F1] = setup_sects
    setup[0x202:0x206] = b"HdrS"
    struct.pack_into("<H", setup, 0x206, 0x20F)
    payload_offset = 0x2CC
    struct.pack_into("<II", setup, 0x248, payload_offset, len(payload))
    return bytes(setup) + bytes(payload_offset) + payload + struct.pack("<I", len(FAKE_ELF))


@pytest.mark.parametrize("compress", [
    lambda data: lzma.compress(data, format=lzma.FORMAT_XZ),
    lambda data: gzip.compress(data, mtime=0),
], ids=["xz", "gzip"])
def test_extract_vmlinux_from_bzimage(compress) -> None:
    assert extract_vmlinux(fake_bzimage(compress(FAKE_ELF))) == FAKE_ELF


def test_extract_vmlinux_without_boot_header() -> None:
    blob = b"\x90" * 1000 + lzma.compress(FAKE_ELF, format=lzma.FORMAT_XZ) + b"\0" * 4
    assert extract_vmlinux(blob) == FAKE_ELF


def test_extract_vmlinux_rejects_garbage() -> None:
    with pytest.raises(ImageError, match="no compressed vmlinux"):
        extract_vmlinux(b"\0" * 4096)


def test_zstd_payload_needs_a_decompressor(monkeypatch) -> None:
    monkeypatch.setitem(sys.modules, "zstandard", None)  # as on a machine without it
    frame = bytes.fromhex("28b52ffd") + b"\0" * 32
    with pytest.raises(ImageError, match="zstandard"):
        extract_vmlinux(fake_bzimage(frame))


def make_deb(files: dict[str, bytes]) -> bytes:
    """A minimal .deb: an ar archive with debian-binary and a data.tar.xz of `files`."""
    tar_bytes = io.BytesIO()
    with tarfile.open(fileobj=tar_bytes, mode="w:xz") as tar:
        for name, content in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(content)
            tar.addfile(info, io.BytesIO(content))
    archive = b"!<arch>\n"
    for name, body in (("debian-binary", b"2.0\n"), ("data.tar.xz", tar_bytes.getvalue())):
        archive += f"{name:<16}{0:<12}{0:<6}{0:<6}{'100644':<8}{len(body):<10}`\n".encode()
        archive += body + (b"\n" if len(body) & 1 else b"")
    return archive


def test_vmlinuz_from_deb() -> None:
    deb = make_deb({"./boot/config-x": b"CONFIG_X=y\n", "./boot/vmlinuz-x": b"KERNEL"})
    assert vmlinuz_from_deb(deb) == b"KERNEL"
    with pytest.raises(ImageError, match="vmlinuz"):
        vmlinuz_from_deb(make_deb({"./boot/config-x": b""}))


def test_split_der() -> None:
    short = bytes([0x30, 3, 1, 2, 3])
    long = bytes([0x30, 0x82, 0x01, 0x00]) + bytes(256)
    assert split_der(short + long) == [short, long]
    with pytest.raises(ImageError):
        split_der(short + b"\xff")


def test_kallsyms_sizes_skip_aliases() -> None:
    assert kallsyms_sizes([0x10, 0x20, 0x20, 0x38], 0x40) == [0x10, 0x18, 0x18, 0x8]


# --- the real image ------------------------------------------------------------------------------


def test_image_is_the_vmlinux_elf(image: KernelImage) -> None:
    names = [s.name for s in image.sections]
    for name in (".text", ".rodata", ".data", ".bss", ".data..percpu", ".BTF", "__ksymtab"):
        assert name in names
    assert image.section(".text").addr == 0xFFFFFFFF81000000
    assert image.section(".data..percpu").addr == 0


def test_kallsyms_tables_follow_scripts_kallsyms_order(image: KernelImage) -> None:
    t = image.kallsyms_tables
    assert t.offsets < t.relative_base < t.num_syms < t.names < t.markers
    assert t.seqs_of_names is not None and t.markers < t.seqs_of_names < t.token_table
    assert t.token_table < t.token_index
    assert image.read(t.relative_base, 8) == struct.pack("<Q", 0xFFFFFFFF81000000)


def test_ksymtab_agrees_with_module_symvers(image: KernelImage) -> None:
    symvers = (HEADERS / "Module.symvers") if HEADERS.is_dir() else None
    if symvers is None:
        pytest.skip(f"{HEADERS} not installed")
    expected = {}
    for line in symvers.read_text().splitlines():
        _, name, owner, kind, *namespace = line.split("\t")
        if owner == "vmlinux":
            expected[name] = (kind == "EXPORT_SYMBOL_GPL", namespace[0] if namespace else "")
    assert {e.name: (e.gpl, e.namespace) for e in image.exports} == expected


def test_shipped_data_is_what_the_code_builds(image: KernelImage) -> None:
    if not (DATA / "kallsyms.gz").is_file():
        pytest.skip(f"{DATA} not generated")
    assert gzip.decompress((DATA / "kallsyms.gz").read_bytes()).decode() == \
        build.kallsyms_text(image)
    assert gzip.decompress((DATA / "exports.tsv.gz").read_bytes()).decode() == \
        build.exports_tsv(image)
    assert lzma.decompress((DATA / "btf.xz").read_bytes()) == image.btf
    assert [p.read_bytes() for p in sorted((DATA / "certs").glob("*.der"))] == image.certificates


# --- facts, from the image or the shipped profile -------------------------------------------


def test_kallsyms_count_and_order(facts: Facts) -> None:
    assert len(facts.kallsyms) > 90_000  # 94,266 in 6.1.0-56-amd64
    addresses = [addr for addr, _, _ in facts.kallsyms]
    assert addresses == sorted(addresses)
    assert facts.kallsyms[0] == (0, "A", "fixed_percpu_data")


def test_exports_have_their_kallsyms_address(facts: Facts) -> None:
    by_name: dict[str, set[int]] = {}
    for addr, _, name in facts.kallsyms:
        by_name.setdefault(name, set()).add(addr)
    assert len(facts.exports) == 10_503
    assert all(addr in by_name.get(name, ()) for name, (addr, _) in facts.exports.items())
    assert facts.exports["_printk"] == (0xFFFFFFFF81A07E3D, "text")


def test_percpu_symbols_are_small_absolute_addresses(facts: Facts) -> None:
    addr, kind = facts.exports["current_task"]
    assert kind == "percpu" and 0 < addr < facts.percpu_size
    types = {name: t for _, t, name in facts.kallsyms}
    assert types["current_task"] == "A"
    assert facts.exports["jiffies"][1] == "data"
    assert facts.exports["init_task"][1] == "data"


def test_do_one_initcall_as_the_real_kernel_reports_it(facts: Facts) -> None:
    names = [name for _, _, name in facts.kallsyms]
    addresses = [addr for addr, _, _ in facts.kallsyms]
    i = names.index("do_one_initcall")
    assert facts.kallsyms[i][1] in "Tt"
    # A booted 6.1.0-56-amd64 prints init's caller as do_one_initcall+0x59/0x220.
    assert kallsyms_sizes(addresses, addresses[-1])[i] == 0x220


def test_certificates(facts: Facts) -> None:
    assert len(facts.certificates) == 1
    der = facts.certificates[0]
    assert der[:2] == b"\x30\x82" and len(der) == 4 + int.from_bytes(der[2:4], "big")
    try:
        from cryptography import x509
    except ImportError:
        assert b"Build time autogenerated kernel key" in der
        return
    cert = x509.load_der_x509_certificate(der)
    # Debian 12 signs its modules with a per-build key; this is its certificate.
    assert cert.subject.rfc4514_string() == "CN=Build time autogenerated kernel key"


def test_banner(facts: Facts) -> None:
    assert facts.banner.startswith(f"Linux version {RELEASE} (debian-kernel@lists.debian.org) ")
    assert facts.banner.endswith("\n")


# --- BTF ---------------------------------------------------------------------------------------


def test_btf_parses(facts: Facts) -> None:
    parsed = Btf(facts.btf)
    assert parsed.type_count > 100_000


def test_struct_module(btf: Btf) -> None:
    module = btf.struct("struct module")
    assert module is not None
    for member in ("name", "init", "exit", "state"):
        assert member in module.members
    assert module.members["state"].offset == 0
    assert module.members["name"].type.kind == "array"
    assert module.members["init"].type.spelling == "int (*)(void)"
    with HELLO_KO.open("rb") as f:
        this_module = ELFFile(f).get_section_by_name(".gnu.linkonce.this_module")
        assert btf.sizeof("struct module") == module.size == this_module["sh_size"]


def test_struct_members_through_anonymous_unions(btf: Btf) -> None:
    task = btf.struct("task_struct")
    assert task is not None
    assert task.members["comm"].type.count == 16
    assert task.members["pid"].type.kind == "int" and task.members["pid"].type.size == 4
    page = btf.struct("page")  # lru and mapping sit in anonymous unions/structs
    assert page.members["lru"].offset == 8 and page.members["mapping"].offset == 24
    device = btf.struct("device")
    assert device.members["init_name"].type.spelling == "const char *"
    bitfield = task.members["sched_reset_on_fork"]
    assert bitfield.bit_size == 1


def test_func_protos(btf: Btf) -> None:
    kmalloc = btf.func_proto("kmalloc_trace")
    assert kmalloc.ret.kind == "pointer"
    assert [p.name for p in kmalloc.params] == ["s", "gfpflags", "size"]
    assert kmalloc.params[0].type.pointee_struct == "kmem_cache"
    assert kmalloc.params[2].type.spelling == "size_t" and kmalloc.params[2].type.size == 8
    printk = btf.func_proto("_printk")
    assert (printk.ret.kind, printk.ret.size, printk.ret.signed) == ("int", 4, True)
    assert printk.variadic and printk.params[0].type.spelling == "const char *"
    assert btf.func_proto("mutex_lock").ret.kind == "void"
    assert btf.func_proto("no_such_function") is None


def test_sizeof_and_enums(btf: Btf) -> None:
    assert btf.sizeof("unsigned long") == 8
    assert btf.sizeof("gfp_t") == 4
    assert btf.sizeof("char *") == 8
    assert btf.sizeof("struct list_head") == 16
    assert btf.sizeof("struct no_such_struct") is None
    assert btf.enum("module_state") == {"MODULE_STATE_LIVE": 0, "MODULE_STATE_COMING": 1,
                                        "MODULE_STATE_GOING": 2, "MODULE_STATE_UNFORMED": 3}


# --- build_profile ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def headers() -> Path:
    if not (HEADERS / "Module.symvers").is_file():
        pytest.skip(f"{HEADERS} not installed")
    return HEADERS


def test_build_profile_from_headers(headers: Path, tmp_path: Path) -> None:
    build.build_profile(headers, tmp_path)
    profile = json.loads((tmp_path / "profile.json").read_text())
    assert profile["format"] == 1
    assert profile["release"] == RELEASE  # not include/config/kernel.release's "6.1.192"
    assert profile["vermagic"] == "6.1.0-56-amd64 SMP preempt mod_unload modversions "
    assert profile["uts_version"].startswith("#1 SMP PREEMPT_DYNAMIC Debian 6.1.")
    assert profile["compiler"].startswith("gcc-12 (Debian 12.2.0-14+deb12u1) 12.2.0")
    assert profile["source"] == {"headers": str(headers), "image": None}
    symvers = (tmp_path / "Module.symvers.gz").read_bytes()
    assert symvers[4:8] == b"\0\0\0\0"  # gzip mtime
    assert gzip.decompress(symvers) == (headers / "Module.symvers").read_bytes()
    assert gzip.decompress((tmp_path / "config.gz").read_bytes()) == \
        (headers / ".config").read_bytes()
    assert not (tmp_path / "kallsyms.gz").exists()
    if (DATA / "profile.json").is_file():  # the composed banner is the image's
        assert profile["banner"] == json.loads((DATA / "profile.json").read_text())["banner"]


def test_vermagic_follows_vermagic_h(tmp_path: Path) -> None:
    config = {"CONFIG_X86_64": "y", "CONFIG_PREEMPT_RT": "y"}
    assert build.vermagic("6.1.0", config, tmp_path) == "6.1.0 preempt_rt "
    seed = tmp_path / "scripts/basic/randstruct.seed"
    seed.parent.mkdir(parents=True)
    seed.write_text("abc\n")
    config = {"CONFIG_X86_64": "y", "CONFIG_SMP": "y", "CONFIG_RANDSTRUCT": "y"}
    assert build.vermagic("6.1.0", config, tmp_path) == (
        "6.1.0 SMP RANDSTRUCT_ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
    with pytest.raises(ValueError, match="x86_64"):
        build.vermagic("6.1.0", {}, tmp_path)


def test_gzip_is_reproducible() -> None:
    assert build.gzip_bytes(b"x" * 1000) == build.gzip_bytes(b"x" * 1000)
    assert zlib.decompress(build.gzip_bytes(b"abc"), wbits=31) == b"abc"
