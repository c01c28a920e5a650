"""The control socket: SO_PEERCRED lets only the daemon's owner (or root) in; a file still open
for writing is refused with ETXTBSY; file descriptors travel with SCM_RIGHTS."""

from __future__ import annotations

import errno
import json
import os
import shutil
import tempfile

import pytest
from conftest import run_as_nobody

from pseudokernel.client import send_request
from pseudokernel.server import ControlServer, kernel_read_file


@pytest.fixture
def server():
    d = tempfile.mkdtemp(prefix="pk-sock-", dir="/tmp")
    os.chmod(d, 0o711)
    seen = []

    def dispatch(msg, fds):
        seen.append((msg, [os.fstat(fd).st_size for fd in fds]))
        return {"errno": 0, "got": msg.get("op")}

    srv = ControlServer(os.path.join(d, "control.sock"), dispatch)
    srv.serve_in_thread()
    yield srv, d, seen
    srv.shutdown()
    srv.server_close()
    shutil.rmtree(d, ignore_errors=True)


def test_owner_is_served_and_fds_travel(server, tmp_path):
    srv, d, seen = server
    f = tmp_path / "x.ko"
    f.write_bytes(b"x" * 1234)
    fd = os.open(f, os.O_RDONLY)
    try:
        reply = send_request(os.path.join(d, "control.sock"), {"op": "insmod"}, [fd])
    finally:
        os.close(fd)
    assert reply == {"errno": 0, "got": "insmod"}
    assert seen == [({"op": "insmod"}, [1234])]


@pytest.mark.skipif(os.geteuid() != 0 or shutil.which("setpriv") is None, reason="needs root and setpriv")
def test_another_user_is_refused_by_peer_credentials(server):
    srv, d, seen = server
    sock = os.path.join(d, "control.sock")
    os.chmod(sock, 0o666)  # open the door on purpose: the credentials check still holds
    probe = ("import json; from pseudokernel.client import send_request; "
             f"print(json.dumps(send_request({sock!r}, {{'op': 'status'}})))")
    r = run_as_nobody(["-c", probe], text=True, timeout=60)
    assert json.loads(r.stdout) == {"errno": 1, "error": "not the daemon's owner"}, r.stderr
    assert seen == []


def test_kernel_read_file_rules(tmp_path):
    empty = tmp_path / "empty.ko"
    empty.write_bytes(b"")
    for path, err in ((empty, errno.EINVAL), (tmp_path, errno.EINVAL)):
        fd = os.open(path, os.O_RDONLY)
        try:
            with pytest.raises(OSError) as e:
                kernel_read_file(fd)
            assert e.value.errno == err
        finally:
            os.close(fd)
    busy = tmp_path / "busy.ko"
    with open(busy, "wb") as w:
        w.write(b"data")
        w.flush()
        fd = os.open(busy, os.O_RDONLY)
        try:
            with pytest.raises(OSError) as e:
                kernel_read_file(fd)
            assert e.value.errno == errno.ETXTBSY
        finally:
            os.close(fd)
    fd = os.open(busy, os.O_RDONLY)
    try:
        assert kernel_read_file(fd) == b"data"
    finally:
        os.close(fd)
