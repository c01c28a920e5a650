"""`pseudokernel`: the daemon's lifecycle and kmod-compatible module tools.

The kmod tools (the real ones, sealed) are in tools.py; this module parses the rest (up, down,
status, dmesg, wait, profile, shell, run) and imports nothing heavy until a command needs it.
"""

from __future__ import annotations

import os
import sys

from .client import NoDaemon, no_daemon, request
from .tools import KMOD_TOOLS

TYPE_CHECKING = False  # typing.TYPE_CHECKING, without importing typing on every CLI call

if TYPE_CHECKING:
    import argparse


def err(prog: str, text: str) -> None:
    """kmod's tools/log.c: 'prog: ERROR: text'."""
    sys.stderr.write(f"{prog}: ERROR: {text}\n")


# -- the daemon -----------------------------------------------------------------------------


def cmd_up(args: argparse.Namespace) -> int:
    from pathlib import Path

    from .daemon import Daemon, Options
    from .launch import recover_stale_mount, start_background
    from .paths import resolve_mount, state_paths

    mount = resolve_mount(args.mount)
    paths = state_paths(mount)
    try:
        st = request(str(mount), {"op": "status"}, timeout=2)
        print(f"pseudokernel: already running for {mount} (pid {st.get('pid')})", file=sys.stderr)
        return 0 if st.get("ready") else 1
    except (NoDaemon, OSError, ValueError):
        pass
    if args.profile:
        # A Debian kernel release this machine has no profile of is made now, from apt's
        # linux-headers/linux-image packages (saying so on stderr), before the daemon starts.
        from .profile import KernelProfile, ProfileError

        try:
            KernelProfile.load(args.profile)
        except ProfileError as e:
            print(f"pseudokernel: {e}", file=sys.stderr)
            return 1
    if recover_stale_mount(str(mount)):
        print(f"pseudokernel: recovered a stale mount at {mount}", file=sys.stderr)
    mount.mkdir(parents=True, exist_ok=True)
    opts = Options(
        mount=str(mount),
        drop=args.drop,
        profile=args.profile,
        cmdline=args.cmdline,
        sig_enforce=args.sig_enforce,
        budget=args.budget,
        allow_other=args.allow_other,
        kptr_restrict=args.kptr_restrict,
        log_level=args.log_level,
        gdb=args.gdb,
        pm_qos=not args.no_pm_qos,
    )
    if args.foreground:
        return Daemon(opts).run()
    argv = ["up", "--foreground", "--mount", str(mount), "--drop", str(Path(args.drop).resolve()),
            "--budget", str(args.budget), "--kptr-restrict", str(args.kptr_restrict), "--log-level", args.log_level]
    if args.profile:
        argv += ["--profile", args.profile]
    if args.cmdline is not None:
        argv += ["--cmdline", args.cmdline]
    if args.sig_enforce:
        argv.append("--sig-enforce")
    if args.allow_other:
        argv.append("--allow-other")
    if args.gdb:
        argv += ["--gdb", str(args.gdb)]
    if args.no_pm_qos:
        argv.append("--no-pm-qos")
    ok, why = start_background(argv, paths)
    if not ok:
        print(f"pseudokernel: the daemon did not start:\n{why}", file=sys.stderr)
        return 1
    print(f"pseudokernel: {mount} is up; drop .ko files into {Path(args.drop).resolve()}")
    return 0


def cmd_down(args: argparse.Namespace) -> int:
    import time

    from .launch import recover_stale_mount
    from .paths import resolve_mount, state_paths

    mount = resolve_mount(args.mount)
    paths = state_paths(mount)
    try:
        st = request(args.mount, {"op": "status"}, timeout=5)
        request(args.mount, {"op": "down"}, timeout=5)
    except (NoDaemon, OSError, ValueError):
        if recover_stale_mount(str(mount)):
            print(f"pseudokernel: removed a stale mount at {mount}")
            return 0
        print(f"pseudokernel: no daemon is serving {mount}", file=sys.stderr)
        return 1
    pid = st.get("pid")
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if pid and not _alive(pid) and not paths.socket.exists():
            return 0
        time.sleep(0.05)
    print("pseudokernel: the daemon did not stop in time", file=sys.stderr)
    return 1


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split()[2] != "Z"
    except OSError:
        return False


