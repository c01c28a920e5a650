"""A request of a caller on the mount, as the host's fs/fuse/dev.c sees it answered: the thread
that serves it, the INTERRUPT its caller's signal sends (every wait of the daemon honours it),
and the answer to a failed call, with the death of the caller an oops ended (make_task_dead())."""

from __future__ import annotations

import ctypes
import errno
import functools
import os
import threading
from collections.abc import Callable

import mfusepy as fuse

from .. import sigpending

_tls = threading.local()


def keep_thread_state() -> None:
    """libfuse's worker threads are not Python's: ctypes gives each callback a fresh thread
    state and drops it on return, which doubles the cost of a request. One extra
    PyGILState_Ensure(), never released, keeps the thread's state for its lifetime."""
    if not getattr(_tls, "kept", False):
        ctypes.pythonapi.PyGILState_Ensure()
        _tls.kept = True


_lib = fuse._libfuse
_lib.fuse_req_interrupted.argtypes = [ctypes.c_void_p]
_lib.fuse_req_interrupted.restype = ctypes.c_int
# libfuse's fuse_context_i: the fuse_context every callback can see, then the request
_REQ_OFFSET = ctypes.sizeof(fuse.fuse_context)
# the same library through PyDLL: its calls keep the GIL. fuse_get_context() only reads a
# thread-local, and dropping and taking the GIL back around it, as every CDLL call does, was
# a wait for another request's thread in most of the walk's opens
_held = ctypes.PyDLL(_lib._name)
_held.fuse_get_context.restype = ctypes.POINTER(fuse.fuse_context)


def context() -> tuple[int, int, int]:
    """(uid, gid, pid) of the caller of the request this thread serves (fuse_get_context)."""
    c = _held.fuse_get_context().contents
    return c.uid, c.gid, c.pid


def interrupted() -> bool:
    """Whether the host sent an INTERRUPT for the request this thread serves: the caller
    was signalled (SIGKILL included). Asked through sigpending while the daemon waits, in
    the thread serving the request (libfuse's context is per thread and request)."""
    ctx = _lib.fuse_get_context()
    req = ctypes.c_void_p.from_address(ctypes.addressof(ctx.contents) + _REQ_OFFSET).value if ctx else None
    return bool(req) and _lib.fuse_req_interrupted(req) == 1


def killable(op: Callable) -> Callable:
    """A file operation that may wait (for a lock, the log, a module's callback on the CPU):
    it gives up with EINTR when its caller is signalled."""

    @functools.wraps(op)
    def wrapper(self, *args):
        keep_thread_state()
        before = sigpending.set_pending(interrupted)  # interruptible(), without its generator
        try:
            return op(self, *args)
        except OSError as e:
            raise failed(e) from None
        finally:
            sigpending.set_pending(before)

    return wrapper


def failed(e: OSError) -> fuse.FuseOSError:
    """What the host is answered for a failed call. An oops in the module's code ended the
    caller's task (oops.TaskDead): the process gets the signal the real one dies of (SIGKILL
    after a page fault, SIGSEGV after a BUG), not only the errno."""
    sig = getattr(e, "signal", 0)
    pid = context()[2] if sig else 0
    if pid > 0 and not os.path.exists(f"/proc/self/task/{pid}"):  # never a thread of the daemon's
        try:
            os.kill(pid, sig)
        except ProcessLookupError:
            pass  # gone already
    return fuse.FuseOSError(e.errno or errno.EIO)
