"""A module's attribute files in sysfs (fs/sysfs/group.c and file.c; the show and store paths of
drivers/base/core.c dev_attr_show(), class.c class_attr_show(), bus.c drv_attr_show() and
lib/kobject.c kobj_attr_show()), and the kobjects the kernel has at boot (kernel_kobj ...).

Each file is recorded as kind "attr" in the registry: the object whose directory holds it
(`dir`: a kobject, a device, a class or a device_driver), how its show and store are called
(`via`), its mode after is_visible(), and the group's subdirectory if the group is named. The
views list them; a read runs the module's show on a page of kernel memory, a write its store.
"""

from __future__ import annotations

from errno import EEXIST, EFBIG, EIO

from ...bits import MASK64, s64
from . import KernelApi, Registration, kapi, kdata
from . import neg_errno as _err

PAGE_SIZE = 4096
S_IALLUGO = 0o7777
# the kobjects of /sys the kernel makes at boot, which modules put theirs under
BOOT_KOBJECTS = {"kernel_kobj": "kernel", "mm_kobj": "mm", "firmware_kobj": "firmware", "power_kobj": "power",
                 "hypervisor_kobj": "hypervisor", "fs_kobj": "fs"}


def _boot_kobject(name: str):
    def init(k: KernelApi, addr: int) -> None:
        kobj = k.m.kmalloc(k.S.kobject.sizeof, "", 0, kind="kobject")
        text = k.static_string(name)
        k.m.write_u64(kobj + k.S.kobject.name, text)
        k.m.write_u32(kobj + k.S.kobject.kref, 1)
        k.m.write_u64(addr, kobj)
        k.state.setdefault("boot_kobjects", {})[kobj] = name

    return init


for _sym, _name in BOOT_KOBJECTS.items():
    kdata(_sym)(_boot_kobject(_name))


def boot_kobject_path(k: KernelApi, kobj: int) -> str | None:
    """The /sys directory of a boot kobject ('kernel'), None for another object."""
    return k.state.get("boot_kobjects", {}).get(kobj)


def add_attr(k: KernelApi, owner: int, via: str, attr: int, mode: int | None = None, group: int = 0,
             subdir: str = "") -> None:
    a = k.S.attribute
    name = k.cname(k.m.read_u64(attr + a.name))
    if mode is None:
        mode = k.m.read_u16(attr + a.mode)
    k.registry.add("attr", name, attr, k.caller_module_name(), dir=owner, via=via, mode=mode & S_IALLUGO,
                   group=group, subdir=subdir)


def create_group(k: KernelApi, owner: int, via: str, grp: int) -> int:
    """create_files(): each attribute, then each binary one, with the mode is_visible() (or
    is_bin_visible()) gives it; 0 leaves it out."""
    if not grp:
        return 0
    g = k.S.attribute_group
    name = k.m.read_u64(grp + g.name)
    subdir = k.cname(name) if name else ""
    for attr, mode in _visible(k, owner, k.m.read_u64(grp + g.attrs), k.m.read_u64(grp + g.is_visible)):
        add_attr(k, owner, via, attr, mode, grp, subdir)
    for battr, mode in _visible(k, owner, k.m.read_u64(grp + g.bin_attrs), k.m.read_u64(grp + g.is_bin_visible)):
        add_bin_attr(k, owner, battr, mode, grp, subdir)
    return 0


def _visible(k: KernelApi, owner: int, array: int, is_visible: int) -> list[tuple[int, int]]:
    """(attribute, mode) of a NULL-terminated array, asking is_visible() where there is one."""
    out = []
    for i in range(4096 if array else 0):
        attr = k.m.read_u64(array + 8 * i)
        if not attr:
            break
        mode = k.m.read_u16(attr + k.S.attribute.mode)
        if is_visible:
            mode = k.m.call(is_visible, owner, attr, i) & 0xFFFF
            if not mode:
                continue
        out.append((attr, mode))
    return out


def add_bin_attr(k: KernelApi, owner: int, battr: int, mode: int | None = None, group: int = 0,
                 subdir: str = "") -> None:
    """sysfs_add_bin_file_mode_ns(): a binary attribute, its size (the inode's) fixed now."""
    add_attr(k, owner, "bin", battr, mode, group, subdir)
    k.registry.items[-1].info["size"] = k.m.read_u64(battr + k.S.bin_attribute.size)


def kset_register(k: KernelApi, kset: str, kind: str, name: str) -> int:
    """kset_register() of a bus or a class: /sys/<kset>/<name> taken, by a module's or by one
    of the machine's own (its recorded /sys), is sysfs_warn_dup()'s line (its dump_stack() is
    not printed) and kobject_add_internal()'s, and -EEXIST; 0 when the name is free."""
    table = k.profile.recorded_sysfs
    if not any(r.name == name for r in k.registry.of_kind(kind)) and not (table and table.has(f"{kset}/{name}")):
        return 0
    k.log.printk(f"\x014sysfs: cannot create duplicate filename '/{kset}/{name}'\n")
    k.log.printk(f"\x013kobject_add_internal failed for {name} with -EEXIST, don't try to register things "
                 "with the same name in the same directory.\n")
    return _err(EEXIST)


