"""Build a profile directory from a kernel headers tree and, optionally, the kernel image.

Why: the kernel being emulated is data. A headers tree (what `linux-headers-*` installs under
/usr/src) has the release, the .config and Module.symvers (export CRCs); the image adds real
addresses, sections, certificates, the banner and BTF. The profile holds exactly those facts in
plain files, so a profile can be checked into git, diffed and read without this code.

Layout of a profile directory (every .gz written with mtime 0 so that output is reproducible):
  profile.json        {"format": 1, "release", "vermagic", "uts_version", "compiler", "banner",
                       "source": {"headers", "image"}}
  Module.symvers.gz   the headers tree's Module.symvers, verbatim
  config.gz           the headers tree's .config, verbatim
 with an image:
  kallsyms.gz         "%016x %c %s\\n" per vmlinux symbol in address order, as root's
                      /proc/kallsyms prints them (without KASLR)
  sections.json       {"percpu_size": int, "sections": [{"name", "addr": "0x...", "size": int,
                       "flags": readelf letters such as "AX", "type": "PROGBITS"|"NOBITS"}]}
  exports.tsv.gz      "name\\taddr_hex\\tkind\\n" per __ksymtab/__ksymtab_gpl entry, by name;
                      kind is text, rodata, data, bss or percpu (GPL-ness, namespace and CRC
                      are in Module.symvers)
  certs/NN.der        the built-in X.509 certificates (system_certificate_list), from 00
  btf.xz              the raw .BTF section, xz-compressed

Usage: python -m pseudokernel.profile.build HEADERS OUT [--image IMAGE]
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import json
import lzma
import re
from pathlib import Path

from .image import SHF_ALLOC, SHF_EXECINSTR, SHF_WRITE, KernelImage, Section

PROFILE_FORMAT = 1
IMAGE_FILES = ("kallsyms.gz", "sections.json", "exports.tsv.gz", "btf.xz")


def gzip_bytes(data: bytes) -> bytes:
    """gzip with no name and mtime 0: the same input always gives the same bytes."""
    return gzip.compress(data, compresslevel=9, mtime=0)


def read_config(text: str) -> dict[str, str]:
    """A .config as {"CONFIG_SMP": "y", "CONFIG_CC_VERSION_TEXT": "gcc-12 ...", ...}; options
    that are "not set" are absent."""
    config: dict[str, str] = {}
    for line in text.splitlines():
        match = re.match(r"(CONFIG_\w+)=(.*)$", line)
        if match:
            value = match.group(2)
            if value.startswith('"') and value.endswith('"') and len(value) >= 2:
                value = value[1:-1].replace('\\"', '"').replace("\\\\", "\\")
            config[match.group(1)] = value
    return config


def read_defines(path: Path) -> dict[str, str]:
    """The string #defines of a generated header (compile.h, utsrelease.h, ...)."""
    if not path.is_file():
        return {}
    return {m.group(1): m.group(2).replace('\\"', '"')
            for m in re.finditer(r'^#define\s+(\w+)\s+"(.*)"\s*$', path.read_text(),
                                    re.MULTILINE)}


def kernel_release(headers: Path) -> str:
    """UTS_RELEASE. This, not include/config/kernel.release, is what the kernel and its
    vermagic use: Debian's headers say "6.1.192" in kernel.release (the upstream version) but
    "6.1.0-56-amd64" in generated/utsrelease.h, and `uname -r` and every module's vermagic say
    the latter."""
    release = read_defines(headers / "include/generated/utsrelease.h").get("UTS_RELEASE")
    if release:
        return release
    fallback = headers / "include/config/kernel.release"
    if fallback.is_file():
        return fallback.read_text().strip()
    raise FileNotFoundError(f"{headers}: neither include/generated/utsrelease.h nor "
                            "include/config/kernel.release")


def randstruct_hash(headers: Path) -> str:
    """RANDSTRUCT_HASHED_SEED: from include/generated/randstruct_hash.h, or computed as
    scripts/gen-randstruct-seed.sh does (sha256 of the seed text)."""
    generated = read_defines(headers / "include/generated/randstruct_hash.h")
    if "RANDSTRUCT_HASHED_SEED" in generated:
        return generated["RANDSTRUCT_HASHED_SEED"]
    seed = headers / "scripts/basic/randstruct.seed"
    if seed.is_file():
        return hashlib.sha256(seed.read_text().strip().encode()).hexdigest()
    raise FileNotFoundError(f"{headers}: CONFIG_RANDSTRUCT is set but the tree has neither "
                            "include/generated/randstruct_hash.h nor scripts/basic/randstruct.seed")