def cmd_status(args: argparse.Namespace) -> int:
    import json

    try:
        st = request(args.mount, {"op": "status"}, timeout=5)
    except NoDaemon as e:
        return no_daemon("pseudokernel", str(e))
    if args.json:
        print(json.dumps(st, indent=2))
        return 0
    print(f"mount:   {st['mount']}")
    print(f"drop:    {st['drop']}")
    print(f"kernel:  {st['release']} (profile {st['profile']})")
    print(f"pid:     {st['pid']}")
    print(f"state:   {st['state']}")
    print(f"modules: {' '.join(st['modules']) or '-'}")
    return 0


def cmd_dmesg(args: argparse.Namespace) -> int:
    from .paths import resolve_mount

    mount = resolve_mount(args.mount)
    try:
        if args.raw:
            from .log import format_dmesg

            sys.stdout.buffer.write(format_dmesg(_kmsg_records(mount), raw=True))
        else:
            sys.stdout.buffer.write((mount / "dmesg").read_bytes())
    except OSError:
        return no_daemon("dmesg", str(mount))
    return 0


def _kmsg_records(mount):
    """Read the mount's /dev/kmsg the way util-linux dmesg does: records until EAGAIN."""
    from .log import parse_kmsg_record

    fd = os.open(mount / "dev" / "kmsg", os.O_RDONLY | os.O_NONBLOCK)
    out = []
    try:
        while True:
            try:
                rec = os.read(fd, 8192)
            except BlockingIOError:
                break
            if not rec:
                break
            out.append(parse_kmsg_record(rec))
    finally:
        os.close(fd)
    return out


def cmd_wait(args: argparse.Namespace) -> int:
    """Block until a module's load outcome is known; exit as insmod would have."""
    import errno

    from .kmod.module import modname_normalize, path_to_modname

    name = path_to_modname(args.name) if "/" in args.name or ".ko" in args.name else modname_normalize(args.name)
    try:
        reply = request(args.mount, {"op": "wait", "name": name, "timeout": args.timeout, "since": args.since},
                        timeout=args.timeout + 5)
    except NoDaemon as e:
        return no_daemon("wait", str(e))
    if reply.get("errno") == errno.ETIMEDOUT:
        print(f"pseudokernel: no outcome for {name} within {args.timeout:g}s", file=sys.stderr)
        return 2
    ev = reply["event"]
    if ev.get("errno"):
        err("insmod", f"could not insert module {ev.get('file') or name}: {mod_strerror(ev['errno'])}")
        return 1
    return 0


def mod_strerror(err: int) -> str:
    """kmod's insmod.c mod_strerror(): the four errno values insmod explains in module terms."""
    import errno

    return {
        errno.ENOEXEC: "Invalid module format",
        errno.ENOENT: "Unknown symbol in module",
        errno.ESRCH: "Module has wrong symbol version",
        errno.EINVAL: "Invalid parameters",
    }.get(err) or os.strerror(err)


def cmd_trace(args: argparse.Namespace) -> int:
    """Load FILE through the daemon with the loader's trace on; print the trace (text or JSON)."""
    import json

    from .print_trace import format_trace

    try:
        fd = os.open(args.file, os.O_RDONLY | os.O_CLOEXEC)
    except OSError as e:
        err("trace", f"could not load module {args.file}: {e.strerror}")
        return 1
    try:
        reply = request(args.mount, {"op": "insmod", "filename": os.path.abspath(args.file),
                                     "args": " ".join(args.params), "trace": True}, [fd])
    except NoDaemon as e:
        return no_daemon("trace", str(e), e.why)
    finally:
        os.close(fd)
    steps = reply.get("trace", [])
    sys.stdout.write(json.dumps(steps, indent=1) + "\n" if args.json else format_trace(steps))
    if reply.get("errno"):
        err("trace", f"could not insert module {args.file}: {mod_strerror(reply['errno'])}")
        return 1
    return 0


def _ask_about_module(op: str, args: argparse.Namespace) -> dict | int:
    """The daemon's answer about the module args.name, or the exit status when there is none."""
    try:
        reply = request(args.mount, {"op": op, "name": args.name})
    except NoDaemon as e:
        return no_daemon(op, str(e), e.why)
    if reply.get("errno"):
        err(op, reply.get("error") or os.strerror(reply["errno"]))
        return 1
    return reply


