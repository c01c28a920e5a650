"""How fast the host's CPUs answer a wake-up while the mount is busy.

A FUSE request is two wake-ups: the caller's request wakes a daemon thread, the answer wakes
the caller. When the CPU that has to run the woken one is idle, the wake-up waits for it to
leave its idle state, and on a virtual machine that state is a halt the host has to resume
(on this project's CI machines, cpuidle-haltpoll with guest polling off: tens of
microseconds, twice a request). A walk of /sys/module over 500 modules is some 65,000
requests: 2.6 s, of which a file system whose methods do nothing still takes 2.3 s, and
under 1 s when no CPU halts (docs/performance.md, "Where a request's time went").

The kernel's PM QoS interface is how a process asks for that (/dev/cpu_dma_latency,
Documentation/power/pm_qos_interface.rst): while the file is open with a bound written to
it, cpuidle picks no state slower to leave than the bound; with 0 the governors take state
0, the polling one (haltpoll_select() in drivers/cpuidle/governors/haltpoll.c, menu's too).
The daemon holds it while requests come, and lets it go HOLD seconds after the last one, so
an idle mount costs no CPU and a busy one costs what polling CPUs cost while it is busy.
It needs root (the device is 0600); without it, or with --no-pm-qos, nothing is asked.
"""

from __future__ import annotations

import os
import struct
import threading
import time

DEVICE = "/dev/cpu_dma_latency"
HOLD = 0.2  # seconds without a request after which the CPUs may halt again


class WakeLatency:
    """The daemon's request for shallow idle states, taken at a request, given back when
    requests stop."""

    def __init__(self, enabled: bool = True, device: str = DEVICE, hold: float = HOLD) -> None:
        self.enabled = enabled
        self.device = device
        self.hold = hold
        self.fd: int | None = None
        self.held = 0  # times it was taken: for tests and the bench
        self._last = 0.0
        self._lock = threading.Lock()

    def busy(self) -> None:
        """A request came in (every request's first step: it must cost next to nothing)."""
        self._last = time.monotonic()
        if self.fd is None and self.enabled:
            self._take()

    def _take(self) -> None:
        with self._lock:
            if self.fd is not None or not self.enabled:
                return
            try:
                fd = os.open(self.device, os.O_WRONLY | os.O_CLOEXEC)
            except OSError:
                self.enabled = False  # not root, or no such device: never asked again
                return
            try:
                os.write(fd, struct.pack("=i", 0))
            except OSError:
                os.close(fd)
                self.enabled = False
                return
            self.fd = fd
            self.held += 1
        threading.Thread(target=self._release_when_idle, name="pm-qos", daemon=True).start()

    def _release_when_idle(self) -> None:
        while True:
            time.sleep(self.hold)
            with self._lock:
                if self.fd is None:
                    return
                if time.monotonic() - self._last >= self.hold:
                    self._close()
                    return

    def _close(self) -> None:
        fd, self.fd = self.fd, None
        if fd is not None:
            os.close(fd)  # closing the file is what withdraws the request

    def close(self) -> None:
        """The mount goes: give the request back now."""
        with self._lock:
            self.enabled = False
            self._close()
