"""The recordings of the real kernels in tests/expected/real*/, as data.

Each recording is a series of sections, `=== command ===`, the command's output, then
`exit=N`; addresses and timestamps vary from boot to boot and are masked before comparing.
The scenarios (NAME.sh) are in tests/expected/real/; each kernel recorded has its outputs
(NAME.txt) in a directory of its own and its fixtures built against its headers: a Reference.
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


@dataclass(frozen=True)
class Reference:
    """One real kernel the scenarios were recorded on: its profile's release, where its
    recordings are and where the fixtures built against its headers are."""

    release: str
    real: Path
    prebuilt: Path

    @property
    def id(self) -> str:
        return self.release.split("-")[0].split("+")[0]

    def ko(self, name: str) -> bytes:
        return (self.prebuilt / f"{name}.ko").read_bytes()

    def sections(self, scenario: str) -> list[Section]:
        return parse((self.real / f"{scenario}.txt").read_bytes())

    def section(self, scenario: str, command: str, index: int = 0) -> Section:
        return [s for s in self.sections(scenario) if s.command == command][index]

    def dmesg_since(self, scenario: str, index: int = -1) -> list[bytes]:
        """The `dmesg -r` lines the scenario logged, masked."""
        found = [s for s in self.sections(scenario) if s.command.startswith("dmesg -r (lines logged")]
        return mask(found[index].output).splitlines()

    def scenarios(self) -> list[str]:
        """The scenarios recorded on this kernel (a machine that panicked has only console
        lines: test_hostile compares those)."""
        return sorted(p.stem for p in REAL.glob("*.sh") if p.stem != "lib" and (self.real / f"{p.stem}.txt").exists()
                      and "=== console ===" not in (self.real / f"{p.stem}.txt").read_text())


REF_61 = Reference("6.1.0-56-amd64", REAL, PREBUILT)
REF_612 = Reference("6.12.118+deb12-amd64", REAL_612, PREBUILT_612)
REFERENCES = (REF_61, REF_612)

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


# the registers and code bytes die() shows for a BUG() in the kernel's own code (a RIP with no
# [module]): pseudokernel does not run that code and shows the RIP alone (oops.die_in_kernel)
KERNEL_REGS = re.compile(rb"^((?:<\d>)?(?:\[ *\d+\.\d+\] )?RIP: 0010:[\w.]+\+0x[0-9a-f]+/0x[0-9a-f]+\n)"
                         rb"(?:(?:<\d>)?(?:\[ *\d+\.\d+\] )?(?:Code|RSP|RAX|RDX|RBP|R10|R13|FS|CS|CR2): .*\n)+", re.M)


def drop_kernel_registers(text: bytes) -> bytes:
    return KERNEL_REGS.sub(rb"\1", text)


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


def sections(scenario: str) -> list[Section]:
    return parse((REAL / f"{scenario}.txt").read_bytes())


def section(scenario: str, command: str, index: int = 0) -> Section:
    found = [s for s in sections(scenario) if s.command == command]
    return found[index]


def mask(text: bytes) -> bytes:
    """Timestamps and 64-bit addresses replaced, so two boots compare equal."""
    return ADDR.sub(b"ADDR", TS.sub(b"[TS]", text))


def dmesg_since(scenario: str, index: int = -1) -> list[bytes]:
    """The `dmesg -r` lines the scenario logged, masked."""
    found = [s for s in sections(scenario) if s.command.startswith("dmesg -r (lines logged")]
    return mask(found[index].output).splitlines()


def ko(name: str) -> bytes:
    return (PREBUILT / f"{name}.ko").read_bytes()


LS_DATE = re.compile(rb"\b[A-Z][a-z]{2} [ 0-9]\d \d\d:\d\d\b")
PARENT_NLINK = re.compile(rb"^(drwxr-xr-x) +\d+( +root +root +0 DATE \.\.)$", re.M)
PID = re.compile(rb"(PID: |\[insmod:|\[rmmod:|insmod\[|rmmod\[|note: [^\[\n]*\[|comm=insmod pid=|comm=rmmod pid=)\d+")
# values that depend on the machine's physical memory and on where KASLR put the kernel:
# page-table entries, and code bytes of calls and addresses (kept: the faulting byte, the count)
PAGE_TABLE = re.compile(rb"\b(PGD|P4D|PUD|PMD|PTE) [0-9a-f]*[1-9a-f][0-9a-f]*")
CODE = re.compile(rb"Code: ((?:[0-9a-f]{2} )*)<([0-9a-f]{2})>((?: [0-9a-f]{2})*)")
USER_RIP = re.compile(rb"RIP: 0033:0x[0-9a-f]+")  # the insmod process's address, randomized
# the flags of the process at its system call: its own code's (dd's write after a test, cat's)
USER_FLAGS = re.compile(rb"(RSP: 002b:[0-9a-f]{16} EFLAGS: )[0-9a-f]{8}")


def normalize(text: bytes) -> bytes:
    """A recorded or replayed output without what differs between any two boots."""
    text = drop_kernel_registers(text)
    text = LS_DATE.sub(b"DATE", text)
    text = mask_memory_figures(text)
    text = PARENT_NLINK.sub(rb"\1 N\2", text)  # /sys/module's links count its built-in modules
    text = PID.sub(rb"\1N", text)
    text = PAGE_TABLE.sub(rb"\1 X", text)
    text = CODE.sub(lambda m: b"Code: %d <%s> %d" % (len(m.group(1)) // 3, m.group(2), len(m.group(3)) // 3), text)
    text = USER_RIP.sub(b"RIP: 0033:USER", text)
    text = USER_FLAGS.sub(rb"\1FLAGS", text)
    text = re.sub(rb"^(<\d>)?(\[ *\d+\.\d+\])? +\? .*\n", b"", text, flags=re.M)  # stale frames on the real stack
    return mask(text)
