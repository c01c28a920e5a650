"""The reference machine's /sys at boot, as scripts/record-sysfs records it (sysfs.tsv.gz):
one line per entry, "path type mode size status value", tab-separated, with \\\\, \\t, \\n and
\\xHH escapes (tests/tools/pk-walk.c). fs/recorded.py serves it; the kernel functions ask it
which names the machine's own buses and classes already hold."""

from __future__ import annotations

import re

_ESCAPE = re.compile(rb"\\(\\|t|n|x[0-9a-f]{2})")


def unescape(text: bytes) -> bytes:
    def one(m: re.Match) -> bytes:
        c = m.group(1)
        return {b"\\": b"\\", b"t": b"\t", b"n": b"\n"}.get(c) or bytes((int(c[1:], 16),))

    return _ESCAPE.sub(one, text) if b"\\" in text else text


class SysfsTable:
    """path -> (type, mode, size, status, value), and each directory's names in file order."""

    def __init__(self, table: bytes) -> None:
        self.entries: dict[str, tuple[str, int, int, str, bytes]] = {}
        self.children: dict[str, list[str]] = {"": []}
        for line in table.splitlines():
            if not line or line.startswith(b"#"):
                continue
            path, kind, mode, size, status, value = line.split(b"\t", 5)
            name = unescape(path).decode("utf-8", "surrogateescape")
            self.entries[name] = (kind.decode(), int(mode, 8), int(size), status.decode(), value)
            up, _, base = name.rpartition("/")
            self.children.setdefault(up, []).append(base)
            if kind == b"d":
                self.children.setdefault(name, [])

    def has(self, path: str) -> bool:
        """Whether the machine had /sys/<path> at boot (a bus's or a class's name taken)."""
        return path in self.entries
