"""libkmod.c's struct kmod_ctx (the module index, the configuration, the pool of modules and the
kmod_lookup_alias_from_*() lookups) with the libkmod-module.c calls that need it:
kmod_module_new_from_lookup(), kmod_module_get_probe_list(), kmod_module_probe_insert_module().
Its own file because it is the library, not the tool: modprobe.py (tools/modprobe.c) and
scripts/corpus both ask it which modules a name stands for and which files loading one means.

Lookup (kmod_module_new_from_lookup), first source that answers wins: `alias` lines of the
configuration (fnmatch), modules.dep by name, modules.symbols for `symbol:x`, install/remove
commands, modules.alias (fnmatch patterns, by module priority), modules.builtin, the builtin
aliases of modules.builtin.modinfo. The probe list (kmod_module_get_probe_list) puts, for each
dependency in the *reverse* of its modules.dep order, its softdep pre modules, itself, its post
modules, then the same for the module asked for. Modules are kmod's pool objects keyed by
"name" or "name\\alias", so a module reached through an alias is a different object (and is
visited again) from the same module reached by name, as in kmod.

The configuration is read by config.py (libkmod-config.c), the index files by depmod.py.
"""

from __future__ import annotations

import fnmatch
import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from errno import EEXIST, ENOENT

from . import FEATURES
from .config import ModprobeConfig
from .depmod import ModuleIndex, alias_normalize
from .log import KmodError
from .module import (
    KMOD_MODULE_BUILTIN,
    KMOD_MODULE_LIVE,
    KMOD_PROBE_APPLY_BLACKLIST,
    KMOD_PROBE_APPLY_BLACKLIST_ALIAS_ONLY,
    KMOD_PROBE_APPLY_BLACKLIST_ALL,
    KMOD_PROBE_DRY_RUN,
    KMOD_PROBE_FAIL_ON_LOADED,
    KMOD_PROBE_IGNORE_COMMAND,
    KMOD_PROBE_IGNORE_LOADED,
    KmodModule,
    SysfsModule,
    SysReader,
    modname_normalize,
    module_options_concat,
)


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


def builtin_modinfo(modules_builtin_modinfo: bytes, modname: str) -> list[tuple[bytes, bytes]] | None:
    """kmod_builtin_get_modinfo(): the `modname.key=value` strings of modules.builtin.modinfo
    for one builtin module (its first contiguous run), or None when it is not there."""
    prefix = modname.encode() + b"."
    out: list[tuple[bytes, bytes]] = []
    for s in modules_builtin_modinfo.split(b"\0"):
        if s.startswith(prefix):
            key, _, value = s[len(prefix):].partition(b"=")
            out.append((key, value))
        elif out:
            break
    return out or None
