import glob
import io
import os
import sys
import tarfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).parent))

from pseudokernel.profile import KernelProfile  # noqa: E402


@pytest.fixture(scope="session")
def profile() -> KernelProfile:
    p = KernelProfile.load()
    _ = p.exports, p.kallsyms, p.btf  # parse once for the whole session
    return p


@pytest.fixture
def kernel(profile):
    from pseudokernel.kernel import Kernel

    k = Kernel(profile, seed=int(os.environ.get("PSEUDOKERNEL_SEED", "7")))
    yield k
    k.close()


DEBS = Path(os.environ.get("PSEUDOKERNEL_DEBS", Path.home() / ".cache/pseudokernel/debs"))
DEB = next(iter(sorted(glob.glob(str(DEBS / "linux-image-6.1.0-56-amd64_*.deb")))), None)
RELEASE = "6.1.0-56-amd64"


@pytest.fixture(scope="session")
def tree(tmp_path_factory) -> Path:
    """ROOT with ROOT/lib/modules/6.1.0-56-amd64/kernel/... from Debian's kernel package."""
    if DEB is None:
        pytest.fail(f"no linux-image-6.1.0-56-amd64 .deb in {DEBS}: scripts/install --test fetches it")
    from pseudokernel.profile.image import _ar_members

    root = tmp_path_factory.mktemp("debian")
    members = _ar_members(Path(DEB).read_bytes())
    name = next(n for n in members if n.startswith("data.tar"))
    with tarfile.open(fileobj=io.BytesIO(members[name])) as tar:
        tar.extractall(root, members=[m for m in tar.getmembers() if "/lib/modules/" in m.name], filter="data")
    return root


def run_as_nobody(args: list[str], files: tuple[Path, ...] = (), **kw):
    """Python as user nobody, with a copy of the package and of `files` in a directory it can
    read: the clone under test may sit in a private directory (mktemp -d is 0700), and the venv's
    interpreter with it; the system's python3 runs the standard-library-only client."""
    import shutil
    import subprocess
    import tempfile

    if os.geteuid() != 0 or shutil.which("setpriv") is None:
        pytest.fail("needs root and setpriv to act as another user")
    d = Path(tempfile.mkdtemp(prefix="pk-nobody-"))
    try:
        d.chmod(0o755)
        shutil.copytree(ROOT / "pseudokernel", d / "pseudokernel", ignore=shutil.ignore_patterns("__pycache__"))
        for f in files:
            shutil.copy(f, d / f.name)
        args = [str(d / a.name) if isinstance(a, Path) and a in files else str(a) for a in args]
        return subprocess.run(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "env",
                               f"PYTHONPATH={d}", "/usr/bin/python3", *args], capture_output=True, cwd=d, **kw)
    finally:
        shutil.rmtree(d, ignore_errors=True)
