"""Malformed modules and odd names (issue 6): each case is a fixture bent by code, never a blob.

The name cases are checked against what the real 6.1 kernel did with the same files
(tests/expected/real/names.txt, recorded by scripts/qemu-names); the others were found by the
fuzz harness (pseudokernel/fuzz/) and are kept here with the kernel-like failure chosen for
each: where the real kernel dereferences a pointer a module supplies and it leads nowhere, it
oopses; pseudokernel fails the load with -ENOEXEC and a "pseudokernel: " line instead.
"""

from __future__ import annotations

import errno
import os
import re
import struct

import pytest
from name_variants import NAMES, name_variants, with_name
from realref import PREBUILT, REAL
from variants import HELLO, Elf

from pseudokernel.fs import build_root
from pseudokernel.fs.tree import Reader, lookup
from pseudokernel.module import LoadError
from pseudokernel.module.main import blacklisted
from pseudokernel.module.sysfs import sysfs_name

NAMES_TXT = REAL / "names.txt"
RELA = struct.Struct("<QQq")


# -- helpers ---------------------------------------------------------------------------------


def rela_addend(data: bytes, section: str, r_offset: int, delta: int) -> bytes:
    """The relocation of `section` (its .rela section) that fills r_offset, its addend moved."""
    e = Elf(data)
    off, size = e.section(".rela" + section)
    for at in range(off, off + size, RELA.size):
        r_off, r_info, addend = RELA.unpack_from(e.b, at)
        if r_off == r_offset:
            RELA.pack_into(e.b, at, r_off, r_info, addend + delta)
            return e.data()
    raise KeyError((section, r_offset))


def versions_rename(data: bytes, symbol: bytes, new: bytes) -> bytes:
    e = Elf(data)
    at = e.versions_crc(symbol.decode()) + 8
    e.b[at : at + 56] = new + bytes(56 - len(new))
    return e.data()


def log_since(kernel, seq: int) -> list[bytes]:
    return [r.text for r in kernel.log.records(seq)]


def proc_modules(kernel) -> bytes:
    return lookup(build_root(kernel), "/proc/modules").read(Reader())


def nothing_left(kernel, area: int) -> None:
    assert kernel.modules == []
    assert kernel.machine.modules_area.used == area


def refused_with_note(kernel, data: bytes, note: bytes, args: str = "") -> None:
    """The load fails with ENOEXEC, a log line matches `note`, and nothing of it is left."""
    area = kernel.machine.modules_area.used
    seq = kernel.log.next_seq
    with pytest.raises(LoadError) as e:
        kernel.finit_module(data, args)
    assert e.value.errno == errno.ENOEXEC
    assert any(re.fullmatch(note, t) for t in log_since(kernel, seq)), log_since(kernel, seq)
    nothing_left(kernel, area)


def load_errno(kernel, data: bytes, args: str = "") -> int:
    try:
        mod = kernel.finit_module(data, args)
    except LoadError as e:
        return e.errno
    kernel.delete_module(mod.name)
    return 0


# -- names, against the real kernel ------------------------------------------------------------


def cat_v(data: bytes) -> str:
    """What busybox `cat -v` shows for bytes (the recording shows names through it)."""
    out = []
    for c in data:
        if c == 10 or 32 <= c < 127:
            out.append(chr(c))
        elif c < 32:
            out.append("^" + chr(c + 64))
        elif c == 127:
            out.append("^?")
        else:
            out.append("M-" + cat_v(bytes([c - 128])))
    return "".join(out)


def recorded_sections() -> dict[str, list[str]]:
    """names.txt as '== step' -> the lines under it (steps repeat: later ones get #2, #3)."""
    out: dict[str, list[str]] = {}
    key = None
    for line in NAMES_TXT.read_text().splitlines():
        if line.startswith("#"):
            continue
        if line.startswith("== "):
            key = line[3:]
            n = 2
            while key in out:
                key = f"{line[3:]} #{n}"
                n += 1
            out[key] = []
        elif key is not None:
            out[key].append(line)
    return out


def mask(line: str) -> str:
    """A log line with what differs from boot to boot (times, PIDs, addresses) taken out."""
    line = re.sub(r"^<\d>\[ *\d+\.\d+\] ", "", line)
    line = re.sub(r"PID: \d+", "PID: N", line)
    line = re.sub(r"\(____ptrval____\)|\b[0-9a-f]{16}\b|0x[0-9a-f]{6,}", "X", line)
    return line


