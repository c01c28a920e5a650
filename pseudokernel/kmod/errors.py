"""kmod's words: the message texts, log prefixes and exit codes of insmod, rmmod and modprobe,
and rmmod's own in-use check, taken from kmod 30's tools/insmod.c, tools/rmmod.c,
tools/modprobe.c, tools/log.c and libkmod's log_filep().

Why a module of its own: the CLI must print what kmod prints, and these texts are not the
kernel's (insmod turns ENOENT into "Unknown symbol in module"; rmmod answers "is in use by" from
sysfs before the kernel is asked). They are produced here from errno values and a sysfs view so
that a test can compare them with tests/expected/real/*.txt without a daemon.

Debian builds libkmod with --enable-debug, so libkmod's own errors carry their source location:
through the tools' logger (rmmod, modprobe) as `rmmod: ERROR: ../libkmod/libkmod-module.c:856
kmod_module_remove_module() ...`, through libkmod's default logger (insmod, lsmod, modinfo) as
`libkmod: ERROR ../libkmod/libkmod-module.c:1998 kmod_module_get_holders: ...`. The line numbers
below are kmod v30's.
"""

from __future__ import annotations

import os
from errno import EBUSY, EEXIST, EINVAL, ELOOP, ENAMETOOLONG, ENOENT, ENOEXEC, ENOTDIR, ESRCH

TYPE_CHECKING = False  # typing.TYPE_CHECKING, without importing typing on every CLI call

# The CLI runs this on every insmod: no dataclasses or typing machinery at import time (the
# 30 ms budget of a round trip is mostly the interpreter's own start).
if TYPE_CHECKING:
    from collections.abc import Callable, Sequence
    from typing import Protocol
else:
    Protocol = object

# syslog priorities (sys/syslog.h)
LOG_CRIT, LOG_ERR, LOG_WARNING, LOG_NOTICE, LOG_INFO, LOG_DEBUG = 2, 3, 4, 5, 6, 7

# open(2) flags that libkmod reuses as delete_module(2) flags
O_NONBLOCK = 0o4000
O_TRUNC = 0o1000
KMOD_REMOVE_FORCE = O_TRUNC
KMOD_REMOVE_NOWAIT = O_NONBLOCK

LIBKMOD_MODULE_C = "../libkmod/libkmod-module.c"


class KmodError(Exception):
    """A libkmod call failed with a (positive) errno, as the C code returns -errno."""

    def __init__(self, err: int, message: str = "") -> None:
        super().__init__(message or os.strerror(err))
        self.errno = err


def strerror(err: int) -> str:
    """glibc's strerror(): Python's os.strerror is the C library's, so the texts are glibc's."""
    return os.strerror(err)


def mod_strerror(err: int) -> str:
    """insmod.c mod_strerror(): the four errno values insmod explains in module terms."""
    return {
        ENOEXEC: "Invalid module format",
        ENOENT: "Unknown symbol in module",
        ESRCH: "Module has wrong symbol version",
        EINVAL: "Invalid parameters",
    }.get(err) or strerror(err)


# -- log prefixes (tools/log.c, libkmod/libkmod.c) -------------------------------------------


def _prio_tool(prio: int) -> str:
    return {LOG_CRIT: "FATAL", LOG_ERR: "ERROR", LOG_WARNING: "WARNING", LOG_NOTICE: "NOTICE", LOG_INFO: "INFO",
            LOG_DEBUG: "DEBUG"}.get(prio, f"LOG-{prio:03d}")


def tool_log(prog: str, prio: int, message: str) -> str:
    """tools/log.c log_printf(): `prog: ERROR: message` (the message carries its own newline)."""
    return f"{prog}: {_prio_tool(prio)}: {message}"


def libkmod_log_tool(prog: str, prio: int, line: int, func: str, message: str, file: str = LIBKMOD_MODULE_C) -> str:
    """tools/log.c log_kmod() of a debug build: a libkmod error routed through a tool that called
    log_setup_kmod_log() (rmmod, modprobe, depmod)."""
    return f"{prog}: {_prio_tool(prio)}: {file}:{line} {func}() {message}"


