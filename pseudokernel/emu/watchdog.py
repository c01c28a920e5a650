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
(about half a millisecond each in the corpus's profile). For the same reason an idle thread
looks again every LOOK seconds for LINGER seconds after the last call, so the first call of
the next load or script step needs no wake-up either (one per load cost it ~0.4 ms, measured
in-process on a loaded machine); after that it waits until woken. A forked child (the corpus's workers)
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
LOOK = 0.01  # seconds between two looks while calls come: below any armed slice (TICK_SLICE)
LINGER = 1.0  # seconds after the last call during which the thread keeps looking


class Watchdog:
    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._armed: dict[int, tuple[float, Callable[[], None]]] = {}  # key -> (deadline, stop)
        self._thread: threading.Thread | None = None
        self._until = math.inf  # when the thread looks at the deadlines next, unless woken
        self._last_armed = -math.inf

    @contextmanager
    def armed(self, key: int, deadline: float, stop: Callable[[], None]) -> Iterator[None]:
        """Within the block, stop() is called once time.monotonic() passes deadline (and
        again every REFIRE seconds while the block lasts)."""
        with self._cond:
            self._armed[key] = (deadline, stop)
            self._last_armed = time.monotonic()
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
                    now = time.monotonic()
                    if now - self._last_armed >= LINGER:
                        self._until = math.inf
                        self._cond.wait()
                        continue
                    # calls came a moment ago and more may come (a load's init, then its
                    # parameters, a script's next insmod): look again in a slice, which
                    # comes before any deadline a new call arms, so arming needs no wake-up
                    self._until = now + LOOK
                    self._cond.wait(LOOK)
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
        self._last_armed = -math.inf


WATCHDOG = Watchdog()
os.register_at_fork(after_in_child=WATCHDOG._after_fork)
