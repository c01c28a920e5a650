"""The client side of the control socket: one JSON request (with file descriptors) and one
JSON reply. Kept to the standard library's lightest modules, as every CLI call pays for them."""

from __future__ import annotations

import array
import json
import socket


def send_request(sock_path: str, request: dict, fds: list[int] | tuple = (), timeout: float | None = None) -> dict:
    """Connect, send one request (with fds, SCM_RIGHTS), read the reply."""
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(timeout)
    try:
        s.connect(sock_path)
        data = json.dumps(request).encode() + b"\n"
        if fds:
            s.sendmsg([data], [(socket.SOL_SOCKET, socket.SCM_RIGHTS, array.array("i", fds))])
        else:
            s.sendall(data)
        buf = b""
        while not buf.endswith(b"\n"):
            chunk = s.recv(65536)
            if not chunk:
                break
            buf += chunk
    finally:
        s.close()
    if not buf:
        raise ConnectionError("the daemon closed the connection without answering")
    return json.loads(buf)
