"""The daemon's PM QoS request (fs/pm_qos.py): taken at a request, written as 0, given back
once requests stop, never asked again where it cannot be."""

import os
import struct
import time

from pkrun import wait_for

from pseudokernel.fs.pm_qos import DEVICE, WakeLatency


def test_taken_at_a_request_and_given_back_when_requests_stop(tmp_path):
    dev = tmp_path / "cpu_dma_latency"
    dev.write_bytes(b"")
    w = WakeLatency(device=str(dev), hold=0.05)
    assert w.fd is None
    w.busy()
    assert w.fd is not None and w.held == 1
    assert dev.read_bytes() == struct.pack("=i", 0)
    # requests keep coming: held across several hold periods
    for _ in range(8):
        time.sleep(0.02)
        w.busy()
    assert w.fd is not None and w.held == 1
    assert wait_for(lambda: w.fd is None)
    w.busy()  # the next request takes it again
    assert w.fd is not None and w.held == 2
    w.close()
    assert w.fd is None
    w.busy()  # the mount is gone: never again
    assert w.fd is None and w.held == 2


def test_not_asked_where_it_cannot_be(tmp_path):
    w = WakeLatency(device=str(tmp_path / "absent"), hold=0.05)
    w.busy()
    assert w.fd is None and not w.enabled and w.held == 0
    off = WakeLatency(enabled=False, device=str(tmp_path / "absent"))
    off.busy()
    assert off.fd is None and off.held == 0


def _limit() -> int:
    fd = os.open(DEVICE, os.O_RDONLY)
    try:
        return struct.unpack("=i", os.read(fd, 4))[0]
    finally:
        os.close(fd)


def test_the_host_kernel_honours_it():
    """On the real device (the tests run as root): the CPU latency limit the host's cpuidle
    goes by is 0 while it is held, and the file is closed once it is given back (other
    processes may hold requests of their own: the limit after is theirs)."""
    w = WakeLatency(hold=0.05)
    try:
        w.busy()
        fd = w.fd
        assert fd is not None, "root could not open /dev/cpu_dma_latency"
        assert _limit() == 0
        assert os.readlink(f"/proc/self/fd/{fd}") == DEVICE
        assert wait_for(lambda: w.fd is None)
        assert not os.path.exists(f"/proc/self/fd/{fd}") or os.readlink(f"/proc/self/fd/{fd}") != DEVICE
    finally:
        w.close()
