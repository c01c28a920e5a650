"""What differs between the kernels pseudokernel emulates and is not a line the recorded
scenarios compare: the module's memory by kind, in-kernel decompression's flag and answers,
concurrent finit_module() of one file, the return thunks, the machine facts of a profile that
has none. Each is checked on 6.1 and on 6.12, against what that kernel's source does."""

from __future__ import annotations

import errno
import lzma
import shutil
import threading

import pytest
from pkrun import daemon_at
from realref import REF_61, REF_612

from pseudokernel.fs import build_root
from pseudokernel.fs.tree import Reader, lookup
from pseudokernel.kernel import Kernel
from pseudokernel.module import LoadError
from pseudokernel.module.internal import MODULE_INIT_COMPRESSED_FILE
from pseudokernel.module.module import MemType
from pseudokernel.profile import DATA_DIR, KernelProfile

PAGE = 4096


def kernel_of(ref) -> Kernel:
    return Kernel(KernelProfile.load(ref.release), seed=3)


def read(k: Kernel, path: str) -> bytes:
    return lookup(build_root(k), path).read(Reader())


def test_612_allocates_each_kind_on_its_own():
    k = kernel_of(REF_612)
    mod = k.finit_module(REF_612.ko("hello"), "count=1")
    kinds = {a.name: a for a in mod.allocations}
    assert set(kinds) == {"text", "data", "rodata"}  # init text and data went with init
    assert all(a.base % PAGE == 0 and a.size % PAGE == 0 and a.types == (MemType[a.name.upper()],)
               for a in kinds.values())
    where = {name: mod.mem_type_at(addr) for name, addr in mod.sections.items() if not name.startswith(".init")}
    assert where[".exit.text"] == MemType.TEXT and where[".rodata"] == MemType.RODATA
    assert where[".data"] == where[".gnu.linkonce.this_module"] == where[".bss"] == MemType.DATA
    size = sum(a.size for a in kinds.values())
    assert read(k, "/proc/modules").startswith(f"hello {size} 0 - Live 0x{kinds['text'].base:016x}".encode())
    assert read(k, "/sys/module/hello/coresize") == f"{size}\n".encode()
    assert read(k, "/sys/module/hello/initsize") == b"0\n"
    assert mod.init_at_load and {r["name"] for r in mod.init_at_load} == {"init_text", "init_data"}


def test_61_packs_core_and_init():
    k = kernel_of(REF_61)
    mod = k.finit_module(REF_61.ko("hello"), "count=1")
    (core,) = mod.allocations
    assert core.name == "core" and core.types == (MemType.TEXT, MemType.RODATA, MemType.RO_AFTER_INIT, MemType.DATA)
    ends = [mod.mem[t].base + mod.mem[t].size for t in core.types]
    assert mod.mem[MemType.TEXT].base == core.base and ends[-1] == core.base + core.size
    assert all(e % PAGE == 0 for e in ends)  # STRICT_MODULE_RWX: each band page-aligned
    assert [r["name"] for r in mod.init_at_load] == ["init"]


def test_612_turns_return_thunks_into_ret():
    """apply_returns(): the 6.12 machine's CPU does not want the return thunk (exporter's
    exported functions return in its core text)."""
    for ref, patched in ((REF_61, False), (REF_612, True)):
        k = kernel_of(ref)
        mod = k.finit_module(ref.ko("exporter"))
        addr, size = mod.section_ranges[".return_sites"]
        raw = k.machine.read(addr, size)
        sites = [addr + j + int.from_bytes(raw[j:j + 4], "little", signed=True) for j in range(0, size, 4)]
        core = [s for s in sites if mod.mem_type_at(s) == MemType.TEXT]
        assert core
        for s in core:
            first = k.machine.read(s, 5)
            assert (first == b"\xc3\xcc\xcc\xcc\xcc") is patched and (first[0] == 0xE9) is not patched


