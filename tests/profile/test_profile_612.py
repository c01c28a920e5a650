"""The shipped 6.12 profile (Debian 12's 6.12.118+deb12-amd64) and what reads it: the image
reader for 6.12's kallsyms order, KernelProfile.version, the exports and BTF layouts handlers
use, the 6.12 names of the kernel functions, a 6.12 module loaded on it, and a profile for a
Debian release that is not shipped, made from apt's packages on first use.

The facts below come from the shipped data; those about the image are checked against the
linux-image .deb in the download cache (scripts/install --test puts it there).
"""

from __future__ import annotations

import gzip
import lzma
import shutil
import struct
import subprocess
import sys
from pathlib import Path

import debs
import pytest
from realref import ROOT

from pseudokernel.profile import DATA_DIR, KernelProfile, ProfileError
from pseudokernel.profile import build as build_mod
from pseudokernel.profile.image import KernelImage

RELEASE = "6.12.118+deb12-amd64"
DATA = DATA_DIR / RELEASE
HEADERS = Path("/usr/src") / f"linux-headers-{RELEASE}"


@pytest.fixture(scope="module")
def p612() -> KernelProfile:
    return KernelProfile.load(RELEASE, fetch=False)


@pytest.fixture(scope="module")
def image() -> KernelImage:
    return debs.image(RELEASE)


# --- version ----------------------------------------------------------------------------------


def test_version_of_both_shipped_profiles(p612: KernelProfile) -> None:
    assert p612.version == (6, 12)
    assert p612.full_version == (6, 12, 118)
    p61 = KernelProfile.load("6.1.0-56-amd64", fetch=False)
    # Debian's release says 6.1.0; the config header has the real sublevel.
    assert p61.version == (6, 1) and p61.full_version == (6, 1, 192)
    assert p612.version > p61.version >= (6, 1)


def test_version_from_the_release_without_a_config_header(tmp_path: Path) -> None:
    shutil.copytree(DATA, tmp_path / "p", ignore=shutil.ignore_patterns("*.xz", "kallsyms.gz"))
    (tmp_path / "p/config.gz").write_bytes(gzip.compress(b"CONFIG_SMP=y\n"))
    assert KernelProfile(tmp_path / "p").full_version == (6, 12, 118)


# --- kallsyms: 6.12's table order ---------------------------------------------------------------


def test_kallsyms_tables_in_the_order_since_6_4(image: KernelImage) -> None:
    t = image.kallsyms_tables
    assert t.num_syms < t.names < t.markers < t.token_table < t.token_index
    assert t.token_index < t.offsets < t.relative_base < t.seqs_of_names
    assert image.read(t.relative_base, 8) == struct.pack("<Q", 0xFFFFFFFF81000000)
    assert struct.unpack("<I", image.read(t.num_syms, 4))[0] == 163_237


def test_shipped_data_is_what_the_code_builds(image: KernelImage) -> None:
    assert gzip.decompress((DATA / "kallsyms.gz").read_bytes()).decode() == \
        build_mod.kallsyms_text(image)
    assert gzip.decompress((DATA / "exports.tsv.gz").read_bytes()).decode() == \
        build_mod.exports_tsv(image)
    assert lzma.decompress((DATA / "btf.xz").read_bytes()) == image.btf
    assert [p.read_bytes() for p in sorted((DATA / "certs").glob("*.der"))] == image.certificates
    assert image.banner.startswith(f"Linux version {RELEASE} (debian-kernel@lists.debian.org) ")


def test_kallsyms_parsed(p612: KernelProfile) -> None:
    syms = p612.kallsyms
    assert len(syms) == 163_237
    assert [a for a, _, _ in syms] == sorted(a for a, _, _ in syms)
    assert syms[0] == (0, "A", "fixed_percpu_data")
    by_name = p612.kallsyms_by_name
    # CONFIG_FUNCTION_PADDING: each function has its 16-byte __pfx_ symbol right before it.
    assert by_name["__pfx__printk"] == by_name["_printk"] - 16
    name, offset, size = p612.symbol_at(by_name["_printk"] + 5)
    assert (name, offset) == ("_printk", 5) and size > 5