KMOD_ERRNO = {"File exists": errno.EEXIST, "Invalid parameters": errno.EINVAL}


def insmod_outcome(lines: list[str]) -> int:
    """The errno of an insmod step: 0, what kmod's message names, or EFAULT for the oops."""
    status = int(lines[-1].split("=", 1)[1])
    if status == 0:
        return 0
    if status == 139:
        return errno.EFAULT  # the oops killed insmod (SIGSEGV)
    return KMOD_ERRNO[lines[0].rsplit(": ", 1)[1]]


def test_name_variants_are_those_recorded():
    assert set(NAMES) >= {"name-slash", "name-dotdot", "name-dot", "name-space", "name-55", "name-56", "name-empty"}
    assert NAMES_TXT.exists(), "record it with scripts/qemu-names"


def test_odd_names_as_the_real_kernel(kernel):
    """The whole recorded scenario, step by step: loads, /proc/modules, removals, the log."""
    rec = recorded_sections()
    files = name_variants()
    seq = kernel.log.next_seq
    for stem in ("slash", "bang", "bang2", "slash2", "dotdot", "dot", "space", "newline", "ctrl", "55", "other",
                 "infoonly"):
        want = insmod_outcome(rec[f"insmod name-{stem}.ko"])
        assert load_errno_keep(kernel, files[f"name-{stem}"]) == want, stem
    assert load_errno_keep(kernel, files["name-slash"]) == insmod_outcome(rec["insmod name-slash.ko #2"])

    shown = [mask(line) for line in cat_v(proc_modules(kernel)).splitlines()]
    assert shown == [mask(line) for line in rec["cat -v /proc/modules"]]
    # /sys/module/<name>: '/' becomes '!', everything else stays
    names = {m.name for m in kernel.modules}
    assert sysfs_name("a/b") == "a!b" and "a!b" not in names and "a/b" in names

    for name in ("a/b", "a!b", "a!c", "..", ".", "a b", "a\nb", "c\x01d", "n" * 55, "", "other", "hello"):
        want = rec[f"delete_module {cat_v(name.encode())}".split("\n")[0]][-1]  # a newline splits the step
        try:
            kernel.delete_module(name)
            got = "delete_module: 0"
        except OSError as e:
            got = f"delete_module: -1 {errno.errorcode[e.errno]} ({os.strerror(e.errno)})"
        assert got == want, name
    assert proc_modules(kernel) == b""

    assert load_errno_keep(kernel, files["name-empty"]) == insmod_outcome(rec["insmod name-empty.ko"])
    assert kernel.modules == []

    k_lines = [mask(t.decode("utf-8", "replace")) for t in log_since(kernel, seq)]
    real = [mask(line) for line in rec["dmesg -r since the start, through cat -v"]]
    real = real[: next(i for i, line in enumerate(real) if "Invalid ELF header len 63" in line)]
    assert_in_order(k_lines, real)
    for key in ("a!b: module is already loaded", "sysfs: cannot create duplicate filename '/module/a!c'",
                "kobject_add_internal failed for a!c with -EEXIST, don't try to register things with the same name "
                "in the same directory.", "kobject: (X): attempted to be registered with empty name!",
                "WARNING: CPU: 0 PID: N at lib/kobject.c:210 kobject_add_internal+0x241/0x260",
                "Modules linked in: (OE+) [last unloaded: hello(OE)]"):
        assert key in k_lines


def load_errno_keep(kernel, data: bytes) -> int:
    try:
        kernel.finit_module(data)
    except LoadError as e:
        return e.errno
    return 0


def assert_in_order(ours: list[str], real: list[str]) -> None:
    """Every line pseudokernel printed (but its own "pseudokernel: " notes) is a line the real
    kernel printed, in the same order; the real kernel's register dumps of its own code and
    unreliable "? " frames are what pseudokernel leaves out."""
    i = 0
    for line in ours:
        if line.startswith("pseudokernel: "):
            continue
        while i < len(real) and real[i] != line:
            i += 1
        assert i < len(real), f"not printed by the real kernel (in this order): {line!r}"
        i += 1


