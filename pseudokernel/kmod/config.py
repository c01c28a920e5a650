"""libkmod-config.c: the modprobe.d configuration (alias, options, install, remove, softdep,
blacklist lines) as `modprobe` reads it. ModprobeConfig.load: every *.conf/*.alias of the
configuration directories, sorted by file name across directories (the first directory holding a
name wins), plus modules.softdep of the modules directory under its own name, plus
`mod.param=value` and `modprobe.blacklist=` from the kernel command line.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from .depmod import alias_normalize

DEFAULT_CONFIG_PATHS = ("/etc/modprobe.d", "/run/modprobe.d", "/usr/local/lib/modprobe.d", "/lib/modprobe.d")

def underscores(s: str) -> str | None:
    """shared/util.c underscores(): '-' -> '_' outside [...]; None on a bad bracket."""
    return alias_normalize(s)


def freadline_wrapped(text: str) -> Iterable[tuple[int, str]]:
    """shared/util.c freadline_wrapped(): (line number, logical line); a backslash-newline joins
    lines, any other backslash is dropped before the character it escapes."""
    linenum = 0
    buf: list[str] = []
    n = 0
    i = 0
    while i < len(text):
        c = text[i]
        i += 1
        if c == "\n":
            n += 1
            linenum += n
            n = 0
            yield linenum, "".join(buf)
            buf = []
        elif c == "\\":
            if i < len(text) and text[i] == "\n":
                n += 1
                i += 1
            elif i < len(text):
                buf.append(text[i])
                i += 1
        else:
            buf.append(c)
    if buf:
        yield linenum + n + 1, "".join(buf)


def parse_softdep(line: str) -> tuple[list[str], list[str]]:
    """kmod_config_add_softdep(): the names after `pre:` and after `post:`."""
    pre: list[str] = []
    post: list[str] = []
    mode = None
    for tok in line.split():
        if tok == "pre:":
            mode = pre
        elif tok == "post:":
            mode = post
        elif mode is not None:
            mode.append(tok)
    return pre, post


@dataclass
class ModprobeConfig:
    """struct kmod_config: the lists in file order, and the errors libkmod logged reading them
    as (source line in libkmod-config.c, function, message)."""

    aliases: list[tuple[str, str]] = field(default_factory=list)
    blacklists: list[str] = field(default_factory=list)
    options: list[tuple[str, str]] = field(default_factory=list)
    install_commands: list[tuple[str, str]] = field(default_factory=list)
    remove_commands: list[tuple[str, str]] = field(default_factory=list)
    softdeps: list[tuple[str, list[str], list[str]]] = field(default_factory=list)
    logs: list[tuple[int, str, str]] = field(default_factory=list)

    def parse(self, text: str, filename: str = "") -> None:
        """kmod_config_parse(): one configuration file's text."""
        for linenum, line in freadline_wrapped(text):
            if not line or line[0] == "#":
                continue
            toks = line.replace("\t", " ").split(" ")
            toks = [t for t in toks if t]
            if not toks:
                continue
            cmd = toks[0]
            rest = line.lstrip("\t ")[len(cmd):].lstrip("\t ")  # what strtok leaves after the command
            second = toks[1] if len(toks) > 1 else None
            # strtok_r(NULL, "\0") returns the rest after one delimiter, or NULL when it is empty
            tail = rest[len(second) + 1:] if second is not None and len(rest) > len(second) else None
            ok = True
            if cmd == "alias":
                alias = underscores(second) if second else None
                modname = underscores(toks[2]) if len(toks) > 2 else None
                if alias is None or modname is None:
                    ok = False
                else:
                    self.aliases.append((alias, modname))
            elif cmd == "blacklist":
                modname = underscores(second) if second else None
                if modname is None:
                    ok = False
                else:
                    self.blacklists.append(modname)
            elif cmd in ("options", "install", "remove", "softdep"):
                modname = underscores(second) if second else None
                if modname is None or not tail:
                    ok = False
                elif cmd == "options":
                    self.options.append((modname, tail.replace("\t", " ")))
                elif cmd == "install":
                    self.install_commands.append((modname, tail))
                elif cmd == "remove":
                    self.remove_commands.append((modname, tail))
                else:
                    pre, post = parse_softdep(tail)
                    self.softdeps.append((modname, pre, post))
            elif cmd in ("include", "config"):
                self.logs.append((708, "kmod_config_parse",
                                  f"{filename}: command {cmd} is deprecated and not parsed anymore\n"))
            else:
                ok = False
            if not ok:
                self.logs.append((712, "kmod_config_parse",
                                  f"{filename} line {linenum}: ignoring bad line starting with '{cmd}'\n"))

    def parse_kcmdline(self, cmdline: str) -> None:
        """kmod_config_parse_kcmdline(), simplified to unquoted words: `mod.param[=value]` adds
        options for mod, `modprobe.blacklist=a,b` blacklists."""
        for word in cmdline.split():
            modname, dot, param = word.partition(".")
            if not dot or not modname or not param or "=" in modname or '"' in word:
                continue
            if "." in param.split("=", 1)[0]:
                continue
            if modname == "modprobe" and param.startswith("blacklist="):
                self.blacklists.extend(param[len("blacklist="):].split(","))
                continue
            norm = underscores(modname)
            if norm is None:
                self.logs.append((489, "kcmdline_parse_result",
                                  "Ignoring bad option on kernel command line while parsing module name: "
                                  f"'{modname}'\n"))
                continue
            self.options.append((norm, param))

    @classmethod
    def load(cls, config_paths: Sequence[str] = DEFAULT_CONFIG_PATHS, dirname: str | None = None,
             kcmdline: str | None = None) -> ModprobeConfig:
        """kmod_config_new(): the files of `config_paths` (directories, or single files) and
        `dirname`/modules.softdep, read in file-name order; then the kernel command line."""
        files: dict[str, str] = {}
        if dirname is not None:
            files["modules.softdep"] = os.path.join(dirname, "modules.softdep")
        for path in config_paths:
            if os.path.isdir(path):
                try:
                    names = os.listdir(path)
                except OSError:
                    continue
                for fn in names:
                    if fn.startswith(".") or len(fn) < 6 or not (fn.endswith(".conf") or fn.endswith(".alias")):
                        continue
                    if os.path.isdir(os.path.join(path, fn)):
                        continue
                    files.setdefault(fn, os.path.join(path, fn))
            elif os.path.exists(path):
                files.setdefault(os.path.basename(path), path)
        cfg = cls()
        for name in sorted(files, key=lambda s: s.encode("utf-8", "surrogateescape")):
            try:
                with open(files[name], encoding="utf-8", errors="surrogateescape") as f:
                    text = f.read()
            except OSError:
                continue
            cfg.parse(text, files[name])
        if kcmdline is not None:
            cfg.parse_kcmdline(kcmdline)
        return cfg
