"""tools/rmmod.c: the in-use check it makes from sysfs before asking the kernel, its error lines
and exit codes, over a delete_module() the caller provides."""

from __future__ import annotations

import os
from errno import EBUSY, ENOENT

from .log import KMOD_VERSION, LOG_ERR, ToolOutput, libkmod_log_tool, strerror, tool_log
from .module import (
    KMOD_MODULE_BUILTIN,
    KMOD_REMOVE_FORCE,
    KMOD_REMOVE_NOWAIT,
    SysfsModule,
    SysReader,
    modname_normalize,
    path_to_modname,
)
from .opt import getopt_long

TYPE_CHECKING = False  # typing.TYPE_CHECKING, without importing typing on every CLI call

# The CLI runs this on every insmod: no dataclasses or typing machinery at import time (the
# 30 ms budget of a round trip is mostly the interpreter's own start).
if TYPE_CHECKING:
    from collections.abc import Callable, Sequence



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
