"""The terminal side of a task (drivers/tty/tty_io.c) as modules ask it."""

from __future__ import annotations

from . import KernelApi, kapi


@kapi("get_current_tty")
def get_current_tty(k: KernelApi) -> int:
    """No process of this machine has a terminal the kernel knows (a script's insmod on the
    reference machine has none either): NULL."""
    return 0
