"""/lib/modules/<release> of the emulated machine: the profile's Debian module tree, indexed.

A sealed shell shows this tree where the host's /lib/modules was, so `modprobe NAME`,
`modinfo NAME` and `depmod -a` (the real kmod tools) find the emulated kernel's modules. The
package is the one scripts/install and scripts/corpus cache (~/.cache/pseudokernel/debs); the
index files are written by the real depmod into a directory of their own, so the extracted
package stays as Debian ships it. The shell stacks: a writable layer per daemon (for
`make modules_install` and `depmod -a`), the index, the package (overlayfs). Every
`pseudokernel insmod` asks for the layers: once they exist, that is a few stat() calls.
"""

from __future__ import annotations

import fcntl
import os
import sys

SHIPPED = ("modules.order", "modules.builtin", "modules.builtin.modinfo")


def cache_dir() -> str:
    return os.environ.get("PSEUDOKERNEL_DEBS") or os.path.expanduser("~/.cache/pseudokernel/debs")


def _debs(cache: str, package: str) -> list[str]:
    return sorted(n for n in os.listdir(cache) if n.startswith(package + "_") and n.endswith(".deb"))


def package_tree(release: str, fetch: bool = True) -> str | None:
    """The extracted linux-image-<release> package's lib/modules/<release>, fetched with
    apt-get download and extracted once; None where the package cannot be had (a profile that
    is not a Debian kernel, no Debian archive)."""
    cache, package = cache_dir(), f"linux-image-{release}"
    os.makedirs(cache, exist_ok=True)
    debs = _debs(cache, package)
    if debs:
        tree = os.path.join(cache, debs[-1][: -len(".deb")] + ".tree", "lib", "modules", release)
        if os.path.isfile(os.path.join(tree, "modules.order")):
            return tree
    import shutil
    import subprocess

    with open(os.path.join(cache, ".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        debs = _debs(cache, package)
        missing = os.path.join(cache, f".{package}.missing")  # asked once: every insmod asks
        if not debs and fetch and shutil.which("apt-get") and not os.path.exists(missing):
            print(f"pseudokernel: fetching {package} for /lib/modules/{release}", file=sys.stderr)
            subprocess.run(["apt-get", "download", "-q", package], cwd=cache, capture_output=True)
            debs = _debs(cache, package)
            if not debs:
                open(missing, "w").close()
        if not debs:
            return None
        dest = os.path.join(cache, debs[-1][: -len(".deb")] + ".tree")
        tree = os.path.join(dest, "lib", "modules", release)
        if not os.path.isfile(os.path.join(tree, "modules.order")):
            subprocess.run(["dpkg-deb", "-x", os.path.join(cache, debs[-1]), dest], check=True)
        return tree


def index_dir(release: str, tree: str) -> str:
    """modules.dep and friends for the package tree, by the real depmod, kept beside it; and the
    `build` link kbuild's `make -C /lib/modules/$(uname -r)/build` follows, where the headers
    are installed. kmod 30's depmod has no --outdir: it runs on a tree of links to the
    package's files, and the links are removed after."""
    root = os.path.dirname(os.path.dirname(os.path.dirname(tree)))
    base = root.removesuffix(".tree") + ".index"
    out = os.path.join(base, "lib", "modules", release)
    headers = f"/usr/src/linux-headers-{release}"
    build = os.path.join(out, "build")
    if os.path.isfile(os.path.join(out, "modules.dep")) and (os.path.islink(build) or not os.path.isdir(headers)):
        return out
    import shutil
    import subprocess

    with open(os.path.join(cache_dir(), ".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not os.path.isfile(os.path.join(out, "modules.dep")):
            os.makedirs(out, exist_ok=True)
            # what Debian ships (a test may have left index files of its own in the tree)
            names = [n for n in os.listdir(tree) if not n.startswith("modules.") or n in SHIPPED]
            for name in names:
                if not os.path.islink(os.path.join(out, name)):
                    os.symlink(os.path.join(tree, name), os.path.join(out, name))
            depmod = shutil.which("depmod") or "/sbin/depmod"
            subprocess.run([depmod, "-b", base, release], check=True, capture_output=True)
            for name in names:
                os.unlink(os.path.join(out, name))
        if os.path.isdir(headers) and not os.path.islink(build):
            os.symlink(headers, build)
    return out


def layers(release: str, state: str) -> tuple[list[str], str, str]:
    """(lower directories, top first; upper; work) for the overlay mounted on
    /lib/modules/<release>. With no package, the writable layer alone."""
    upper, work = os.path.join(state, "lib-modules", "upper"), os.path.join(state, "lib-modules", "work")
    os.makedirs(upper, exist_ok=True)
    os.makedirs(work, exist_ok=True)
    tree = package_tree(release)
    lower = [index_dir(release, tree), tree] if tree is not None else []
    return lower, upper, work
