"""/lib/modules/<release> of the emulated machine: the profile's Debian module tree, indexed.

A sealed shell shows this tree where the host's /lib/modules was, so `modprobe NAME`,
`modinfo NAME` and `depmod -a` (the real kmod tools) find the emulated kernel's modules. The
package is the one scripts/install and scripts/corpus cache (~/.cache/pseudokernel/debs); the
index files are written by the real depmod into a directory of their own (--outdir), so the
extracted package stays as Debian ships it. The shell stacks: a writable layer per daemon (for
`make modules_install` and `depmod -a`), the index, the package (overlayfs).
"""

from __future__ import annotations

import fcntl
import os
import shutil
import subprocess
import sys
from pathlib import Path

SHIPPED = ("modules.order", "modules.builtin", "modules.builtin.modinfo")


def cache_dir() -> Path:
    return Path(os.environ.get("PSEUDOKERNEL_DEBS") or os.path.expanduser("~/.cache/pseudokernel/debs"))


def package_tree(release: str, fetch: bool = True) -> Path | None:
    """The extracted linux-image-<release> package's lib/modules/<release>, fetched with
    apt-get download and extracted once; None where the package cannot be had (a profile that
    is not a Debian kernel, no Debian archive)."""
    cache = cache_dir()
    package = f"linux-image-{release}"
    cache.mkdir(parents=True, exist_ok=True)
    with open(cache / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        debs = sorted(cache.glob(f"{package}_*.deb"))
        if not debs and fetch and shutil.which("apt-get"):
            print(f"pseudokernel: fetching {package} for /lib/modules/{release}", file=sys.stderr)
            subprocess.run(["apt-get", "download", "-q", package], cwd=cache, capture_output=True)
            debs = sorted(cache.glob(f"{package}_*.deb"))
        if not debs:
            return None
        dest = cache / (debs[-1].stem + ".tree")
        tree = dest / "lib" / "modules" / release
        if not (tree / "modules.order").is_file():
            subprocess.run(["dpkg-deb", "-x", str(debs[-1]), str(dest)], check=True)
        return tree


def index_dir(release: str, tree: Path) -> Path:
    """modules.dep and friends for the package tree, by the real depmod, kept beside it; and the
    `build` link kbuild's `make -C /lib/modules/$(uname -r)/build` follows, where the headers
    are installed. kmod 30's depmod has no --outdir: it runs on a tree of links to the
    package's files, and the links are removed after."""
    base = tree.parent.parent.parent.with_suffix(".index")
    out = base / "lib" / "modules" / release
    with open(cache_dir() / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (out / "modules.dep").is_file():
            out.mkdir(parents=True, exist_ok=True)
            # what Debian ships (a test may have left index files of its own in the tree)
            links = [out / e.name for e in tree.iterdir() if not e.name.startswith("modules.") or e.name in SHIPPED]
            for link in links:
                if not link.is_symlink():
                    link.symlink_to(tree / link.name)
            depmod = shutil.which("depmod") or "/sbin/depmod"
            subprocess.run([depmod, "-b", str(base), release], check=True, capture_output=True)
            for link in links:
                link.unlink()
        headers = Path("/usr/src") / f"linux-headers-{release}"
        if headers.is_dir() and not (out / "build").is_symlink():
            (out / "build").symlink_to(headers)
    return out


def layers(release: str, state: Path) -> tuple[list[Path], Path, Path]:
    """(lower directories, top first; upper; work) for the overlay mounted on
    /lib/modules/<release>. With no package, the writable layer alone."""
    upper, work = state / "lib-modules" / "upper", state / "lib-modules" / "work"
    upper.mkdir(parents=True, exist_ok=True)
    work.mkdir(parents=True, exist_ok=True)
    tree = package_tree(release)
    lower = [index_dir(release, tree), tree] if tree is not None else []
    return lower, upper, work
