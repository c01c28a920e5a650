"""What modules put in the file systems: /proc entries (fs/proc/generic.c), debugfs, sysfs
attributes and kobjects, file system types, seq_file helpers (user copies: usercopy.py).

Every proc entry, debugfs file and sysfs kobject is recorded in Kernel.registry with its parent
path, so a view can show it.
"""

from __future__ import annotations

from errno import ENOENT

from . import KernelApi, VarArgs, kapi
from . import neg_errno as _err
from .device import free_kernel_object
from .sysfs import create_groups, remove_attrs


def _entry(k: KernelApi, kind: str, name: str, parent: int, size: int = 192, **info) -> int:
    """A kernel object standing for a file or directory (a proc_dir_entry, a dentry)."""
    obj = k.m.kmalloc(size, k.caller_module_name(), k.caller, kind=kind)
    reg = k.registry
    parent_rec = reg.find(kind, parent) if parent else None
    path = (parent_rec.info["path"] + "/" if parent_rec else "") + name
    reg.add(kind, name, obj, k.caller_module_name(), path=path, parent=parent, **info)
    return obj


def _remove_tree(k: KernelApi, kind: str, obj: int) -> None:
    reg = k.registry
    rec = reg.remove(kind, obj)
    if rec is None:
        return
    for child in [r for r in reg.of_kind(kind) if r.info.get("parent") == obj]:
        _remove_tree(k, kind, child.obj)
    k.kfree(obj)  # the proc_dir_entry or dentry _entry() allocated


# -- /proc ----------------------------------------------------------------------------------------

def _xlate_proc_name(k: KernelApi, n: str, parent: int) -> tuple[str, int]:
    """xlate_proc_name(): a name with slashes ("fs/xfs/stat") lives in the directory its
    leading components name. Those a module created are in the registry (possibly created
    under a slashed name themselves, "fs/xfs"); the kernel's own (/proc/fs) stay in the name."""
    parts = n.split("/")
    while len(parts) > 1:
        for i in range(len(parts) - 1, 0, -1):
            head = "/".join(parts[:i])
            rec = next((r for r in k.registry.of_kind("proc")
                        if r.name == head and r.info.get("parent") == parent and r.info.get("dir")), None)
            if rec is not None:
                parent, parts = rec.obj, parts[i:]
                break
        else:
            break
    return "/".join(parts), parent


def _proc(k: KernelApi, name: int, mode: int, parent: int, **info) -> int:
    n, parent = _xlate_proc_name(k, k.cname(name), parent)
    reg = k.registry
    if any(r.name == n and r.info.get("parent") == parent for r in reg.of_kind("proc")):
        k.log.printk(f"\x014proc_dir_entry '{_proc_path(k, parent)}/{n}' already registered\n")
        return 0
    obj = _entry(k, "proc", n, parent, k.S.proc_dir_entry.sizeof, mode=mode & 0xFFFF, **info)
    return obj


def _proc_path(k: KernelApi, parent: int) -> str:
    rec = k.registry.find("proc", parent) if parent else None
    return rec.info["path"] if rec else ""


@kapi("proc_create")
def proc_create(k: KernelApi, name: int, mode: int, parent: int, proc_ops: int) -> int:
    return _proc(k, name, mode, parent, ops=proc_ops)


@kapi("proc_create_data")
def proc_create_data(k: KernelApi, name: int, mode: int, parent: int, proc_ops: int, data: int) -> int:
    return _proc(k, name, mode, parent, ops=proc_ops, data=data)


@kapi("proc_create_single_data")
def proc_create_single_data(k: KernelApi, name: int, mode: int, parent: int, show: int, data: int) -> int:
    return _proc(k, name, mode, parent, show=show, data=data)


@kapi("proc_create_seq_private")
def proc_create_seq_private(k: KernelApi, name: int, mode: int, parent: int, ops: int, state_size: int,
                            data: int) -> int:
    return _proc(k, name, mode, parent, seq_ops=ops, data=data, state_size=state_size & 0xFFFFFFFF)


# fs/proc/proc_net.c: the seq_file's private data starts with the struct net (seq_file_net())
@kapi("proc_create_net_data")
def proc_create_net_data(k: KernelApi, name: int, mode: int, parent: int, ops: int, state_size: int,
                         data: int) -> int:
    return _proc(k, name, mode, parent, seq_ops=ops, state_size=state_size & 0xFFFFFFFF, data=data, net=True)


@kapi("proc_create_net_data_write")
def proc_create_net_data_write(k: KernelApi, name: int, mode: int, parent: int, ops: int, write: int,
                               state_size: int, data: int) -> int:
    return _proc(k, name, mode, parent, seq_ops=ops, state_size=state_size & 0xFFFFFFFF, data=data, net=True)


@kapi("proc_create_net_single")
def proc_create_net_single(k: KernelApi, name: int, mode: int, parent: int, show: int, data: int) -> int:
    return _proc(k, name, mode, parent, show=show, data=data, net=True)


