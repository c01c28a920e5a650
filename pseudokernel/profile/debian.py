"""A profile made from Debian's packages: linux-headers-<release> and linux-image-<release>.

Why: a profile names a kernel release; on a Debian machine whose apt knows that release, the
profile can be made on the spot instead of being shipped. The packages are fetched with
`apt-get download` into a cache directory (~/.cache/pseudokernel/debs, or $PSEUDOKERNEL_DEBS)
and reused from there. The headers package (its .config, Module.symvers and include/generated
are all in the arch package, so -common is not needed) is unpacked with dpkg-deb into a
temporary directory; the image package is read directly by profile/image.py (only its
./boot/vmlinuz-* is needed).

    ensure_profile("6.12.117+deb12-amd64", user_profiles_dir())  # builds it there if missing

KernelProfile.load() calls ensure_profile() for a name it does not find, so `pseudokernel up
--profile 6.1.0-55-amd64` works on any Debian machine whose apt has that kernel.
Set PSEUDOKERNEL_NO_FETCH=1 to turn this off (a missing profile is then an error at once).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

# What a Debian kernel release looks like: 6.1.0-56-amd64, 6.12.118+deb12-amd64, 6.1.0-55-rt-amd64.
RELEASE_RE = re.compile(r"\d+\.\d+(\.\d+)?[-+][A-Za-z0-9.+~-]+")


def debs_cache() -> Path:
    return Path(os.environ.get("PSEUDOKERNEL_DEBS") or
                Path.home() / ".cache" / "pseudokernel" / "debs")


def _say(message: str) -> None:
    print(f"pseudokernel: {message}", file=sys.stderr, flush=True)


def looks_like_release(name: str) -> bool:
    return "/" not in name and RELEASE_RE.fullmatch(name) is not None


def apt_has(package: str) -> bool:
    """True if apt knows a candidate for the package (`apt-cache policy`, no download)."""
    if shutil.which("apt-cache") is None:
        return False
    out = subprocess.run(["apt-cache", "policy", package], capture_output=True, text=True)
    match = re.search(r"^\s*Candidate:\s*(\S+)", out.stdout, re.MULTILINE)
    return out.returncode == 0 and match is not None and match.group(1) != "(none)"


def cached_deb(cache: Path, package: str, say: Callable[[str], None] = _say) -> Path:
    """The package's .deb in the cache, downloaded with `apt-get download` if it is not there."""
    cache.mkdir(parents=True, exist_ok=True)
    found = sorted(cache.glob(f"{package}_*.deb"))
    if not found:
        say(f"apt-get download {package} (into {cache})")
        run = subprocess.run(["apt-get", "download", package], cwd=cache,
                             capture_output=True, text=True)
        if run.returncode != 0:
            raise RuntimeError(f"apt-get download {package} failed: "
                               f"{(run.stderr or run.stdout).strip()[-400:]}")
        found = sorted(cache.glob(f"{package}_*.deb"))
    if not found:
        raise RuntimeError(f"apt-get download {package} left no {package}_*.deb in {cache}")
    return found[-1]


def build_from_debs(release: str, out: Path, cache: Path | None = None,
                    say: Callable[[str], None] = _say) -> Path:
    """Fetch (or reuse) the release's headers and image packages and write the profile `out`."""
    from .build import build_profile

    cache = cache or debs_cache()
    headers_deb = cached_deb(cache, f"linux-headers-{release}", say)
    image_deb = cached_deb(cache, f"linux-image-{release}", say)
    say(f"building the kernel profile {release} into {out}")
    with tempfile.TemporaryDirectory(prefix="pseudokernel-headers-") as tmp:
        subprocess.run(["dpkg-deb", "-x", str(headers_deb), tmp], check=True)
        headers = Path(tmp) / "usr/src" / f"linux-headers-{release}"
        if not headers.is_dir():
            raise RuntimeError(f"{headers_deb.name} has no usr/src/linux-headers-{release}")
        # Built beside `out` and renamed into place: a half-built profile is never found.
        out.parent.mkdir(parents=True, exist_ok=True)
        partial = Path(tempfile.mkdtemp(prefix=f".{release}.", dir=out.parent))
        try:
            build_profile(headers, partial, image_deb,
                          headers_source=headers_deb.name, image_source=image_deb.name)
            if out.exists():
                shutil.rmtree(out)
            partial.chmod(0o755)  # mkdtemp made it 0700
            partial.rename(out)
        finally:
            shutil.rmtree(partial, ignore_errors=True)
    return out


def ensure_profile(name: str, profiles: Path, say: Callable[[str], None] = _say) -> Path | None:
    """The profile directory for `name` under `profiles` (the user's), built from Debian's
    packages if it is a kernel release apt has both packages of; None if it is not (or
    fetching is turned off)."""
    out = profiles / name
    if (out / "profile.json").is_file():
        return out
    if os.environ.get("PSEUDOKERNEL_NO_FETCH") or not looks_like_release(name):
        return None
    headers, image = f"linux-headers-{name}", f"linux-image-{name}"
    if not (apt_has(headers) and apt_has(image)):
        return None
    say(f"no kernel profile {name} on this machine; making it from Debian's {headers} "
        f"and {image}")
    build_from_debs(name, out, say=say)
    say(f"kernel profile {name} ready in {out}")
    return out