def libkmod_log_filep(prio: int, line: int, func: str, message: str, file: str = LIBKMOD_MODULE_C) -> str:
    """libkmod.c log_filep() of a debug build: libkmod's default logger (insmod, lsmod, modinfo)."""
    name = {0: "EMERGENCY", 1: "ALERT", LOG_CRIT: "CRITICAL", LOG_ERR: "ERROR", LOG_WARNING: "WARNING",
            LOG_NOTICE: "NOTICE", LOG_INFO: "INFO", LOG_DEBUG: "DEBUG"}.get(prio, f"L:{prio}")
    return f"libkmod: {name} {file}:{line} {func}: {message}"


class ToolOutput:
    """What a kmod tool run printed and how it exited."""

    __slots__ = ("stdout", "stderr", "status")

    def __init__(self, stdout: str = "", stderr: str = "", status: int = 0) -> None:
        self.stdout, self.stderr, self.status = stdout, stderr, status

    def __eq__(self, other: object) -> bool:
        return isinstance(other, ToolOutput) and (self.stdout, self.stderr, self.status) == (
            other.stdout, other.stderr, other.status)

    def __repr__(self) -> str:
        return f"ToolOutput(stdout={self.stdout!r}, stderr={self.stderr!r}, status={self.status})"


# -- insmod (tools/insmod.c) -----------------------------------------------------------------


def insmod_insert_error(filename: str, err: int) -> str:
    """`insmod: ERROR: could not insert module hello.ko: File exists` (exit status 1)."""
    return tool_log("insmod", LOG_ERR, f"could not insert module {filename}: {mod_strerror(err)}\n")


def insmod_load_error(filename: str, err: int) -> str:
    """kmod_module_new_from_path() failed (the file does not exist): plain strerror, exit 1."""
    return tool_log("insmod", LOG_ERR, f"could not load module {filename}: {strerror(err)}\n")


def insmod_options(args: Sequence[str]) -> str:
    """insmod joins the arguments after the file name with single spaces, quoting nothing."""
    return " ".join(args)


INSMOD_HELP = (
    "Usage:\n"
    "\t{prog} [options] filename [args]\n"
    "Options:\n"
    "\t-V, --version     show version\n"
    "\t-h, --help        show this help\n"
)
# MODULE_INIT_* flags of finit_module(2), what -f asks for
MODULE_INIT_IGNORE_MODVERSIONS = 1
MODULE_INIT_IGNORE_VERMAGIC = 2


def insmod_main(argv: Sequence[str], read: Callable[[str], bytes | KmodError],
                insert: Callable[[object, str, int], int], prog: str = "insmod") -> ToolOutput:
    """tools/insmod.c do_insmod(). `read(path)` gives the file's bytes (or KmodError(errno) when
    it cannot be opened); `insert(kmod_file, options, flags)` gets compress.KmodFile (its
    `direct` says whether kmod would pass the fd to finit_module() or decompress and call
    init_module()) and MODULE_INIT_IGNORE_* flags for -f, and returns 0 or a positive errno."""
    from .compress import kmod_file_open

    opts, args, err = getopt_long(prog, argv, "psfVh", {"version": (0, "V"), "help": (0, "h")})
    if err:
        return ToolOutput("", err, 1)
    flags = 0
    for key, _ in opts:
        if key == "f":
            flags |= MODULE_INIT_IGNORE_MODVERSIONS | MODULE_INIT_IGNORE_VERMAGIC
        elif key == "h":
            return ToolOutput(INSMOD_HELP.format(prog=prog), "", 0)
        elif key == "V":
            return ToolOutput(KMOD_VERSION, "", 0)
    if not args:
        return ToolOutput("", tool_log(prog, LOG_ERR, "missing filename.\n"), 1)
    filename = args[0]
    if filename == "-":
        return ToolOutput("", tool_log(prog, LOG_ERR, "this tool does not support loading from stdin!\n"), 1)
    data = read(filename)
    if isinstance(data, KmodError) and data.errno in (ENOENT, ENOTDIR, ENAMETOOLONG, ELOOP):
        # kmod_module_new_from_path() stat()s the file first
        return ToolOutput("", insmod_load_error(filename, data.errno), 1)
    try:
        if isinstance(data, KmodError):
            raise data
        e = insert(kmod_file_open(data), insmod_options(args[1:]), flags)
    except KmodError as ke:
        e = ke.errno
    if e:
        return ToolOutput("", tool_log(prog, LOG_ERR, f"could not insert module {filename}: {mod_strerror(e)}\n"), 1)
    return ToolOutput()


