"""Hardened usercopy (emu/kapi/hardened_usercopy.py): usercopy.ko's device copies into a slab
cache with a usercopy region and out of a kmalloc object; what falls outside is the kernel's BUG,
as recorded on the real 6.1 and 6.12 (tests/expected/real*/usercopy.txt). The sealed replay of
the whole scenario is tests/kmod/test_real_tools.py; here each copy is one call."""

from __future__ import annotations

import errno
import os

import pytest
from realref import REFERENCES, normalize

from pseudokernel import vfs
from pseudokernel.emu.kapi.hardened_usercopy import kmalloc_cache_name
from pseudokernel.fs.devtmpfs import device_nodes
from pseudokernel.kernel import Caller
from pseudokernel.log import format_dmesg


@pytest.fixture(params=REFERENCES, ids=lambda r: r.id)
def ref(request):
    return request.param


@pytest.fixture
def booted(ref):
    from pseudokernel.kernel import Kernel
    from pseudokernel.profile import KernelProfile

    k = Kernel(KernelProfile.load(ref.release), cmdline="console=ttyS0 quiet panic=-1", seed=7)
    yield k
    k.close()


def _dmesg(kernel, since: int) -> bytes:
    return format_dmesg(kernel.log.records(since), raw=True)


def _copy(kernel, pid: int, write: bool, size: int, offset: int) -> int:
    """One dd: open /dev/pk_usercopy, one read or write of size bytes at offset; the errno."""
    devt, mode = device_nodes(kernel)["pk_usercopy"]
    caller = Caller(pid, "dd")
    f = vfs.open_device(kernel, caller, devt, "pk_usercopy", os.O_WRONLY if write else os.O_RDONLY, mode)
    try:
        if write:
            f.write(b"ABCDEFGHI"[:size], offset)
        else:
            f.read(size, offset)
        return 0
    except OSError as e:
        return e.errno
    finally:
        f.release()


def test_copies_outside_the_usercopy_region_are_the_kernels_bug(ref, booted):
    kernel = booted
    start = kernel.log.next_seq
    kernel.finit_module(ref.ko("usercopy"))
    steps = [(True, 8, 8, 0), (True, 4, 12, 0), (True, 9, 0, errno.EFAULT), (False, 32, 0, 0), (False, 10, 10, 0),
             (False, 33, 0, errno.EFAULT), (True, 4, 12, 0), (True, 4, 16, errno.EFAULT)]
    got = [_copy(kernel, 100 + i, write, size, offset) for i, (write, size, offset, _) in enumerate(steps)]
    assert got == [err for *_, err in steps]
    assert kernel.test_taint(7)  # D
    kernel.delete_module("usercopy")  # each dying task closed its file: nothing holds the module
    ours = normalize(_dmesg(kernel, start)).splitlines()
    real = normalize(ref.section("usercopy", "dmesg -r (lines logged since the scenario started)").output).splitlines()
    assert ours == real


def test_kmalloc_cache_names():
    assert kmalloc_cache_name(32, 0xCC0) == "kmalloc-32"  # GFP_KERNEL
    assert kmalloc_cache_name(1024, 0xCC0) == "kmalloc-1k"
    assert kmalloc_cache_name(96, 0x400CC0) == "kmalloc-cg-96"  # GFP_KERNEL_ACCOUNT
    assert kmalloc_cache_name(8192, 0x1) == "dma-kmalloc-8k"


def test_what_is_not_a_slab_object_is_not_checked(kernel):
    """A large kmalloc() is the page allocator's (its own check is not emulated), module data
    and the stack are no slab's: any size passes; a kmalloc(20) object may be copied whole (32)."""
    from pseudokernel.emu.kapi.hardened_usercopy import __check_object_size

    api = kernel.api
    big, small = api.kmalloc(20000), api.kmalloc(20)
    seq = kernel.log.next_seq
    assert __check_object_size(api, big + 100, 30000, 1) is None
    assert __check_object_size(api, small, 32, 1) is None
    assert __check_object_size(api, small + 8, 24, 0) is None
    assert list(kernel.log.records(seq)) == []
    api.kfree(big)
    api.kfree(small)
