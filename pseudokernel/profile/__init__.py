"""The kernel being emulated, as data.

A profile directory (written by profile/build.py from a headers tree and, optionally, a kernel
image) holds the release, vermagic, .config and Module.symvers of one kernel; with an image also
the real address and kind of every exported symbol, all of kallsyms, the vmlinux section table,
the trusted certificates and BTF. The default profile, Debian's 6.1.0-56-amd64, ships with the
package, and so does Debian 12's 6.12.118+deb12-amd64; any other Debian kernel release apt has is
made on first use (profile/debian.py).
"""

from __future__ import annotations

import bisect
import gzip
import json
import lzma
import os
import re
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

from .structs import Structs
from .sysfs_table import SysfsTable

DATA_DIR = Path(__file__).parent / "data"
DEFAULT_PROFILE = "6.1.0-56-amd64"


def user_profiles_dir() -> Path:
    base = os.environ.get("XDG_DATA_HOME") or os.path.expanduser("~/.local/share")
    return Path(base) / "pseudokernel" / "profiles"


@dataclass(frozen=True)
class KernelSymbol:
    """One exported vmlinux symbol: a Module.symvers line plus, with an image, where it is."""

    name: str
    crc: int | None
    gpl: bool
    namespace: str = ""
    addr: int | None = None
    kind: str = ""  # text, rodata, data, bss, percpu; "" when the profile has no image


@dataclass(frozen=True)
class Section:
    """A vmlinux section: flags are SHF_* bits, parsed from readelf's letters."""

    name: str
    addr: int
    size: int
    flags: int
    type: str = "PROGBITS"


def _shf(letters: str) -> int:
    bits = {"W": 0x1, "A": 0x2, "X": 0x4}
    return sum(bits.get(c, 0) for c in letters)


# x86's mitigation options by their 6.1 names -> the names 6.9 gave them ("x86/bugs: Rename
# CONFIG_* to CONFIG_MITIGATION_*"); the code asks by the 6.1 name
RENAMED_6_9 = {"PAGE_TABLE_ISOLATION": "MITIGATION_PAGE_TABLE_ISOLATION", "RETPOLINE": "MITIGATION_RETPOLINE",
               "RETHUNK": "MITIGATION_RETHUNK", "CPU_UNRET_ENTRY": "MITIGATION_UNRET_ENTRY",
               "CALL_DEPTH_TRACKING": "MITIGATION_CALL_DEPTH_TRACKING", "CPU_IBPB_ENTRY": "MITIGATION_IBPB_ENTRY",
               "CPU_IBRS_ENTRY": "MITIGATION_IBRS_ENTRY", "CPU_SRSO": "MITIGATION_SRSO", "SLS": "MITIGATION_SLS",
               "GDS_FORCE_MITIGATION": "MITIGATION_GDS_FORCE", "SPECULATION_MITIGATIONS": "CPU_MITIGATIONS"}


class ProfileError(Exception):
    pass


def _read_text(path: Path) -> str:
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8", errors="surrogateescape") as f:
        return f.read()


def parse_symvers(text: str) -> dict[str, KernelSymbol]:
    """Module.symvers: 'crc<TAB>name<TAB>module<TAB>export type<TAB>namespace' per line."""
    out: dict[str, KernelSymbol] = {}
    for line in text.splitlines():
        parts = line.split("\t")
        if len(parts) < 4 or parts[2] != "vmlinux":
            continue
        crc = int(parts[0], 16)
        out[parts[1]] = KernelSymbol(
            name=parts[1],
            crc=crc,
            gpl=parts[3].endswith("_GPL"),
            namespace=parts[4] if len(parts) > 4 else "",
        )
    return out


def parse_config(text: str) -> dict[str, str]:
    """A .config as a dict: CONFIG_FOO -> 'y' / 'm' / value (quotes kept off strings)."""
    out: dict[str, str] = {}
    for line in text.splitlines():
        if not line.startswith("CONFIG_") or "=" not in line:
            continue
        key, val = line.split("=", 1)
        if len(val) >= 2 and val[0] == val[-1] == '"':
            val = val[1:-1]
        out[key] = val
    return out


