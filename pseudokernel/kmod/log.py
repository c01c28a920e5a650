"""kmod's logging: the prefixes and priorities of tools/log.c and libkmod's log_filep(), glibc's
strerror(), the KmodError libkmod's -errno returns become, and what a tool run printed
(ToolOutput); shared by every tool. Each tool's own texts are in its file (insmod.py's
mod_strerror(), rmmod.py's in-use lines, modprobe.py's insert errors).

Why a module of its own: the CLI must print what kmod prints, and these texts are not the
kernel's. They are produced from errno values and a sysfs view so that a test can compare them
with tests/expected/real/*.txt without a daemon.

Debian builds libkmod with --enable-debug, so libkmod's own errors carry their source location:
through the tools' logger (rmmod, modprobe) as `rmmod: ERROR: ../libkmod/libkmod-module.c:856
kmod_module_remove_module() ...`, through libkmod's default logger (insmod, lsmod, modinfo) as
`libkmod: ERROR ../libkmod/libkmod-module.c:1998 kmod_module_get_holders: ...`. The line numbers
are kmod v30's.
"""

from __future__ import annotations

import os

# The CLI imports this on every insmod: os only, no dataclasses or typing at import time (the
# 30 ms budget of a round trip is mostly the interpreter's own start).

# syslog priorities (sys/syslog.h)
LOG_CRIT, LOG_ERR, LOG_WARNING, LOG_NOTICE, LOG_INFO, LOG_DEBUG = 2, 3, 4, 5, 6, 7


LIBKMOD_MODULE_C = "../libkmod/libkmod-module.c"


class KmodError(Exception):
    """A libkmod call failed with a (positive) errno, as the C code returns -errno."""

    def __init__(self, err: int, message: str = "") -> None:
        super().__init__(message or os.strerror(err))
        self.errno = err


def strerror(err: int) -> str:
    """glibc's strerror(): Python's os.strerror is the C library's, so the texts are glibc's."""
    return os.strerror(err)


def _prio_tool(prio: int) -> str:
    return {LOG_CRIT: "FATAL", LOG_ERR: "ERROR", LOG_WARNING: "WARNING", LOG_NOTICE: "NOTICE", LOG_INFO: "INFO",
            LOG_DEBUG: "DEBUG"}.get(prio, f"LOG-{prio:03d}")


def tool_log(prog: str, prio: int, message: str) -> str:
    """tools/log.c log_printf(): `prog: ERROR: message` (the message carries its own newline)."""
    return f"{prog}: {_prio_tool(prio)}: {message}"


def libkmod_log_tool(prog: str, prio: int, line: int, func: str, message: str, file: str = LIBKMOD_MODULE_C) -> str:
    """tools/log.c log_kmod() of a debug build: a libkmod error routed through a tool that called
    log_setup_kmod_log() (rmmod, modprobe, depmod)."""
    return f"{prog}: {_prio_tool(prio)}: {file}:{line} {func}() {message}"


def libkmod_log_filep(prio: int, line: int, func: str, message: str, file: str = LIBKMOD_MODULE_C) -> str:
    """libkmod.c log_filep() of a debug build: libkmod's default logger (insmod, lsmod, modinfo)."""
    name = {0: "EMERGENCY", 1: "ALERT", LOG_CRIT: "CRITICAL", LOG_ERR: "ERROR", LOG_WARNING: "WARNING",
            LOG_NOTICE: "NOTICE", LOG_INFO: "INFO", LOG_DEBUG: "DEBUG"}.get(prio, f"L:{prio}")
    return f"libkmod: {name} {file}:{line} {func}: {message}"


class ToolOutput:
    """What a kmod tool run printed and how it exited."""

    __slots__ = ("stdout", "stderr", "status")

    def __init__(self, stdout: str = "", stderr: str = "", status: int = 0) -> None:
        self.stdout, self.stderr, self.status = stdout, stderr, status

    def __eq__(self, other: object) -> bool:
        return isinstance(other, ToolOutput) and (self.stdout, self.stderr, self.status) == (
            other.stdout, other.stderr, other.status)

    def __repr__(self) -> str:
        return f"ToolOutput(stdout={self.stdout!r}, stderr={self.stderr!r}, status={self.status})"


KMOD_VERSION = "kmod version 30\n+ZSTD +XZ -ZLIB +LIBCRYPTO -EXPERIMENTAL\n"
