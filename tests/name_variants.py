"""hello.ko under other module names, made by patching bytes (issue 6, "Names and paths").

A module's name is the 56-byte `name` field of its struct module (.gnu.linkonce.this_module,
what the kernel calls mod->name) and, separately, the `name=` string of .modinfo (info->name,
used only by the checks before the struct is in place: blacklisting, vermagic and CRC
messages). kbuild makes both the same; these variants bend one or both: a slash, dots,
a space, control characters, 55 and 56 characters (56 leaves no room for the NUL), empty, and
a .modinfo name that disagrees with the struct's.

The same files go to the real kernel (scripts/qemu-names records tests/expected/real/names.txt)
and to pseudokernel (tests/module/test_robustness.py). Run as a script: `python3 tests/name_variants.py
OUTDIR` writes them.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from variants import HELLO, Elf  # noqa: E402

NAME_FIELD = 24  # offsetof(struct module, name) in Debian's 6.1.0-56-amd64 (BTF)
MODULE_NAME_LEN = 56
SAME = object()  # .modinfo name= becomes the struct's name (in place: at most 5 bytes)

# file stem -> (struct module name, .modinfo name: SAME, None to drop name=, or bytes)
NAMES: dict[str, tuple[bytes, object]] = {
    "name-slash": (b"a/b", SAME),
    "name-bang": (b"a!b", SAME),  # /sys/module/a!b is a/b's
    "name-bang2": (b"a!c", SAME),
    "name-slash2": (b"a/c", SAME),  # wants /sys/module/a!c, which a!c has
    "name-dotdot": (b"..", SAME),
    "name-dot": (b".", SAME),
    "name-space": (b"a b", SAME),
    "name-newline": (b"a\nb", SAME),
    "name-ctrl": (b"c\x01d", SAME),
    "name-empty": (b"", SAME),
    "name-55": (b"n" * 55, None),
    "name-56": (b"m" * 56, None),
    "name-other": (b"other", b"hello"),
    "name-infoonly": (b"hello", b"he/lo"),
}


def with_name(struct_name: bytes, modinfo_name: object = SAME, base: bytes | None = None) -> bytes:
    """hello.ko whose struct module is called struct_name (no NUL when it is 56 bytes long)."""
    assert len(struct_name) <= MODULE_NAME_LEN
    e = Elf(base if base is not None else HELLO.read_bytes())
    off, size = e.section(".gnu.linkonce.this_module")
    assert size >= NAME_FIELD + MODULE_NAME_LEN
    at = off + NAME_FIELD
    e.b[at : at + MODULE_NAME_LEN] = struct_name + bytes(MODULE_NAME_LEN - len(struct_name))
    if modinfo_name is SAME:
        modinfo_name = struct_name
    if modinfo_name is None:
        e.replace_in(".modinfo", b"name=hello\0", b"\0")
    elif modinfo_name != b"hello":
        assert len(modinfo_name) <= len(b"hello")
        e.replace_in(".modinfo", b"name=hello\0", b"name=" + modinfo_name + b"\0")
    return e.data()


def name_variants() -> dict[str, bytes]:
    return {stem: with_name(s, m) for stem, (s, m) in NAMES.items()}


def main() -> None:
    out = Path(sys.argv[1])
    out.mkdir(parents=True, exist_ok=True)
    for stem, data in name_variants().items():
        (out / f"{stem}.ko").write_bytes(data)


if __name__ == "__main__":
    main()
