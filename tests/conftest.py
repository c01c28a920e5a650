import os
import sys
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
