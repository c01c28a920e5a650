"""Any kernel from its headers alone: fixtures built now with kbuild against each of the
recorded kernel's linux-headers (6.1's and 6.12's: scripts/install --test installs both),
loaded into a kernel whose profile is made from the same headers (no image: no real
addresses, no kallsyms, no BTF)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from realref import REFERENCES, ROOT

# the recorded kernels' headers (scripts/install --test installs them; others apt may have
# pulled in, a newer 6.1 ABI, are the same code again)
HEADERS = [Path(f"/usr/src/linux-headers-{ref.release}") for ref in REFERENCES
           if Path(f"/usr/src/linux-headers-{ref.release}").is_dir()]
pytestmark = pytest.mark.skipif(
    not HEADERS or shutil.which("make") is None or shutil.which("gcc") is None,
    reason="needs linux-headers-amd64, make and gcc (scripts/install --test installs them)",
)


@pytest.fixture(scope="module", params=HEADERS, ids=lambda p: p.name.removeprefix("linux-headers-"))
def built(tmp_path_factory, request):
    headers = request.param
    out = tmp_path_factory.mktemp("kbuild")
    r = subprocess.run([sys.executable, str(ROOT / "scripts/build-fixtures"), "--headers", str(headers),
                        "--out", str(out / "ko"), "hello", "exporter", "importer", "params", "noexit"],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr
    from pseudokernel.profile.build import build_profile

    build_profile(headers, out / "profile")
    return out


def test_headers_only_profile(built):
    from pseudokernel.profile import KernelProfile

    p = KernelProfile(built / "profile")
    assert p.vermagic.startswith(p.release + " SMP ")
    assert not p.has_image and p.btf is None
    assert "_printk" in p.exports and p.exports["_printk"].addr is None


def test_fresh_fixtures_load_on_a_headers_only_kernel(built):
    from pseudokernel.fs import build_root
    from pseudokernel.fs.tree import Reader, lookup
    from pseudokernel.kernel import Kernel
    from pseudokernel.log import format_dmesg
    from pseudokernel.profile import KernelProfile

    k = Kernel(KernelProfile(built / "profile"), seed=5)
    ko = built / "ko"
    k.finit_module((ko / "hello.ko").read_bytes(), "count=2 who=kbuild")
    k.finit_module((ko / "exporter.ko").read_bytes())
    k.finit_module((ko / "importer.ko").read_bytes())
    k.finit_module((ko / "params.ko").read_bytes(), "p_array=3,4,5 p_charp=fresh")
    k.finit_module((ko / "noexit.ko").read_bytes())
    text = format_dmesg(k.log.records()).decode()
    assert "hello: hello kbuild (2 of 2)" in text
    assert "importer: exporter_add(1, 2) = 45, exporter_value = 42" in text
    assert "params: charp=fresh bool=0 invbool=0 bint=0 string=fifteen array_n=3 [3,4,5,0] hidden=17" in text
    root = build_root(k)
    modules = lookup(root, "/proc/modules").read(Reader()).decode()
    # 6.1 packs text, rodata, ro_after_init and data in one region, page by page; 6.4 on
    # allocates each kind on its own, and a kind with nothing in it takes no page
    sizes = {(6, 1): (16384, 12288)}.get(k.profile.version, (12288, 8192))
    assert f"exporter {sizes[0]} 1 importer, Live" in modules
    assert f"noexit {sizes[1]} 0 [permanent], Live" in modules
    assert lookup(root, "/sys/module/params/parameters/p_array").read(Reader()) == b"3,4,5\n"
    for name in ("importer", "exporter", "hello", "params"):
        k.delete_module(name)
    assert "hello: goodbye kbuild" in format_dmesg(k.log.records()).decode()
