"""The kernel log as files: dmesg (what util-linux dmesg prints), /proc/kmsg in the syslog(2)
format that `dmesg -F` reads, and /dev/kmsg, one record per read()."""

from __future__ import annotations

import errno
from typing import TYPE_CHECKING, Any

from .. import sigpending
from ..log import PrintkLog, format_dmesg, format_kmsg_record, format_syslog
from .tree import File

if TYPE_CHECKING:
    from ..kernel import Kernel


def dmesg_file(kernel: Kernel) -> File:
    """Exact size and page-cache reads, so mmap-based readers and `tail -f` style polling work."""
    return File(lambda r: format_dmesg(kernel.log.records()), 0o444, None, direct=False)


def proc_kmsg(kernel: Kernel) -> File:
    return File(lambda r: format_syslog(kernel.log.records()), 0o400, None, direct=False)


def dev_kmsg(kernel: Kernel) -> File:
    return File(None, 0o644, 0, stream=True)


def read_record(klog: PrintkLog, h: Any, size: int) -> bytes:
    """devkmsg_read() for an open /dev/kmsg (h: its position, O_NONBLOCK and close): one
    record per call; EAGAIN or wait at the end; EPIPE if overrun, EINVAL if it does not fit."""
    while True:
        records = klog.records(h.seq)
        if records:
            rec = records[0]
            if rec.seq > h.seq:
                h.seq = rec.seq
                raise OSError(errno.EPIPE, "kmsg")
            text = format_kmsg_record(rec)
            if len(text) > size:
                raise OSError(errno.EINVAL, "kmsg")
            h.seq = rec.seq + 1
            return text
        if h.nonblock:
            raise OSError(errno.EAGAIN, "kmsg")
        if (h.closed is not None and h.closed.is_set()) or sigpending.stopping():
            return b""
        if sigpending.signal_pending():
            raise OSError(errno.EINTR, "kmsg")
        klog.wait_for(h.seq, sigpending.POLL)