def test_exports(p612: KernelProfile) -> None:
    exports = p612.exports
    assert len(exports) == 11_248
    located = {(name, addr) for addr, _, name in p612.kallsyms}
    assert all((n, s.addr) in located for n, s in exports.items())
    kmalloc = exports["__kmalloc_noprof"]
    assert kmalloc.kind == "text" and not kmalloc.gpl and kmalloc.crc is not None
    assert "__kmalloc" not in exports and "kmalloc_trace" not in exports
    hot = exports["pcpu_hot"]
    assert hot.kind == "percpu" and hot.addr == exports["const_pcpu_hot"].addr
    assert "current_task" not in exports
    assert len(p612.certificates) == 1 and p612.certificates[0][:2] == b"\x30\x82"


def test_structs_from_btf(p612: KernelProfile) -> None:
    S = p612.structs
    # struct net_device was reordered in 6.8: name is no longer first (issue 13's garbled
    # "d\xef\xbf\xbdmmy0" came from writing it at offset 0).
    assert S.net_device.name == 304 and S.net_device.sizeof == 2560
    assert S.kmem_cache_args.ctor == 24
    assert (S.pcpu_hot.current_task, S.pcpu_hot.preempt_count, S.pcpu_hot.cpu_number) == (0, 8, 12)
    # sizeof(struct module): a module built against the 6.12 headers has a 0x500-byte
    # .gnu.linkonce.this_module (6.1's is 0x380)
    assert p612.btf.struct("struct module").size == 0x500
    proto = p612.btf.func_proto("__kmalloc_cache_noprof")
    assert [prm.name for prm in proto.params] == ["s", "gfpflags", "size"]
    assert "owner" not in p612.btf.struct("class").members


# --- the 6.12 names of the kernel functions -----------------------------------------------------


def test_every_noprof_export_of_a_handled_function_is_handled(p612: KernelProfile) -> None:
    from pseudokernel.emu.kapi import FUNCS, _load_handlers

    _load_handlers()
    renamed = {"__kmalloc_cache_noprof": "kmalloc_trace",
               "__kmalloc_cache_node_noprof": "kmalloc_node_trace",
               "__kmalloc_large_noprof": "kmalloc_large",
               "__kmalloc_large_node_noprof": "kmalloc_large_node",
               "__kvmalloc_node_noprof": "kvmalloc_node",
               "get_free_pages_noprof": "__get_free_pages",
               "pcpu_alloc_noprof": "__alloc_percpu",
               "mempool_create_node_noprof": "mempool_create_node"}
    missing = []
    for name in p612.exports:
        if not name.endswith("_noprof"):
            continue
        old = renamed.get(name, name.removesuffix("_noprof"))
        if old in FUNCS and name not in FUNCS:
            missing.append(name)
    assert missing == []
    for name in ("__kmem_cache_create_args", "class_create", "class_register",
                 "__list_add_valid_or_report", "__seq_puts", "__acpi_bus_register_driver"):
        assert name in FUNCS


def test_a_612_kernel_allocates_and_names_a_netdev(p612: KernelProfile) -> None:
    from pseudokernel.emu.kapi.net import alloc_netdev_mqs, register_netdevice
    from pseudokernel.kernel import Kernel

    k = Kernel(p612, seed=3)
    try:
        api = k.api
        dev = alloc_netdev_mqs(api, 16, api.static_string("dummy%d"), 3, 0, 1, 1)
        assert dev
        assert register_netdevice(api, dev) == 0
        assert api.m.read(dev + p612.structs.net_device.name, 7) == b"dummy0\0"
        assert api.m.read_u32(dev + 880) == 16  # priv_len
        assert [r.name for r in api.registry.of_kind("netdev")] == ["dummy0"]
    finally:
        k.close()