def create_groups(k: KernelApi, owner: int, via: str, groups: int) -> int:
    for i in range(256 if groups else 0):
        grp = k.m.read_u64(groups + 8 * i)
        if not grp:
            break
        create_group(k, owner, via, grp)
    return 0


def remove_attrs(k: KernelApi, owner: int, attr: int | None = None, group: int | None = None) -> None:
    """What sysfs_remove_*() and the removal of the object take away (its links too)."""
    for r in [r for r in k.registry.of_kind("attr") if r.info["dir"] == owner]:
        if (attr is None or r.obj == attr) and (group is None or r.info["group"] == group):
            k.registry.items.remove(r)
    if attr is None and group is None:
        for r in [r for r in k.registry.of_kind("sysfs_link") if r.obj == owner]:
            k.registry.items.remove(r)


def attrs_of(k: KernelApi, owner: int) -> list[Registration]:
    return [r for r in k.registry.of_kind("attr") if r.info["dir"] == owner]


# -- reading and writing them -------------------------------------------------------------------

# attributes whose show(obj, buf) and store(obj, buf, count) are not handed the attribute
TWO_ARG = frozenset({"drv", "bus"})

def attr_show(k: KernelApi, rec: Registration) -> bytes | int:
    """sysfs_kf_seq_show(): show() fills a zeroed page; what it returns is the content."""
    m = k.m
    show = m.read_u64(rec.obj + k.S.kobj_attribute.show)
    if not show:
        return -EIO
    page = m.kmalloc(PAGE_SIZE, "", 0, kind="sysfs-page")
    try:
        m.write(page, bytes(PAGE_SIZE))
        args = (rec.info["dir"], page) if rec.info["via"] in TWO_ARG else (rec.info["dir"], rec.obj, page)
        n = s64(m.call(show, *args))
        if n < 0:
            return n
        if n >= PAGE_SIZE:
            k.log.printk(b"\x014fill_read_buffer: " + k.kernel.format_symbol(show).encode() + b" returned bad count\n")
            n = PAGE_SIZE - 1
        return m.read(page, n)
    finally:
        k.kfree(page)


def bin_read(k: KernelApi, rec: Registration, offset: int, count: int) -> bytes | int:
    """sysfs_kf_bin_read(): count clamped to the size (a size of 0 is unbounded), at most a
    page per call as kernfs hands it out; the module's read fills a kernel buffer."""
    size = rec.info["size"]
    count = min(count, PAGE_SIZE)
    if not count:
        return b""
    if size:
        if offset >= size:
            return b""
        count = min(count, size - offset)
    read = k.m.read_u64(rec.obj + k.S.bin_attribute.read)
    if not read:
        return -EIO
    buf = k.m.kmalloc(count, "", 0, kind="sysfs-bin")
    try:
        n = s64(k.m.call(read, 0, rec.info["dir"], rec.obj, buf, offset, count))
        return n if n < 0 else k.m.read(buf, min(n, count))
    finally:
        k.kfree(buf)


def bin_write(k: KernelApi, rec: Registration, data: bytes, offset: int) -> int:
    """sysfs_kf_bin_write(): EFBIG at or past the size, the count clamped to it; a copy of at
    most a page, NUL-terminated (kernfs_fop_write_iter), for the module's write."""
    size = rec.info["size"]
    data = data[:PAGE_SIZE]
    if size:
        if size <= offset:
            return -EFBIG
        data = data[: size - offset]
    if not data:
        return 0
    write = k.m.read_u64(rec.obj + k.S.bin_attribute.write)
    if not write:
        return -EIO
    buf = k.m.kmalloc(len(data) + 1, "", 0, kind="sysfs-bin")
    try:
        k.m.write(buf, data + b"\0")
        return s64(k.m.call(write, 0, rec.info["dir"], rec.obj, buf, offset, len(data)))
    finally:
        k.kfree(buf)


def attr_store(k: KernelApi, rec: Registration, data: bytes) -> int:
    """sysfs_kf_write(): the bytes, NUL-terminated, on a kernel page; store()'s return."""
    m = k.m
    store = m.read_u64(rec.obj + k.S.kobj_attribute.store)
    if not store:
        return -EIO
    data = data[: PAGE_SIZE - 1]
    page = m.kmalloc(PAGE_SIZE, "", 0, kind="sysfs-page")
    try:
        m.write(page, data + b"\0")
        args = (rec.info["dir"], page, len(data)) if rec.info["via"] in TWO_ARG else \
            (rec.info["dir"], rec.obj, page, len(data))
        return s64(m.call(store, *args))
    finally:
        k.kfree(page)


# -- the kernel functions ---------------------------------------------------------------------------

