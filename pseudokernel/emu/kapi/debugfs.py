"""debugfs (fs/debugfs/inode.c and file.c): the files and directories a module creates, kept
as registry records the view builds dev/.../debug from, and the files debugfs_create_u8() and
friends make, whose reads and writes the kernel answers from the variable they point at
(simple_attr formats, the _ro and _wo variants by mode, bool's Y/N, a blob's bytes)."""

from __future__ import annotations

from errno import EACCES, EINVAL

from ...bits import MASK64
from ...profile.versions import DEBUGFS_BLOB_WRITE
from . import KernelApi, Registration, kapi
from .fs import _entry, _remove_tree
from .kstrtox import kstrtobool, kstrtoll, kstrtoull


@kapi("debugfs_create_dir")
def debugfs_create_dir(k: KernelApi, name: int, parent: int) -> int:
    return _entry(k, "debugfs", k.cname(name), parent, k.S.dentry.sizeof, dir=True)


@kapi("debugfs_create_file", "debugfs_create_file_unsafe")
def debugfs_create_file(k: KernelApi, name: int, mode: int, parent: int, data: int, fops: int) -> int:
    return _entry(k, "debugfs", k.cname(name), parent, k.S.dentry.sizeof, mode=mode & 0xFFFF, fops=fops,
                  data=data)


@kapi("debugfs_create_file_size")
def debugfs_create_file_size(k: KernelApi, name: int, mode: int, parent: int, data: int, fops: int,
                             size: int) -> None:
    debugfs_create_file(k, name, mode, parent, data, fops)


@kapi("debugfs_create_u8", "debugfs_create_u16", "debugfs_create_u32", "debugfs_create_u64", "debugfs_create_x8",
      "debugfs_create_x16", "debugfs_create_x32", "debugfs_create_x64", "debugfs_create_bool",
      "debugfs_create_size_t", "debugfs_create_ulong", "debugfs_create_atomic_t", "debugfs_create_blob",
      "debugfs_create_regset32", "debugfs_create_u32_array", "debugfs_create_devm_seqfile", "debugfs_create_str")
def debugfs_create_value(k: KernelApi, name: int, mode: int, parent: int, value: int) -> int:
    return _entry(k, "debugfs", k.cname(name), parent, k.S.dentry.sizeof, mode=mode & 0xFFFF,
                  value=value, type=k.stub.name[len("debugfs_create_"):] if k.stub else "")


@kapi("debugfs_create_symlink")
def debugfs_create_symlink(k: KernelApi, name: int, parent: int, target: int) -> int:
    return _entry(k, "debugfs", k.cname(name), parent, k.S.dentry.sizeof, target=k.cname(target))


@kapi("debugfs_remove", "debugfs_remove_recursive")
def debugfs_remove(k: KernelApi, dentry: int) -> None:
    if dentry and dentry < MASK64 - 4096:
        _remove_tree(k, "debugfs", dentry)


@kapi("debugfs_lookup")
def debugfs_lookup(k: KernelApi, name: int, parent: int) -> int:
    n = k.cname(name)
    for r in k.registry.of_kind("debugfs"):
        if r.name == n and r.info.get("parent") == parent:
            return r.obj
    return 0


@kapi("debugfs_lookup_and_remove")
def debugfs_lookup_and_remove(k: KernelApi, name: int, parent: int) -> None:
    d = debugfs_lookup(k, name, parent)
    if d:
        _remove_tree(k, "debugfs", d)


@kapi("debugfs_initialized")
def debugfs_initialized(k: KernelApi) -> int:
    return 1


# -- the value files ------------------------------------------------------------------------------

# type -> (bytes of the variable, format of its value, signed)
VALUE_TYPES = {
    "u8": (1, "{:d}\n", False), "u16": (2, "{:d}\n", False), "u32": (4, "{:d}\n", False),
    "u64": (8, "{:d}\n", False), "x8": (1, "0x{:02x}\n", False), "x16": (2, "0x{:04x}\n", False),
    "x32": (4, "0x{:08x}\n", False), "x64": (8, "0x{:016x}\n", False), "size_t": (8, "{:d}\n", False),
    "ulong": (8, "{:d}\n", False), "atomic_t": (4, "{:d}\n", True),
}
S_IRUGO, S_IWUGO = 0o444, 0o222
SET_BUF = 24  # struct simple_attr's set_buf


def value_read(k: KernelApi, rec: Registration) -> bytes | int:
    """simple_attr_read() and friends: the variable as its type prints it; -EACCES for a
    write-only file."""
    kind, addr, mode = rec.info.get("type", ""), rec.info["value"], rec.info.get("mode", 0)
    if not mode & S_IRUGO and kind != "blob":
        return -EACCES
    if kind == "bool":
        return b"Y\n" if k.m.read_u8(addr) else b"N\n"
    if kind == "blob":
        b = k.S.debugfs_blob_wrapper
        return k.m.read(k.m.read_u64(addr + b.data), k.m.read_u64(addr + b.size))
    if kind not in VALUE_TYPES:
        return -EINVAL
    size, fmt, signed = VALUE_TYPES[kind]
    v = int.from_bytes(k.m.read(addr, size), "little", signed=signed)
    return fmt.format(v).encode()


def value_write(k: KernelApi, rec: Registration, data: bytes) -> int:
    """simple_attr_write() (at most 23 bytes, kstrtoull or kstrtoll in base 0, the variable
    cut to its width, the whole input claimed); bool's kstrtobool_from_user (3 bytes, a bad
    word ignored); a read-only file refuses, and so does a blob on 6.1 (no write in its
    fops_blob); later kernels write a blob in place (write_file_blob(), at the file's start)."""
    kind, addr, mode = rec.info.get("type", ""), rec.info["value"], rec.info.get("mode", 0)
    if kind == "blob":
        if not k.kernel.profile.since(DEBUGFS_BLOB_WRITE):
            return -EINVAL
        b = k.S.debugfs_blob_wrapper
        data = data[: k.m.read_u64(addr + b.size)]  # simple_write_to_buffer()
        k.m.write(k.m.read_u64(addr + b.data), data)
        return len(data)
    if not mode & S_IWUGO:
        return -EACCES
    if kind == "bool":
        err, v = kstrtobool(data[:3].split(b"\0", 1)[0])
        if not err:
            k.m.write_u8(addr, int(v))
        return len(data)
    if kind not in VALUE_TYPES:
        return -EINVAL
    size, _fmt, signed = VALUE_TYPES[kind]
    text = data[: SET_BUF - 1].split(b"\0", 1)[0]
    err, v = (kstrtoll if signed else kstrtoull)(text, 0)
    if err:
        return err
    k.m.write(addr, (v & MASK64 & ((1 << 8 * size) - 1)).to_bytes(size, "little"))
    return len(data)