def cmd_layout(args: argparse.Namespace) -> int:
    """Draw a loaded module's memory: its regions, sections, permissions (text or --svg)."""
    from .draw_layout import draw_svg, draw_text

    reply = _ask_about_module("layout", args)
    if isinstance(reply, int):
        return reply
    if args.svg:
        with open(args.svg, "w") as f:
            f.write(draw_svg(reply["layout"]))
    else:
        sys.stdout.write(draw_text(reply["layout"]))
    return 0


def cmd_gdbinit(args: argparse.Namespace) -> int:
    """gdb's add-symbol-file command for a loaded (or coming: init stopped for gdb) module."""
    reply = _ask_about_module("gdbinit", args)
    if isinstance(reply, int):
        return reply
    print(gdbinit_command(args.file or reply.get("file") or "", args.name, reply["sections"]))
    return 0


def gdbinit_command(path: str, name: str, sections: dict[str, int]) -> str:
    """`add-symbol-file FILE -s .text ADDR ...`: .text first, the rest by address. A file the
    daemon does not know (an image kmod sent itself) is a placeholder for the user to replace."""
    path = path if path and os.path.exists(path) else f"/path/to/{name}.ko"
    order = sorted(sections, key=lambda s: (s != ".text", sections[s]))
    return "add-symbol-file " + path + "".join(f" -s {s} {sections[s]:#x}" for s in order)


def cmd_profile(args: argparse.Namespace) -> int:
    from pathlib import Path

    from .profile import user_profiles_dir
    from .profile.build import build_profile

    if args.release:  # from Debian's packages, as `up --profile RELEASE` does on first use
        if args.headers or args.image:
            print("pseudokernel profile build: --release or --headers/--image, not both", file=sys.stderr)
            return 2
        from .profile.debian import build_from_debs

        out = Path(args.out) if args.out else user_profiles_dir() / (args.name or args.release)
        build_from_debs(args.release, out)
        print(out)
        return 0
    if not args.headers:
        print("pseudokernel profile build: --headers DIR (or --release RELEASE) is needed", file=sys.stderr)
        return 2
    out = Path(args.out) if args.out else user_profiles_dir() / (args.name or Path(args.headers).name)
    build_profile(Path(args.headers), out, Path(args.image) if args.image else None)
    print(out)
    return 0


def cmd_shell(args: argparse.Namespace) -> int:
    from .paths import mount_point
    from .shell import run_sealed

    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    if args.cmd == "run" and not command:
        print("pseudokernel run: a command is needed: pseudokernel run -- CMD [ARGS...]", file=sys.stderr)
        return 2
    return run_sealed(mount_point(args.mount), command)


# -- argument parsing -----------------------------------------------------------------------


