"""The recordings of the real kernel in tests/expected/real/ (Debian 6.1), as data; those of
Debian 6.12 are in tests/expected/real-6.12/ (REAL_612, fixtures PREBUILT_612), made from the
same scenarios: the functions take the directory as `real`.

Each recording is a series of sections, `=== command ===`, the command's output, then
`exit=N`; addresses and timestamps vary from boot to boot and are masked before comparing.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent  # the checkout: tests live below tests/<part>/
REAL = Path(__file__).parent / "expected" / "real"
PREBUILT = Path(__file__).parent / "modules" / "prebuilt"
REAL_612 = Path(__file__).parent / "expected" / "real-6.12"
PREBUILT_612 = Path(__file__).parent / "modules" / "prebuilt-6.12"

TS = re.compile(rb"\[\s*\d+\.\d{6}\]")
# a 64-bit value; or %p's "(____ptrval____)", what it prints before the kernel's random key is
# ready (the recordings were made seconds after boot on a VM with little entropy)
ADDR = re.compile(rb"0x[0-9a-f]{16}|\b[0-9a-f]{16}\b|\(____ptrval____\)")


@dataclass
class Section:
    command: str
    output: bytes
    exit: int


# show_mem()'s report (warn_alloc): its figures are the machine's memory at that moment and
# change from boot to boot; the lines and their fields are what is compared
SHOW_MEM_LINE = re.compile(rb"^(<\d>\[[^]]*\] )?(\s+)?(active_anon|active_file|unevictable|slab_|mapped:|"
                           rb"sec_pagetables|kernel_misc|free:|Node 0 |lowmem_reserve|\d+ total pagecache|"
                           rb"\d+ pages |Free swap|Total swap).*$", re.M)


def mask_memory_figures(text: bytes) -> bytes:
    """Numbers become N; the buddy lists' migrate types ("(UME)"), which follow the counts, go."""
    return SHOW_MEM_LINE.sub(lambda m: re.sub(rb"\d+", b"N", re.sub(rb" \([UMEHCRI]+\)", b"", m.group(0))), text)


def parse(text: bytes) -> list[Section]:
    """A scenario's output as sections: "=== command ===", its output, "exit=N". Lines outside a
    section (a recording's "# " header) are skipped."""
    out: list[Section] = []
    cmd = None
    body: list[bytes] = []
    for line in text.splitlines(keepends=True):
        m = re.match(rb"^=== (.*) ===\n$", line)
        if m and cmd is None:
            cmd, body = m.group(1).decode(), []
            continue
        m = re.match(rb"^exit=(\d+)\n$", line)
        if m and cmd is not None:
            out.append(Section(cmd, b"".join(body), int(m.group(1))))
            cmd = None
            continue
        if cmd is not None:
            body.append(line)
    return out


def sections(scenario: str, real: Path = REAL) -> list[Section]:
    return parse((real / f"{scenario}.txt").read_bytes())


def section(scenario: str, command: str, index: int = 0, real: Path = REAL) -> Section:
    found = [s for s in sections(scenario, real) if s.command == command]
    return found[index]


def mask(text: bytes) -> bytes:
    """Timestamps and 64-bit addresses replaced, so two boots compare equal."""
    return ADDR.sub(b"ADDR", TS.sub(b"[TS]", text))


def dmesg_since(scenario: str, index: int = -1, real: Path = REAL) -> list[bytes]:
    """The `dmesg -r` lines the scenario logged, masked."""
    found = [s for s in sections(scenario, real) if s.command.startswith("dmesg -r (lines logged")]
    return mask(found[index].output).splitlines()


def ko(name: str, prebuilt: Path = PREBUILT) -> bytes:
    return (prebuilt / f"{name}.ko").read_bytes()