# --- a module built for 6.12 loads on the 6.12 profile ------------------------------------------


@pytest.mark.skipif(not HEADERS.is_dir() or shutil.which("make") is None
                    or shutil.which("pahole") is None,
                    reason=f"needs linux-headers-{RELEASE}, make and pahole (dwarves)")
def test_hello_built_for_612_loads(p612: KernelProfile, tmp_path: Path) -> None:
    from pseudokernel.kernel import Kernel
    from pseudokernel.log import format_dmesg

    r = subprocess.run([sys.executable, str(ROOT / "scripts/build-fixtures"), "--headers",
                        str(HEADERS), "--out", str(tmp_path), "hello"],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr
    k = Kernel(p612, seed=5)
    try:
        k.finit_module((tmp_path / "hello.ko").read_bytes(), "count=2 who=6.12")
        text = format_dmesg(k.log.records()).decode()
        assert "hello: hello 6.12 (2 of 2)" in text
        assert [m.name for m in k.modules] == ["hello"]
    finally:
        k.close()


# --- a Debian release that is not shipped ---------------------------------------------------------


def test_unknown_names_are_not_fetched(tmp_path: Path, monkeypatch, capsys) -> None:
    from pseudokernel.profile import debian

    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path))
    called = []
    monkeypatch.setattr(debian, "apt_has", lambda package: called.append(package) or False)
    with pytest.raises(ProfileError):
        KernelProfile.load("no-such-profile")
    assert called == []  # not a release: apt is not asked
    with pytest.raises(ProfileError):
        KernelProfile.load("6.1.0-999-amd64")
    assert called == ["linux-headers-6.1.0-999-amd64"]
    monkeypatch.setenv("PSEUDOKERNEL_NO_FETCH", "1")
    with pytest.raises(ProfileError):
        KernelProfile.load("6.1.0-998-amd64")
    assert len(called) == 1
    assert capsys.readouterr().err == ""


OTHER = "6.12.117+deb12-amd64"


def _apt_has_other() -> bool:
    from pseudokernel.profile.debian import apt_has

    return apt_has(f"linux-headers-{OTHER}") and apt_has(f"linux-image-{OTHER}")


@pytest.mark.skipif(shutil.which("apt-get") is None or shutil.which("dpkg-deb") is None,
                    reason="needs apt-get and dpkg-deb")
def test_a_release_apt_has_is_built_on_first_use(tmp_path: Path, monkeypatch, capsys) -> None:
    """Downloads linux-headers/linux-image 6.12.117 (about 110 MB) into the debs cache once."""
    if not _apt_has_other():
        pytest.skip(f"apt has no linux-headers/linux-image-{OTHER}")
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path))
    monkeypatch.delenv("PSEUDOKERNEL_NO_FETCH", raising=False)
    p = KernelProfile.load(OTHER)
    assert p.path == tmp_path / "pseudokernel/profiles" / OTHER
    assert p.release == OTHER and p.full_version == (6, 12, 117) and p.has_image
    assert p.vermagic == f"{OTHER} SMP preempt mod_unload modversions "
    assert "__kmalloc_noprof" in p.exports and p.structs.net_device.name == 304
    err = capsys.readouterr().err
    assert f"no kernel profile {OTHER} on this machine" in err
    assert f"kernel profile {OTHER} ready in {p.path}" in err
    # The second time it is simply there.
    assert KernelProfile.load(OTHER).path == p.path
    assert capsys.readouterr().err == ""


