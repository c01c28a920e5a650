"""pseudokernel.kmod against kmod 30: the recordings in tests/expected/real/ (modinfo of every
fixture, insmod/rmmod/lsmod of the QEMU scenarios), and, when Debian's linux-image .deb is in
the cache, against Debian's own 4,023 signed modules and the real depmod/modinfo/modprobe of
this host (those tests skip, saying why, when the .deb or a tool is missing)."""

from __future__ import annotations

import errno
import lzma
import os
import random
import re
import shutil
import subprocess
import zlib
from pathlib import Path

import pytest
from realref import PREBUILT, REAL, ROOT, section

from pseudokernel.kmod import FEATURES_WITH_ZLIB, KmodError
from pseudokernel.kmod.compress import detect_compression, kmod_file_open, path_ends_with_kmod_ext
from pseudokernel.kmod.config import ModprobeConfig, freadline_wrapped
from pseudokernel.kmod.depmod import Depmod, ModuleIndex, depmod
from pseudokernel.kmod.insmod import insmod_insert_error, insmod_load_error, insmod_main, mod_strerror
from pseudokernel.kmod.libkmod import Modprobe
from pseudokernel.kmod.lsmod import lsmod_main, lsmod_text
from pseudokernel.kmod.modinfo import kmod_module_hex_to_str, modinfo_file, modinfo_lines, modinfo_main
from pseudokernel.kmod.modprobe import modprobe_main
from pseudokernel.kmod.module import MemSysReader
from pseudokernel.kmod.opt import getopt_long
from pseudokernel.kmod.rmmod import check_module_inuse, rmmod_main

REPO = ROOT
RECORDED_CWD = "/work/main"  # where the modinfo recordings were made (kmod prints absolute paths)
RELEASE = "6.1.0-56-amd64"


def recorded_body(path: Path) -> str:
    return "".join(line for line in path.read_text().splitlines(True) if not line.startswith("#"))


# -- modinfo -----------------------------------------------------------------------------------

MODINFO_FIXTURES = sorted(p.name[len("modinfo-"):-len(".txt")] for p in REAL.glob("modinfo-*.txt"))


@pytest.mark.parametrize("name", MODINFO_FIXTURES)
def test_modinfo_matches_recording(name):
    rel = f"tests/modules/prebuilt/{name}.ko"
    r = modinfo_file(rel, (REPO / rel).read_bytes(), cwd=RECORDED_CWD)
    assert r.stderr == "" and r.status == 0
    assert r.stdout == recorded_body(REAL / f"modinfo-{name}.txt")


def test_modinfo_fields_and_separators():
    data = (PREBUILT / "hello.ko").read_bytes()
    path = "/m/hello.ko"
    assert modinfo_lines(path, data, field="license") == "GPL\n"
    assert modinfo_lines(path, data, field="parm") == "count:how many greetings to print (int)\nwho:whom to greet (charp)\n"
    assert modinfo_lines(path, data, field="filename") == "/m/hello.ko\n"
    assert modinfo_lines(path, data, field="nosuch") == ""
    nul = modinfo_lines(path, data, null=True)
    assert nul.startswith("filename:       /m/hello.ko\0version=1.0\0")
    assert nul.endswith("parm:           who:whom to greet (charp)\0")
    # -n never opens the file, so it succeeds on garbage; relative paths keep their ./
    assert modinfo_file("./x.ko", b"junk", field="filename", cwd="/d").stdout == "/d/./x.ko\n"


def test_modinfo_compressed_inputs(tmp_path):
    data = (PREBUILT / "hello.ko").read_bytes()
    expected = modinfo_lines("/m/hello.ko", data)
    xz = lzma.compress(data, format=lzma.FORMAT_XZ)
    assert modinfo_lines("/m/hello.ko", xz) == expected
    assert modinfo_lines("/m/hello.ko", xz + xz) == expected  # concatenated streams
    gz = zlib.compress(data, wbits=31)
    assert modinfo_lines("/m/hello.ko", gz, features=FEATURES_WITH_ZLIB) == expected
    # Debian's kmod has no zlib: a gzip file is plain bytes, and x.ko.gz is not a module file name
    r = modinfo_file("/m/hello.ko", gz)
    assert (r.stderr, r.status) == ("modinfo: ERROR: could not get modinfo from 'hello': Exec format error\n", 1)
    (tmp_path / "hello.ko.gz").write_bytes(gz)
    r = modinfo_main([str(tmp_path / "hello.ko.gz")])
    assert (r.stdout, r.stderr, r.status) == ("", f"modinfo: ERROR: Module {tmp_path}/hello.ko.gz not found.\n", 1)
    (tmp_path / "hello.ko.xz").write_bytes(xz)
    r = modinfo_main(["-F", "name", str(tmp_path / "hello.ko.xz")])
    assert (r.stdout, r.status) == ("hello\n", 0)


