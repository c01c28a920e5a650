"""The terminal side of a task (drivers/tty/tty_io.c) as modules ask it."""

from __future__ import annotations

from . import KernelApi, kapi, kdata


@kapi("get_current_tty")
def get_current_tty(k: KernelApi) -> int:
    """No process of this machine has a terminal the kernel knows (a script's insmod on the
    reference machine has none either): NULL."""
    return 0


MAX_NR_CONSOLES = 63


@kdata("vc_cons", size=MAX_NR_CONSOLES * 40)
def vc_cons(k: KernelApi, addr: int) -> None:
    """The virtual consoles (drivers/tty/vt/vt.c): con_init() allocated console 0 at boot,
    the reference machine's foreground console (fg_console 0), which no process has opened
    (its port's tty is NULL: kbleds.ko's walk of vc_cons oopses there on the real machine).
    Its size is vgacon's text mode there, 80x25 (recorded: tests/expected/real*/outcomes.txt)."""
    S = k.S.vc_data
    vc = k.m.kmalloc(S.sizeof, "", 0, kind="vc_data")
    k.m.write(vc, bytes(S.sizeof))
    for member, value in (("vc_cols", 80), ("vc_rows", 25), ("vc_size_row", 160), ("vc_screenbuf_size", 4000)):
        off = S.get(member, -1)
        if off >= 0:
            k.m.write_u32(vc + off, value)
    k.m.write_u64(addr, vc)  # vc_cons[0].d