def test_name_of_56_bytes_is_the_fortify_bug(kernel):
    """No NUL in struct module's name: the real kernel BUG()s in add_unformed_module() (and its
    module_mutex stays held); pseudokernel prints the same report, fails the call, and goes on."""
    rec = recorded_sections()
    real = [mask(line) for line in rec["dmesg -r since the start, through cat -v"]]
    real = real[next(i for i, line in enumerate(real) if "__fortify_strlen" in line) :]
    kernel.finit_module(HELLO.read_bytes())  # what the recorded boot did before: its taints, its once-lines
    kernel.delete_module("hello")
    assert load_errno(kernel, name_variants()["name-empty"]) == errno.EINVAL
    area = kernel.machine.modules_area.used
    seq = kernel.log.next_seq
    with pytest.raises(LoadError) as e:
        kernel.finit_module(name_variants()["name-56"])
    assert e.value.errno == insmod_outcome(rec["insmod name-56.ko"]) == errno.EFAULT
    ours = [mask(t.decode()) for t in log_since(kernel, seq)]
    assert ours[:3] == ["detected buffer overflow in __fortify_strlen", "------------[ cut here ]------------",
                        "kernel BUG at lib/string_helpers.c:1027!"]
    assert_in_order(ours, real)
    assert "Modules linked in: [last unloaded: hello(OE)]" in ours
    assert ours[-1].startswith("pseudokernel: ")
    assert kernel.test_taint(7)  # D
    nothing_left(kernel, area)
    assert load_errno(kernel, HELLO.read_bytes()) == 0  # no hang here


def test_name_of_55_bytes_loads_and_unloads(kernel):
    mod = kernel.finit_module(with_name(b"x" * 55, None))
    assert mod.name == "x" * 55
    kernel.delete_module("x" * 55)
    with pytest.raises(OSError) as e:  # 56 characters never name a module: ENOENT before the lookup
        kernel.delete_module("x" * 56)
    assert e.value.errno == errno.ENOENT


def test_modinfo_name_and_struct_name_disagree(kernel):
    """The module is its struct's name; .modinfo name= only names the early messages."""
    mod = kernel.finit_module(with_name(b"other", b"hello"))
    assert mod.name == "other" and kernel.find_module("hello") is None
    kernel.delete_module("other")
    # module_blacklist= looks at the .modinfo name (info->name), before struct module is in place
    from pseudokernel.kernel import Kernel

    k = Kernel(kernel.profile, cmdline="module_blacklist=hello")
    try:
        seq = k.log.next_seq
        with pytest.raises(LoadError) as e:
            k.finit_module(with_name(b"other", b"hello"))
        assert e.value.errno == errno.EPERM
        assert log_since(k, seq) == [b"Module hello is blacklisted"]
        assert k.finit_module(with_name(b"hello", b"other")).name == "hello"
    finally:
        k.close()


def test_blacklist_pieces(kernel):
    """blacklisted(): comma-ended pieces; no parameter blacklists nothing, not even ""."""

    class K:
        def __init__(self, value):
            self.value = value

        def cmdline_param(self, name, default):
            return default if self.value is None else self.value

    assert not blacklisted(K(None), "")
    assert not blacklisted(K(""), "")
    assert blacklisted(K("a,,b"), "") and blacklisted(K(",a"), "")
    assert not blacklisted(K("a,"), "")
    assert blacklisted(K("a,b"), "b") and blacklisted(K("a,b"), "a") and not blacklisted(K("a,b"), "a,b")


def test_files_too_short(kernel):
    """0 bytes, 63 bytes, bad flags: the errno the real kernel gives, and its one line."""
    rec = recorded_sections()
    short = name_variants()["name-other"][:63]

    def call(fn) -> int:
        try:
            fn()
        except LoadError as e:
            return e.errno
        return 0

    def want(step: str) -> int:
        result = rec[step][-1].split(": ", 1)[1].split()
        return 0 if result == ["0"] else getattr(errno, result[1])

    seq = kernel.log.next_seq
    assert call(lambda: kernel.finit_module(b"")) == want("finit_module of a 0-byte file")
    assert call(lambda: kernel.init_module(b"")) == want("init_module of 0 bytes")
    assert call(lambda: kernel.init_module(short)) == want("init_module of 63 bytes")
    assert log_since(kernel, seq) == []
    assert call(lambda: kernel.finit_module(short)) == want("finit_module of 63 bytes")
    assert log_since(kernel, seq) == [b"Invalid ELF header len 63"]
    assert call(lambda: kernel.finit_module(HELLO.read_bytes(), "", 8)) == want("finit_module flags 8")
    assert call(lambda: kernel.finit_module(HELLO.read_bytes(), "", 4)) == want("finit_module flags 4")
    assert kernel.modules == []


