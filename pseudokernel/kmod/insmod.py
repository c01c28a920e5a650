"""tools/insmod.c: its options, its error lines (mod_strerror()) and exit codes, over a
finit_module() the caller provides."""

from __future__ import annotations

from errno import EINVAL, ELOOP, ENAMETOOLONG, ENOENT, ENOEXEC, ENOTDIR, ESRCH

from .log import KMOD_VERSION, LOG_ERR, KmodError, ToolOutput, strerror, tool_log
from .opt import getopt_long

TYPE_CHECKING = False  # typing.TYPE_CHECKING, without importing typing on every CLI call

# The CLI runs this on every insmod: no dataclasses or typing machinery at import time (the
# 30 ms budget of a round trip is mostly the interpreter's own start).
if TYPE_CHECKING:
    from collections.abc import Callable, Sequence


def mod_strerror(err: int) -> str:
    """insmod.c mod_strerror(): the four errno values insmod explains in module terms."""
    return {
        ENOEXEC: "Invalid module format",
        ENOENT: "Unknown symbol in module",
        ESRCH: "Module has wrong symbol version",
        EINVAL: "Invalid parameters",
    }.get(err) or strerror(err)


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
