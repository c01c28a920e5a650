"""tools/modprobe.c: modprobe's command line, its LOG()/ERR() lines and exit codes, and its
rmmod path, over the kmod context of libkmod.py (which modules a name stands for, in which order
they load, with which options). Kept apart from libkmod.py as kmod keeps the tool apart from the
library: `modprobe_main` is what the CLI runs, `Modprobe` is what it asks.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from errno import EBUSY, EEXIST, ENOENT

from .compress import kmod_file_open
from .config import DEFAULT_CONFIG_PATHS, ModprobeConfig
from .depmod import ModuleIndex
from .elf import KmodElf
from .libkmod import Modprobe
from .log import KMOD_VERSION, LOG_CRIT, LOG_ERR, LOG_WARNING, KmodError, ToolOutput, libkmod_log_tool, strerror, tool_log
from .module import (
    KMOD_MODULE_BUILTIN,
    KMOD_PROBE_APPLY_BLACKLIST,
    KMOD_PROBE_APPLY_BLACKLIST_ALIAS_ONLY,
    KMOD_PROBE_DRY_RUN,
    KMOD_PROBE_FAIL_ON_LOADED,
    KMOD_PROBE_FORCE_MODVERSION,
    KMOD_PROBE_FORCE_VERMAGIC,
    KMOD_PROBE_IGNORE_COMMAND,
    KMOD_PROBE_IGNORE_LOADED,
    KMOD_REMOVE_FORCE,
    KMOD_REMOVE_NOWAIT,
    KmodModule,
    SysfsModule,
    SysReader,
)
from .opt import getopt_long

LIBKMOD_CONFIG_C = "../libkmod/libkmod-config.c"


# -- modprobe's error lines (tools/modprobe.c) ------------------------------------------------

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


def options_from_array(args: Sequence[str]) -> str:
    """modprobe.c options_from_array(): the arguments after the module name joined by spaces, a
    value holding a space put in double quotes unless it already starts with a quote."""
    out = []
    for a in args:
        key, eq, value = a.partition("=")
        if eq and value[:1] not in ('"', "'") and " " in value:
            out.append(f'{key}="{value}"')
        else:
            out.append(a)
    return " ".join(out)


MODPROBE_LONGOPTS = {
    "all": (0, "a"), "remove": (0, "r"), "remove-dependencies": (0, "5"), "remove-holders": (0, "5"),
    "wait": (1, "w"), "resolve-alias": (0, "R"), "first-time": (0, "3"), "ignore-install": (0, "i"),
    "ignore-remove": (0, "i"), "use-blacklist": (0, "b"), "force": (0, "f"), "force-modversion": (0, "2"),
    "force-vermagic": (0, "1"), "show-depends": (0, "D"), "showconfig": (0, "c"), "show-config": (0, "c"),
    "show-modversions": (0, "4"), "dump-modversions": (0, "4"), "show-exports": (0, "6"), "dry-run": (0, "n"),
    "show": (0, "n"), "config": (1, "C"), "dirname": (1, "d"), "set-version": (1, "S"), "syslog": (0, "s"),
    "quiet": (0, "q"), "verbose": (0, "v"), "version": (0, "V"), "help": (0, "h"),
}


class _Fatal(Exception):
    pass


def modprobe_main(argv: Sequence[str], *, dirname_for: Callable[[str | None, str | None], str],
                  sys: SysReader | None = None, insert: Callable[[KmodModule, str, int], int] | None = None,
                  delete_module: Callable[[str, int], int] | None = None,
                  config_paths: Sequence[str] | None = None, kcmdline: str | None = None,
                  read: Callable[[str], bytes] | None = None, prog: str = "modprobe") -> ToolOutput:
    """tools/modprobe.c for the common cases: insert (with -a, -n, -v, -q, -f, -i, -b,
    --first-time), -D, -R, -r, --show-modversions/--show-exports. `dirname_for(root, kversion)`
    gives the modules directory (`-d`, `-S`); `insert(module, options, force_flags)` and
    `delete_module(name, flags)` return 0 or a positive errno. (-c is not reproduced.)"""
    out = ToolOutput()
    opts, args, err = getopt_long(prog, argv, "arw:RibfDcnC:d:S:sqvVh", MODPROBE_LONGOPTS)
    if err:
        return ToolOutput("", err, 1)
    use_all = do_remove = first_time = ignore_commands = use_blacklist = force = False
    strip_modversion = strip_vermagic = ignore_loaded = dry_run = do_show = lookup_only = False
    show_modversions = show_exports = False
    verbose = LOG_WARNING  # modprobe.c DEFAULT_VERBOSE
    log_priority = LOG_CRIT
    root = kversion = None
    cfg_paths: list[str] = []
    for key, val in opts:
        if key == "a":
            log_priority, use_all = LOG_WARNING, True
        elif key == "r":
            do_remove = True
        elif key == "3":
            first_time = True
        elif key == "i":
            ignore_commands = True
        elif key == "b":
            use_blacklist = True
        elif key == "f":
            force = True
        elif key == "2":
            strip_modversion = True
        elif key == "1":
            strip_vermagic = True
        elif key == "D":
            ignore_loaded = dry_run = do_show = True
        elif key == "R":
            lookup_only = True
        elif key == "4":
            show_modversions = True
        elif key == "6":
            show_exports = True
        elif key == "n":
            dry_run = True
        elif key == "C":
            cfg_paths.append(val)
        elif key == "d":
            root = val
        elif key == "S":
            kversion = val
        elif key == "q":
            verbose = 0
        elif key == "v":
            verbose += 1
        elif key == "V":
            return ToolOutput(KMOD_VERSION, "", 0)
        elif key == "h":
            return ToolOutput(f"Usage:\n\t{prog} [options] [-i] [-b] modulename\n", "", 0)
        elif key == "c":
            return ToolOutput("", tool_log(prog, LOG_ERR, "--show-config is not supported here\n"), 1)
    if not args:
        return ToolOutput("", tool_log(prog, LOG_ERR, "missing parameters. See -h.\n"), 1)

    def log(msg: str) -> None:
        """LOG(): printed only when not silenced by -q; at LOG_CRIT it ends modprobe."""
        if log_priority <= verbose:
            out.stderr += tool_log(prog, log_priority, msg)
            if log_priority <= LOG_CRIT:
                raise _Fatal

    def error(msg: str) -> None:
        if LOG_ERR <= verbose:
            out.stderr += tool_log(prog, LOG_ERR, msg)

    showing = do_show or verbose > LOG_WARNING
    dirname = dirname_for(root, kversion)
    index = ModuleIndex.from_dir(dirname)
    config = ModprobeConfig.load(cfg_paths or (config_paths if config_paths is not None else DEFAULT_CONFIG_PATHS),
                                 dirname, kcmdline)
    for line, fn, msg in config.logs:
        if LOG_ERR <= verbose:
            out.stderr += f"{prog}: ERROR: {LIBKMOD_CONFIG_C}:{line} {fn}() {msg}"
    ctx = Modprobe(index, config, sys)
    try:
        if show_modversions or show_exports:
            data = read(args[0]) if read is not None else open(args[0], "rb").read()
            try:
                elf = KmodElf(kmod_file_open(data).contents)
                rows = elf.get_modversions() if show_modversions else [(c, n) for n, c, _ in elf.get_symbols()]
            except KmodError as e:
                what = "modversions" if show_modversions else "symbols"
                log(f"could not get {what} of {args[0]}: {strerror(e.errno)}\n")
                rows = []
            out.stdout += "".join(f"0x{crc:08x}\t{name.decode('utf-8', 'surrogateescape')}\n" for crc, name in rows)
        elif do_remove:
            e = 0
            for alias in args:
                r = _rmmod(ctx, alias, log, error, delete_module, first_time, force, dry_run, showing, out)
                if r < 0:
                    e = r
            out.status = 1 if e < 0 else 0
            return out
        else:
            names = [(a, None) for a in args] if use_all else [(args[0], options_from_array(args[1:]))]
            status = 0
            for alias, extra in names:
                mods = ctx.lookup_modules(alias)
                if not mods:
                    log(f"Module {alias} not found in directory {dirname}\n")
                    status = 1
                    continue
                flags = KMOD_PROBE_APPLY_BLACKLIST_ALIAS_ONLY
                if strip_modversion or force:
                    flags |= KMOD_PROBE_FORCE_MODVERSION
                if strip_vermagic or force:
                    flags |= KMOD_PROBE_FORCE_VERMAGIC
                if ignore_commands:
                    flags |= KMOD_PROBE_IGNORE_COMMAND
                if ignore_loaded:
                    flags |= KMOD_PROBE_IGNORE_LOADED
                if dry_run:
                    flags |= KMOD_PROBE_DRY_RUN
                if use_blacklist:
                    flags |= KMOD_PROBE_APPLY_BLACKLIST
                if first_time:
                    flags |= KMOD_PROBE_FAIL_ON_LOADED
                force_flags = flags & (KMOD_PROBE_FORCE_MODVERSION | KMOD_PROBE_FORCE_VERMAGIC)
                e = 0
                for mod in mods:
                    if lookup_only:
                        out.stdout += mod.name + "\n"
                        e = 0
                    else:
                        e = ctx.probe_insert_module(
                            mod, flags, extra,
                            insert=(lambda m, o, ff=force_flags: insert(m, o, ff)) if insert is not None else None,
                            print_action=(lambda a: setattr(out, "stdout", out.stdout + a.show())) if showing else None)
                    if e >= 0:
                        e = 0
                    else:
                        out.stderr += modprobe_insert_error(mod.name, -e) if LOG_ERR <= verbose else ""
                        break
                if e < 0:
                    status = 1
            out.status = status
            return out
    except _Fatal:
        out.status = 1
        return out
    return out


def _rmmod(ctx: Modprobe, alias: str, log: Callable[[str], None], error: Callable[[str], None],
           delete_module: Callable[[str, int], int] | None, first_time: bool, force: bool, dry_run: bool,
           showing: bool, out: ToolOutput) -> int:
    """modprobe.c rmmod() + rmmod_do_module() without holders removal or --wait."""
    mods = ctx.lookup_modules(alias)
    if not mods:
        log(f"Module {alias} not found.\n")
        return -ENOENT
    err = 0
    for mod in mods:
        err = _rmmod_do_module(ctx, mod, 0, log, error, delete_module, first_time, force, dry_run, showing, out)
        if err < 0:
            break
    return err


def _rmmod_do_module(ctx: Modprobe, mod: KmodModule, flags: int, log: Callable[[str], None],
                     error: Callable[[str], None], delete_module: Callable[[str, int], int] | None,
                     first_time: bool, force: bool, dry_run: bool, showing: bool, out: ToolOutput) -> int:
    ignore_builtin = flags & 2
    pre, post = ctx.get_softdeps(mod)
    state = ctx.get_initstate(mod)
    if state < 0:
        if first_time:
            log(f"Module {mod.name} is not in kernel.\n")
            return -ENOENT
        return 0
    if state == KMOD_MODULE_BUILTIN:
        if ignore_builtin:
            return 0
        log(f"Module {mod.name} is builtin.\n")
        return -ENOENT
    for m in reversed(post):
        _rmmod_do_module(ctx, m, 2, log, error, delete_module, first_time, force, dry_run, showing, out)
    usage = SysfsModule(ctx.sys, mod.name).refcnt() if ctx.sys is not None else 0
    if usage > 0:
        log(f"Module {mod.name} is in use.\n")
        return -EBUSY
    err = _remove(ctx, mod, error, delete_module, force, dry_run, showing, out)
    if err < 0:
        return err
    for dep in ctx.get_dependencies(mod):
        if ctx.sys is not None and SysfsModule(ctx.sys, dep.name).refcnt() == 0:
            _remove(ctx, dep, error, delete_module, force, dry_run, showing, out)
    for m in reversed(pre):
        _rmmod_do_module(ctx, m, 2, log, error, delete_module, first_time, force, dry_run, showing, out)
    return 0


def _remove(ctx: Modprobe, mod: KmodModule, error: Callable[[str], None],
            delete_module: Callable[[str, int], int] | None, force: bool, dry_run: bool, showing: bool,
            out: ToolOutput) -> int:
    """rmmod_do_remove_module(): libkmod logs the failure itself (with its source location)."""
    if showing:
        out.stdout += f"rmmod {mod.name}\n"
    if dry_run or delete_module is None:
        return 0
    e = delete_module(mod.name, (KMOD_REMOVE_FORCE if force else 0) | KMOD_REMOVE_NOWAIT)
    if e:
        out.stderr += libkmod_log_tool("modprobe", LOG_ERR, 856, "kmod_module_remove_module",
                                       f"could not remove '{mod.name}': {strerror(e)}\n")
        return -e
    return 0
