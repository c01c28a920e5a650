"""`pseudokernel insmod|rmmod|modprobe|lsmod|modinfo|depmod`: the machine's own kmod tool, sealed.

Each runs the real tool as `pseudokernel run -- TOOL ARGS` would (shell.py): its messages and
exit status are kmod's because the program is kmod, of whatever version is installed; its
module system calls reach the daemon through the seal, and it reads the mount's /proc and /sys
and the profile's /lib/modules. The control socket's client (request) lives here too: the
bridge and the CLI speak it.
"""

from __future__ import annotations

import os
import sys

from .paths import mount_point, socket_path


class NoDaemon(Exception):
    def __init__(self, mount: str, why: str = "") -> None:
        super().__init__(mount)
        self.why = why

    def __str__(self) -> str:
        return self.args[0]


def request(mount: str | None, msg: dict, fds: list[int] = (), timeout: float | None = None) -> dict:
    from .client import send_request

    try:
        return send_request(socket_path(mount), msg, fds, timeout)
    except (FileNotFoundError, ConnectionRefusedError):
        raise NoDaemon(mount_point(mount)) from None
    except PermissionError:
        raise NoDaemon(mount_point(mount), "it belongs to another user") from None


def no_daemon(prog: str, mount: str, why: str = "") -> int:
    if why:
        sys.stderr.write(f"{prog}: cannot use the pseudokernel daemon serving {mount}: {why}\n")
    else:
        sys.stderr.write(
            f"{prog}: no pseudokernel daemon is serving {mount}; start one with `pseudokernel up --mount {mount}`\n"
        )
    return 1


def kmod_tool(name: str):
    """The CLI entry of one tool. `rmmod --report` (ours, not kmod's) prints afterwards what each
    module's unload left behind: leaks, registrations, held locks."""

    def run(args) -> int:
        from pathlib import Path

        from .shell import run_sealed

        mount = mount_point(args.mount)
        if not os.path.exists(os.path.join(mount, "proc", "modules")):
            return no_daemon(name, mount)
        report = name == "rmmod" and "--report" in args.argv
        argv = [a for a in args.argv if a != "--report"] if report else list(args.argv)
        status = run_sealed(Path(mount), [name, *argv])
        if report and status == 0:
            lines = []
            for mod in (a for a in argv if not a.startswith("-")):
                lines += request(mount, {"op": "report", "name": mod.removesuffix(".ko")}).get("report", [])
            sys.stdout.write("".join(line + "\n" for line in lines) or "no leaks, registrations or held locks\n")
        return status

    return run


KMOD_TOOLS = {name: kmod_tool(name) for name in ("insmod", "rmmod", "lsmod", "modinfo", "modprobe", "depmod")}
