"""do_syslog() (kernel/printk/printk.c): syslog(2) on the emulated kernel's log, for the
sealed shell's `dmesg -S`, `dmesg -c`/`-C`, `dmesg -n`/`-D`/`-E` and busybox dmesg. The
caller's permission (check_syslog_permissions) is the bridge's to check; this is the rest.

The destructive read (SYSLOG_ACTION_READ, what /proc/kmsg gives) and the count of what it has
not read are not emulated: ENOSYS, said so to the caller.
"""

from __future__ import annotations

from errno import EINVAL, ENOSYS
from typing import TYPE_CHECKING

from .log import record_print_text

if TYPE_CHECKING:
    from .kernel import Kernel

(SYSLOG_ACTION_CLOSE, SYSLOG_ACTION_OPEN, SYSLOG_ACTION_READ, SYSLOG_ACTION_READ_ALL, SYSLOG_ACTION_READ_CLEAR,
 SYSLOG_ACTION_CLEAR, SYSLOG_ACTION_CONSOLE_OFF, SYSLOG_ACTION_CONSOLE_ON, SYSLOG_ACTION_CONSOLE_LEVEL,
 SYSLOG_ACTION_SIZE_UNREAD, SYSLOG_ACTION_SIZE_BUFFER) = range(11)
LOGLEVEL_DEFAULT = -1
MINIMUM_CONSOLE_LOGLEVEL = 1  # CONSOLE_LOGLEVEL_MIN


def do_syslog(kernel: Kernel, action: int, size: int) -> tuple[int, bytes]:
    """(return value, bytes for the caller's buffer); OSError(errno) as the call fails."""
    if action in (SYSLOG_ACTION_CLOSE, SYSLOG_ACTION_OPEN):
        return 0, b""
    if action in (SYSLOG_ACTION_READ_ALL, SYSLOG_ACTION_READ_CLEAR):
        if size < 0:
            raise OSError(EINVAL, "syslog")
        if not size:
            return 0, b""
        data = syslog_print_all(kernel, size, clear=action == SYSLOG_ACTION_READ_CLEAR)
        return len(data), data
    if action == SYSLOG_ACTION_CLEAR:
        kernel.syslog_clear_seq = kernel.log.next_seq
        return 0, b""
    if action == SYSLOG_ACTION_CONSOLE_OFF:
        if kernel.saved_console_loglevel == LOGLEVEL_DEFAULT:
            kernel.saved_console_loglevel = kernel.console_loglevel
        kernel.console_loglevel = MINIMUM_CONSOLE_LOGLEVEL
        return 0, b""
    if action == SYSLOG_ACTION_CONSOLE_ON:
        if kernel.saved_console_loglevel != LOGLEVEL_DEFAULT:
            kernel.console_loglevel = kernel.saved_console_loglevel
            kernel.saved_console_loglevel = LOGLEVEL_DEFAULT
        return 0, b""
    if action == SYSLOG_ACTION_CONSOLE_LEVEL:
        if size < 1 or size > 8:
            raise OSError(EINVAL, "syslog")
        kernel.console_loglevel = max(size, MINIMUM_CONSOLE_LOGLEVEL)
        kernel.saved_console_loglevel = LOGLEVEL_DEFAULT
        return 0, b""
    if action == SYSLOG_ACTION_SIZE_BUFFER:
        return 1 << kernel.profile.config_int("LOG_BUF_SHIFT", 17), b""
    if action in (SYSLOG_ACTION_READ, SYSLOG_ACTION_SIZE_UNREAD):
        raise OSError(ENOSYS, "syslog: the destructive read is not emulated")
    raise OSError(EINVAL, "syslog")


def syslog_print_all(kernel: Kernel, size: int, clear: bool) -> bytes:
    """The last whole records since the last clear that fit in size bytes, in order; with
    clear, the next clear starts after the last one given."""
    records = kernel.log.records(kernel.syslog_clear_seq)
    texts = [record_print_text(r, syslog=True) for r in records]
    first, total = len(texts), 0
    while first > 0 and total + len(texts[first - 1]) <= size:
        first -= 1
        total += len(texts[first])
    if clear:
        kernel.syslog_clear_seq = records[-1].seq + 1 if records else kernel.syslog_clear_seq
    return b"".join(texts[first:])