def test_cli_up_makes_the_profile_before_the_daemon(tmp_path: Path, monkeypatch, capsys) -> None:
    """`pseudokernel up --profile NAME`: the profile is looked up (and made) in the foreground,
    before anything is started; a name that is no profile fails at once."""
    from pseudokernel import cli

    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path))
    monkeypatch.setenv("PSEUDOKERNEL_NO_FETCH", "1")
    monkeypatch.setattr(cli, "request", _no_daemon)
    rc = cli.main(["up", "--mount", str(tmp_path / "mnt"), "--drop", str(tmp_path / "drop"),
                   "--profile", "6.1.0-997-amd64"])
    assert rc == 1
    assert "no kernel profile named '6.1.0-997-amd64'" in capsys.readouterr().err
    assert not (tmp_path / "drop").exists()


def _no_daemon(*args, **kwargs):
    from pseudokernel.client import NoDaemon

    raise NoDaemon("none")


# --- both kallsyms orders, on synthetic tables (no download needed) -----------------------------


def _kallsyms_rodata(symbols: list[tuple[int, str, str]], new_order: bool, base: int,
                     percpu: int = 0x40000) -> bytes:
    """scripts/kallsyms.c's tables for `symbols` (address order), with an identity token table
    (token i is the character i), in 6.1's order or in the order since 6.4."""
    relative_base = min(a for a, _, _ in symbols if a >= percpu)
    offsets = b"".join(struct.pack("<i", a if a < percpu else relative_base - a - 1)
                       for a, _, _ in symbols)
    names, markers = bytearray(), []
    for i, (_, kind, name) in enumerate(symbols):
        if i % 256 == 0:
            markers.append(len(names))
        text = (kind + name).encode()
        names += bytes([len(text)]) + text
    tokens = b"".join((bytes([i]) if i else b"@") + b"\0" for i in range(256))
    index = struct.pack("<256H", *range(0, 512, 2))
    seqs = b"".join(i.to_bytes(3, "big") for i in range(len(symbols)))
    out = bytearray(b"\x11" * 40)  # what .rodata has before: not aligned to anything

    def label(data: bytes) -> None:
        out.extend(bytes(-len(out) % 8))
        out.extend(data)

    num = struct.pack("<I", len(symbols))
    mark = struct.pack(f"<{len(markers)}I", *markers)
    if new_order:
        for data in (num, bytes(names), mark, tokens, index, offsets,
                     struct.pack("<Q", relative_base), seqs):
            label(data)
    else:
        for data in (offsets, struct.pack("<Q", relative_base), num, bytes(names), mark, seqs,
                     tokens, index):
            label(data)
    label(b"\x22" * 24)
    return bytes(out)


@pytest.mark.parametrize("new_order", [False, True], ids=["6.1", "6.12"])
def test_kallsyms_found_in_either_order(new_order: bool) -> None:
    from pseudokernel.profile.image import decode_kallsyms, find_kallsyms

    base = 0xFFFFFFFF82000000
    symbols = [(0, "A", "fixed_percpu_data"), (0x1000, "A", "cpu_debug_store")]
    symbols += [(0xFFFFFFFF81000000 + 16 * i, "Tt"[i % 2], f"function_{i}") for i in range(600)]
    rodata = _kallsyms_rodata(symbols, new_order, base)
    tables = find_kallsyms(rodata, base)
    assert (tables.token_index < tables.offsets) == new_order
    assert tables.seqs_of_names is not None
    assert decode_kallsyms(rodata, base, tables) == symbols


@pytest.mark.parametrize("release", ["6.1.0-56-amd64", RELEASE])
def test_kvfree_call_rcu_on_either_kernel(release: str) -> None:
    """6.1: kvfree_call_rcu(head, offset of head in the object); 6.12: (head, the object)."""
    from pseudokernel.emu.kapi.rcu import kvfree_call_rcu
    from pseudokernel.kernel import Kernel

    k = Kernel(KernelProfile.load(release, fetch=False), seed=3)
    try:
        api = k.api
        obj = api.kmalloc(64, 0xCC0)
        assert obj in api.m.slab.live
        kvfree_call_rcu(api, obj + 16, obj if release == RELEASE else 16)
        assert obj not in api.m.slab.live
    finally:
        k.close()
