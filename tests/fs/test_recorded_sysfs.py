"""The reference machine's own /sys under the emulated one (fs/recorded.py): its recorded
entries where the emulated kernel has none, the live ones where it has, directories merged."""

from __future__ import annotations

import errno

import pytest
from realref import PREBUILT

from pseudokernel.fs import build_root
from pseudokernel.fs.recorded import node, overlay
from pseudokernel.fs.tree import Dir, File, Link, Reader, StaticDir, lookup
from pseudokernel.profile.sysfs_table import SysfsTable

TABLE = b"".join(b"\t".join(row) + b"\n" for row in [
    (b"bus", b"d", b"755", b"0", b"ok", b""),
    (b"bus/platform", b"d", b"755", b"0", b"ok", b""),
    (b"bus/platform/devices", b"d", b"755", b"0", b"ok", b""),
    (b"bus/platform/devices/i8042", b"l", b"777", b"0", b"ok", b"../../../devices/platform/i8042"),
    (b"devices", b"d", b"755", b"0", b"ok", b""),
    (b"devices/platform", b"d", b"755", b"0", b"ok", b""),
    (b"devices/platform/i8042", b"d", b"755", b"0", b"ok", b""),
    (b"devices/platform/i8042/modalias", b"f", b"444", b"4096", b"ok", b"platform:i8042\\n"),
    (b"devices/platform/i8042/odd\\tname", b"f", b"444", b"4096", b"ok", b"a\\\\b\\x01\\n"),
    (b"devices/platform/i8042/remove", b"f", b"200", b"4096", b"open:EACCES", b""),
    (b"devices/platform/i8042/rom", b"f", b"400", b"0", b"read:EIO", b""),
])


def test_the_table_is_read_as_recorded():
    rec = SysfsTable(b"# a header\n" + TABLE)
    d = node(rec, "devices/platform/i8042", 0.0)
    assert isinstance(d, Dir) and sorted(d.list()) == ["modalias", "odd\tname", "remove", "rom"]
    f = node(rec, "devices/platform/i8042/odd\tname", 0.0)
    assert isinstance(f, File) and f.read(Reader()) == b"a\\b\x01\n" and f.size == 4096 and f.mode == 0o444
    assert node(rec, "devices/platform/i8042/remove", 0.0).read is None  # refused at open: EACCES
    with pytest.raises(OSError) as e:
        node(rec, "devices/platform/i8042/rom", 0.0).read(Reader())
    assert e.value.errno == errno.EIO
    assert node(rec, "bus/platform/devices/i8042", 0.0) == Link("../../../devices/platform/i8042", 0.0, fixed=True)


def test_the_live_tree_wins_and_directories_merge():
    rec = SysfsTable(TABLE)
    live = StaticDir({
        "bus": lambda: StaticDir({"platform": lambda: StaticDir({"devices": lambda: StaticDir(
            {"pkplat": lambda: Link("../../../devices/platform/pkplat")}).as_dir()}).as_dir()}).as_dir(),
        "devices": lambda: StaticDir({"platform": lambda: StaticDir(
            {"i8042": lambda: StaticDir({"modalias": lambda: File(lambda r: b"live\n")}).as_dir()}).as_dir()}).as_dir(),
    }).as_dir()
    root = overlay(live, rec, "", 0.0)
    assert sorted(lookup(root, "/bus/platform/devices").list()) == ["i8042", "pkplat"]
    assert lookup(root, "/devices/platform/i8042/modalias").read(Reader()) == b"live\n"  # the emulated kernel's
    assert sorted(lookup(root, "/devices/platform/i8042").list()) == ["modalias", "odd\tname", "remove", "rom"]
    assert lookup(root, "/devices/platform/nothing") is None
    assert overlay(live, None, "", 0.0) is live  # no recording: the live tree alone


@pytest.mark.parametrize("release", ["6.1.0-56-amd64", "6.12.118+deb12-amd64"])
def test_the_reference_machines_sys_is_there(release):
    """What the recording holds of each machine: its buses and classes beside a module's."""
    from pseudokernel.kernel import Kernel
    from pseudokernel.profile import KernelProfile

    k = Kernel(KernelProfile.load(release), seed=7)
    try:
        assert k.profile.recorded_sysfs, "no sysfs.tsv.gz: scripts/record-sysfs"
        k.finit_module((PREBUILT if release.startswith("6.1.") else PREBUILT.with_name("prebuilt-6.12")).joinpath(
            "chardev.ko").read_bytes())
        root = build_root(k)
        assert {"pci", "platform", "cpu"} <= set(lookup(root, "/sys/bus").list())
        assert {"misc", "tty", "mem", "pkclass"} <= set(lookup(root, "/sys/class").list())
        assert "i8042" in lookup(root, "/sys/bus/platform/devices").list()
        assert lookup(root, "/sys/devices/virtual/mem/null/dev").read(Reader()) == b"1:3\n"
        assert "pkmisc" in lookup(root, "/sys/class/misc").list()  # the module's, live
        assert {"firmware", "fs", "kernel", "power"} <= set(lookup(root, "/sys").list())
        chars = lookup(root, "/sys/dev/char")
        targets = {chars.child(n).target for n in chars.list()}
        assert {"../../devices/virtual/misc/pkmisc", "../../devices/virtual/pkclass/pkchar0",
                "../../devices/virtual/mem/null"} <= targets  # the module's beside the machine's
    finally:
        k.close()


def test_a_name_the_machine_holds_is_taken(kernel):
    """A bus or class a module registers under a name the machine's own /sys already holds
    (pci, tty) is kset_register()'s -EEXIST with sysfs's and kobject's lines, as on the real
    kernel; a free name registers."""
    from pseudokernel.emu.kapi.bus import bus_register
    from pseudokernel.emu.kapi.class_ import __class_create

    api = kernel.api

    def string(text: bytes) -> int:
        p = api.kmalloc(len(text) + 1)
        api.m.write(p, text + b"\0")
        return p

    eexist = -errno.EEXIST & ((1 << 64) - 1)  # as the handler hands it to the module
    bus = api.kmalloc(512)  # a struct bus_type, zeroed: no groups
    api.m.write_u64(bus, string(b"pci"))
    seq = kernel.log.next_seq
    assert bus_register(api, bus) == eexist
    assert [r.text for r in kernel.log.records(seq)] == [
        b"sysfs: cannot create duplicate filename '/bus/pci'",
        b"kobject_add_internal failed for pci with -EEXIST, don't try to register things with the same name in "
        b"the same directory."]
    assert __class_create(api, 0, string(b"tty"), 0) == eexist
    cls = __class_create(api, 0, string(b"pkfree"), 0)
    assert cls != eexist and kernel.registry.find("class", cls) is not None
    api.m.write_u64(bus, string(b"pkfreebus"))
    assert bus_register(api, bus) == 0 and kernel.registry.find("bus", bus) is not None
