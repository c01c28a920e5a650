"""tools/depmod.c: index a tree of modules the way depmod does, and read the index files it
writes (modules.dep, modules.alias, modules.symbols, modules.builtin, modules.builtin.modinfo).

Building (Depmod): every *.ko[.xz|.zst] under the directory, `build/` and `source/` skipped; the
module name is the file name (path_to_modname: `snd-pcm.ko.xz` -> snd_pcm), not .modinfo name=.
Exports are the `__crc_<sym>` symbols of .symtab (kmod_elf_get_symbols; __ksymtab_strings only
when there are none), needs are the undefined .symtab symbols plus unmatched __versions entries.
A symbol exported twice belongs to the module that comes later in modules.order order. The
module order of modules.dep is modules.order's; each line lists the transitive dependencies
sorted by the position depmod's topological sort gave them. Everything is reproduced so that
modules.dep, modules.alias, modules.softdep and modules.symbols come out byte-identical to
kmod 30's depmod (modules.symbols follows the iteration order of kmod's hash table, which is
why hash_superfast() is here).

Reading (ModuleIndex): the text files (kmod itself reads the .bin tries; the text twins hold the
same data), answering what libkmod's lookups answer: modules.dep by name, aliases with fnmatch
patterns ordered by module priority, `symbol:` aliases, builtin names.
"""

from __future__ import annotations

import fnmatch
import os
import re
from collections.abc import Iterable
from dataclasses import dataclass, field

from . import FEATURES
from .compress import kmod_file_open, path_ends_with_kmod_ext
from .elf import KmodElf
from .log import KmodError
from .module import path_to_modname