@kapi("proc_create_net_single_write")
def proc_create_net_single_write(k: KernelApi, name: int, mode: int, parent: int, show: int, write: int,
                                 data: int) -> int:
    return _proc(k, name, mode, parent, show=show, data=data, net=True)


@kapi("proc_mkdir")
def proc_mkdir(k: KernelApi, name: int, parent: int) -> int:
    return _proc(k, name, 0o40555, parent, dir=True)


@kapi("proc_mkdir_mode")
def proc_mkdir_mode(k: KernelApi, name: int, mode: int, parent: int) -> int:
    return _proc(k, name, 0o40000 | (mode & 0o7777), parent, dir=True)


@kapi("proc_mkdir_data")
def proc_mkdir_data(k: KernelApi, name: int, mode: int, parent: int, data: int) -> int:
    return _proc(k, name, 0o40000 | (mode & 0o7777 or 0o555), parent, dir=True, data=data)


@kapi("proc_symlink")
def proc_symlink(k: KernelApi, name: int, parent: int, dest: int) -> int:
    return _proc(k, name, 0o120777, parent, target=k.cname(dest))


@kapi("remove_proc_entry")
def remove_proc_entry(k: KernelApi, name: int, parent: int) -> None:
    n, parent = _xlate_proc_name(k, k.cname(name), parent)
    for r in k.registry.of_kind("proc"):
        if r.name == n and r.info.get("parent") == parent:
            _remove_tree(k, "proc", r.obj)
            return
    k.log.printk(f"\x014name '{n}'\n")
    k.log.printk(b"\x014WARNING: remove_proc_entry: removing non-empty directory or missing entry\n")


@kapi("remove_proc_subtree")
def remove_proc_subtree(k: KernelApi, name: int, parent: int) -> int:
    n, parent = _xlate_proc_name(k, k.cname(name), parent)
    for r in k.registry.of_kind("proc"):
        if r.name == n and r.info.get("parent") == parent:
            _remove_tree(k, "proc", r.obj)
            return 0
    return _err(ENOENT)


@kapi("proc_remove")
def proc_remove(k: KernelApi, de: int) -> None:
    if de:
        _remove_tree(k, "proc", de)


@kapi("proc_set_size", "proc_set_user")
def proc_set_size(k: KernelApi, de: int, size: int) -> None:
    return None


# -- sysfs and kobjects ---------------------------------------------------------------------------

def _kobj_name(k: KernelApi, kobj: int) -> str:
    return k.cname(k.m.read_u64(kobj + k.S.kobject.name)) if kobj else ""


def _set_kobj_name(k: KernelApi, kobj: int, name: bytes) -> None:
    p = k.m.kmalloc(len(name) + 1, k.caller_module_name(), k.caller, kind="kobject-name")
    k.m.write(p, name + b"\0")
    k.m.write_u64(kobj + k.S.kobject.name, p)


@kapi("kobject_create_and_add")
def kobject_create_and_add(k: KernelApi, name: int, parent: int) -> int:
    kobj = k.m.kmalloc(k.S.kobject.sizeof, k.caller_module_name(), k.caller, kind="kobject")
    _set_kobj_name(k, kobj, k.cstr(name, 256))
    k.m.write_u64(kobj + k.S.kobject.parent, parent)
    k.m.write_u32(kobj + k.S.kobject.kref, 1)
    k.registry.add("kobject", k.cname(name), kobj, k.caller_module_name(), parent=_kobj_name(k, parent),
                   parent_obj=parent)
    return kobj


@kapi("kobject_init")
def kobject_init(k: KernelApi, kobj: int, ktype: int) -> None:
    k.m.write_u64(kobj + k.S.kobject.ktype, ktype)
    k.m.write_u32(kobj + k.S.kobject.kref, 1)


@kapi("kobject_add")
def kobject_add(k: KernelApi, kobj: int, parent: int, fmt: int, args: VarArgs) -> int:
    _set_kobj_name(k, kobj, k.format(fmt, args))
    k.m.write_u64(kobj + k.S.kobject.parent, parent)
    k.registry.add("kobject", _kobj_name(k, kobj), kobj, k.caller_module_name(),
                   parent=_kobj_name(k, parent), parent_obj=parent)
    ktype = k.m.read_u64(kobj + k.S.kobject.ktype)
    return create_groups(k, kobj, "kobj", k.m.read_u64(ktype + k.S.kobj_type.default_groups)) if ktype else 0


@kapi("kobject_init_and_add")
def kobject_init_and_add(k: KernelApi, kobj: int, ktype: int, parent: int, fmt: int, args: VarArgs) -> int:
    kobject_init(k, kobj, ktype)
    return kobject_add(k, kobj, parent, fmt, args)


@kapi("kobject_del")
def kobject_del(k: KernelApi, kobj: int) -> None:
    k.registry.remove("kobject", kobj)
    remove_attrs(k, kobj)