class KernelProfile:
    """Read-only facts about one kernel build, loaded lazily from a profile directory."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        meta_file = self.path / "profile.json"
        if not meta_file.is_file():
            raise ProfileError(f"{self.path}: not a kernel profile (no profile.json)")
        self.meta = json.loads(meta_file.read_text())
        self.release: str = self.meta["release"]
        self.vermagic: str = self.meta["vermagic"]
        self.uts_version: str = self.meta.get("uts_version", "#1 SMP")
        self.banner: str = self.meta.get("banner") or (
            f"Linux version {self.release} ({self.meta.get('compiler', 'gcc')}) {self.uts_version}\n"
        )
        self.name = self.path.name

    def since(self, version: tuple[int, int]) -> bool:
        """Whether this kernel has a change that upstream made in `version`: the loader asks
        it at each place 6.1 and later kernels differ (profile/versions.py lists them)."""
        return self.version >= version

    @classmethod
    def load(cls, name_or_path: str | Path | None = None, fetch: bool = True) -> KernelProfile:
        """A profile by name (shipped or user-built) or by directory path. A name found
        nowhere that is a Debian kernel release apt has (linux-headers-NAME and
        linux-image-NAME) is built into the user profiles directory first, saying so on
        stderr (profile/debian.py; not with fetch=False or PSEUDOKERNEL_NO_FETCH=1)."""
        name_or_path = name_or_path or DEFAULT_PROFILE
        p = Path(name_or_path)
        if p.is_dir():
            return cls(p)
        for base in (DATA_DIR, user_profiles_dir()):
            if (base / str(name_or_path)).is_dir():
                return cls(base / str(name_or_path))
        if fetch:
            from .debian import ensure_profile

            try:
                built = ensure_profile(str(name_or_path), user_profiles_dir())
            except (OSError, RuntimeError, ValueError) as e:
                raise ProfileError(f"no kernel profile named {name_or_path!r}, and making it "
                                   f"from Debian's packages failed: {e}") from e
            if built is not None:
                return cls(built)
        raise ProfileError(f"no kernel profile named {name_or_path!r}")

    # -- version ---------------------------------------------------------------------------

    @cached_property
    def full_version(self) -> tuple[int, int, int]:
        """The upstream kernel version (VERSION, PATCHLEVEL, SUBLEVEL), e.g. (6, 1, 192) for
        Debian's 6.1.0-56-amd64 and (6, 12, 118) for 6.12.118+deb12-amd64. From the .config's
        header ("# Linux/x86 6.1.192 Kernel Configuration"), which, unlike the release, has the
        real sublevel (Debian's 6.1 releases say "6.1.0-N"); from the release otherwise."""
        head = _read_text(self.path / "config.gz")[:400]
        match = re.search(r"^# Linux/\S+ (\d+)\.(\d+)\.(\d+)\S* Kernel Configuration$", head,
                          re.MULTILINE) or re.match(r"(\d+)\.(\d+)(?:\.(\d+))?", self.release)
        if match is None:
            raise ProfileError(f"{self.path}: no kernel version in the config or the release "
                               f"{self.release!r}")
        return int(match.group(1)), int(match.group(2)), int(match.group(3) or 0)

    @property
    def version(self) -> tuple[int, int]:
        """(VERSION, PATCHLEVEL): (6, 1) or (6, 12). What code that follows the kernel's own
        differences compares against, as the kernel's sources do with LINUX_VERSION_CODE:
        `if profile.version >= (6, 4): ...`."""
        return self.full_version[:2]

    # -- the reference machine ---------------------------------------------------------------

    @cached_property
    def machine(self) -> dict:
        """What the machine this kernel was recorded on shows of itself (machine.json): the
        frames of its own code in a backtrace (return addresses inside this build) and the
        devices its built-in drivers hold at boot. A profile without the file, or a frame it
        does not list, takes the shipped profile's of the same version, else the default's."""
        own = self._machine_file(self.path)
        if self.path.parent == DATA_DIR and self.name == DEFAULT_PROFILE:
            return own
        sibling = self.shipped_sibling()
        base = (sibling or KernelProfile(DATA_DIR / DEFAULT_PROFILE)).machine
        return {**base, **own, "frames": {**base.get("frames", {}), **own.get("frames", {})}}

    def shipped_sibling(self) -> KernelProfile | None:
        """A profile shipped with the package of the same upstream version (6.12.118 for any
        6.12 build), not this one: what this one borrows what it lacks from."""
        for p in sorted(DATA_DIR.iterdir()):
            if p != self.path and (p / "profile.json").is_file() and KernelProfile(p).version == self.version:
                return KernelProfile(p)
        return None

    @cached_property
    def recorded_sysfs(self) -> SysfsTable | None:
        """The reference machine's /sys at boot (sysfs.tsv.gz, scripts/record-sysfs; fs/recorded.py
        serves it): this profile's, else the shipped one of the same version's; None without."""
        for p in (self.path, getattr(self.shipped_sibling(), "path", None)):
            f = p / "sysfs.tsv.gz" if p is not None else None
            if f is not None and f.is_file():
                return SysfsTable(gzip.decompress(f.read_bytes()))
        return None

    @staticmethod
    def _machine_file(path: Path) -> dict:
        f = path / "machine.json"
        return json.loads(f.read_text()) if f.is_file() else {}

    def frames(self, what: str) -> tuple[str, ...]:
        """The machine's frames for one path through its code ("init", "finit", "user"...)."""
        found = self.machine["frames"][what]
        return (found,) if isinstance(found, str) else tuple(found)

    # -- configuration ---------------------------------------------------------------------

    @cached_property
    def config(self) -> dict[str, str]:
        return parse_config(_read_text(self.path / "config.gz"))

    def enabled(self, option: str) -> bool:
        """IS_ENABLED(CONFIG_X): built in or modular. An option asked by its 6.1 name is
        found under the name 6.9 gave it (the x86 mitigations became CONFIG_MITIGATION_*)."""
        value = self.config.get("CONFIG_" + option)
        if value is None and option in RENAMED_6_9:
            value = self.config.get("CONFIG_" + RENAMED_6_9[option])
        return value in ("y", "m")

    def config_int(self, option: str, default: int) -> int:
        value = self.config.get("CONFIG_" + option)
        if value is None:  # not set in this kernel's configuration (6.12 has no ARCH_NR_GPIO)
            return default
        try:
            return int(value, 0)
        except ValueError:
            return default

    # -- symbols ---------------------------------------------------------------------------

    @cached_property
    def exports(self) -> dict[str, KernelSymbol]:
        syms = parse_symvers(_read_text(self.path / "Module.symvers.gz"))
        located = self.path / "exports.tsv.gz"
        if located.is_file():
            for line in _read_text(located).splitlines():
                name, addr, kind = line.split("\t")
                if name in syms:
                    s = syms[name]
                    syms[name] = KernelSymbol(s.name, s.crc, s.gpl, s.namespace, int(addr, 16), kind)
        return syms

    @cached_property
    def kallsyms(self) -> list[tuple[int, str, str]]:
        """(address, type letter, name) for every vmlinux symbol, by address; [] without image."""
        path = self.path / "kallsyms.gz"
        if not path.is_file():
            return []
        out = []
        for line in _read_text(path).splitlines():
            addr, typ, name = line.split(" ", 2)
            out.append((int(addr, 16), typ, name))
        out.sort(key=lambda t: t[0])
        return out

    @cached_property
    def _kallsyms_addrs(self) -> list[int]:
        return [a for a, _, _ in self.kallsyms]

    @cached_property
    def kallsyms_by_name(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for addr, _, name in self.kallsyms:
            out.setdefault(name, addr)
        return out

    @cached_property
    def _ksym_range(self) -> tuple[int, int]:
        by_name = self.kallsyms_by_name
        return by_name.get("_stext", 0), by_name.get("_end", 0)

    def symbol_at(self, addr: int) -> tuple[str, int, int] | None:
        """kallsyms_lookup_size_offset(): (name, offset, size) of the symbol holding addr,
        for addresses inside the kernel image (is_ksym_addr() with KALLSYMS_ALL)."""
        lo, hi = self._ksym_range
        if not lo <= addr <= hi:
            return None
        addrs = self._kallsyms_addrs
        i = bisect.bisect_right(addrs, addr) - 1
        if i < 0:
            return None
        start = addrs[i]
        while i > 0 and addrs[i - 1] == start:
            i -= 1
        j = bisect.bisect_right(addrs, start)
        if j >= len(addrs):
            return None
        size = addrs[j] - start
        if addr - start >= size:
            return None
        return self.kallsyms[i][2], addr - start, size

    @cached_property
    def sections(self) -> list[Section]:
        path = self.path / "sections.json"
        if not path.is_file():
            return []
        data = json.loads(path.read_text())
        return [
            Section(s["name"], int(s["addr"], 16), s["size"], _shf(s["flags"]), s.get("type", "PROGBITS"))
            for s in data["sections"]
        ]

    @cached_property
    def percpu_size(self) -> int:
        path = self.path / "sections.json"
        if path.is_file():
            return int(json.loads(path.read_text())["percpu_size"])
        return 0x40000

    @cached_property
    def certificates(self) -> list[bytes]:
        d = self.path / "certs"
        if not d.is_dir():
            return []
        return [p.read_bytes() for p in sorted(d.glob("*.der"))]

    @cached_property
    def btf_raw(self) -> bytes:
        """The kernel's .BTF section as it shows it in /sys/kernel/btf/vmlinux; b"" without image."""
        path = self.path / "btf.xz"
        return lzma.decompress(path.read_bytes()) if path.is_file() else b""

    @cached_property
    def btf(self):
        """The kernel's BTF (profile.btf.Btf), or None when the profile has no image."""
        if not self.btf_raw:
            return None
        from .btf import Btf

        return Btf(self.btf_raw)

    @cached_property
    def structs(self) -> Structs:
        """The struct layouts handlers use (profile/layouts.py), resolved against the BTF; a
        profile without (headers only) takes a shipped one's of the same upstream version, whose
        layouts are its own (6.12's net_device is not 6.1's), else layouts.py's 6.1 offsets."""
        btf = self.btf
        if btf is None:
            sibling = self.shipped_sibling()
            btf = sibling.btf if sibling is not None else None
        return Structs(btf)

    @cached_property
    def has_image(self) -> bool:
        """Whether the profile has the kernel image's symbols; asked once, like the kallsyms
        it goes with (every load asked it: a stat of the file each time)."""
        return (self.path / "kallsyms.gz").is_file()

    def __repr__(self) -> str:
        return f"KernelProfile({self.release!r}, {str(self.path)!r})"
