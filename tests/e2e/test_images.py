"""Module images travel as file descriptors, whatever their size (issue 10).

finit_module(2) takes an fd: `insmod` and the drop folder pass the file itself. init_module(2)
takes a buffer, which kmod fills when it inflates a compressed module (Debian's 6.1 has no
in-kernel decompression): that buffer travels as a memfd. No cap but the kernel's own applies;
the control socket's JSON part stays small and everything malformed gets a clear errno.
"""

from __future__ import annotations

import errno
import json
import os
import shutil
import socket
import subprocess
import threading
from pathlib import Path

import pytest
from pkrun import daemon_at, pk, wait_for
from realref import PREBUILT

from pseudokernel.client import recv_reply, send_request
from pseudokernel.paths import state_paths

pytestmark = pytest.mark.skipif(not os.path.exists("/dev/fuse"), reason="needs /dev/fuse")
RELEASE = "6.1.0-56-amd64"


@pytest.fixture
def daemon(tmp_path):
    yield from daemon_at(tmp_path)


def _padded(src: Path, out: Path, size: int, random: bool) -> Path:
    """src with a non-allocated section of size bytes: the kernel reads it and lays out nothing."""
    pad = out.with_suffix(".pad")
    with open(pad, "wb") as f:
        f.write(os.urandom(size) if random else bytes(size))
    subprocess.run(["objcopy", "--add-section", f".pk_pad={pad}", "--set-section-flags",
                    ".pk_pad=contents,readonly", str(src), str(out)], check=True)
    pad.unlink()
    return out


def _modules(mount: Path) -> list[str]:
    return [line.split()[0] for line in (mount / "proc/modules").read_text().splitlines()]


def test_a_64_mib_module_loads_through_insmod_and_the_drop_folder(daemon, tmp_path):
    mount, drop = daemon
    big = _padded(PREBUILT / "hello.ko", tmp_path / "hello.ko", 64 << 20, random=False)
    assert big.stat().st_size > 64 << 20
    r = pk("insmod", str(big), mount=mount)
    assert r.returncode == 0, r.stderr
    assert _modules(mount) == ["hello"]
    assert pk("rmmod", "hello", mount=mount).returncode == 0
    shutil.copy(big, drop / "hello.ko")
    assert wait_for(lambda: _modules(mount) == ["hello"], 60)
    assert b"hello: hello world (1 of 1)" in (mount / "dmesg").read_bytes()


@pytest.fixture(scope="module")
def xfs_tree(tree, tmp_path_factory) -> Path:
    """Debian's xfs.ko, made incompressible-large (5 MB once xz-compressed, as 6.12's
    xfs.ko.xz is), in a module tree of its own with the real depmod's modules.dep. libcrc32c
    needs the crc32c algorithm, modular in Debian's kernel: crc32c_generic comes along (its
    softdep), or libcrc32c's init fails as on the real kernel."""
    root = tmp_path_factory.mktemp("xfs")
    src = tree / "lib/modules" / RELEASE / "kernel"
    dst = root / "lib/modules" / RELEASE / "kernel"
    (dst / "fs/xfs").mkdir(parents=True)
    (dst / "lib").mkdir()
    shutil.copy(src / "lib/libcrc32c.ko", dst / "lib/libcrc32c.ko")
    (dst / "crypto").mkdir()
    shutil.copy(src / "crypto/crc32c_generic.ko", dst / "crypto/crc32c_generic.ko")
    ko = _padded(src / "fs/xfs/xfs.ko", dst / "fs/xfs/xfs.ko", 5 << 20, random=True)
    subprocess.run(["xz", "-T2", "-0", str(ko)], check=True)
    for name in ("modules.order", "modules.builtin", "modules.builtin.modinfo"):
        (dst.parent / name).touch()
    subprocess.run(["/sbin/depmod", "-b", str(root), RELEASE], check=True)
    return root


