"""One thread that stops emulation when a call's time is up, for every Machine in the process.

unicorn's own `emu_start(timeout=)` creates and joins a timer thread per call, which costs about
0.6 ms, more than most module functions take to run (a parameter's ->get, an exit). Here a
single long-lived thread keeps a deadline per armed machine and calls its stop function when
it passes. The stop function may decline (a kernel function's handler is running: a stop
requested inside a code hook would skip the stub's `ret`, and the handler would run twice),
and a stop that lands before emu_start() has begun is lost (emu_start clears the request), so
an expired entry is tried again every REFIRE seconds until it is disarmed.

Arming wakes the thread only when the new deadline comes before the moment it will look anyway:
a wake-up per call made the thread take the GIL from the emulating one at every kernel entry
(about half a millisecond each in the corpus's profile). A forked child (the corpus's workers)
starts with no thread and nothing armed: the parent's thread does not exist there.
"""

from __future__ import annotations

import math
import os
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

REFIRE = 0.001


class Watchdog:
    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._armed: dict[int, tuple[float, Callable[[], None]]] = {}  # key -> (deadline, stop)
        self._thread: threading.Thread | None = None
        self._until = math.inf  # when the thread looks at the deadlines next, unless woken

    @contextmanager
    def armed(self, key: int, deadline: float, stop: Callable[[], None]) -> Iterator[None]:
        """Within the block, stop() is called once time.monotonic() passes deadline (and
        again every REFIRE seconds while the block lasts)."""
        with self._cond:
            self._armed[key] = (deadline, stop)
            if self._thread is None:
                self._thread = threading.Thread(target=self._loop, name="pseudokernel-watchdog", daemon=True)
                self._thread.start()
            elif deadline < self._until:
                self._cond.notify()
        try:
            yield
        finally:
            with self._cond:  # after this no stop is issued for this call
                self._armed.pop(key, None)

    def _loop(self) -> None:
        with self._cond:
            while True:
                if not self._armed:
                    self._until = math.inf
                    self._cond.wait()
                    continue
                now = time.monotonic()
                first = min(d for d, _ in self._armed.values())
                if first > now:
                    self._until = first
                    self._cond.wait(first - now)
                    continue
                for deadline, stop in list(self._armed.values()):
                    if deadline <= now:
                        stop()
                self._until = now + REFIRE
                self._cond.wait(REFIRE)

    def _after_fork(self) -> None:
        self._cond = threading.Condition()
        self._armed = {}
        self._thread = None
        self._until = math.inf


WATCHDOG = Watchdog()
os.register_at_fork(after_in_child=WATCHDOG._after_fork)