@kapi("kobject_put")
def kobject_put(k: KernelApi, kobj: int) -> None:
    """The last reference: release through the ktype, as kobject_release() does."""
    if not kobj:
        return
    kref = kobj + k.S.kobject.kref
    n = k.m.read_u32(kref)
    if n > 1:
        k.m.write_u32(kref, n - 1)
        return
    k.m.write_u32(kref, 0)
    k.registry.remove("kobject", kobj)
    remove_attrs(k, kobj)
    free_kernel_object(k, k.m.read_u64(kobj + k.S.kobject.name), "kobject-name")  # kobject_cleanup()
    ktype = k.m.read_u64(kobj + k.S.kobject.ktype)
    release = k.m.read_u64(ktype + k.S.kobj_type.release) if ktype else 0
    if release:
        k.m.call(release, kobj)
    else:
        free_kernel_object(k, kobj, "kobject")  # dynamic_kobj_release(): kobject_create_and_add()'s


@kapi("kobject_get")
def kobject_get(k: KernelApi, kobj: int) -> int:
    if kobj:
        kref = kobj + k.S.kobject.kref
        k.m.write_u32(kref, k.m.read_u32(kref) + 1)
    return kobj


@kapi("kobject_uevent", "kobject_uevent_env")
def kobject_uevent(k: KernelApi, kobj: int, action: int) -> int:
    return 0


@kapi("sysfs_emit")
def sysfs_emit(k: KernelApi, buf: int, fmt: int, args: VarArgs) -> int:
    out = k.format(fmt, args)[:4095]
    k.m.write(buf, out + b"\0")
    return len(out)


@kapi("sysfs_emit_at")
def sysfs_emit_at(k: KernelApi, buf: int, at: int, fmt: int, args: VarArgs) -> int:
    at &= 0xFFFFFFFF
    if at >= 4096:
        return 0
    out = k.format(fmt, args)[: 4095 - at]
    k.m.write(buf + at, out + b"\0")
    return len(out)


# -- file systems ----------------------------------------------------------------------------------

@kapi("register_filesystem")
def register_filesystem(k: KernelApi, fs: int) -> int:
    name = k.cname(k.m.read_u64(fs))
    reg = k.registry
    if any(r.name == name for r in reg.of_kind("filesystem")):
        return _err(16)  # -EBUSY
    reg.add("filesystem", name, fs, k.caller_module_name())
    return 0


@kapi("unregister_filesystem")
def unregister_filesystem(k: KernelApi, fs: int) -> int:
    return 0 if k.registry.remove("filesystem", fs) else _err(22)


# -- internal mounts (fs/libfs.c simple_pin_fs) ---------------------------------------------------

def _mount(k: KernelApi, fstype: int) -> int:
    """A vfsmount of an in-kernel file system: root dentry, its inode, the super block."""
    sb = k.m.kmalloc(k.S.super_block.sizeof, k.caller_module_name(), k.caller, kind="super_block")
    root = k.m.kmalloc(k.S.dentry.sizeof, k.caller_module_name(), k.caller, kind="dentry")
    inode = k.m.kmalloc(k.S.inode.sizeof, k.caller_module_name(), k.caller, kind="inode")
    mnt = k.m.kmalloc(k.S.vfsmount.sizeof, k.caller_module_name(), k.caller, kind="vfsmount")
    k.m.write_u64(sb + k.S.super_block.s_type, fstype)
    k.m.write_u64(sb + k.S.super_block.s_root, root)
    k.m.write_u16(inode + k.S.inode.i_mode, 0o40755)
    k.m.write_u64(inode + k.S.inode.i_sb, sb)
    k.m.write_u64(inode + k.S.inode.i_ino, 1)
    k.m.write_u64(root + k.S.dentry.d_parent, root)
    k.m.write_u64(root + k.S.dentry.d_inode, inode)
    k.m.write_u64(root + k.S.dentry.d_sb, sb)
    k.m.write(root + k.S.dentry.d_iname, b"/\0")
    k.m.write_u64(root + k.S.dentry.d_name + 8, root + k.S.dentry.d_iname)
    k.m.write_u32(root + k.S.dentry.d_name + 4, 1)
    k.m.write_u64(mnt + k.S.vfsmount.mnt_root, root)
    k.m.write_u64(mnt + k.S.vfsmount.mnt_sb, sb)
    return mnt


@kapi("simple_pin_fs")
def simple_pin_fs(k: KernelApi, fstype: int, mount: int, count: int) -> int:
    if not k.m.read_u64(mount):
        k.m.write_u64(mount, _mount(k, fstype))
    k.m.write_u32(count, k.m.read_u32(count) + 1)
    return 0


@kapi("simple_release_fs")
def simple_release_fs(k: KernelApi, mount: int, count: int) -> None:
    n = k.m.read_u32(count)
    k.m.write_u32(count, max(n - 1, 0))


@kapi("kern_mount")
def kern_mount(k: KernelApi, fstype: int) -> int:
    return _mount(k, fstype)