def test_in_kernel_decompression():
    hello = REF_612.ko("hello")
    k = kernel_of(REF_612)
    assert read(k, "/sys/module/compression") == b"xz\n"
    k.finit_module(lzma.compress(hello, check=lzma.CHECK_CRC32), "", MODULE_INIT_COMPRESSED_FILE)
    assert k.find_module("hello") is not None
    for data, message, err in ((hello, "not an xz compressed module", errno.EINVAL),
                               (lzma.compress(hello)[:500], "decompression failed with status 0", errno.EINVAL)):
        seq = k.log.next_seq
        with pytest.raises(LoadError) as e:
            k.finit_module(data, "", MODULE_INIT_COMPRESSED_FILE)
        assert e.value.errno == err
        assert [r.text.decode() for r in k.log.records(seq)] == [message]
    # without the flag an xz file is just not ELF
    with pytest.raises(LoadError) as e:
        k.finit_module(lzma.compress(hello), "")
    assert e.value.errno == errno.ENOEXEC
    k61 = kernel_of(REF_61)
    with pytest.raises(LoadError) as e:
        k61.finit_module(lzma.compress(REF_61.ko("hello")), "", MODULE_INIT_COMPRESSED_FILE)
    assert e.value.errno == errno.EOPNOTSUPP
    assert lookup(build_root(k61), "/sys/module/compression") is None


@pytest.mark.parametrize("ref,loads", [(REF_61, 2), (REF_612, 1)], ids=["6.1", "6.12"])
def test_concurrent_finit_of_one_file(tmp_path, ref, loads):
    """Two finit_module() calls on one file while its init runs (spin.ko, stopped at the
    budget): on 6.1 the second waits for the first to finish (add_unformed_module() sees it
    coming) and then loads the file again; 6.12 lets it share the first one's load and its
    result (idempotent_init_module()). Both end as the first did."""
    from pseudokernel.client import request

    gen = daemon_at(tmp_path, "--profile", ref.release, "--budget", "1")
    mount, _drop = next(gen)
    try:
        ko = tmp_path / "spin.ko"
        shutil.copy(ref.prebuilt / "spin.ko", ko)
        results = []

        def insmod() -> None:
            with open(ko, "rb") as f:
                results.append(request(str(mount), {"op": "insmod", "filename": str(ko)}, [f.fileno()])["errno"])

        threads = [threading.Thread(target=insmod) for _ in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)
        assert results == [errno.ETIME, errno.ETIME]
        log = (mount / "proc" / "kmsg").read_bytes().decode()
        assert log.count("spin: init stopped after") == loads
    finally:
        next(gen, None)


def test_a_profile_without_machine_facts_takes_its_versions(tmp_path):
    """A user-built 6.12 profile from headers alone (no machine.json, no BTF) has the shipped
    6.12 machine's frames and devices and 6.12's struct layouts, not 6.1's."""
    copy = tmp_path / "6.12.0-test-amd64"
    shutil.copytree(DATA_DIR / REF_612.release, copy)
    (copy / "machine.json").unlink()
    (copy / "btf.xz").unlink()
    p = KernelProfile(copy)
    assert p.version == (6, 12) and p.since((6, 4)) and not KernelProfile.load(REF_61.release).since((6, 4))
    assert p.frames("finit") == KernelProfile.load(REF_612.release).frames("finit")
    assert "udmabuf" in [name for _minor, name in p.machine["misc"]]
    shipped, old = KernelProfile.load(REF_612.release), KernelProfile.load(REF_61.release)
    assert p.btf is None and p.structs.net_device.name == shipped.structs.net_device.name
    assert p.structs.net_device.name != old.structs.net_device.name


def test_612_trace_names_612s_steps():
    """The trace follows the kernel it emulates: 6.12's step names and order."""
    from pseudokernel.module.trace import LoadTrace

    k = kernel_of(REF_612)
    tr = LoadTrace(k.log)
    k.finit_module(REF_612.ko("hello"), "count=1", trace=tr)
    steps = [s["step"] for s in tr.finish()]
    # (blacklisted, check_modstruct_version and module_patient_check_exists show only when they fail)
    assert steps == ["module_sig_check", "elf_validity_cache_copy", "check_modinfo", "layout_and_allocate",
                     "module_augment_kernel_taints", "simplify_symbols", "apply_relocations", "complete_formation",
                     "parse_args", "mod_sysfs_setup", "do_init_module", "module_enable_ro", "do_free_init"]
    by = {s["step"]: s for s in tr.finish()}
    assert by["elf_validity_cache_copy"]["name"] == "hello" and by["elf_validity_cache_copy"]["sections"] > 0
    assert "hello: loading out-of-tree module taints kernel." in by["module_augment_kernel_taints"]["messages"]
    assert [r["name"] for r in by["layout_and_allocate"]["regions"]] == ["text", "data", "rodata", "init_text",
                                                                          "init_data"]