def hash_superfast(key: bytes) -> int:
    """shared/hash.c hash_superfast() (Paul Hsieh's), with x86's signed char where C reads one."""
    n = len(key)
    h = n
    rem = n & 3
    i = 0
    M = 0xFFFFFFFF
    for _ in range(n // 4):
        h = (h + (key[i] | key[i + 1] << 8)) & M
        tmp = (((key[i + 2] | key[i + 3] << 8) << 11) ^ h) & M
        h = ((h << 16) ^ tmp) & M
        i += 4
        h = (h + (h >> 11)) & M
    if rem == 3:
        h = (h + (key[i] | key[i + 1] << 8)) & M
        h ^= (h << 16) & M
        c = key[i + 2] - 256 if key[i + 2] > 127 else key[i + 2]
        h ^= (c << 18) & M
        h = (h + (h >> 11)) & M
    elif rem == 2:
        h = (h + (key[i] | key[i + 1] << 8)) & M
        h ^= (h << 11) & M
        h = (h + (h >> 17)) & M
    elif rem == 1:
        c = key[i] - 256 if key[i] > 127 else key[i]
        h = (h + c) & M
        h ^= (h << 10) & M
        h = (h + (h >> 1)) & M
    h ^= (h << 3) & M
    h = (h + (h >> 5)) & M
    h ^= (h << 4) & M
    h = (h + (h >> 17)) & M
    h ^= (h << 25) & M
    h = (h + (h >> 6)) & M
    return h


def hash_order(keys: Iterable[bytes], n_buckets: int) -> list[bytes]:
    """The order shared/hash.c's iterator visits `keys` in a table of n_buckets (a power of 2):
    by bucket, then strcmp order inside a bucket."""
    return sorted(keys, key=lambda k: (hash_superfast(k) & (n_buckets - 1), k))


@dataclass(eq=False)
class DepmodModule:
    """struct mod of depmod.c."""

    name: str
    path: str
    relpath: str | None
    uncrelpath: str | None
    sort_idx: int = 1
    dep_sort_idx: int = 2**31 - 1
    idx: int = 0
    users: int = 0
    info: list[tuple[bytes, bytes]] = field(default_factory=list)
    dep_syms: list[tuple[bytes, int, str]] | None = None
    deps: list[DepmodModule] = field(default_factory=list)

    @property
    def compressed_path(self) -> str:
        """mod_get_compressed_path(): the path relative to the modules directory when inside it."""
        return self.relpath if self.relpath is not None else self.path


class DepmodError(Exception):
    pass


class Depmod:
    """depmod over `dirname` (a /lib/modules/<release> directory): search(), load() and the
    modules_*_text() outputs. `depmod(dirname)` does all of it."""

    def __init__(self, dirname: str, features: Iterable[str] = FEATURES) -> None:
        self.dirname = dirname.rstrip("/") or "/"
        self.features = frozenset(features)
        self.by_name: dict[str, DepmodModule] = {}
        self.modules: list[DepmodModule] = []
        self.symbols: dict[bytes, DepmodModule | None] = {}
        self.errors: list[str] = []

    # -- finding the modules -----------------------------------------------------------------

    def search(self) -> None:
        """depmod_modules_search(): walk the directory in readdir order; for two files with the
        same module name the first one found stays (the default search config, `built-in` only)."""
        self._search_dir(self.dirname)

    def _search_dir(self, path: str) -> None:
        try:
            it = os.scandir(path)
        except OSError as e:
            self.errors.append(f"could not open directory {path}: {e.strerror}")
            return
        with it:
            for de in it:
                if de.name in (".", "..", "build", "source"):
                    continue
                try:
                    is_dir = de.is_dir()
                except OSError:
                    continue
                if is_dir:
                    self._search_dir(de.path)
                elif path_ends_with_kmod_ext(de.name, self.features):
                    self.add_file(de.path)

    def add_file(self, path: str) -> DepmodModule | None:
        """depmod_modules_search_file() + depmod_module_add() for one file."""
        name = path_to_modname(path)
        if not name or name in self.by_name:
            return None
        prefix = self.dirname + "/"
        relpath = path[len(prefix):] if path.startswith(prefix) else None
        uncrelpath = None
        if relpath is not None:
            base = relpath.rfind("/") + 1
            uncrelpath = relpath[:base + len(name) + 3]
        mod = DepmodModule(name, path, relpath, uncrelpath)
        self.by_name[name] = mod
        return mod

    def sort_modules(self) -> None:
        """depmod_modules_sort(): modules.order decides; modules it does not list go last (in
        kmod in hash order, here in the order of kmod's modules_by_name table too)."""
        mods = [self.by_name[k.decode()] for k in hash_order((n.encode() for n in self.by_name), 512)]
        try:
            with open(os.path.join(self.dirname, "modules.order"), "rb") as f:
                lines = f.read().split(b"\n")
        except OSError:
            lines = None
        if lines is not None:
            if lines and lines[-1] == b"":
                lines.pop()
                by_unc = {m.uncrelpath: m for m in mods if m.uncrelpath is not None}
                total = len(lines) + 1
                for i, line in enumerate(lines, 1):
                    m = by_unc.get(line.decode("utf-8", "surrogateescape"))
                    if m is not None:
                        m.sort_idx = i - total
                mods.sort(key=lambda m: m.sort_idx)
            else:
                self.errors.append(f"{self.dirname}/modules.order:{len(lines)} corrupted line misses '\\n'")
        self.modules = mods
        for i, m in enumerate(mods):
            m.idx = i

    # -- reading them --------------------------------------------------------------------------

    def load(self) -> None:
        """depmod_load_modules() then depmod_load_dependencies() and the topological sort."""
        for mod in self.modules:
            try:
                with open(mod.path, "rb") as f:
                    data = f.read()
                elf = KmodElf(kmod_file_open(data, self.features).contents)
            except (OSError, KmodError) as e:
                self.errors.append(f"failed to load symbols from {mod.path}: {os.strerror(getattr(e, 'errno', 0) or 0)}")
                continue
            try:
                for name, _crc, _bind in elf.get_symbols():
                    self.symbols[name] = mod
            except KmodError:
                pass
            try:
                mod.info = [(k, v) for k, _, v in (s.partition(b"=") for s in elf.get_strings(".modinfo"))]
            except KmodError:
                mod.info = []
            try:
                mod.dep_syms = elf.get_dependency_symbols()
            except KmodError:
                mod.dep_syms = None
        for mod in self.modules:
            if not mod.dep_syms:
                continue
            for name, _crc, _bind in mod.dep_syms:
                if name[:1] == b".":
                    name = name[1:]
                owner = self.symbols.get(name)
                if owner is None or owner in mod.deps:
                    continue
                mod.deps.append(owner)
                owner.users += 1
        self.calculate_dependencies()

    def calculate_dependencies(self) -> None:
        """depmod_calculate_dependencies(): topological sort with a LIFO of roots (modules nobody
        uses), giving each module its dep_sort_idx; then each deps list sorted by it."""
        users = [m.users for m in self.modules]
        roots = [i for i, u in enumerate(users) if u == 0]
        n_sorted = 0
        while roots:
            src = self.modules[roots.pop()]
            src.dep_sort_idx = n_sorted
            n_sorted += 1
            for dst in src.deps:
                users[dst.idx] -= 1
                if users[dst.idx] == 0:
                    roots.append(dst.idx)
        if n_sorted < len(self.modules):
            cyclic = [m.name for m, u in zip(self.modules, users) if u > 0]
            raise DepmodError(f"Found {len(cyclic)} modules in dependency cycles! ({', '.join(cyclic)})")
        for m in self.modules:
            m.deps.sort(key=lambda d: d.dep_sort_idx)

    # -- outputs --------------------------------------------------------------------------------

    @staticmethod
    def all_sorted_dependencies(mod: DepmodModule) -> list[DepmodModule]:
        """mod_get_all_sorted_dependencies(): the transitive closure, by dep_sort_idx."""
        seen: dict[int, DepmodModule] = {}
        stack = list(reversed(mod.deps))
        while stack:
            d = stack.pop()
            if id(d) in seen:
                continue
            seen[id(d)] = d
            stack.extend(reversed(d.deps))
        return sorted(seen.values(), key=lambda d: d.dep_sort_idx)

    def modules_dep_text(self) -> str:
        """output_deps(): modules.dep."""
        out = []
        for m in self.modules:
            deps = self.all_sorted_dependencies(m) if m.deps else []
            out.append(m.compressed_path + ":" + "".join(" " + d.compressed_path for d in deps) + "\n")
        return "".join(out)

    def _info_lines(self, key: bytes, fmt: str) -> str:
        out = []
        for m in self.modules:
            for k, v in m.info:
                if k == key:
                    out.append(fmt.format(value=v.decode("utf-8", "surrogateescape"), name=m.name))
        return "".join(out)

    def modules_alias_text(self) -> str:
        """output_aliases(): modules.alias."""
        return "# Aliases extracted from modules themselves.\n" + self._info_lines(b"alias", "alias {value} {name}\n")

    def modules_softdep_text(self) -> str:
        """output_softdeps(): modules.softdep."""
        return ("# Soft dependencies extracted from modules themselves.\n"
                + self._info_lines(b"softdep", "softdep {name} {value}\n"))

    def modules_symbols_text(self) -> str:
        """output_symbols(): modules.symbols, in the order of depmod's 2048-bucket symbol hash."""
        out = ["# Aliases for symbols, used by symbol_request().\n"]
        for name in hash_order(self.symbols, 2048):
            owner = self.symbols[name]
            if owner is not None:
                out.append(f"alias symbol:{name.decode('utf-8', 'surrogateescape')} {owner.name}\n")
        return "".join(out)

    def index(self) -> ModuleIndex:
        """The lookups libkmod would do on the files this depmod writes."""
        idx = ModuleIndex(self.dirname)
        idx.read_dep_text(self.modules_dep_text())
        idx.read_alias_text(self.modules_alias_text())
        idx.read_symbols_text(self.modules_symbols_text())
        idx.read_builtin()
        return idx


def depmod(dirname: str, features: Iterable[str] = FEATURES) -> Depmod:
    """Run depmod's search, sort and load over `dirname`; the result holds the outputs."""
    d = Depmod(dirname, features)
    d.search()
    d.sort_modules()
    d.load()
    return d


# -- the read side ---------------------------------------------------------------------------

_WILD = re.compile(r"[*?\[]")


def alias_normalize(alias: str) -> str | None:
    """shared/util.c alias_normalize(): '-' -> '_' except inside [...]; None for a lone ']' or
    an unclosed '['."""
    out = []
    i = 0
    while i < len(alias):
        c = alias[i]
        if c == "-":
            out.append("_")
        elif c == "]":
            return None
        elif c == "[":
            j = alias.find("]", i)
            if j < 0:
                return None
            out.append(alias[i:j + 1])
            i = j
        else:
            out.append(c)
        i += 1
    return "".join(out)


class ModuleIndex:
    """What libkmod finds in a modules directory: modules.dep by name (with each module's
    priority, its line number), aliases and symbol aliases (priority = the module's), builtin
    module names and their modinfo strings."""

    def __init__(self, dirname: str) -> None:
        self.dirname = dirname.rstrip("/") or "/"
        self.deps: dict[str, tuple[str, list[str]]] = {}
        self.priority: dict[str, int] = {}
        self.exact_aliases: dict[str, list[tuple[int, str]]] = {}
        self.wild_aliases: list[tuple[str, str, int, str]] = []  # (literal prefix, pattern, priority, module)
        self.symbols: dict[str, list[tuple[int, str]]] = {}
        self.builtin: set[str] = set()
        self.builtin_modinfo = b""
        self.builtin_aliases: list[tuple[str, str]] = []

    @classmethod
    def from_dir(cls, dirname: str) -> ModuleIndex:
        """Read the text indexes depmod left in `dirname` (missing files are empty indexes)."""
        idx = cls(dirname)
        for fn, reader in (("modules.dep", idx.read_dep_text), ("modules.alias", idx.read_alias_text),
                           ("modules.symbols", idx.read_symbols_text)):
            try:
                with open(os.path.join(idx.dirname, fn), encoding="utf-8", errors="surrogateescape") as f:
                    reader(f.read())
            except OSError:
                pass
        idx.read_builtin()
        return idx

    def read_dep_text(self, text: str) -> None:
        """modules.dep: `relpath: dep dep ...`; the name is the path's, the priority the line's."""
        for line in text.splitlines():
            path, colon, rest = line.partition(":")
            if not colon:
                continue
            name = path_to_modname(path)
            if name in self.deps:
                continue
            self.priority[name] = len(self.priority)
            self.deps[name] = (path, rest.split())

    def _add_alias(self, table: str, pattern: str, modname: str) -> None:
        norm = alias_normalize(pattern)
        if norm is None:
            return
        prio = self.priority.get(modname, 0)
        m = _WILD.search(norm)
        if table == "symbols":
            self.symbols.setdefault(norm, []).append((prio, modname))
        elif m is None:
            self.exact_aliases.setdefault(norm, []).append((prio, modname))
        else:
            self.wild_aliases.append((norm[:m.start()], norm, prio, modname))

    def read_alias_text(self, text: str) -> None:
        """modules.alias: `alias PATTERN MODULE` lines."""
        for line in text.splitlines():
            parts = line.split()
            if len(parts) == 3 and parts[0] == "alias":
                self._add_alias("aliases", parts[1], parts[2])

    def read_symbols_text(self, text: str) -> None:
        """modules.symbols: `alias symbol:NAME MODULE` lines."""
        for line in text.splitlines():
            parts = line.split()
            if len(parts) == 3 and parts[0] == "alias":
                self._add_alias("symbols", parts[1], parts[2])

    def read_builtin(self) -> None:
        """modules.builtin (names) and modules.builtin.modinfo (their modinfo and aliases)."""
        try:
            with open(os.path.join(self.dirname, "modules.builtin"), encoding="utf-8", errors="surrogateescape") as f:
                for line in f:
                    if line[:1].isalpha():
                        self.builtin.add(path_to_modname(line.rstrip("\n")))
        except OSError:
            pass
        try:
            with open(os.path.join(self.dirname, "modules.builtin.modinfo"), "rb") as f:
                self.builtin_modinfo = f.read()
        except OSError:
            return
        for s in self.builtin_modinfo.split(b"\0"):
            modname, dot, rest = s.partition(b".")
            key, eq, value = rest.partition(b"=")
            if dot and eq and key == b"alias" and value:
                norm = alias_normalize(value.decode("utf-8", "surrogateescape"))
                if norm is not None:
                    self.builtin_aliases.append((norm, modname.decode("utf-8", "surrogateescape")))

    # -- lookups ----------------------------------------------------------------------------------

    def search_moddep(self, name: str) -> tuple[str, list[str]] | None:
        """kmod_search_moddep(): (relpath, [dep relpaths as listed]) of a module name."""
        return self.deps.get(name)

    def path_join(self, relpath: str) -> str:
        """libkmod-module.c path_join(): absolute paths stay, others go under the directory."""
        return relpath if relpath.startswith("/") else self.dirname + "/" + relpath

    def lookup_alias(self, name: str) -> list[str]:
        """kmod_lookup_alias_from_aliases_file(): module names whose alias matches `name` (exact
        or fnmatch pattern), ordered by module priority."""
        hits = list(self.exact_aliases.get(name, []))
        for prefix, pattern, prio, mod in self.wild_aliases:
            if name.startswith(prefix) and fnmatch.fnmatchcase(name, pattern):
                hits.append((prio, mod))
        hits.sort(key=lambda h: h[0])
        return [mod for _, mod in hits]

    def lookup_symbol(self, name: str) -> list[str]:
        """kmod_lookup_alias_from_symbols_file(): `symbol:NAME` -> exporting module."""
        if not name.startswith("symbol:"):
            return []
        return [mod for _, mod in sorted(self.symbols.get(name, []), key=lambda h: h[0])]

    def lookup_builtin_alias(self, name: str) -> list[str]:
        """kmod_lookup_alias_from_kernel_builtin_file() (modules.builtin.alias.bin's data)."""
        return [mod for pattern, mod in self.builtin_aliases
                if pattern == name or (_WILD.search(pattern) and fnmatch.fnmatchcase(name, pattern))]

    def is_builtin(self, name: str) -> bool:
        return name in self.builtin
