"""What stays of pseudokernel.kmod (the drop folder's decompression; the corpus's in-process
depmod and probe lists) against kmod 30: Debian's own 4,023 modules and the real depmod and
modprobe of this host. The tools themselves are the real kmod's (pseudokernel/tools.py)."""

from __future__ import annotations

import errno
import lzma
import random
import shutil
import subprocess
from pathlib import Path

import pytest
from realref import PREBUILT, ROOT

from pseudokernel.kmod import FEATURES_WITH_ZLIB, KmodError
from pseudokernel.kmod.compress import detect_compression, kmod_file_open, path_ends_with_kmod_ext
from pseudokernel.kmod.config import ModprobeConfig, freadline_wrapped
from pseudokernel.kmod.depmod import Depmod, ModuleIndex, depmod
from pseudokernel.kmod.libkmod import Modprobe

REPO = ROOT
RECORDED_CWD = "/work/main"  # where the modinfo recordings were made (kmod prints absolute paths)
RELEASE = "6.1.0-56-amd64"


def recorded_body(path: Path) -> str:
    return "".join(line for line in path.read_text().splitlines(True) if not line.startswith("#"))


def test_compression_by_magic():
    assert detect_compression(b"\x28\xb5\x2f\xfd....") == "zstd"
    assert detect_compression(b"\xfd7zXZ\x00...") == "xz"
    assert detect_compression(b"\x1f\x8b\x08\0\0\0") is None  # Debian's kmod: no zlib
    assert detect_compression(b"\x1f\x8b\x08\0\0\0", FEATURES_WITH_ZLIB) == "gzip"
    assert path_ends_with_kmod_ext("a.ko.xz") and path_ends_with_kmod_ext("a.ko.zst")
    assert not path_ends_with_kmod_ext("a.ko.gz") and not path_ends_with_kmod_ext(".ko")
    with pytest.raises(KmodError) as e:
        kmod_file_open(b"\xfd7zXZ")
    assert e.value.errno == errno.EINVAL
    xz = lzma.compress(b"x" * 1000, format=lzma.FORMAT_XZ)
    with pytest.raises(KmodError) as e:
        kmod_file_open(xz[:-8])
    assert e.value.errno == errno.EINVAL
    assert kmod_file_open(xz).contents == b"x" * 1000


# -- insmod / rmmod / lsmod against the QEMU recordings ------------------------------------------------


def test_config_parsing():
    cfg = ModprobeConfig()
    cfg.parse("# c\nalias my-alias hello\noptions hello count=2 \\\n who=x\nblacklist bad-mod\n"
              "softdep a pre: b c post: d\ninstall foo /bin/true\nbogus line\noptions lonely\n", "/etc/x.conf")
    assert cfg.aliases == [("my_alias", "hello")]
    assert cfg.options == [("hello", "count=2  who=x")]
    assert cfg.blacklists == ["bad_mod"]
    assert cfg.softdeps == [("a", ["b", "c"], ["d"])]
    assert cfg.install_commands == [("foo", "/bin/true")]
    assert [m for _, _, m in cfg.logs] == ["/etc/x.conf line 8: ignoring bad line starting with 'bogus'\n",
                                           "/etc/x.conf line 9: ignoring bad line starting with 'options'\n"]
    assert list(freadline_wrapped("a\\\nb\nc")) == [(2, "ab"), (3, "c")]


@pytest.fixture
def small_tree(tmp_path):
    d = tmp_path / "lib" / "modules" / RELEASE
    (d / "extra").mkdir(parents=True)
    for name in ("exporter", "importer", "hello"):
        shutil.copy(PREBUILT / f"{name}.ko", d / "extra" / f"{name}.ko")
    (d / "extra" / "params.ko.xz").write_bytes(lzma.compress((PREBUILT / "params.ko").read_bytes()))
    return d


def test_depmod_small_tree(small_tree):
    dm = depmod(str(small_tree))
    dep = dict(line.split(":", 1) for line in dm.modules_dep_text().splitlines())
    assert dep["extra/importer.ko"] == " extra/exporter.ko"
    assert dep["extra/hello.ko"] == "" and dep["extra/params.ko.xz"] == ""
    assert "alias symbol:exporter_add exporter\n" in dm.modules_symbols_text()
    if shutil.which("depmod"):
        subprocess.run(["depmod", "-b", str(small_tree.parent.parent.parent), RELEASE], check=True)
        for fn, text in (("modules.dep", dm.modules_dep_text()), ("modules.alias", dm.modules_alias_text()),
                         ("modules.symbols", dm.modules_symbols_text())):
            assert sorted(text.splitlines()) == sorted((small_tree / fn).read_text().splitlines()), fn


