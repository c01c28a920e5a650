"""Debian's kernel packages the tests read, from the cache scripts/install --test fills."""

from __future__ import annotations

import functools
import os
from pathlib import Path

import pytest

from pseudokernel.profile.image import KernelImage

DEB_CACHE = Path(os.environ.get("PSEUDOKERNEL_DEBS", Path.home() / ".cache/pseudokernel/debs"))


@functools.cache
def cached_image(release: str) -> KernelImage | None:
    """The real image of a release, read once per test session (about 1 s: the xz payload)."""
    found = sorted(DEB_CACHE.glob(f"linux-image-{release}_*.deb"))
    return KernelImage.open(found[-1]) if found else None


def image(release: str) -> KernelImage:
    """The image, or the test fails saying how to get it (scripts/install --test fetches both
    recorded kernels' packages: a missing one is a broken machine, not a reason to skip)."""
    kernel = cached_image(release)
    if kernel is None:
        pytest.fail(f"linux-image-{release} .deb not in {DEB_CACHE}: scripts/install --test fetches it")
    return kernel
