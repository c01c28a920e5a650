"""`pseudokernel`: the daemon's lifecycle and kmod-compatible module tools.

insmod, rmmod, lsmod, modinfo and modprobe print what kmod 30's tools print, with the same
program name and exit status: they do what kmod does on the client side (open and inspect the
file, read /sys and /proc, which here are the mount's) and ask the daemon only for the two
system calls, finit_module and delete_module.
"""

from __future__ import annotations

import argparse
import errno
import json
import os
import signal
import sys
import time
from pathlib import Path

from .kmod.elfstrip import strip_section, strip_vermagic
from .paths import DEFAULT_DROP, resolve_mount, state_paths

MODULE_INIT_IGNORE_MODVERSIONS = 1
MODULE_INIT_IGNORE_VERMAGIC = 2
KMOD_MAGIC_MAX = 6  # the longest compression magic kmod checks (xz), see libkmod-file.c


class NoDaemon(Exception):
    pass


def err(prog: str, text: str) -> None:
    """kmod's tools/log.c: 'prog: ERROR: text'."""
    sys.stderr.write(f"{prog}: ERROR: {text}\n")


def request(mount: str | None, msg: dict, fds: list[int] = (), timeout: float | None = None) -> dict:
    from .server import send_request

    paths = state_paths(mount)
    try:
        return send_request(str(paths.socket), msg, fds, timeout)
    except (FileNotFoundError, ConnectionRefusedError):
        raise NoDaemon(str(paths.mount)) from None


def no_daemon(prog: str, mount: str) -> int:
    sys.stderr.write(
        f"{prog}: no pseudokernel daemon is serving {mount}; start one with `pseudokernel up --mount {mount}`\n"
    )
    return 1


def sysfs_reader(mount: Path):
    """read_file/listdir over the mount's sys/ and proc/ for the kmod library."""
    from .kmod.errors import MountReader

    return MountReader(mount)


# -- insmod ---------------------------------------------------------------------------------


def prepare_insert(path: str, force_flags: int) -> tuple[int | None, bytes | None, int]:
    """kmod_module_insert_module(): an uncompressed file goes to finit_module(fd, flags); a
    compressed one is inflated here and goes to init_module(mem), its __versions and vermagic
    stripped first when forced. Returns (fd, memory, kernel flags); raises KmodError."""
    from .kmod import FEATURES_WITH_ZLIB
    from .kmod.compress import kmod_file_open

    fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    try:
        size = os.fstat(fd).st_size
        head = os.pread(fd, KMOD_MAGIC_MAX, 0) if size >= KMOD_MAGIC_MAX else os.pread(fd, size, 0)
        kfile = kmod_file_open(head if size < KMOD_MAGIC_MAX else os.pread(fd, size, 0), FEATURES_WITH_ZLIB)
        if kfile.direct:
            flags = (MODULE_INIT_IGNORE_VERMAGIC if force_flags & 1 else 0) | (
                MODULE_INIT_IGNORE_MODVERSIONS if force_flags & 2 else 0)
            return fd, None, flags
        os.close(fd)
        data = kfile.contents
        if force_flags & 2:
            data = strip_section(data, "__versions")
        if force_flags & 1:
            data = strip_vermagic(data)
        return None, data, 0
    except BaseException:
        try:
            os.close(fd)
        except OSError:
            pass
        raise


def cmd_insmod(args: argparse.Namespace) -> int:
    from .kmod.errors import KmodError, mod_strerror

    prog = "insmod"
    filename = args.file
    if filename == "-":
        err(prog, "this tool does not support loading from stdin!")
        return 1
    force = (1 | 2) if args.force else 0
    try:
        os.stat(filename)
    except OSError as e:
        err(prog, f"could not load module {filename}: {os.strerror(e.errno)}")
        return 1
    try:
        fd, mem, flags = prepare_insert(filename, force)
    except (OSError, KmodError) as e:
        err(prog, f"could not insert module {filename}: {mod_strerror(e.errno)}")
        return 1
    msg = {"op": "insmod", "args": " ".join(args.params), "flags": flags, "filename": os.path.abspath(filename)}
    try:
        if fd is not None:
            try:
                reply = request(args.mount, msg, [fd])
            finally:
                os.close(fd)
        else:
            msg["data"] = mem.hex()
            msg["init_module"] = True
            reply = request(args.mount, msg)
    except NoDaemon as e:
        return no_daemon(prog, str(e))
    return finish_insert(prog, filename, reply)