def test_delete_module_with_undecodable_name(kernel):
    """A name that came from bytes that are not UTF-8 (surrogate-escaped) is just not loaded."""
    with pytest.raises(OSError) as e:
        kernel.delete_module("h\udcffllo")
    assert e.value.errno == errno.ENOENT


# -- found by the fuzz harness ---------------------------------------------------------------


def test_no_symbol_version_line_with_a_name_that_is_not_utf8(kernel):
    """check_version()'s "no symbol version" line names the module by its .modinfo name, raw
    bytes and all (it was encoded as strict UTF-8: UnicodeEncodeError escaped finit_module)."""
    data = HELLO.read_bytes()
    e = Elf(data)
    e.replace_in(".modinfo", b"name=hello\0", b"name=h\xffllo\0")
    data = versions_rename(e.data(), b"module_layout", b"module_layouX")
    seq = kernel.log.next_seq
    mod = kernel.finit_module(data)
    assert mod.name == "hello"
    assert b"h\xffllo: no symbol version for module_layout" in log_since(kernel, seq)
    kernel.delete_module("hello")


def test_parameter_name_pointer_leads_nowhere(kernel):
    """A kernel_param whose name points outside every mapping (its relocation's addend moved):
    the kernel would oops creating its sysfs file; the load fails with ENOEXEC, nothing left."""
    data = rela_addend(HELLO.read_bytes(), "__param", 0, 1 << 40)
    refused_with_note(kernel, data, rb"pseudokernel: hello: parameter 0: name at 0x[0-9a-f]+ is not mapped")
    assert load_errno(kernel, HELLO.read_bytes()) == 0


def test_parameter_ops_pointer_leads_nowhere(kernel):
    """kernel_param.ops outside every mapping: read only when the parameter is set or shown.
    Without arguments the module loads (as on the real kernel); its sysfs file reads EFAULT,
    and it unloads. With an argument for it the load fails with ENOEXEC."""
    data = rela_addend(HELLO.read_bytes(), "__param", 16, 1 << 40)
    mod = kernel.finit_module(data)
    kp = mod.params[0]
    with pytest.raises(OSError) as e:
        kernel.param_show(mod, kp)
    assert e.value.errno == errno.EFAULT
    kernel.delete_module("hello")
    refused_with_note(kernel, data, f"pseudokernel: hello: parameter {kp.name}: ops at 0x.*".encode(), f"{kp.name}=1")


def test_standard_parameter_ops_run_without_the_cpu(kernel, monkeypatch):
    """param_get_int/param_get_charp are kernel functions the kernel calls through the ops
    pointer: shown and stored as Python (KernelApi.leaf), with the bytes and results the CPU
    path gives, and the CPU not started."""
    mod = kernel.finit_module(HELLO.read_bytes(), "count=3 who=leaf")
    calls = kernel.machine.stats.calls
    shown = {kp.name: kernel.param_show(mod, kp) for kp in mod.params}
    assert shown == {"who": b"leaf\n", "count": b"3\n"}
    count = next(kp for kp in mod.params if kp.name == "count")
    assert kernel.param_store(mod, count, b"12") == 2
    assert kernel.machine.stats.calls == calls
    monkeypatch.setattr(kernel.api, "leaf", lambda addr: None)
    assert {kp.name: kernel.param_show(mod, kp) for kp in mod.params} == {"who": b"leaf\n", "count": b"12\n"}
    assert kernel.machine.stats.calls > calls
    kernel.delete_module("hello")


def test_parameter_variable_pointer_leads_nowhere(kernel):
    """kernel_param.arg outside every mapping: the standard get op faults inside itself, and
    the oops names it, as from the CPU (the Python path hands the fault to it)."""
    mod = kernel.finit_module(rela_addend(HELLO.read_bytes(), "__param", 32, 1 << 40))
    seq = kernel.log.next_seq
    with pytest.raises(OSError) as e:
        kernel.param_show(mod, mod.params[0])
    assert e.value.errno == errno.EFAULT
    text = b"".join(log_since(kernel, seq))
    assert b"BUG: unable to handle page fault for address" in text
    assert b"RIP: 0010:param_get_charp+0x0/0x20" in text


