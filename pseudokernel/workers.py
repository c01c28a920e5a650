"""Threads kept for jobs that may wait long: the daemon's control requests and the bridge's
module calls each run on a thread of their own while they last, so one that waits (a load, a
gdb session) never holds up the next.

A thread made and ended per job cost more than most jobs take, measured end to end on the
sealed insmod: a new thread waited 0.25-1.7 ms to be first scheduled on a busy 2-core machine
(the scheduler puts a new task behind the running ones, a woken sleeper ahead of them), and in
the daemon glibc gave each new thread an empty cache and trimmed the arena's heap at its end
(the fixed malloc thresholds of daemon._tune_malloc), so each load faulted its memory in again
(~0.5 ms of CPU). So a job goes to an idle thread if one waits, else to a new one, and up to
`keep` threads stay waiting. Imports only C modules: every CLI call that seals pays for them.
"""

from __future__ import annotations

import _queue
import _thread
from collections.abc import Callable


class Workers:
    """prespawn: start with `keep` threads waiting, so that at rest there are always exactly
    `keep` (the daemon: scripts/robustness counts its threads, and a count that grows after
    the warm-up is a leak there)."""

    def __init__(self, keep: int = 4, prespawn: bool = False) -> None:
        self.keep = keep
        self._jobs = _queue.SimpleQueue()
        self._lock = _thread.allocate_lock()
        self._idle = 0  # threads waiting for a job that none has claimed
        self._closed = False
        if prespawn:
            self._idle = keep
            for _ in range(keep):
                _thread.start_new_thread(self._run, ())

    def close(self) -> None:
        """The idle threads end now, the busy ones after their job."""
        with self._lock:
            self._closed = True
            idle, self._idle = self._idle, 0
        for _ in range(idle):
            self._jobs.put(None)

    def submit(self, fn: Callable[..., object], *args: object) -> None:
        """Run fn(*args) on a thread of its own now; fn must handle its own errors."""
        with self._lock:
            spawn = self._idle == 0
            if not spawn:
                self._idle -= 1  # that thread's: each job queued has a thread free for it
        self._jobs.put((fn, args))
        if spawn:
            _thread.start_new_thread(self._run, ())

    def _run(self) -> None:
        while True:
            job = self._jobs.get()
            if job is None:  # close()
                return
            fn, args = job
            try:
                fn(*args)
            except Exception:  # noqa: BLE001 - a job's bug must not lose the thread's count
                pass
            with self._lock:
                if self._closed or self._idle >= self.keep:
                    return
                self._idle += 1
