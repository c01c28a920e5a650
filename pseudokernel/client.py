"""The client side of the control socket: one JSON request (with file descriptors) and one
JSON reply.

Every CLI call pays for what this imports, and `insmod` has 30 ms for its whole round trip: the
json and socket packages import re, enum and array (about 8 ms), so this speaks JSON through
the C accelerator _json and the socket through _socket, as those packages do underneath.
"""

from __future__ import annotations

import _socket
import sys

try:
    import _json
except ImportError:  # an interpreter without the accelerator
    _json = None


class _ScanContext:
    """What _json.make_scanner() reads from json.JSONDecoder."""

    strict = True
    object_hook = None
    object_pairs_hook = None
    parse_float = float
    parse_int = int
    parse_constant = None
    memo: dict = {}


def encode(value: object) -> str:
    """JSON for the request's dicts, lists, strings, numbers, booleans and None."""
    if _json is None:
        import json

        return json.dumps(value)
    if isinstance(value, str):
        return _json.encode_basestring_ascii(value)
    if value is None or isinstance(value, bool):
        return {None: "null", True: "true", False: "false"}[value]
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, dict):
        return "{" + ", ".join(f"{encode(str(k))}: {encode(v)}" for k, v in value.items()) + "}"
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(encode(v) for v in value) + "]"
    raise TypeError(f"cannot send {type(value).__name__}")


def decode(text: str) -> object:
    if _json is None:
        import json

        return json.loads(text)
    scan = _json.make_scanner(_ScanContext())
    value, end = scan(text, 0)
    if text[end:].strip():
        raise ValueError("extra data after the reply")
    return value


def _connect(s, sock_path: str) -> None:
    """connect(), retried while the daemon's backlog is full (EAGAIN on a Unix socket)."""
    import time

    for _ in range(500):
        try:
            return s.connect(sock_path)
        except BlockingIOError:
            time.sleep(0.01)
    s.connect(sock_path)


def recv_reply(s: _socket.socket) -> bytes:
    """The daemon's reply: one JSON line, or what came before it closed the connection."""
    buf = b""
    while not buf.endswith(b"\n"):
        chunk = s.recv(65536)
        if not chunk:
            break
        buf += chunk
    return buf


def send_request(sock_path: str, request: dict, fds: list[int] | tuple = (), timeout: float | None = None) -> dict:
    """Connect, send one request (with fds, SCM_RIGHTS), read the reply."""
    s = _socket.socket(_socket.AF_UNIX, _socket.SOCK_STREAM)
    s.settimeout(timeout)
    try:
        _connect(s, sock_path)
        data = encode(request).encode() + b"\n"
        try:
            if fds:
                rights = b"".join(fd.to_bytes(4, sys.byteorder, signed=True) for fd in fds)
                s.sendmsg([data], [(_socket.SOL_SOCKET, _socket.SCM_RIGHTS, rights)])
            else:
                s.sendall(data)
        except BrokenPipeError:
            pass  # the daemon answered before reading (it refuses a stranger so): read that
        buf = recv_reply(s)
    finally:
        s.close()
    if not buf:
        raise ConnectionError("the daemon closed the connection without answering")
    return decode(buf.decode())


class NoDaemon(Exception):
    def __init__(self, mount: str, why: str = "") -> None:
        super().__init__(mount)
        self.why = why

    def __str__(self) -> str:
        return self.args[0]


def request(mount: str | None, msg: dict, fds: list[int] = (), timeout: float | None = None,
            sock: str | None = None) -> dict:
    """One request to the daemon of `mount`; NoDaemon if none answers. sock: its socket's path
    when the caller resolved it already (the bridge, once: resolving reads the mount table,
    0.2 ms a call)."""
    from .paths import mount_point, socket_path

    try:
        return send_request(sock or socket_path(mount), msg, fds, timeout)
    except (FileNotFoundError, ConnectionRefusedError):
        raise NoDaemon(mount_point(mount)) from None
    except PermissionError:
        raise NoDaemon(mount_point(mount), "it belongs to another user") from None


def no_daemon(prog: str, mount: str, why: str = "") -> int:
    if why:
        sys.stderr.write(f"{prog}: cannot use the pseudokernel daemon serving {mount}: {why}\n")
    else:
        sys.stderr.write(
            f"{prog}: no pseudokernel daemon is serving {mount}; start one with `pseudokernel up --mount {mount}`\n"
        )
    return 1
