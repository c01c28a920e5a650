"""The errors libkmod's -errno returns become (KmodError), glibc's strerror(), and the syslog
priorities of libkmod's log lines that module.py records."""

from __future__ import annotations

import os

# syslog priorities (sys/syslog.h)
LOG_CRIT, LOG_ERR, LOG_WARNING, LOG_NOTICE, LOG_INFO, LOG_DEBUG = 2, 3, 4, 5, 6, 7


class KmodError(Exception):
    """A libkmod call failed with a (positive) errno, as the C code returns -errno."""

    def __init__(self, err: int, message: str = "") -> None:
        super().__init__(message or os.strerror(err))
        self.errno = err


def strerror(err: int) -> str:
    """glibc's strerror(): Python's os.strerror is the C library's, so the texts are glibc's."""
    return os.strerror(err)