def test_modinfo_zstd():
    zstandard = pytest.importorskip("zstandard", reason="zstandard (PyPI) is needed for .ko.zst")
    data = (PREBUILT / "hello.ko").read_bytes()
    zst = zstandard.ZstdCompressor().compress(data)
    assert modinfo_lines("/m/hello.ko", zst) == modinfo_lines("/m/hello.ko", data)
    # kmod keeps what a truncated zstd stream gave, so the ELF check fails, not the decompression
    r = modinfo_file("/m/bad.ko.zst", zst[:300])
    assert r.stderr == "modinfo: ERROR: could not get modinfo from 'bad': Exec format error\n"


@pytest.mark.parametrize("content,message", [
    (b"", "Invalid argument"),                   # shorter than the 6-byte xz magic
    (b"abcd", "Invalid argument"),
    (b"garbage!", "Exec format error"),          # no ELF magic
    (b"\x7fELF\x02\x01" + b"\0" * 100, "Invalid argument"),  # e_shentsize 0
    (b"\xfd7zXZ\x00garbage", "Invalid argument"),  # corrupt xz: libkmod logs nothing (file->ctx unset)
])
def test_modinfo_broken_files(content, message):
    r = modinfo_file("b.ko", content, cwd="/t")
    assert r.stdout == "filename:       /t/b.ko\n"
    assert r.stderr == f"modinfo: ERROR: could not get modinfo from 'b': {message}\n"
    assert r.status == 1


def test_modinfo_without_modinfo_section():
    data = bytearray((PREBUILT / "hello.ko").read_bytes())
    i = data.rfind(b".modinfo\0")
    data[i:i + 9] = b".modinfX\0"
    r = modinfo_file("/m/n.ko", bytes(data))
    assert r.stderr == "modinfo: ERROR: could not get modinfo from 'n': No such file or directory\n"


def test_modinfo_command_line_errors():
    assert modinfo_main([]).stderr == "modinfo: ERROR: missing module or filename.\n"
    assert modinfo_main(["-z", "x"]).stderr == "modinfo: invalid option -- 'z'\n"
    assert modinfo_main(["-F"]).stderr == "modinfo: option requires an argument -- 'F'\n"
    assert modinfo_main(["--fi", "x"]).stderr == (
        "modinfo: option '--fi' is ambiguous; possibilities: '--filename' '--field'\n")
    assert modinfo_main(["nosuchmodule"]).stderr == "modinfo: ERROR: Module nosuchmodule not found.\n"


def test_hex_wrapping():
    assert kmod_module_hex_to_str(bytes(range(3))) == "00:01:02"
    s = kmod_module_hex_to_str(bytes(41))
    assert s.split("\n\t\t") == ["00:" * 20, "00:" * 20, "00"]


# -- compression -------------------------------------------------------------------------------


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


def test_insmod_messages_match_recordings():
    assert mod_strerror(errno.ENOEXEC) == "Invalid module format"
    assert mod_strerror(errno.ENOENT) == "Unknown symbol in module"
    assert mod_strerror(errno.ESRCH) == "Module has wrong symbol version"
    assert mod_strerror(errno.EINVAL) == "Invalid parameters"
    expected = {
        "badmagic.ko": errno.ENOEXEC, "empty.ko": errno.EINVAL, "four.ko": errno.EINVAL, "enomem.ko": errno.ENOMEM,
        "eperm.ko": errno.EPERM, "gplonly.ko": errno.ENOENT, "hello.ko": errno.EEXIST, "nsimport.ko": errno.EINVAL,
        "unknown_sym.ko": errno.ENOENT, "truncated.ko": errno.ENOEXEC,
    }
    lines = set()
    for f in REAL.glob("*.txt"):
        lines |= {ln + "\n" for ln in f.read_text().splitlines() if ln.startswith("insmod: ERROR")}
    for fname, err in expected.items():
        assert insmod_insert_error(fname, err) in lines
    for err in (errno.ENOSPC, errno.ERANGE, errno.EINVAL):
        assert insmod_insert_error("params.ko", err) in lines
    assert insmod_load_error("/nonexistent.ko", errno.ENOENT) in lines
    # kmod itself rejects the empty and 4-byte files, with EINVAL, before any syscall
    for content in (b"", b"abcd"):
        with pytest.raises(KmodError) as e:
            kmod_file_open(content)
        assert e.value.errno == errno.EINVAL