def finish_insert(prog: str, filename: str, reply: dict) -> int:
    """Exit as insmod does, or die as the insmod process dies when the kernel oopses."""
    from .kmod.errors import mod_strerror

    code = reply.get("errno", 0)
    outcome = reply.get("outcome")
    if outcome in ("oops", "halted"):
        sys.stdout.flush()
        os.kill(os.getpid(), signal.SIGKILL)  # the oops kills the task in the syscall
    if outcome == "panic":
        os.kill(os.getpid(), signal.SIGKILL)
    if code:
        err(prog, f"could not insert module {filename}: {mod_strerror(code)}")
        return 1
    return 0


# -- rmmod, lsmod, modinfo ------------------------------------------------------------------


def cmd_rmmod(args: argparse.Namespace) -> int:
    from .kmod.errors import check_module_inuse, remove_module_errors

    prog = "rmmod"
    mount = resolve_mount(args.mount)
    reader = sysfs_reader(mount)
    flags = os.O_NONBLOCK | (os.O_TRUNC if args.force else 0)
    failures = 0
    for arg in args.modules:
        name = module_name_of(arg)
        if not args.force:
            problem = check_module_inuse(name, reader)
            if problem:
                sys.stderr.write(problem)
                failures += 1
                continue
        try:
            reply = request(args.mount, {"op": "rmmod", "name": name, "flags": flags})
        except NoDaemon as e:
            return no_daemon(prog, str(e))
        code = reply.get("errno", 0)
        if code:
            sys.stderr.write(remove_module_errors(arg, name, code))
            failures += 1
    return 1 if failures else 0


def module_name_of(arg: str) -> str:
    """kmod_module_new_from_name() or, for a path, the module name of that file."""
    if "/" in arg or arg.endswith((".ko", ".ko.xz", ".ko.zst", ".ko.gz")):
        base = os.path.basename(arg)
        for suffix in (".ko.xz", ".ko.zst", ".ko.gz", ".ko"):
            if base.endswith(suffix):
                base = base[: -len(suffix)]
                break
        return base.replace("-", "_")
    return arg.replace("-", "_")


def cmd_lsmod(args: argparse.Namespace) -> int:
    from .kmod.lsmod import lsmod_text

    mount = resolve_mount(args.mount)
    try:
        text = (mount / "proc" / "modules").read_text()
    except OSError:
        return no_daemon("lsmod", str(mount))
    sys.stdout.write(lsmod_text(text, sysfs_reader(mount)))
    return 0


def cmd_modinfo(args: argparse.Namespace) -> int:
    from .kmod.modinfo import main as modinfo_main

    return modinfo_main(args.rest)


def cmd_modprobe(args: argparse.Namespace) -> int:
    from .kmod.modprobe import main as modprobe_main

    return modprobe_main(args.rest, mount=str(resolve_mount(args.mount)))


# -- the daemon -----------------------------------------------------------------------------


def cmd_up(args: argparse.Namespace) -> int:
    from .daemon import Daemon, Options, recover_stale_mount, start_background

    mount = resolve_mount(args.mount)
    mount.mkdir(parents=True, exist_ok=True)
    paths = state_paths(mount)
    try:
        st = request(str(mount), {"op": "status"}, timeout=2)
        print(f"pseudokernel: already running for {mount} (pid {st.get('pid')})", file=sys.stderr)
        return 0 if st.get("ready") else 1
    except (NoDaemon, OSError, ValueError):
        pass
    if recover_stale_mount(str(mount)):
        print(f"pseudokernel: recovered a stale mount at {mount}", file=sys.stderr)
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
    ok, why = start_background(argv, paths)
    if not ok:
        print(f"pseudokernel: the daemon did not start:\n{why}", file=sys.stderr)
        return 1
    print(f"pseudokernel: {mount} is up; drop .ko files into {Path(args.drop).resolve()}")
    return 0