def vermagic(release: str, config: dict[str, str], headers: Path) -> str:
    """VERMAGIC_STRING as include/linux/vermagic.h (6.1) builds it."""
    if config.get("CONFIG_X86_64") != "y":
        # arch/x86/include/asm/vermagic.h: MODULE_ARCH_VERMAGIC is "" only on x86_64
        # (x86_32 adds MODULE_PROC_FAMILY, other architectures their own).
        raise ValueError("only x86_64 kernels are supported (CONFIG_X86_64 is not set)")
    magic = release + " "
    if config.get("CONFIG_SMP") == "y":
        magic += "SMP "
    if config.get("CONFIG_PREEMPT_BUILD") == "y":
        magic += "preempt "
    elif config.get("CONFIG_PREEMPT_RT") == "y":
        magic += "preempt_rt "
    if config.get("CONFIG_MODULE_UNLOAD") == "y":
        magic += "mod_unload "
    if config.get("CONFIG_MODVERSIONS") == "y":
        magic += "modversions "
    # MODULE_RANDSTRUCT tests the macro RANDSTRUCT, which scripts/Makefile.randstruct defines
    # (-DRANDSTRUCT) for every compilation when CONFIG_RANDSTRUCT is set.
    if config.get("CONFIG_RANDSTRUCT") == "y":
        magic += "RANDSTRUCT_" + randstruct_hash(headers)
    return magic


def compose_banner(release: str, compile_h: dict[str, str], uts_version: str | None
                   ) -> str | None:
    """linux_banner as init/version-timestamp.c writes it, when the headers have the parts."""
    parts = [compile_h.get(key) for key in ("LINUX_COMPILE_BY", "LINUX_COMPILE_HOST",
                                              "LINUX_COMPILER")]
    if None in parts or uts_version is None:
        return None
    by, host, compiler = parts
    return f"Linux version {release} ({by}@{host}) ({compiler}) {uts_version}\n"


# --- image-derived files ----------------------------------------------------------------------


def section_flags(flags: int) -> str:
    return "".join(letter for bit, letter in ((SHF_WRITE, "W"), (SHF_ALLOC, "A"),
                                              (SHF_EXECINSTR, "X")) if flags & bit)


def section_kind(section: Section) -> str:
    """text, rodata, data or bss. By name first: x86's .rodata output section is flagged
    writable because .data..ro_after_init is linked inside it."""
    if section.flags & SHF_EXECINSTR:
        return "text"
    if section.name == ".rodata":
        return "rodata"
    if section.nobits:
        return "bss"
    if section.flags & SHF_WRITE:
        return "data"
    return "rodata"


def symbol_kind(addr: int, image: KernelImage) -> str:
    """Where an address lives. With KALLSYMS_ABSOLUTE_PERCPU, per-CPU variables keep their
    link-time addresses inside .data..percpu, which is linked at 0."""
    percpu = image.section(".data..percpu")
    if percpu is not None and percpu.addr == 0 and addr < percpu.size:
        return "percpu"
    ordinary = [s for s in image.sections if s.name != ".data..percpu"]
    for section in ordinary:
        if section.addr <= addr < section.addr + section.size:
            return section_kind(section)
    for section in ordinary:  # a symbol at the very end of a section (e.g. an end marker)
        if addr == section.addr + section.size:
            return section_kind(section)
    return "data"


def kallsyms_text(image: KernelImage) -> str:
    return "".join(f"{addr:016x} {kind} {name}\n" for addr, kind, name in image.kallsyms)


def exports_tsv(image: KernelImage) -> str:
    rows = sorted((export.name, export.addr) for export in image.exports)
    return "".join(f"{name}\t{addr:016x}\t{symbol_kind(addr, image)}\n" for name, addr in rows)


def sections_json(image: KernelImage) -> dict:
    return {
        "percpu_size": image.percpu_size,
        "sections": [{"name": s.name, "addr": f"{s.addr:#018x}", "size": s.size,
                      "flags": section_flags(s.flags), "type": "NOBITS" if s.nobits else "PROGBITS"}
                     for s in image.sections],
    }