def test_insmod_main_matches_recordings():
    files = {"empty.ko": b"", "four.ko": b"abcd", "hello.ko": (PREBUILT / "hello.ko").read_bytes()}
    read = lambda p: files[p] if p in files else KmodError(errno.ENOENT)  # noqa: E731
    seen = []
    for argv, err in ((["/nonexistent.ko"], 0), (["empty.ko"], 0), (["four.ko"], 0), (["hello.ko"], errno.EEXIST)):
        r = insmod_main(argv, read, lambda f, opts, flags, err=err: seen.append((opts, flags)) or err)
        s = section("broken" if argv[0] != "hello.ko" else "twice", f"insmod {argv[0]}", 0 if argv[0] != "hello.ko" else 1)
        assert ((r.stdout + r.stderr).encode(), r.status) == (s.output, s.exit)
    r = insmod_main(["-f", "hello.ko", "p_int=3", "--", "p_uint=4"], read, lambda f, o, fl: seen.append((o, fl)) or 0)
    assert r.status == 0 and seen[-1] == ("p_int=3 p_uint=4", 3)


def sysfs_from_proc_modules(text: str, **initstate: str) -> MemSysReader:
    """The /sys/module view the kernel shows for a /proc/modules text."""
    files, dirs = {}, []
    for line in text.splitlines():
        name, size, refcnt, users, state = line.split()[:5]
        files[f"module/{name}/coresize"] = size + "\n"
        files[f"module/{name}/refcnt"] = refcnt + "\n"
        files[f"module/{name}/initstate"] = initstate.get(name, {"Live": "live", "Loading": "coming"}[state]) + "\n"
        dirs.append(f"module/{name}/holders")
        for holder in users.strip(",").split(","):
            if holder not in ("-", "[permanent]", ""):
                files[f"module/{name}/holders/{holder}"] = ""
    return MemSysReader(files, dirs)


@pytest.mark.parametrize("scenario", ["hello", "importer", "noexit", "propuser"])
def test_lsmod_matches_recordings(scenario):
    proc = section(scenario, "cat /proc/modules").output.decode()
    got = lsmod_text(proc, sysfs_from_proc_modules(proc))
    assert got.encode() == section(scenario, "lsmod").output


def test_lsmod_fallbacks():
    proc = "a 16384 0 - Live 0x0\nb 8192 0 - Live 0x0\nc 4096 0 - Live 0x0\n"
    sys = MemSysReader({"module/a/refcnt": "0\n", "module/b/refcnt": "2\n"}, dirs=["module/a/holders", "module/b"])
    errors: list[str] = []
    text = lsmod_text(proc, sys, errors)
    # a: no coresize -> /proc/modules; b: no holders dir (logged); c: no /sys/module/c at all
    assert text.splitlines()[1:] == ["a                      16384  0", "b                       8192  2",
                                     "c                         -2  -2"]
    assert errors[0].startswith("libkmod: ERROR ../libkmod/libkmod-module.c:1998 kmod_module_get_holders: could not open")
    assert lsmod_main(["x"], proc, sys).stderr == "Usage: lsmod\n"


def rmmod_run(argv, sys, delete=lambda name, flags: 0):
    calls = []

    def delete_module(name, flags):
        calls.append((name, flags))
        return delete(name, flags)

    r = rmmod_main(argv, sys, delete_module, exists=lambda p: False)
    return (r.stdout + r.stderr).encode(), r.status, calls


def test_rmmod_importer_holds_exporter():
    proc = section("importer", "cat /proc/modules").output.decode()
    out, status, calls = rmmod_run(["exporter"], sysfs_from_proc_modules(proc))
    s = section("importer", "rmmod exporter")
    assert (out, status, calls) == (s.output, s.exit, [])


def test_rmmod_not_loaded_and_renamed():
    proc = section("twice", "cat /proc/modules").output.decode()
    sys = sysfs_from_proc_modules(proc)
    s = section("twice", "rmmod renamed")
    assert rmmod_run(["renamed"], sys)[:2] == (s.output, s.exit)
    out, status, calls = rmmod_run(["hello"], sys)
    assert (out, status, calls) == (b"", 0, [("hello", os.O_NONBLOCK)])
    s = section("twice", "rmmod hello", 1)
    assert rmmod_run(["hello"], MemSysReader({}))[:2] == (s.output, s.exit)