@kapi("sysfs_create_group", "sysfs_merge_group", "sysfs_update_group")
def sysfs_create_group(k: KernelApi, kobj: int, grp: int) -> int:
    return create_group(k, kobj, "kobj", grp)


@kapi("sysfs_create_groups")
def sysfs_create_groups(k: KernelApi, kobj: int, groups: int) -> int:
    return create_groups(k, kobj, "kobj", groups)


@kapi("sysfs_create_file_ns")
def sysfs_create_file_ns(k: KernelApi, kobj: int, attr: int, ns: int) -> int:
    add_attr(k, kobj, "kobj", attr)
    return 0


@kapi("sysfs_create_files")
def sysfs_create_files(k: KernelApi, kobj: int, attrs: int) -> int:
    for i in range(4096):
        attr = k.m.read_u64(attrs + 8 * i)
        if not attr:
            break
        add_attr(k, kobj, "kobj", attr)
    return 0


@kapi("sysfs_remove_group", "sysfs_unmerge_group")
def sysfs_remove_group(k: KernelApi, kobj: int, grp: int) -> None:
    remove_attrs(k, kobj, group=grp)


@kapi("sysfs_remove_groups")
def sysfs_remove_groups(k: KernelApi, kobj: int, groups: int) -> None:
    for i in range(256 if groups else 0):
        grp = k.m.read_u64(groups + 8 * i)
        if not grp:
            break
        remove_attrs(k, kobj, group=grp)


@kapi("sysfs_remove_file_ns")
def sysfs_remove_file_ns(k: KernelApi, kobj: int, attr: int, ns: int) -> None:
    remove_attrs(k, kobj, attr=attr)


@kapi("sysfs_remove_files")
def sysfs_remove_files(k: KernelApi, kobj: int, attrs: int) -> None:
    for i in range(4096):
        attr = k.m.read_u64(attrs + 8 * i)
        if not attr:
            break
        remove_attrs(k, kobj, attr=attr)


@kapi("sysfs_create_bin_file", "device_create_bin_file")
def sysfs_create_bin_file(k: KernelApi, kobj: int, battr: int) -> int:
    """(A device's kobject is the struct device itself: its first member.)"""
    add_bin_attr(k, kobj, battr)
    return 0


@kapi("sysfs_remove_bin_file", "device_remove_bin_file")
def sysfs_remove_bin_file(k: KernelApi, kobj: int, battr: int) -> None:
    remove_attrs(k, kobj, attr=battr)


@kapi("sysfs_create_link", "sysfs_create_link_nowarn")
def sysfs_create_link(k: KernelApi, kobj: int, target: int, name: int) -> int:
    """A symlink in kobj's directory to target's; -EEXIST for a name taken (the kernel's
    sysfs_warn_dup() is not printed for it here)."""
    text = k.cname(name)
    if any(r.obj == kobj and r.name == text for r in k.registry.of_kind("sysfs_link")):
        return -EEXIST & MASK64
    k.registry.add("sysfs_link", text, kobj, k.caller_module_name(), target=target)
    return 0


@kapi("sysfs_remove_link")
def sysfs_remove_link(k: KernelApi, kobj: int, name: int) -> None:
    text = k.cname(name)
    for r in [r for r in k.registry.of_kind("sysfs_link") if r.obj == kobj and r.name == text]:
        k.registry.items.remove(r)


def links_of(k: KernelApi, owner: int) -> list[Registration]:
    return [r for r in k.registry.of_kind("sysfs_link") if r.obj == owner]


@kapi("device_add_group", "devm_device_add_group")
def device_add_group(k: KernelApi, dev: int, grp: int) -> int:
    return create_group(k, dev, "dev", grp)


@kapi("device_add_groups", "devm_device_add_groups")
def device_add_groups(k: KernelApi, dev: int, groups: int) -> int:
    return create_groups(k, dev, "dev", groups)


@kapi("device_remove_group")
def device_remove_group(k: KernelApi, dev: int, grp: int) -> None:
    remove_attrs(k, dev, group=grp)


@kapi("class_create_file_ns")
def class_create_file_ns(k: KernelApi, cls: int, attr: int, ns: int) -> int:
    add_attr(k, cls, "class", attr)
    return 0


@kapi("class_remove_file_ns")
def class_remove_file_ns(k: KernelApi, cls: int, attr: int, ns: int) -> None:
    remove_attrs(k, cls, attr=attr)


# device_create_file(), driver_create_file(), bus_create_file() and their removals: one
# attribute on the object, its show and store called as its kind calls them (TWO_ARG)
def _create_file(via: str):
    def create(k: KernelApi, obj: int, attr: int) -> int:
        add_attr(k, obj, via, attr)
        return 0

    return create


def _remove_file(k: KernelApi, obj: int, attr: int) -> None:
    remove_attrs(k, obj, attr=attr)


for _via, _kind in (("dev", "device"), ("drv", "driver"), ("bus", "bus")):
    kapi(f"{_kind}_create_file")(_create_file(_via))
    kapi(f"{_kind}_remove_file")(_remove_file)
