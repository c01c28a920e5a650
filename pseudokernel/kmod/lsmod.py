"""tools/lsmod.c: the module list of /proc/modules (first column only, in its order), and for
each module what sysfs says: size from /sys/module/<name>/coresize (the /proc/modules column
only when coresize is missing; -ENOENT, printed as -2, when the directory is), the use count
from refcnt and the holders' names from holders/ in directory order.

lsmod does not call log_setup_kmod_log(), so libkmod's own complaints (a missing holders/
directory, an unreadable refcnt) go through log_filep as `libkmod: ERROR <file>:<line> <fn>: ...`.
"""

from __future__ import annotations

import re

from .log import ToolOutput, libkmod_log_filep
from .module import SysfsModule, SysReader, modname_normalize


def _loaded_names(proc_modules: str) -> list[str]:
    """kmod_module_new_from_loaded(): strtok(line, " \\t") of each line, normalized."""
    names = []
    for line in proc_modules.splitlines(True):
        tok = re.match(r"[ \t]*([^ \t]*)", line).group(1)
        if tok == "":
            continue
        names.append(modname_normalize(tok))
    return names


def lsmod_text(proc_modules: str, sys_reader: SysReader, errors: list[str] | None = None) -> str:
    """What `lsmod` prints on stdout for this /proc/modules text and sysfs view; libkmod's error
    lines, if any, are appended to `errors`."""
    out = ["Module                  Size  Used by\n"]
    for name in _loaded_names(proc_modules):
        mod = SysfsModule(sys_reader, name)
        use_count = mod.refcnt()
        size = mod.size(proc_modules)
        holders = mod.holders()
        line = f"{name:<19} {size:>8}  {use_count}"
        if holders:
            line += " " + ",".join(holders)
        out.append(line + "\n")
        if errors is not None:
            errors.extend(libkmod_log_filep(p, ln, fn, msg) for p, ln, fn, msg in mod.logs)
    return "".join(out)


def lsmod_main(argv: list[str], proc_modules: str | None, sys_reader: SysReader, prog: str = "lsmod") -> ToolOutput:
    """do_lsmod(): no arguments allowed; `proc_modules` None means /proc/modules could not be read."""
    if argv:
        return ToolOutput("", f"Usage: {prog}\n", 1)
    if proc_modules is None:
        msg = libkmod_log_filep(3, 1725, "kmod_module_new_from_loaded",
                                "could not open /proc/modules: No such file or directory\n")
        return ToolOutput("", msg + "Error: could not get list of modules: No such file or directory\n", 1)
    errors: list[str] = []
    text = lsmod_text(proc_modules, sys_reader, errors)
    return ToolOutput(text, "".join(errors), 0)