def test_rmmod_delete_module_failures():
    proc = section("noexit", "cat /proc/modules").output.decode()
    sys = sysfs_from_proc_modules(proc)
    s = section("noexit", "rmmod noexit")
    assert rmmod_run(["noexit"], sys, lambda n, f: errno.EBUSY)[:2] == (s.output, s.exit)
    out, status, calls = rmmod_run(["-f", "noexit"], sys)
    assert (status, calls) == (0, [("noexit", os.O_NONBLOCK | os.O_TRUNC)])
    s = section("broken", "rmmod -f hello")
    assert rmmod_run(["-f", "hello"], MemSysReader({}), lambda n, f: errno.ENOENT)[:2] == (s.output, s.exit)


def test_rmmod_module_still_coming_is_in_use():
    proc = section("oops", "cat /proc/modules").output.decode()
    s = section("oops", "rmmod oops")
    assert rmmod_run(["oops"], sysfs_from_proc_modules(proc))[:2] == (s.output, s.exit)


def test_check_module_inuse_edge_cases():
    sys = MemSysReader({"module/x/initstate": "live\n"}, dirs=["module/x/holders", "module/y"])
    assert check_module_inuse("x", sys) == (-errno.ENOENT, "rmmod: ERROR: Module unloading is not supported\n")
    assert check_module_inuse("y", MemSysReader({"module/y/refcnt": "0\n"}, ["module/y/holders"]))[0] == 0  # COMING
    assert check_module_inuse("z", sys, builtin=True) == (-errno.ENOENT, "rmmod: ERROR: Module z is builtin.\n")


def test_getopt_permutes_like_glibc():
    opts, args, err = getopt_long("insmod", ["params.ko", "p_int=3", "--", "p_uint=4"], "psfVh", {})
    assert (opts, args, err) == ([], ["params.ko", "p_int=3", "p_uint=4"], "")
    opts, args, err = getopt_long("rmmod", ["x", "-vf"], "fsvVwh", {"force": (0, "f")})
    assert (opts, args) == ([("v", None), ("f", None)], ["x"])


# -- modprobe configuration and a small tree built from the fixtures -------------------------------


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
    inserted = []
    sys = MemSysReader({"module/exporter/initstate": "live\n"})
    r = modprobe_main(["importer", "x=a b"], dirname_for=lambda root, kv: str(small_tree), sys=sys, config_paths=[],
                      insert=lambda m, opts, flags: inserted.append((m.name, opts)) or 0)
    assert (r.stdout, r.stderr, r.status) == ("", "", 0)
    assert inserted == [("importer", 'x="a b"')]  # exporter is live already
    r = modprobe_main(["nosuch"], dirname_for=lambda root, kv: str(small_tree), config_paths=[])
    assert (r.stderr, r.status) == (f"modprobe: FATAL: Module nosuch not found in directory {small_tree}\n", 1)


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


@pytest.mark.parametrize("rel", ["kernel/fs/fat/vfat.ko", "kernel/net/ipv4/tunnel4.ko", "kernel/drivers/net/dummy.ko",
                                 "kernel/fs/xfs/xfs.ko"])
def test_debian_signed_modinfo(debian_tree, rel):
    path = str(debian_tree / rel)
    r = modinfo_main([path])
    assert r.status == 0 and r.stderr == ""
    assert "\nsig_id:         PKCS#7\nsigner:         Build time autogenerated kernel key\n" in r.stdout
    assert f"\nsig_key:        {SIG_KEY}\nsig_hashalgo:   sha256\nsignature:      " in r.stdout
    assert re.search(r"\nsignature:      ([0-9A-F]{2}:){20}\n\t\t", r.stdout)
    if rel.endswith("dummy.ko"):
        assert r.stdout.endswith("parm:           numdummies:Number of dummy pseudo devices (int)\n")
        assert "alias:          rtnl-link-dummy\n" in r.stdout
    if shutil.which("modinfo"):
        for opts in ([], ["-0"], ["-F", "signature"], ["-p"], ["-F", "alias"]):
            real = subprocess.run(["modinfo", *opts, path], capture_output=True)
            ours = modinfo_main([*opts, path])
            assert ours.stdout.encode("utf-8", "surrogateescape") == real.stdout, opts
            assert (ours.stderr.encode(), ours.status) == (real.stderr, real.returncode)


def test_debian_modinfo_sample_equals_host_modinfo(debian_tree):
    if not shutil.which("modinfo"):
        pytest.skip("the host has no modinfo (apt-get install kmod)")
    files = sorted(str(p) for p in debian_tree.rglob("*.ko"))
    for path in random.Random(2).sample(files, 40):
        real = subprocess.run(["modinfo", path], capture_output=True)
        assert modinfo_main([path]).stdout.encode("utf-8", "surrogateescape") == real.stdout, path


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
