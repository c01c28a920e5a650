"""libkmod-module.c's reads of /sys/module (initstate, refcnt, holders, size) over a sysfs
view that is a directory or memory, and module names as libkmod normalises them; shared by
rmmod, lsmod, modprobe and modinfo."""

from __future__ import annotations

import os
from errno import EINVAL, ENOENT

from .log import LOG_ERR, strerror

TYPE_CHECKING = False  # typing.TYPE_CHECKING, without importing typing on every CLI call

# The CLI runs this on every insmod: no dataclasses or typing machinery at import time (the
# 30 ms budget of a round trip is mostly the interpreter's own start).
if TYPE_CHECKING:
    from collections.abc import Sequence
    from typing import Protocol
else:
    Protocol = object


# open(2) flags that libkmod reuses as delete_module(2) flags
O_NONBLOCK = 0o4000


O_TRUNC = 0o1000


KMOD_REMOVE_FORCE = O_TRUNC


KMOD_REMOVE_NOWAIT = O_NONBLOCK


class SysReader(Protocol):
    """A read-only view of a sysfs tree; paths are relative to its root (`module/hello/refcnt`).
    Implementations: DirSysReader over a directory (the FUSE mount's sys/, or /sys), MemSysReader
    over a dict."""

    def read_file(self, path: str) -> str | None: ...

    def listdir(self, path: str) -> list[str] | None: ...


class DirSysReader:
    """SysReader over a real directory such as `mountpoint/sys`."""

    def __init__(self, root: str) -> None:
        self.root = root

    def read_file(self, path: str) -> str | None:
        try:
            with open(os.path.join(self.root, path), "rb") as f:
                return f.read(4096).decode("utf-8", "surrogateescape")
        except OSError:
            return None

    def listdir(self, path: str) -> list[str] | None:
        try:
            return os.listdir(os.path.join(self.root, path))
        except OSError:
            return None


class MemSysReader:
    """SysReader over `{"module/hello/refcnt": "0\\n", ...}`; directories are implied by the
    files under them, and `dirs` adds empty ones (an empty holders/)."""

    def __init__(self, files: dict[str, str], dirs: Sequence[str] = ()) -> None:
        self.files = dict(files)
        self.dirs = {d.strip("/") for d in dirs}
        for p in self.files:
            parts = p.split("/")
            for i in range(1, len(parts)):
                self.dirs.add("/".join(parts[:i]))

    def read_file(self, path: str) -> str | None:
        return self.files.get(path.strip("/"))

    def listdir(self, path: str) -> list[str] | None:
        path = path.strip("/")
        if path not in self.dirs and path != "":
            return None
        prefix = path + "/" if path else ""
        names = {p[len(prefix):].split("/")[0] for p in [*self.files, *self.dirs] if p.startswith(prefix) and p != path}
        return sorted(n for n in names if n)


_SPACE = " \t\n\v\f\r"


def read_str_long(text: str | None) -> int | None:
    """shared/util.c read_str_long(fd, &v, 10): strtol over at most 31 bytes, and the number must
    be followed by whitespace ("0\\n" is fine, a bare "0" is -EINVAL). Parsed by hand: `re`
    would cost every rmmod about 10 ms of imports."""
    if text is None:
        return None
    buf = text[:31]
    i = len(buf) - len(buf.lstrip(_SPACE))
    start = i
    if i < len(buf) and buf[i] in "+-":
        i += 1
    digits = i
    while i < len(buf) and "0" <= buf[i] <= "9":
        i += 1
    if i == digits or i >= len(buf) or buf[i] not in _SPACE:
        return None
    return max(-(1 << 63), min((1 << 63) - 1, int(buf[start:i])))


def modname_normalize(name: str) -> str:
    """shared/util.c modname_normalize(): '-' becomes '_', and the name stops at the first '.'."""
    return name.split(".", 1)[0].replace("-", "_")


def path_to_modname(path: str) -> str:
    """shared/util.c path_to_modname(): the base name, normalized (`a/snd-pcm.ko.xz` -> snd_pcm)."""
    return modname_normalize(os.path.basename(path))


# enum kmod_module_initstate
KMOD_MODULE_BUILTIN, KMOD_MODULE_LIVE, KMOD_MODULE_COMING, KMOD_MODULE_GOING = 0, 1, 2, 3