# -- modprobe (tools/modprobe.c) -------------------------------------------------------------


def modprobe_insert_error(modname: str, err: int) -> str:
    """modprobe's insmod() error line: modprobe has no mod_strerror, only these two special cases."""
    if err == EEXIST:
        text = f"could not insert '{modname}': Module already in kernel\n"
    elif err == ENOENT:
        text = f"could not insert '{modname}': Unknown symbol in module, or unknown parameter (see dmesg)\n"
    else:
        text = f"could not insert '{modname}': {strerror(err)}\n"
    return tool_log("modprobe", LOG_ERR, text)


def modprobe_not_found(alias: str, dirname: str) -> str:
    """LOG() at LOG_CRIT: printed as FATAL and modprobe exits 1 at once (unless -q, or -a which
    lowers LOG() to WARNING)."""
    return tool_log("modprobe", LOG_CRIT, f"Module {alias} not found in directory {dirname}\n")


# -- rmmod (tools/rmmod.c) and the sysfs reads behind it ---------------------------------------


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


def check_module_inuse(name: str, sys: SysReader, *, builtin: bool = False, prog: str = "rmmod") -> tuple[int, str]:
    """tools/rmmod.c check_module_inuse(): (0 or -errno, what rmmod printed to stderr).

    rmmod runs it before delete_module() unless -f: builtin, not loaded (no /sys/module/<name>),
    holders listed in /sys/module/<name>/holders, refcnt > 0, or no refcnt file at all.
    """
    mod = SysfsModule(sys, name, builtin)
    out: list[str] = []

    def flush_logs() -> None:
        out.extend(libkmod_log_tool(prog, p, line, fn, msg) for p, line, fn, msg in mod.logs)
        mod.logs.clear()

    state = mod.initstate()
    flush_logs()
    if state == KMOD_MODULE_BUILTIN:
        out.append(tool_log(prog, LOG_ERR, f"Module {name} is builtin.\n"))
        return -ENOENT, "".join(out)
    if state < 0:
        out.append(tool_log(prog, LOG_ERR, f"Module {name} is not currently loaded\n"))
        return -ENOENT, "".join(out)
    holders = mod.holders()
    flush_logs()
    if holders:
        out.append(tool_log(prog, LOG_ERR, f"Module {name} is in use by:") + "".join(f" {h}" for h in holders) + "\n")
        return -EBUSY, "".join(out)
    ret = mod.refcnt()
    flush_logs()
    if ret > 0:
        out.append(tool_log(prog, LOG_ERR, f"Module {name} is in use\n"))
        return -EBUSY, "".join(out)
    if ret == -ENOENT:
        out.append(tool_log(prog, LOG_ERR, "Module unloading is not supported\n"))
    return ret, "".join(out)


def rmmod_remove_errors(arg: str, modname: str, err: int, prog: str = "rmmod") -> str:
    """The two lines of a failed delete_module(2): libkmod's own (with its source location) and
    rmmod's. The first names the module, the second the argument as typed."""
    return (libkmod_log_tool(prog, LOG_ERR, 856, "kmod_module_remove_module",
                             f"could not remove '{modname}': {strerror(err)}\n")
            + tool_log(prog, LOG_ERR, f"could not remove module {arg}: {strerror(err)}\n"))


RMMOD_HELP = (
    "Usage:\n"
    "\t{prog} [options] modulename ...\n"
    "Options:\n"
    "\t-f, --force       forces a module unload and may crash your\n"
    "\t                  machine. This requires Forced Module Removal\n"
    "\t                  option in your kernel. DANGEROUS\n"
    "\t-s, --syslog      print to syslog, not stderr\n"
    "\t-v, --verbose     enables more messages\n"
    "\t-V, --version     show version\n"
    "\t-h, --help        show this help\n"
)
KMOD_VERSION = "kmod version 30\n+ZSTD +XZ -ZLIB +LIBCRYPTO -EXPERIMENTAL\n"


