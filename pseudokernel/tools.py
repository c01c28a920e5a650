"""`pseudokernel insmod|rmmod|modprobe|lsmod|modinfo|depmod`: the machine's own kmod tool, sealed.

Each runs the real tool as `pseudokernel run -- TOOL ARGS` would (shell.py): its messages and
exit status are kmod's because the program is kmod, of whatever version is installed; its
module system calls reach the daemon through the seal, and it reads the mount's /proc and /sys
and the profile's /lib/modules.
"""

from __future__ import annotations

import os
import sys
import time

from .client import no_daemon, request
from .paths import mount_point


def kmod_tool(name: str):
    """The CLI entry of one tool. `rmmod --report` (ours, not kmod's) prints afterwards what each
    module's unload left behind: leaks, registrations, held locks; `insmod --trace[=json]` and
    `modprobe --trace[=json]`, given first, print the loader's steps of each load the tool makes
    (pseudokernel/module/trace.py) on standard error as it is answered; `rmmod --trace[=json]`
    the steps of each unload it asked for, once it exited (the daemon keeps the last one);
    `insmod --gdb PORT` (also first) stops the module's init before its first instruction
    until gdb, connected to 127.0.0.1:PORT, lets it run (gdbstub.py)."""

    def run(args) -> int:
        from .shell import run_sealed

        mount = mount_point(args.mount)
        if not os.path.exists(os.path.join(mount, "proc", "modules")):
            return no_daemon(name, mount)
        report = name == "rmmod" and "--report" in args.argv
        argv = [a for a in args.argv if a != "--report"] if report else list(args.argv)
        trace = gdb = None
        while name in ("insmod", "modprobe", "rmmod") and argv:
            if argv[0] in ("--trace", "--trace=json"):
                trace, argv = argv[0].partition("=")[2] or "text", argv[1:]
            elif name == "insmod" and argv[0].startswith("--gdb"):
                if argv[0].startswith("--gdb="):
                    port, argv = argv[0][6:], argv[1:]
                else:
                    port, argv = (argv[1] if len(argv) > 1 else ""), argv[2:]
                if not port.isdigit() or not 0 < int(port) < 65536:
                    sys.stderr.write(f"pseudokernel insmod: --gdb takes a TCP port, not {port!r}\n")
                    return 2
                gdb = int(port)
                files = [a for a in argv if a.endswith((".ko", ".ko.xz", ".ko.zst", ".ko.gz"))]
                sys.stderr.write(f"pseudokernel insmod: the init of {files[0] if files else 'the module'} waits for gdb "
                                 f"on 127.0.0.1:{gdb} (`pseudokernel gdbinit NAME`: its symbols)\n")
            else:
                break
        if name == "rmmod":  # the unload's steps: asked of the daemon afterwards, as --report
            since = time.time()
            status = run_sealed(mount, [name, *argv])
            if trace:
                print_unload_traces(mount, [a for a in argv if not a.startswith("-")], since, trace)
        else:
            status = run_sealed(mount, [name, *argv], trace=trace, gdb=gdb)
        if report and status == 0:
            lines = []
            for mod in (a for a in argv if not a.startswith("-")):
                lines += request(mount, {"op": "report", "name": mod.removesuffix(".ko")}).get("report", [])
            sys.stdout.write("".join(line + "\n" for line in lines) or "no leaks, registrations or held locks\n")
        return status

    return run


def print_unload_traces(mount: str, names: list[str], since: float, form: str) -> None:
    """`rmmod --trace[=json]`: each module's delete_module(2) steps, made by this rmmod, on
    standard error (module/trace.py's UnloadTrace, kept by the daemon for each unload)."""
    import json

    from .print_trace import format_trace

    for mod in names:
        mod = os.path.basename(mod).removesuffix(".ko")
        got = request(mount, {"op": "report", "name": mod}).get("trace")
        if not got or got.get("time", 0) < since:  # kmod refused before the system call
            sys.stderr.write(f"rmmod --trace: no delete_module(2) for {mod} reached the kernel\n")
            continue
        steps = got["steps"]
        sys.stderr.write(json.dumps(steps) + "\n" if form == "json" else format_trace(steps))


KMOD_TOOLS = {name: kmod_tool(name) for name in ("insmod", "rmmod", "lsmod", "modinfo", "modprobe", "depmod")}