def test_a_5_mb_compressed_module_loads_through_insmod_modprobe_and_the_drop_folder(daemon, xfs_tree):
    mount, drop = daemon
    kdir = xfs_tree / "lib/modules" / RELEASE / "kernel"
    xz = kdir / "fs/xfs/xfs.ko.xz"
    assert xz.stat().st_size > 5_000_000
    r = pk("modprobe", "-d", str(xfs_tree), "xfs", mount=mount)
    assert r.returncode == 0, r.stderr
    assert _modules(mount) == ["xfs", "libcrc32c", "crc32c_generic"]
    assert pk("rmmod", "xfs", mount=mount).returncode == 0
    r = pk("insmod", str(xz), mount=mount)
    assert r.returncode == 0, r.stderr
    assert pk("rmmod", "xfs", mount=mount).returncode == 0
    shutil.copy(xz, drop / "xfs.ko.xz")
    assert wait_for(lambda: _modules(mount) == ["xfs", "libcrc32c", "crc32c_generic"], 60)


# -- the control socket under abuse from its owner ---------------------------------------------

def _sock(mount: Path) -> str:
    return str(state_paths(str(mount)).socket)


def _raw(path: str, payload: bytes, shut: bool = True, timeout: float = 30) -> dict:
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(timeout)
    try:
        s.connect(path)
        s.sendall(payload)
        if shut:
            s.shutdown(socket.SHUT_WR)
        buf = recv_reply(s)
    finally:
        s.close()
    return json.loads(buf)


@pytest.mark.parametrize("payload, err", [
    (b"{not json\n", errno.EINVAL),
    (b'{"op": "insmod"', errno.EINVAL),  # cut short: no newline before the end
    (b"[1, 2]\n", errno.EINVAL),
    (b'{"op": 7}\n', errno.EINVAL),
    (b'{"op": "rmmod"}\n', errno.EINVAL),  # no name
    (b'{"op": "rmmod", "name": "x", "flags": "lots"}\n', errno.EINVAL),
    (b'{"op": "insmod", "args": ""}\n', errno.EBADF),  # no image
    (b'{"op": "nosuch"}\n', errno.EINVAL),
    (b"\xff\xfe\n", errno.EINVAL),
    (b'{"op": "status", "x": "' + b"a" * (1 << 17) + b'"}\n', errno.EMSGSIZE),
])
def test_malformed_requests_get_a_clear_errno(daemon, payload, err):
    mount, _ = daemon
    reply = _raw(_sock(mount), payload)
    assert reply["errno"] == err and reply.get("error"), reply
    assert send_request(_sock(mount), {"op": "status"})["ready"]


def test_a_stalled_client_does_not_block_others_and_is_timed_out(daemon):
    mount, _ = daemon
    path = _sock(mount)
    stalled = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    stalled.connect(path)
    stalled.sendall(b'{"op": "sta')  # and nothing more
    try:
        assert send_request(path, {"op": "status"}, timeout=10)["ready"]
        r = pk("insmod", str(PREBUILT / "hello.ko"), mount=mount)
        assert r.returncode == 0, r.stderr
        stalled.settimeout(60)
        reply = json.loads(stalled.recv(65536))  # then it is told why it was dropped
        assert reply["errno"] == errno.ETIMEDOUT
    finally:
        stalled.close()


def test_concurrent_requests_are_all_answered(daemon):
    mount, _ = daemon
    path = _sock(mount)
    replies: list[dict] = []
    errors: list[BaseException] = []

    def ask(i: int) -> None:
        try:
            req = {"op": "status"} if i % 3 else {"op": "rmmod", "name": f"none{i}"}
            replies.append(send_request(path, req, timeout=60))
        except BaseException as e:  # noqa: BLE001 - reported below
            errors.append(e)

    threads = [threading.Thread(target=ask, args=(i,)) for i in range(60)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert not errors
    assert len(replies) == 60
    assert sum(r.get("errno") == errno.ENOENT for r in replies) == 20
    assert all(r.get("ready") for r in replies if "ready" in r)