def rmmod_main(argv: Sequence[str], sys: SysReader, delete_module: Callable[[str, int], int], *,
               exists: Callable[[str], bool] = os.path.exists, builtin: Callable[[str], bool] = lambda name: False,
               prog: str = "rmmod") -> ToolOutput:
    """tools/rmmod.c do_rmmod() over a sysfs view: `delete_module(name, flags)` returns 0 or a
    positive errno (the Kernel's syscall). An argument naming an existing file is a path (its
    base name becomes the module name), anything else a module name."""
    out = ToolOutput()
    opts, args, err = getopt_long(prog, argv, "fsvVwh", {"force": (0, "f"), "syslog": (0, "s"), "verbose": (0, "v"),
                                                          "version": (0, "V"), "help": (0, "h")})
    if err:
        return ToolOutput("", err, 1)
    flags = 0
    for key, _ in opts:
        if key == "f":
            flags |= KMOD_REMOVE_FORCE
        elif key == "h":
            return ToolOutput(RMMOD_HELP.format(prog=prog), "", 0)
        elif key == "V":
            return ToolOutput(KMOD_VERSION, "", 0)
        elif key == "w":  # in the short options but not handled: kmod's own quirk
            return ToolOutput("", tool_log(prog, LOG_ERR, "unexpected getopt_long() value 'w'.\n"), 1)
    if not args:
        return ToolOutput("", tool_log(prog, LOG_ERR, "missing module name.\n"), 1)
    r = 0
    for arg in args:
        name = path_to_modname(arg) if exists(arg) else modname_normalize(arg)
        if not name:
            # kmod_module_new_from_path() found no name: rmmod stops here and, oddly, exits 0
            out.stderr += tool_log(prog, LOG_ERR, f"could not use module {arg}: {strerror(ENOENT)}\n")
            break
        if not flags & KMOD_REMOVE_FORCE:
            ret, text = check_module_inuse(name, sys, builtin=builtin(name), prog=prog)
            out.stderr += text
            if ret < 0:
                r += 1
                continue
        e = delete_module(name, (flags & KMOD_REMOVE_FORCE) | KMOD_REMOVE_NOWAIT)
        if e:
            out.stderr += rmmod_remove_errors(arg, name, e, prog)
            r += 1
    out.status = 1 if r else 0
    return out


# -- GNU getopt_long, as the tools parse their command lines -----------------------------------


def getopt_long(prog: str, argv: Sequence[str], shortopts: str,
                longopts: dict[str, tuple[int, str]]) -> tuple[list[tuple[str, str | None]], list[str], str]:
    """glibc getopt_long() with argument permutation: ([(key, arg)], operands, error text).

    `argv` excludes the program name. `longopts` maps a long name to (has_arg: 0|1, key); a long
    option may be abbreviated to any unique prefix. Errors are glibc's texts; a tool returns
    EXIT_FAILURE on them ('?').
    """
    opts: list[tuple[str, str | None]] = []
    operands: list[str] = []
    i = 0
    argv = list(argv)
    while i < len(argv):
        a = argv[i]
        i += 1
        if a == "--":
            operands.extend(argv[i:])
            break
        if a.startswith("--"):
            name, eq, value = a[2:].partition("=")
            matches = [n for n in longopts if n == name] or [n for n in longopts if n.startswith(name)]
            keys = {longopts[n] for n in matches}
            if not matches:
                return opts, operands, f"{prog}: unrecognized option '{a}'\n"
            if len(keys) > 1:
                cands = " ".join(f"'--{n}'" for n in matches)
                return opts, operands, f"{prog}: option '--{name}' is ambiguous; possibilities: {cands}\n"
            full = matches[0]
            has_arg, key = longopts[full]
            if has_arg:
                if not eq:
                    if i >= len(argv):
                        return opts, operands, f"{prog}: option '--{full}' requires an argument\n"
                    value = argv[i]
                    i += 1
                opts.append((key, value))
            else:
                if eq:
                    return opts, operands, f"{prog}: option '--{full}' doesn't allow an argument\n"
                opts.append((key, None))
            continue
        if a.startswith("-") and a != "-":
            j = 1
            while j < len(a):
                c = a[j]
                pos = shortopts.find(c)
                if pos < 0 or c == ":":
                    return opts, operands, f"{prog}: invalid option -- '{c}'\n"
                if pos + 1 < len(shortopts) and shortopts[pos + 1] == ":":
                    if j + 1 < len(a):
                        opts.append((c, a[j + 1:]))
                    elif i < len(argv):
                        opts.append((c, argv[i]))
                        i += 1
                    else:
                        return opts, operands, f"{prog}: option requires an argument -- '{c}'\n"
                    break
                opts.append((c, None))
                j += 1
            continue
        operands.append(a)
    return opts, operands, ""