def cmd_down(args: argparse.Namespace) -> int:
    from .daemon import recover_stale_mount

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


def _kmsg_records(mount: Path):
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
    from .kmod.errors import mod_strerror

    name = module_name_of(args.name)
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


def cmd_profile(args: argparse.Namespace) -> int:
    from .profile import user_profiles_dir
    from .profile.build import build_profile

    out = Path(args.out) if args.out else user_profiles_dir() / (args.name or Path(args.headers).name)
    build_profile(Path(args.headers), out, Path(args.image) if args.image else None)
    print(out)
    return 0


def cmd_shell(args: argparse.Namespace) -> int:
    from .shell import run_shell

    return run_shell(resolve_mount(args.mount), args.command)


# -- argument parsing -----------------------------------------------------------------------


def parser() -> argparse.ArgumentParser:
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
    p.add_argument("--profile", help="kernel profile name or directory (default 6.1.0-56-amd64)")
    p.add_argument("--foreground", action="store_true", help="run in the foreground")
    p.add_argument("--cmdline", help="the kernel command line (module_blacklist=, module.sig_enforce=1 ...)")
    p.add_argument("--sig-enforce", action="store_true", help="reject modules without a valid signature")
    p.add_argument("--budget", type=float, default=5.0, help="seconds a module's init or exit may run (default 5)")
    p.add_argument("--allow-other", action="store_true", help="let other users read the mount")
    p.add_argument("--kptr-restrict", type=int, default=0, choices=(0, 1, 2), help="as kernel.kptr_restrict")
    p.add_argument("--log-level", default="info", choices=("debug", "info", "warning", "error"))
    add("down", cmd_down, "unmount and stop the daemon")
    p = add("status", cmd_status, "show the daemon serving the mount")
    p.add_argument("--json", action="store_true")

    p = add("insmod", cmd_insmod, "insert a module (kmod's insmod)")
    p.add_argument("-f", "--force", action="store_true")
    p.add_argument("-s", "--syslog", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("-v", "--verbose", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("file")
    p.add_argument("params", nargs="*")

    p = add("rmmod", cmd_rmmod, "remove modules (kmod's rmmod)")
    p.add_argument("-f", "--force", action="store_true")
    p.add_argument("-s", "--syslog", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("-v", "--verbose", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("modules", nargs="+")

    add("lsmod", cmd_lsmod, "list loaded modules (kmod's lsmod)")
    p = add("modinfo", cmd_modinfo, "show a module file's information (kmod's modinfo)")
    p.add_argument("rest", nargs=argparse.REMAINDER)
    p = add("modprobe", cmd_modprobe, "load a module with its dependencies (kmod's modprobe)")
    p.add_argument("rest", nargs=argparse.REMAINDER)

    p = add("dmesg", cmd_dmesg, "print the kernel log")
    p.add_argument("-r", "--raw", action="store_true", help="print the raw message buffer (<level>)")
    p = add("wait", cmd_wait, "wait for a module's load outcome; exit like insmod")
    p.add_argument("name")
    p.add_argument("--timeout", type=float, default=60.0)
    p.add_argument("--since", type=float, default=0.0, help="only outcomes after this Unix time")

    p = add("profile", cmd_profile, "build a kernel profile: profile build --headers DIR [--image FILE]")
    p.add_argument("action", choices=("build",))
    p.add_argument("--headers", required=True)
    p.add_argument("--image", help="vmlinuz, vmlinux or a linux-image .deb")
    p.add_argument("--name")
    p.add_argument("--out")

    p = add("shell", cmd_shell, "a shell in which lsmod, dmesg and /proc, /sys are pseudokernel's")
    p.add_argument("command", nargs=argparse.REMAINDER)
    return ap


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
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
