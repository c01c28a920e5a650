"""The control socket the CLI talks to: one JSON request and one JSON reply per connection.

`insmod` passes the module file itself as a file descriptor (SCM_RIGHTS), as finit_module(2)
takes one, so the daemon reads what the caller opened, and a file still open for writing is
refused with ETXTBSY like deny_write_access() does. Only the daemon's owner (or root) may
connect (SO_PEERCRED).
"""

from __future__ import annotations

import array
import errno
import fcntl
import json
import logging
import os
import socket
import socketserver
import struct
import threading
from collections.abc import Callable

from .workers import Workers

log = logging.getLogger("pseudokernel.server")
MAX_REQUEST = 1 << 16  # the JSON part: module images travel as file descriptors
REQUEST_TIMEOUT = 10.0  # seconds a client has to send its whole request
IDLE_WORKERS = 4  # request threads kept waiting for the next request (more are made as needed)


class BadRequest(OSError):
    """What the client sent is not a request: answered with its errno, never dispatched."""
F_SETLEASE = 1024
F_RDLCK = 0
F_UNLCK = 2


def deny_write_access(fd: int) -> None:
    """ETXTBSY if any process has the file open for writing.

    A read lease can only be taken when nobody has the file open for writing, which is the
    question the kernel's i_writecount answers.
    """
    try:
        fcntl.fcntl(fd, F_SETLEASE, F_RDLCK)
    except OSError as e:
        if e.errno == errno.EAGAIN:
            raise OSError(errno.ETXTBSY, "file is open for writing") from None
        return  # leases unsupported here (e.g. not the owner): nothing more to check
    fcntl.fcntl(fd, F_SETLEASE, F_UNLCK)


def kernel_read_file(fd: int) -> bytes:
    """kernel_read_file_from_fd(): a regular, readable, non-empty file, not open for writing."""
    st = os.fstat(fd)
    import stat

    if not stat.S_ISREG(st.st_mode):
        raise OSError(errno.EINVAL, "not a regular file")
    if st.st_size == 0:
        raise OSError(errno.EINVAL, "empty file")
    if st.st_size > 0x7FFFFFFF:
        raise OSError(errno.EFBIG, "file too large")
    deny_write_access(fd)
    return _read_all(fd, st.st_size)


def copy_module_from_user(fd: int) -> bytes:
    """init_module()'s buffer, which kmod filled (a module it inflated) and sends as a memfd:
    a copy of user memory, with none of a file's checks."""
    return _read_all(fd, os.fstat(fd).st_size)


def _read_all(fd: int, size: int) -> bytes:
    chunks = []
    offset = 0
    while offset < size:
        chunk = os.pread(fd, min(1 << 24, size - offset), offset)
        if not chunk:
            break
        chunks.append(chunk)
        offset += len(chunk)
    return b"".join(chunks)


class _Handler(socketserver.BaseRequestHandler):
    server: ControlServer

    def handle(self) -> None:
        sock: socket.socket = self.request
        creds = sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
        _pid, uid, _gid = struct.unpack("3i", creds)
        fds: list[int] = []
        self._fds: list[int] = []
        try:
            if uid not in (0, os.getuid()):
                self._reply({"errno": errno.EPERM, "error": "not the daemon's owner"})
                return
            sock.settimeout(REQUEST_TIMEOUT)
            try:
                msg, fds = self._recv()
            except BadRequest as e:
                self._reply({"errno": e.errno, "error": e.strerror})
                return
            sock.settimeout(None)
            try:
                reply = self.server.dispatch(msg, fds)
            except (KeyError, TypeError, ValueError) as e:  # a field missing or of the wrong type
                reply = {"errno": errno.EINVAL, "error": f"bad request: {type(e).__name__}: {e}"}
            self._reply(reply)
        except Exception as e:  # a broken client must not hurt the daemon
            log.exception("control request failed")
            try:
                self._reply({"errno": errno.EIO, "error": f"internal error: {e}"})
            except OSError:
                pass
        finally:
            for fd in set(fds) | set(self._fds):
                try:
                    os.close(fd)
                except OSError:
                    pass

    def _recv(self) -> tuple[dict, list[int]]:
        """One line of JSON, an object with an "op", and the fds sent along. What is not
        that gets a clear errno: a request that stalls ETIMEDOUT, one that does not end
        before MAX_REQUEST EMSGSIZE, one cut short or not JSON EINVAL."""
        sock: socket.socket = self.request
        buf = b""
        fds: list[int] = []
        try:
            while not buf.endswith(b"\n"):
                if len(buf) > MAX_REQUEST:
                    raise BadRequest(errno.EMSGSIZE, f"request over {MAX_REQUEST} bytes")
                data, ancdata, _flags, _addr = sock.recvmsg(65536, socket.CMSG_SPACE(16 * 4))
                for level, typ, cdata in ancdata:
                    if level == socket.SOL_SOCKET and typ == socket.SCM_RIGHTS:
                        arr = array.array("i")
                        arr.frombytes(cdata[: len(cdata) - len(cdata) % arr.itemsize])
                        fds.extend(arr)
                if not data:
                    raise BadRequest(errno.EINVAL, "request cut short (no newline)")
                buf += data
        except TimeoutError:
            raise BadRequest(errno.ETIMEDOUT, f"request not complete after {REQUEST_TIMEOUT}s") from None
        finally:
            self._fds = fds  # closed by handle() whatever happens
        try:
            msg = json.loads(buf)
        except (ValueError, UnicodeDecodeError):
            raise BadRequest(errno.EINVAL, "request is not JSON") from None
        if not isinstance(msg, dict) or not isinstance(msg.get("op"), str):
            raise BadRequest(errno.EINVAL, "request is not an object with an op")
        return msg, fds

    def _reply(self, reply: dict) -> None:
        self.request.sendall(json.dumps(reply).encode() + b"\n")


class ControlServer(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    daemon_threads = True
    request_queue_size = socket.SOMAXCONN  # socketserver's 5 refuses a burst of clients (EAGAIN)

    def __init__(self, path: str, dispatch: Callable[[dict, list[int]], dict]) -> None:
        if os.path.exists(path):
            os.unlink(path)
        self.dispatch = dispatch
        self._workers = Workers(IDLE_WORKERS, prespawn=True)
        old = os.umask(0o077)
        try:
            super().__init__(path, _Handler)
        finally:
            os.umask(old)

    def process_request(self, request: socket.socket, client_address: object) -> None:
        """Each connection on a thread of its own while it lasts (a load may wait long; the
        others go on): a kept thread, not a new one (workers.py says why)."""
        self._workers.submit(self.process_request_thread, request, client_address)

    def server_close(self) -> None:
        super().server_close()
        self._workers.close()

    def serve_in_thread(self) -> threading.Thread:
        t = threading.Thread(target=self.serve_forever, name="control", daemon=True)
        t.start()
        return t
