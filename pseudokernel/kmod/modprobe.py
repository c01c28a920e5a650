"""The lookup/probe half of libkmod-module.c, with tools/modprobe.c's
driver: which files `modprobe NAME` loads, in which order, with which options.

Lookup (kmod_module_new_from_lookup), first source that answers wins: `alias` lines of the
configuration (fnmatch), modules.dep by name, modules.symbols for `symbol:x`, install/remove
commands, modules.alias (fnmatch patterns, by module priority), modules.builtin, the builtin
aliases of modules.builtin.modinfo. The probe list (kmod_module_get_probe_list) puts, for each
dependency in the *reverse* of its modules.dep order, its softdep pre modules, itself, its post
modules, then the same for the module asked for. Modules are kmod's pool objects keyed by
"name" or "name\\alias", so a module reached through an alias is a different object (and is
visited again) from the same module reached by name, as in kmod.

The configuration is read by config.py (libkmod-config.c).
"""

from __future__ import annotations

import fnmatch
import os
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from errno import EBUSY, EEXIST, ENOENT

from . import FEATURES
from .compress import kmod_file_open
from .config import DEFAULT_CONFIG_PATHS, ModprobeConfig
from .depmod import ModuleIndex, alias_normalize
from .elf import KmodElf
from .log import KMOD_VERSION, LOG_CRIT, LOG_ERR, LOG_WARNING, KmodError, ToolOutput, libkmod_log_tool, strerror, tool_log
from .modinfo import builtin_modinfo
from .module import (
    KMOD_MODULE_BUILTIN,
    KMOD_MODULE_LIVE,
    KMOD_PROBE_APPLY_BLACKLIST,
    KMOD_PROBE_APPLY_BLACKLIST_ALIAS_ONLY,
    KMOD_PROBE_APPLY_BLACKLIST_ALL,
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
    modname_normalize,
    module_options_concat,
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


@dataclass
class ProbeAction:
    """One step of a probe: insmod `path` with `options`, run an install command, or nothing for
    a builtin module."""

    module: KmodModule
    kind: str  # "insmod", "install", "builtin"
    options: str

    def show(self) -> str:
        """modprobe's print_action() line (-v, -n, -D)."""
        if self.kind == "install":
            return f"install {self.module.install_commands} {self.options}\n"
        if self.kind == "builtin":
            return f"builtin {self.module.name}\n"
        return f"insmod {self.module.path} {self.options}\n"


class Modprobe:
    """A kmod context: a module index, a configuration, and (for what is loaded) a sysfs view."""

    def __init__(self, index: ModuleIndex, config: ModprobeConfig | None = None, sys: SysReader | None = None,
                 features: Iterable[str] = FEATURES) -> None:
        self.index = index
        self.config = config if config is not None else ModprobeConfig()
        self.sys = sys
        self.features = frozenset(features)
        self.pool: dict[str, KmodModule] = {}

    @property
    def dirname(self) -> str:
        return self.index.dirname

    # -- the module pool -------------------------------------------------------------------------

    def new_from_name(self, name: str) -> KmodModule:
        name = modname_normalize(name)
        m = self.pool.get(name)
        if m is None:
            m = self.pool[name] = KmodModule(name)
        return m

    def new_from_alias(self, alias: str, name: str) -> KmodModule:
        key = f"{name}\\{alias}"
        m = self.pool.get(key)
        if m is None:
            m = self.pool[key] = KmodModule(name, alias)
        return m

    def new_from_path(self, path: str) -> KmodModule:
        m = self.new_from_name(os.path.basename(path))
        if m.path is None:
            m.path = path
        m.builtin = False
        return m

    def _parse_depline(self, mod: KmodModule) -> None:
        """kmod_module_parse_depline(): the path, and the dependencies *prepended* (reversed)."""
        if mod.dep is not None:
            return
        mod.dep = []
        entry = self.index.search_moddep(mod.name)
        if entry is None:
            return
        relpath, deps = entry
        if mod.path is None:
            mod.path = self.index.path_join(relpath)
        mod.dep = [self.new_from_path(self.index.path_join(p)) for p in reversed(deps)]

    def get_path(self, mod: KmodModule) -> str | None:
        if mod.path is None and mod.dep is None:
            self._parse_depline(mod)
        return mod.path

    def get_dependencies(self, mod: KmodModule) -> list[KmodModule]:
        self._parse_depline(mod)
        return list(mod.dep or [])

    def is_builtin(self, mod: KmodModule) -> bool:
        if mod.builtin is None:
            mod.builtin = self.index.is_builtin(mod.name)
        return mod.builtin

    def get_initstate(self, mod: KmodModule) -> int:
        if self.is_builtin(mod):
            return KMOD_MODULE_BUILTIN
        if self.sys is None:
            return -ENOENT
        return SysfsModule(self.sys, mod.name).initstate()

    def is_inkernel(self, mod: KmodModule) -> bool:
        return self.get_initstate(mod) in (KMOD_MODULE_LIVE, KMOD_MODULE_BUILTIN)

    def get_options(self, mod: KmodModule) -> str | None:
        """kmod_module_get_options(): every `options` line for the name or the alias, joined."""
        opts = [o for name, o in self.config.options if (name == mod.name or name == mod.alias) and o]
        return " ".join(opts) if opts else None

    def get_install_commands(self, mod: KmodModule) -> str | None:
        if not mod.install_commands_init:
            mod.install_commands_init = True
            for pattern, cmd in self.config.install_commands:
                if fnmatch.fnmatchcase(mod.name, pattern):
                    mod.install_commands = cmd
                    break
        return mod.install_commands

    def get_softdeps(self, mod: KmodModule) -> tuple[list[KmodModule], list[KmodModule]]:
        """kmod_module_get_softdeps(): the first softdep line whose pattern matches, each name
        looked up like a modprobe argument."""
        for pattern, pre, post in self.config.softdeps:
            if fnmatch.fnmatchcase(mod.name, pattern):
                return ([m for d in pre for m in self.lookup_modules(d)],
                        [m for d in post for m in self.lookup_modules(d)])
        return [], []

    def is_blacklisted(self, mod: KmodModule) -> bool:
        return mod.name in self.config.blacklists

    # -- lookups ---------------------------------------------------------------------------------

    def lookup_modules(self, given_alias: str) -> list[KmodModule]:
        """kmod_module_new_from_lookup(): the modules an alias or name stands for, from the first
        source that knows it."""
        alias = alias_normalize(given_alias)
        if alias is None:
            return []
        hits = [self.new_from_alias(pattern, modname) for pattern, modname in self.config.aliases
                if fnmatch.fnmatchcase(alias, pattern)]
        if hits:
            return hits
        if ":" not in alias and self.index.search_moddep(alias) is not None:
            m = self.new_from_name(alias)
            self._parse_depline(m)
            return [m]
        hits = [self.new_from_alias(alias, n) for n in self.index.lookup_symbol(alias)]
        if hits:
            return hits
        for table in (self.config.install_commands, self.config.remove_commands):
            for modname, cmd in table:
                if modname == alias:
                    m = self.new_from_name(modname)
                    if table is self.config.install_commands:
                        m.install_commands, m.install_commands_init = cmd, True
                    else:
                        m.remove_commands = cmd
                    return [m]
        hits = [self.new_from_alias(alias, n) for n in self.index.lookup_alias(alias)]
        if hits:
            return hits
        if self.index.is_builtin(alias):
            m = self.new_from_name(alias)
            m.builtin = True
            return [m]
        hits = [self.new_from_alias(alias, n) for n in self.index.lookup_builtin_alias(alias)]
        for m in hits:
            m.builtin = True
        return hits

    def lookup(self, name: str) -> list[str]:
        """Module names for an alias or name (what modinfo prints for each)."""
        return [m.name for m in self.lookup_modules(name)]

    def lookup_name(self, name: str) -> list[str]:
        """kmod_module_new_from_name_lookup(): modules.dep, then builtin, by name only."""
        norm = modname_normalize(name)
        if self.index.search_moddep(norm) is not None or self.index.is_builtin(norm):
            return [norm]
        found = self.index.lookup_builtin_alias(norm)
        return found[:1]

    def module_path(self, name: str) -> str | None:
        """The file of a module found by lookup; None for a builtin one."""
        entry = self.index.search_moddep(name)
        return None if entry is None else self.index.path_join(entry[0])

    def builtin_info(self, name: str) -> list[tuple[bytes, bytes]] | KmodError:
        info = builtin_modinfo(self.index.builtin_modinfo, name)
        return KmodError(ENOENT) if info is None else info

    # -- probing -------------------------------------------------------------------------------

    def _fill_softdep(self, mod: KmodModule, out: list[KmodModule]) -> None:
        pre, post = self.get_softdeps(mod)
        for m in pre:
            self._get_probe_list(m, False, False, out)
        out.append(mod)
        mod.ignorecmd = bool(pre or post)
        for m in post:
            self._get_probe_list(m, False, False, out)

    def _get_probe_list(self, mod: KmodModule, required: bool, ignorecmd: bool, out: list[KmodModule]) -> None:
        if mod.visited:
            return
        mod.visited = True
        dep = self.get_dependencies(mod)
        if required:
            mod.required = True
            for m in dep:
                m.required = True
        for m in dep:
            self._fill_softdep(m, out)
        if ignorecmd:
            out.append(mod)
            mod.ignorecmd = True
        else:
            self._fill_softdep(mod, out)

    def get_probe_list(self, mod: KmodModule, ignorecmd: bool = False) -> list[KmodModule]:
        """kmod_module_get_probe_list(): every module to load for `mod`, in order."""
        for m in self.pool.values():
            m.visited = m.required = False
        out: list[KmodModule] = []
        self._get_probe_list(mod, True, ignorecmd, out)
        return out

    def probe_insert_module(self, mod: KmodModule, flags: int, extra_options: str | None,
                            insert: Callable[[KmodModule, str], int] | None = None,
                            print_action: Callable[[ProbeAction], None] | None = None) -> int:
        """kmod_module_probe_insert_module(): 0, a positive KMOD_PROBE_* reason, or -errno.
        `insert(module, options)` does kmod_module_insert_module() and returns 0 or a positive
        errno; install commands are reported, never run."""
        if not flags & KMOD_PROBE_IGNORE_LOADED and self.is_inkernel(mod):
            return -EEXIST if flags & KMOD_PROBE_FAIL_ON_LOADED else 0
        if mod.alias is not None and flags & KMOD_PROBE_APPLY_BLACKLIST_ALIAS_ONLY and self.is_blacklisted(mod):
            return KMOD_PROBE_APPLY_BLACKLIST_ALIAS_ONLY
        for f in (KMOD_PROBE_APPLY_BLACKLIST_ALL, KMOD_PROBE_APPLY_BLACKLIST):
            if flags & f and self.is_blacklisted(mod):
                return f
        probe = self.get_probe_list(mod, bool(flags & KMOD_PROBE_IGNORE_COMMAND))
        if flags & KMOD_PROBE_APPLY_BLACKLIST_ALL:
            probe = [m for m in probe if not self.is_blacklisted(m)]
            if not probe:
                return KMOD_PROBE_APPLY_BLACKLIST_ALL
        err = 0
        for m in probe:
            if not flags & KMOD_PROBE_IGNORE_LOADED and self.is_inkernel(m):
                err = -EEXIST
            else:
                opts = module_options_concat(self.get_options(m), extra_options if m is mod else None)
                cmd = self.get_install_commands(m)
                if cmd is not None and not m.ignorecmd:
                    action = ProbeAction(m, "install", opts)
                    if print_action:
                        print_action(action)
                    err = 0
                else:
                    path = self.get_path(m)
                    kind = "insmod" if path is not None else ("builtin" if self.get_initstate(m) == KMOD_MODULE_BUILTIN
                                                              else "none")
                    if print_action and kind != "none":
                        print_action(ProbeAction(m, kind, opts))
                    if not flags & KMOD_PROBE_DRY_RUN:
                        if path is None:
                            err = -ENOENT
                        else:
                            e = insert(m, opts) if insert is not None else 0
                            err = -e if e else 0
            if err == -EEXIST and m is mod and flags & KMOD_PROBE_FAIL_ON_LOADED:
                break
            if err == -EEXIST or not m.required:
                err = 0
            elif err < 0:
                break
        return err

    def resolve(self, name_or_alias: str, ignore_commands: bool = False) -> list[str]:
        """The module files `modprobe NAME` would insert, in load order, whatever is loaded
        (builtin modules and install commands skipped, each file once)."""
        files: list[str] = []
        for mod in self.lookup_modules(name_or_alias):
            for m in self.get_probe_list(mod, ignore_commands):
                path = self.get_path(m)
                if path is not None and path not in files and (ignore_commands or m.ignorecmd
                                                               or self.get_install_commands(m) is None):
                    files.append(path)
        return files

    def show_depends(self, name_or_alias: str, extra_options: str | None = None) -> str:
        """`modprobe -D NAME`: the print_action() lines of a dry run that ignores what is loaded."""
        out: list[str] = []
        for mod in self.lookup_modules(name_or_alias):
            self.probe_insert_module(mod, KMOD_PROBE_IGNORE_LOADED | KMOD_PROBE_DRY_RUN
                                     | KMOD_PROBE_APPLY_BLACKLIST_ALIAS_ONLY, extra_options,
                                     print_action=lambda a: out.append(a.show()))
        return "".join(out)


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