def test_modprobe_small_tree(small_tree):
    dm = depmod(str(small_tree))
    (small_tree / "modules.dep").write_text(dm.modules_dep_text())
    cfg = ModprobeConfig()
    cfg.parse("alias greeter hello\noptions hello count=2\nsoftdep importer post: params\n")
    ctx = Modprobe(ModuleIndex.from_dir(str(small_tree)), cfg)
    assert ctx.resolve("importer") == [f"{small_tree}/extra/exporter.ko", f"{small_tree}/extra/importer.ko",
                                       f"{small_tree}/extra/params.ko.xz"]
    assert ctx.show_depends("greeter") == f"insmod {small_tree}/extra/hello.ko count=2 \n"


# -- Debian's module tree ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def debian_tree(tree):
    """Debian's module tree, from the kernel package scripts/install --test caches."""
    return tree / "lib" / "modules" / RELEASE


@pytest.fixture(scope="module")
def debian_depmod(debian_tree):
    return depmod(str(debian_tree))


@pytest.fixture(scope="module")
def real_depmod_dir(debian_tree, tmp_path_factory):
    if not shutil.which("depmod"):
        pytest.skip("the host has no depmod (apt-get install kmod)")
    root = tmp_path_factory.mktemp("realdepmod")
    (root / "lib" / "modules").mkdir(parents=True)
    subprocess.run(["cp", "-al", str(debian_tree), str(root / "lib" / "modules")], check=True)
    subprocess.run(["depmod", "-b", str(root), RELEASE], check=True)
    return root / "lib" / "modules" / RELEASE


def test_debian_known_dependencies(debian_depmod: Depmod):
    dep = dict(line.split(":", 1) for line in debian_depmod.modules_dep_text().splitlines())
    assert len(dep) == 4023
    assert dep["kernel/fs/xfs/xfs.ko"] == " kernel/lib/libcrc32c.ko"
    assert dep["kernel/fs/btrfs/btrfs.ko"] == (" kernel/crypto/xor.ko kernel/lib/raid6/raid6_pq.ko "
                                               "kernel/lib/zstd/zstd_compress.ko kernel/lib/libcrc32c.ko")


def test_debian_depmod_outputs_equal_real_depmod(debian_depmod: Depmod, real_depmod_dir):
    ours = debian_depmod.modules_dep_text()
    real = (real_depmod_dir / "modules.dep").read_text()
    rnd = random.Random(6)
    real_lines = dict(line.split(":", 1) for line in real.splitlines())
    our_lines = dict(line.split(":", 1) for line in ours.splitlines())
    for path in rnd.sample(sorted(real_lines), 50):
        assert our_lines[path] == real_lines[path], path
    assert ours == real
    assert debian_depmod.modules_alias_text() == (real_depmod_dir / "modules.alias").read_text()
    assert debian_depmod.modules_softdep_text() == (real_depmod_dir / "modules.softdep").read_text()
    assert debian_depmod.modules_symbols_text() == (real_depmod_dir / "modules.symbols").read_text()


SIG_KEY = "66:F5:4E:15:66:A0:43:CC:30:30:42:0E:18:1C:F8:50:FB:9F:42:AC"


def test_debian_modprobe_show_depends(debian_tree, debian_depmod):
    # what libkmod reads: our depmod's text indexes, written beside the modules
    for fn, text in (("modules.dep", debian_depmod.modules_dep_text()), ("modules.alias", debian_depmod.modules_alias_text()),
                     ("modules.softdep", debian_depmod.modules_softdep_text()),
                     ("modules.symbols", debian_depmod.modules_symbols_text())):
        (debian_tree / fn).write_text(text)
    index = ModuleIndex.from_dir(str(debian_tree))
    cfg = ModprobeConfig.load(config_paths=[], dirname=str(debian_tree))
    d = str(debian_tree) + "/kernel/"
    ext4 = Modprobe(index, cfg).show_depends("ext4")
    assert ext4 == "".join(f"insmod {d}{p} \n" for p in (
        "arch/x86/crypto/crc32c-intel.ko", "crypto/crc32c_generic.ko", "fs/jbd2/jbd2.ko", "fs/mbcache.ko",
        "lib/crc16.ko", "fs/ext4/ext4.ko"))
    assert Modprobe(index, cfg).resolve("fs-vfat") == [d + "fs/fat/fat.ko", d + "fs/fat/vfat.ko"]
    assert Modprobe(index, cfg).lookup("symbol:crc32c") == ["libcrc32c"]


def test_debian_modprobe_equals_host_modprobe(real_depmod_dir):
    if not shutil.which("modprobe"):
        pytest.skip("the host has no modprobe (apt-get install kmod)")
    root = str(real_depmod_dir.parent.parent.parent)
    index = ModuleIndex.from_dir(str(real_depmod_dir))
    cfg = ModprobeConfig.load(config_paths=["/dev/null"], dirname=str(real_depmod_dir))
    names = random.Random(4).sample(sorted(index.deps), 30) + ["btrfs", "ext4", "crypto-crc32c", "symbol:crc32c",
                                                                 "fs-vfat", "net-pf-10"]
    for name in names:
        real = subprocess.run(["modprobe", "-D", "-C", "/dev/null", "-d", root, "-S", RELEASE, name],
                              capture_output=True, text=True)
        assert Modprobe(index, cfg).show_depends(name) == real.stdout, name
