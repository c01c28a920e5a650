"""signal_pending(current): whether the process a request runs for has been signalled.

The kernel's waits are interruptible: a signal makes them return -ERESTARTSYS and the caller
sees EINTR. Through FUSE, a signal to a process blocked on the mount reaches the daemon as an
INTERRUPT request for the request it is waiting on (SIGKILL included: the host's FUSE keeps the
process in D state until that request is answered). The FUSE layer says, per worker thread,
how to ask whether the current request was interrupted (`interruptible`); every wait of the
daemon on behalf of a caller (a lock, the log, the CPU running a module's callback) asks
through signal_pending() and gives up with EINTR, so no caller is ever left unkillable.
The daemon going down counts as a signal to everyone (`stop_all`).
"""

from __future__ import annotations

import errno
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager

POLL = 0.05  # seconds between two looks at a waiting caller's signals

_tls = threading.local()
_stopping = threading.Event()


@contextmanager
def interruptible(pending: Callable[[], bool]) -> Iterator[None]:
    """Within the block, this thread works for a caller whose signals pending() reports."""
    before = getattr(_tls, "pending", None)
    _tls.pending = pending
    try:
        yield
    finally:
        _tls.pending = before


def set_pending(pending: Callable[[], bool] | None) -> Callable[[], bool] | None:
    """What interruptible() does, for a hot path (every FUSE request): returns the one it
    replaces, to be set back."""
    before = getattr(_tls, "pending", None)
    _tls.pending = pending
    return before


def signal_pending() -> bool:
    if _stopping.is_set():
        return True
    pending = getattr(_tls, "pending", None)
    return bool(pending is not None and pending())


def stop_all() -> None:
    """The daemon is going down: every wait ends now."""
    _stopping.set()


def stopping() -> bool:
    return _stopping.is_set()


def eintr() -> OSError:
    return OSError(errno.EINTR, "Interrupted system call")


def acquire(lock: threading.Lock | threading.RLock) -> None:
    """lock.acquire(), given up with EINTR when the caller is signalled (mutex_lock_interruptible)."""
    while not lock.acquire(timeout=POLL):
        if signal_pending():
            raise eintr()