class SysfsModule:
    """libkmod's sysfs reads of one module (kmod_module_get_initstate/refcnt/holders/size), with
    the libkmod errors they log collected as (priority, source line, function, message)."""

    def __init__(self, sys: SysReader, name: str, builtin: bool = False) -> None:
        self.sys = sys
        self.name = name
        self.builtin = builtin
        self.logs: list[tuple[int, int, str, str]] = []

    def initstate(self) -> int:
        """KMOD_MODULE_* or -errno. A /sys/module/<name> directory without initstate counts as
        COMING (the kernel creates initstate last)."""
        if self.builtin:
            return KMOD_MODULE_BUILTIN
        path = f"module/{self.name}/initstate"
        buf = self.sys.read_file(path)
        if buf is None:
            if self.sys.listdir(f"module/{self.name}") is not None:
                return KMOD_MODULE_COMING
            return -ENOENT
        buf = buf[:31]
        states = {"live\n": KMOD_MODULE_LIVE, "coming\n": KMOD_MODULE_COMING, "going\n": KMOD_MODULE_GOING}
        if buf in states:
            return states[buf]
        self.logs.append((LOG_ERR, 1847, "kmod_module_get_initstate", f"unknown /sys/{path}: '{buf}'\n"))
        return -EINVAL

    def refcnt(self) -> int:
        path = f"module/{self.name}/refcnt"
        text = self.sys.read_file(path)
        if text is None:
            return -ENOENT
        value = read_str_long(text)
        if value is None:
            self.logs.append((LOG_ERR, 1967, "kmod_module_get_refcnt",
                              f"could not read integer from '/sys/{path}': '{strerror(EINVAL)}'\n"))
            return -EINVAL
        return ((value + (1 << 31)) % (1 << 32)) - (1 << 31)  # (int)refcnt

    def holders(self) -> list[str]:
        """Names in readdir order, normalized like kmod_module_new_from_name(); [] when the
        directory cannot be opened (logged, as libkmod does)."""
        path = f"module/{self.name}/holders"
        names = self.sys.listdir(path)
        if names is None:
            self.logs.append((LOG_ERR, 1998, "kmod_module_get_holders",
                              f"could not open '/sys/{path}': {strerror(ENOENT)}\n"))
            return []
        return [modname_normalize(n) for n in names if n not in (".", "..")]

    def size(self, proc_modules: str) -> int:
        """kmod_module_get_size(): coresize, else the /proc/modules column, -ENOENT if unloaded."""
        if self.sys.listdir(f"module/{self.name}") is None:
            return -ENOENT
        text = self.sys.read_file(f"module/{self.name}/coresize")
        if text is not None:
            value = read_str_long(text)
            if value is None:
                self.logs.append((LOG_ERR, 1886, "kmod_module_get_size",
                                  f"failed to read coresize from /sys/module/{self.name}\n"))
                return -ENOENT
            return value
        import re

        for lineno, line in enumerate(proc_modules.splitlines(), 1):
            toks = [t for t in re.split("[ \t]", line) if t]
            if not toks or toks[0] != self.name:
                continue
            if len(toks) < 2 or not re.fullmatch(r"[ \t\n\v\f\r]*[+-]?[0-9]+", toks[1]):
                self.logs.append((LOG_ERR, 1912 if len(toks) < 2 else 1919, "kmod_module_get_size",
                                  f"invalid line format at /proc/modules:{lineno}\n"))
                return -ENOENT
            return int(toks[1])
        return -ENOENT


# -- struct kmod_module, as the probe code uses it --------------------------------------------

# KMOD_PROBE_* flags (libkmod.h)
KMOD_PROBE_FORCE_VERMAGIC = 0x00001
KMOD_PROBE_FORCE_MODVERSION = 0x00002
KMOD_PROBE_IGNORE_COMMAND = 0x00004
KMOD_PROBE_IGNORE_LOADED = 0x00008
KMOD_PROBE_DRY_RUN = 0x00010
KMOD_PROBE_FAIL_ON_LOADED = 0x00020
KMOD_PROBE_APPLY_BLACKLIST_ALL = 0x10000
KMOD_PROBE_APPLY_BLACKLIST = 0x20000
KMOD_PROBE_APPLY_BLACKLIST_ALIAS_ONLY = 0x40000


class KmodModule:
    """struct kmod_module as the probe code uses it (one per pool key)."""

    def __init__(self, name: str, alias: str | None = None) -> None:
        self.name = name
        self.alias = alias
        self.path: str | None = None
        self.dep: list[KmodModule] | None = None  # None until modules.dep was searched
        self.builtin: bool | None = None
        self.install_commands: str | None = None
        self.install_commands_init = False
        self.remove_commands: str | None = None
        self.visited = False
        self.required = False
        self.ignorecmd = False

    def __repr__(self) -> str:
        return f"KmodModule({self.name!r}, alias={self.alias!r}, path={self.path!r})"


def module_options_concat(opt: str | None, xopt: str | None) -> str:
    """libkmod-module.c module_options_concat(): configured options, a space, the command
    line's; note the space stays when there are no command-line options ("index=-2 ")."""
    if not opt and not xopt:
        return ""
    return (opt + " " if opt is not None else "") + (xopt or "")
