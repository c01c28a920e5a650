"""do_syslog() on the emulated log: the answers kernel/printk/printk.c gives."""

from __future__ import annotations

import errno

import pytest

from pseudokernel.syslog import (
    SYSLOG_ACTION_CLEAR,
    SYSLOG_ACTION_CONSOLE_LEVEL,
    SYSLOG_ACTION_CONSOLE_OFF,
    SYSLOG_ACTION_CONSOLE_ON,
    SYSLOG_ACTION_READ,
    SYSLOG_ACTION_READ_ALL,
    SYSLOG_ACTION_READ_CLEAR,
    do_syslog,
)


def test_read_all_gives_the_last_whole_records_that_fit(kernel):
    kernel.log.printk(b"\x016first\n")
    kernel.log.printk(b"\x016second\n")
    n, everything = do_syslog(kernel, SYSLOG_ACTION_READ_ALL, 1 << 20)
    assert n == len(everything) and everything.endswith(b"] second\n") and b"<6>[" in everything
    assert everything.splitlines()[-2].endswith(b"] first")
    last = everything.splitlines(True)[-1]
    assert do_syslog(kernel, SYSLOG_ACTION_READ_ALL, len(last) + 3) == (len(last), last)
    assert do_syslog(kernel, SYSLOG_ACTION_READ_ALL, 0) == (0, b"")


def test_clear_and_read_clear_move_the_start(kernel):
    kernel.log.printk(b"\x016before\n")
    assert do_syslog(kernel, SYSLOG_ACTION_CLEAR, 0) == (0, b"")
    assert do_syslog(kernel, SYSLOG_ACTION_READ_ALL, 4096) == (0, b"")
    kernel.log.printk(b"\x016after\n")
    n, data = do_syslog(kernel, SYSLOG_ACTION_READ_CLEAR, 4096)
    assert data.endswith(b"] after\n") and b"before" not in data
    assert do_syslog(kernel, SYSLOG_ACTION_READ_ALL, 4096) == (0, b"")
    assert any(b"before" in r.text for r in kernel.log.records())  # /dev/kmsg keeps all


def test_console_level(kernel):
    kernel.console_loglevel = 7
    do_syslog(kernel, SYSLOG_ACTION_CONSOLE_OFF, 0)
    assert kernel.console_loglevel == 1
    do_syslog(kernel, SYSLOG_ACTION_CONSOLE_ON, 0)
    assert kernel.console_loglevel == 7
    do_syslog(kernel, SYSLOG_ACTION_CONSOLE_LEVEL, 3)
    assert kernel.console_loglevel == 3
    for bad in (0, 9):
        with pytest.raises(OSError) as e:
            do_syslog(kernel, SYSLOG_ACTION_CONSOLE_LEVEL, bad)
        assert e.value.errno == errno.EINVAL
    with pytest.raises(OSError) as e:
        do_syslog(kernel, SYSLOG_ACTION_READ, 10)
    assert e.value.errno == errno.ENOSYS