def check_image_matches(image: KernelImage, release: str, symvers: str) -> None:
    """Refuse an image from another build: its release and its export list must be the
    headers'; every export must be in kallsyms at the same address."""
    if f"Linux version {release} " not in image.banner:
        raise ValueError(f"the image is not release {release}: {image.banner.strip()!r}")
    vmlinux_exports = {line.split("\t")[1] for line in symvers.splitlines()
                       if line.count("\t") >= 3 and line.split("\t")[2] == "vmlinux"}
    image_exports = {export.name for export in image.exports}
    if vmlinux_exports and vmlinux_exports != image_exports:
        missing = sorted(vmlinux_exports ^ image_exports)[:5]
        raise ValueError(f"Module.symvers and the image's __ksymtab differ (e.g. {missing})")
    in_kallsyms = {(name, addr) for addr, _, name in image.kallsyms}
    wrong = [e.name for e in image.exports if (e.name, e.addr) not in in_kallsyms]
    if wrong:
        raise ValueError(f"exports not in kallsyms at their __ksymtab address: {wrong[:5]}")


# --- the whole profile ----------------------------------------------------------------------


def build_profile(headers: Path, out: Path, image: Path | None = None, *,
                  headers_source: str | None = None, image_source: str | None = None) -> None:
    """Write the profile directory `out` from the headers tree `headers` and, if given, the
    kernel image `image` (.deb, vmlinuz or vmlinux). headers_source/image_source, if given,
    are recorded in profile.json instead of the paths (e.g. package file names)."""
    headers, out = Path(headers), Path(out)
    config_text = (headers / ".config").read_bytes()
    symvers = (headers / "Module.symvers").read_bytes()
    config = read_config(config_text.decode("utf-8", "replace"))
    release = kernel_release(headers)
    generated = headers / "include/generated"
    compile_h = read_defines(generated / "compile.h")
    uts_version = (read_defines(generated / "utsversion.h").get("UTS_VERSION")
                   or compile_h.get("UTS_VERSION"))
    kernel = KernelImage.open(image) if image is not None else None
    if kernel is not None:
        check_image_matches(kernel, release, symvers.decode("utf-8", "replace"))

    out.mkdir(parents=True, exist_ok=True)
    profile = {
        "format": PROFILE_FORMAT,
        "release": release,
        "vermagic": vermagic(release, config, headers),
        "uts_version": uts_version,
        "compiler": compile_h.get("LINUX_COMPILER") or config.get("CONFIG_CC_VERSION_TEXT"),
        "banner": kernel.banner if kernel else compose_banner(release, compile_h, uts_version),
        "source": {"headers": headers_source or str(headers),
                   "image": image_source or (str(image) if image is not None else None)},
    }
    (out / "profile.json").write_text(json.dumps(profile, indent=2) + "\n")
    (out / "Module.symvers.gz").write_bytes(gzip_bytes(symvers))
    (out / "config.gz").write_bytes(gzip_bytes(config_text))

    certs = out / "certs"
    for stale in certs.glob("*.der") if certs.is_dir() else ():
        stale.unlink()
    if kernel is None:
        for name in IMAGE_FILES:
            (out / name).unlink(missing_ok=True)
        if certs.is_dir():
            certs.rmdir()
        return
    (out / "kallsyms.gz").write_bytes(gzip_bytes(kallsyms_text(kernel).encode()))
    (out / "sections.json").write_text(json.dumps(sections_json(kernel), indent=2) + "\n")
    (out / "exports.tsv.gz").write_bytes(gzip_bytes(exports_tsv(kernel).encode()))
    (out / "btf.xz").write_bytes(lzma.compress(kernel.btf, format=lzma.FORMAT_XZ,
                                               preset=9 | lzma.PRESET_EXTREME))
    certs.mkdir(exist_ok=True)
    for number, der in enumerate(kernel.certificates):
        (certs / f"{number:02d}.der").write_bytes(der)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("headers", type=Path, help="kernel headers tree (/usr/src/linux-headers-*)")
    parser.add_argument("out", type=Path, help="profile directory to write")
    parser.add_argument("--image", type=Path, help="linux-image .deb, vmlinuz or vmlinux")
    args = parser.parse_args(argv)
    build_profile(args.headers, args.out, args.image)


if __name__ == "__main__":
    main()
