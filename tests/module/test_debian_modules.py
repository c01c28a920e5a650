"""Debian's own modules: signed with the key in the profile, they load untainted; modprobe and
depmod work on Debian's real module tree. Needs the linux-image .deb that scripts/install --test
downloads into ~/.cache/pseudokernel/debs (or $PSEUDOKERNEL_DEBS)."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest
from conftest import RELEASE
from pkrun import pk, wait_for


def mod(tree: Path, rel: str) -> bytes:
    return (tree / "lib/modules" / RELEASE / "kernel" / rel).read_bytes()


def test_signed_debian_modules_load_untainted(tree, kernel):
    from pseudokernel.fs import build_root
    from pseudokernel.fs.tree import Reader, lookup

    m = kernel.finit_module(mod(tree, "lib/crc16.ko"))
    assert m.sig_ok and m.taints == 0
    line = lookup(build_root(kernel), "/proc/modules").read(Reader()).decode()
    assert line.startswith("crc16 16384 0 - Live 0xffffffffc") and line.endswith("000\n")  # no taint column
    assert kernel.tainted == 0
    assert "module verification failed" not in "".join(r.text.decode() for r in kernel.log.records())


def test_a_debian_module_altered_after_signing_is_refused(tree, kernel):
    """The signature no longer matches: EKEYREJECTED, fatal even without enforcement."""
    from pseudokernel.module import LoadError

    data = bytearray(mod(tree, "lib/crc16.ko"))
    data[0x100] ^= 1
    with pytest.raises(LoadError) as e:
        kernel.finit_module(bytes(data))
    assert e.value.errno == 129  # EKEYREJECTED


def test_depmod_and_modprobe_on_debian_tree(tree, tmp_path):
    mount = tmp_path / "mnt"
    os.environ["PSEUDOKERNEL_STATE"] = str(tmp_path / "state")
    assert pk("up", "--drop", str(tmp_path / "drop"), mount=mount).returncode == 0
    try:
        assert pk("depmod", "-b", str(tree), RELEASE, mount=mount).returncode == 0
        dep = (tree / "lib/modules" / RELEASE / "modules.dep").read_text()
        assert "kernel/fs/xfs/xfs.ko: kernel/lib/libcrc32c.ko" in dep
        r = pk("modprobe", "-d", str(tree), "xfs", mount=mount)
        assert r.returncode == 0, r.stderr
        names = [line.split()[0] for line in (mount / "proc/modules").read_text().splitlines()]
        # newest first: the dependency went in before; libcrc32c's softdep brought crc32c too
        assert names[:2] == ["xfs", "libcrc32c"] and "crc32c_generic" in names
        assert (mount / "sys/module/libcrc32c/holders/xfs").is_symlink()
        show = pk("modprobe", "-d", str(tree), "--show-depends", "vfat", mount=mount)
        assert show.stdout.decode().splitlines()[-1].endswith("kernel/fs/fat/vfat.ko ")
        assert pk("modprobe", "-d", str(tree), "-r", "xfs", mount=mount).returncode == 0
        assert wait_for(lambda: "xfs" not in (mount / "proc/modules").read_text())
    finally:
        pk("down", mount=mount)
        subprocess.run(["fusermount3", "-u", "-z", str(mount)], capture_output=True)
    shutil.rmtree(tmp_path / "state", ignore_errors=True)


def test_a_debian_modules_btf_is_in_sys_kernel_btf(tree, kernel):
    """CONFIG_DEBUG_INFO_BTF_MODULES: a loaded module's .BTF section is /sys/kernel/btf/NAME
    (what bpftool and pahole read), beside the kernel's vmlinux, until it is unloaded."""
    import io

    from elftools.elf.elffile import ELFFile

    from pseudokernel.fs import build_root
    from pseudokernel.fs.tree import Reader, lookup

    data = mod(tree, "lib/crc16.ko")
    btf = ELFFile(io.BytesIO(data)).get_section_by_name(".BTF").data()
    kernel.finit_module(data)
    root = build_root(kernel)
    assert sorted(lookup(root, "/sys/kernel/btf").list()) == ["crc16", "vmlinux"]
    f = lookup(root, "/sys/kernel/btf/crc16")
    assert f.read(Reader()) == btf and f.size == len(btf) and btf[:2] == b"\x9f\xeb"
    kernel.delete_module("crc16")
    assert lookup(root, "/sys/kernel/btf/crc16") is None