def test_exported_symbol_name_leads_nowhere(kernel):
    """A __ksymtab entry whose PREL32 name offset points outside every mapping: the kernel
    would oops in verify_exported_symbols(); the load fails with ENOEXEC, nothing left."""
    data = rela_addend((PREBUILT / "exporter.ko").read_bytes(), "__ksymtab", 4, 1 << 30)
    refused_with_note(kernel, data, rb"pseudokernel: exporter: __ksymtab entry 0: name at 0x[0-9a-f]+ is not mapped")
    assert load_errno(kernel, (PREBUILT / "exporter.ko").read_bytes()) == 0


@pytest.mark.parametrize("section", [".strtab", ".modinfo", "__versions"])
def test_nobits_table_of_a_terabyte(kernel, section):
    """A table the loader reads made SHT_NOBITS with sh_size 1 TiB (NOBITS sizes are not
    checked against the file): read as the kernel does, at hdr + sh_offset, so only what is in
    the file (it was allocated as a 1 TiB buffer of zeros: MemoryError escaped)."""
    e = Elf(HELLO.read_bytes())
    e.set_shdr(e.index(section), type=8, size=1 << 40)
    area = kernel.machine.modules_area.used
    try:
        mod = kernel.finit_module(e.data())
    except LoadError as err:
        assert err.errno == errno.ENOMEM and err.reason == "module_alloc"  # .strtab: laid out, 1 TiB
    else:
        assert mod.name == "hello"  # .modinfo / __versions: the file from sh_offset on, read as strings
        kernel.delete_module("hello")
    nothing_left(kernel, area)


def test_arguments_too_long_for_kmalloc(kernel):
    """strndup_user() of more than KMALLOC_MAX_SIZE (4 MiB) fails with ENOMEM (the argument
    buffer's kmalloc returned NULL and the write to it escaped as MemoryFault)."""
    area = kernel.machine.modules_area.used
    with pytest.raises(LoadError) as e:
        kernel.finit_module(HELLO.read_bytes(), "who=" + "a" * (5 << 20))
    assert e.value.errno == errno.ENOMEM
    nothing_left(kernel, area)


def rela_offset(data: bytes, section: str, index: int, r_offset: int) -> bytes:
    """The index-th relocation of `section` made to fill r_offset instead."""
    e = Elf(data)
    off, _ = e.section(".rela" + section)
    at = off + index * RELA.size
    _, r_info, addend = RELA.unpack_from(e.b, at)
    RELA.pack_into(e.b, at, r_offset, r_info, addend)
    return e.data()


@pytest.mark.parametrize(("section", "index", "to", "rtype"), [
    (".init.text", 1, 0x1, 2), (".init.text", 2, 0x1, 4), (".init.text", 5, 0x1, 11), ("__param", 1, 0x0, 1)])
def test_two_relocations_of_one_place(kernel, section, index, to, rtype):
    """The second relocation of a place finds it already written: apply_relocate_add()'s
    "existing value is nonzero" refusal, whatever the type (PC32, PLT32, 32S, 64), as the kernel."""
    data = rela_offset(HELLO.read_bytes(), section, index, to)
    refused_with_note(kernel, data, (r"module: x86/modules: Skipping invalid relocation target, existing value is "
                                     rf"nonzero for type {rtype}, loc [0-9a-f]+, val [0-9a-f]+").encode())
    assert load_errno(kernel, HELLO.read_bytes()) == 0


def test_an_array_of_relocations_over_a_written_place(kernel):
    """ORC's ip table is relocated as a whole when it can be; with one of its places already
    written, the kernel's refusal of that entry, as entry by entry."""
    e = Elf(HELLO.read_bytes())
    off, _ = e.section(".orc_unwind_ip")
    e.b[off + 8] = 1
    refused_with_note(kernel, e.data(), (br"module: x86/modules: Skipping invalid relocation target, existing value is "
                                         br"nonzero for type 2, loc [0-9a-f]+, val [0-9a-f]+"))


def test_an_array_of_relocations_as_entry_by_entry(profile, monkeypatch):
    """The table relocated as a whole holds what the entry-by-entry loop writes (two kernels of
    one seed place the module at the same address)."""
    from pseudokernel.kernel import Kernel
    from pseudokernel.module import relocate

    tables = []
    for whole in (True, False):
        if not whole:
            monkeypatch.setattr(relocate, "_fill_array", lambda *a: False)
        k = Kernel(profile, seed=3)
        try:
            mod = k.finit_module(HELLO.read_bytes())
            tables.append((mod.sections[".orc_unwind_ip"], k.machine.read(mod.sections[".orc_unwind_ip"], 24)))
        finally:
            k.close()
    assert tables[0] == tables[1] and any(tables[0][1])
