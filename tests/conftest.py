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
