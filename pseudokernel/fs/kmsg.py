"""The kernel log as files: dmesg (what util-linux dmesg prints), /proc/kmsg in the syslog(2)
format that `dmesg -F` reads, and /dev/kmsg, one record per read()."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..log import format_dmesg, format_syslog
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