def parser() -> argparse.ArgumentParser:
    import argparse

    from .paths import DEFAULT_DROP

    ap = argparse.ArgumentParser(prog="pseudokernel", description=__doc__.splitlines()[0])
    ap.add_argument("--mount", help="mount point of the daemon (default $PSEUDOKERNEL_MOUNT or ./mountpoint)")
    sub = ap.add_subparsers(dest="cmd", required=True)

    def add(name: str, fn, help: str) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=help)
        p.add_argument("--mount", default=argparse.SUPPRESS, help=argparse.SUPPRESS)
        p.set_defaults(fn=fn)
        return p

    p = add("up", cmd_up, "start the daemon; returns once the mount is ready")
    p.add_argument("--drop", default=DEFAULT_DROP, help="the drop folder (default ./modules)")
    p.add_argument("--profile", help="kernel profile name or directory (default 6.1.0-56-amd64; "
                   "6.12.118+deb12-amd64 ships too; another Debian release is built from apt's "
                   "packages on first use)")
    p.add_argument("--foreground", action="store_true", help="run in the foreground")
    p.add_argument("--cmdline", help="the kernel command line (module_blacklist=, module.sig_enforce=1 ...)")
    p.add_argument("--sig-enforce", action="store_true", help="reject modules without a valid signature")
    p.add_argument("--budget", type=float, default=5.0, help="seconds a module's init or exit may run (default 5)")
    p.add_argument("--gdb", type=int, metavar="PORT",
                   help="every module's init waits for gdb on 127.0.0.1:PORT before it runs")
    p.add_argument("--allow-other", action="store_true", help="let other users read the mount")
    p.add_argument("--no-pm-qos", action="store_true",
                   help="let the CPUs halt while the mount is busy (by default the daemon asks for "
                        "shallow idle states through /dev/cpu_dma_latency while requests come)")
    p.add_argument("--kptr-restrict", type=int, default=0, choices=(0, 1, 2), help="as kernel.kptr_restrict")
    p.add_argument("--log-level", default="info", choices=("debug", "info", "warning", "error"))
    add("down", cmd_down, "unmount and stop the daemon")
    p = add("status", cmd_status, "show the daemon serving the mount")
    p.add_argument("--json", action="store_true")

    for name, help in (
        ("insmod", "insert a module (kmod's insmod)"),
        ("rmmod", "remove modules (kmod's rmmod)"),
        ("lsmod", "list loaded modules (kmod's lsmod)"),
        ("modinfo", "show a module's information (kmod's modinfo)"),
        ("modprobe", "load a module and its dependencies (kmod's modprobe)"),
        ("depmod", "index a modules directory (modules.dep and friends)"),
    ):
        p = add(name, KMOD_TOOLS[name], help)
        p.add_argument("argv", nargs=argparse.REMAINDER, help="the tool's own options and arguments")

    p = add("dmesg", cmd_dmesg, "print the kernel log")
    p.add_argument("-r", "--raw", action="store_true", help="print the raw message buffer (<level>)")
    p = add("wait", cmd_wait, "wait for a module's load outcome; exit like insmod")
    p.add_argument("name")
    p.add_argument("--timeout", type=float, default=60.0)
    p.add_argument("--since", type=float, default=0.0, help="only outcomes after this Unix time")

    p = add("trace", cmd_trace, "load a module through the daemon and print each step of the load")
    p.add_argument("file")
    p.add_argument("params", nargs="*", help="module parameters (name=value)")
    p.add_argument("--json", action="store_true", help="the trace as JSON")
    p = add("layout", cmd_layout, "draw a loaded module's memory: regions, sections, permissions")
    p.add_argument("name")
    p.add_argument("--svg", metavar="FILE", help="write the picture as SVG to FILE")

    p = add("gdbinit", cmd_gdbinit, "print gdb's add-symbol-file command for a loaded module")
    p.add_argument("name")
    p.add_argument("--file", help="the module's .ko with its debug info (default: the file it was loaded from)")

    p = add("profile", cmd_profile, "build a kernel profile: profile build --headers DIR [--image FILE], "
                                    "or profile build --release RELEASE (Debian's packages, with apt)")
    p.add_argument("action", choices=("build",))
    p.add_argument("--headers")
    p.add_argument("--release", help="a Debian kernel release: its linux-headers and linux-image "
                                     "packages are fetched with apt-get download")
    p.add_argument("--image", help="vmlinuz, vmlinux or a linux-image .deb")
    p.add_argument("--name")
    p.add_argument("--out")

    p = add("shell", cmd_shell, "a sealed shell: its module calls, uname, /proc, /sys, /dev and /lib/modules "
                                "are pseudokernel's")
    p.add_argument("command", nargs=argparse.REMAINDER)
    p = add("run", cmd_shell, "run a command sealed as in the shell; exit with its status")
    p.add_argument("command", nargs=argparse.REMAINDER)
    return ap


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    # kmod's tools parse their own options, exactly as kmod does: hand them the rest untouched
    mount = None
    i = 0
    while i < len(argv) and argv[i].startswith("--mount"):
        if argv[i] == "--mount" and i + 1 < len(argv):
            mount, i = argv[i + 1], i + 2
        elif argv[i].startswith("--mount="):
            mount, i = argv[i].split("=", 1)[1], i + 1
        else:
            break
    if i + 1 < len(argv) and argv[i] == "run" and argv[i + 1] == "--":  # argparse costs a CI step 30 ms
        from types import SimpleNamespace

        return cmd_shell(SimpleNamespace(mount=mount, cmd="run", command=argv[i + 1 :]))
    if i < len(argv) and argv[i] in KMOD_TOOLS:
        from types import SimpleNamespace

        try:
            return KMOD_TOOLS[argv[i]](SimpleNamespace(mount=mount, argv=argv[i + 1 :]))
        except KeyboardInterrupt:
            return 130
    ap = parser()
    args = ap.parse_args(argv)
    if not hasattr(args, "mount"):
        args.mount = None
    try:
        return args.fn(args)
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return 1


if __name__ == "__main__":
    sys.exit(main())
