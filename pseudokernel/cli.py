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

from .kmod.elf import strip_section, strip_vermagic
from .paths import DEFAULT_DROP, resolve_mount, state_paths

MODULE_INIT_IGNORE_MODVERSIONS = 1
MODULE_INIT_IGNORE_VERMAGIC = 2


class NoDaemon(Exception):
    def __init__(self, mount: str, why: str = "") -> None:
        super().__init__(mount)
        self.why = why

    def __str__(self) -> str:
        return self.args[0]


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
    except PermissionError:
        raise NoDaemon(str(paths.mount), "it belongs to another user") from None


def no_daemon(prog: str, mount: str, why: str = "") -> int:
    if why:
        sys.stderr.write(f"{prog}: cannot use the pseudokernel daemon serving {mount}: {why}\n")
    else:
        sys.stderr.write(
            f"{prog}: no pseudokernel daemon is serving {mount}; start one with `pseudokernel up --mount {mount}`\n"
        )
    return 1


# -- the kmod tools ------------------------------------------------------------------------


def emit(out) -> int:
    """Print a kmod ToolOutput: stderr first, as a tool writing to a pipe appears to."""
    if out.stderr:
        sys.stderr.write(out.stderr)
        sys.stderr.flush()
    if out.stdout:
        sys.stdout.write(out.stdout)
        sys.stdout.flush()
    return out.status


def read_file(path: str):
    from .kmod.errors import KmodError

    try:
        with open(path, "rb") as f:
            return f.read()
    except OSError as e:
        return KmodError(e.errno or errno.EIO)


class Inserter:
    """kmod_module_insert_module()'s system call side, through the daemon: an uncompressed
    file goes as an open fd to finit_module() with the IGNORE flags; a compressed one is
    inflated here, stripped of __versions and vermagic when forced, and goes to init_module()."""

    def __init__(self, mount: str | None) -> None:
        self.mount = mount

    def __call__(self, path: str, kfile, options: str, flags: int) -> int:
        msg = {"op": "insmod", "args": options, "flags": flags, "filename": os.path.abspath(path)}
        if kfile.direct:
            fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
            try:
                reply = request(self.mount, msg, [fd])
            finally:
                os.close(fd)
        else:
            data = kfile.contents
            if flags & MODULE_INIT_IGNORE_MODVERSIONS:
                data = strip_section(data, "__versions")
            if flags & MODULE_INIT_IGNORE_VERMAGIC:
                data = strip_vermagic(data)
            msg.update(data=data.hex(), init_module=True, flags=0)
            reply = request(self.mount, msg)
        outcome = reply.get("outcome")
        if outcome in ("oops", "halted", "panic"):
            # the oops killed the task in its system call: so dies this process
            sys.stdout.flush()
            sys.stderr.flush()
            os.kill(os.getpid(), signal.SIGKILL)
        return reply.get("errno", 0)


def cmd_insmod(args: argparse.Namespace) -> int:
    from .kmod.errors import insmod_main

    inserter = Inserter(args.mount)
    state = {}

    def read(path: str):
        state["path"] = path
        return read_file(path)

    def insert(kfile, options: str, flags: int) -> int:
        return inserter(state["path"], kfile, options, flags)

    try:
        return emit(insmod_main(args.argv, read, insert))
    except NoDaemon as e:
        return no_daemon("insmod", str(e), e.why)


def delete_module_via(mount: str | None):
    def delete_module(name: str, flags: int) -> int:
        return request(mount, {"op": "rmmod", "name": name, "flags": flags}).get("errno", 0)

    return delete_module


def cmd_rmmod(args: argparse.Namespace) -> int:
    from .kmod.errors import DirSysReader, rmmod_main

    mount = resolve_mount(args.mount)
    try:
        return emit(rmmod_main(args.argv, DirSysReader(str(mount / "sys")), delete_module_via(args.mount)))
    except NoDaemon as e:
        return no_daemon("rmmod", str(e), e.why)


def cmd_lsmod(args: argparse.Namespace) -> int:
    from .kmod.errors import DirSysReader
    from .kmod.lsmod import lsmod_main

    mount = resolve_mount(args.mount)
    try:
        text = (mount / "proc" / "modules").read_text()
    except OSError:
        return no_daemon("lsmod", str(mount))
    return emit(lsmod_main(args.argv, text, DirSysReader(str(mount / "sys"))))


def modules_dir_for(mount: str | None):
    """dirname_for(root, kversion): ROOT/lib/modules/VERSION, VERSION defaulting to the
    emulated kernel's release (the daemon's, else the default profile's)."""

    def dirname_for(root: str | None, kversion: str | None) -> str:
        if kversion is None:
            try:
                kversion = request(mount, {"op": "status"}, timeout=5).get("release")
            except (NoDaemon, OSError, ValueError):
                kversion = None
            if not kversion:
                from .profile import KernelProfile

                kversion = KernelProfile.load().release
        return f"{root or ''}/lib/modules/{kversion}"

    return dirname_for


def cmd_modinfo(args: argparse.Namespace) -> int:
    from .kmod.depmod import ModuleIndex
    from .kmod.modinfo import modinfo_main

    dirname_for = modules_dir_for(args.mount)

    def index_for(root: str | None, kversion: str | None):
        d = dirname_for(root, kversion)
        return ModuleIndex.from_dir(d) if os.path.isdir(d) else None

    return emit(modinfo_main(args.argv, index_for=index_for))


def cmd_modprobe(args: argparse.Namespace) -> int:
    from .kmod.errors import DirSysReader
    from .kmod.modprobe import modprobe_main

    mount = resolve_mount(args.mount)
    inserter = Inserter(args.mount)

    def insert(module, options: str, flags: int) -> int:
        from .kmod.compress import kmod_file_open

        data = read_file(module.path)
        if not isinstance(data, bytes):
            return data.errno
        return inserter(module.path, kmod_file_open(data), options, flags)

    cmdline = None
    try:
        cmdline = (mount / "proc" / "cmdline").read_text()
    except OSError:
        pass
    try:
        out = modprobe_main(args.argv, dirname_for=modules_dir_for(args.mount), sys=DirSysReader(str(mount / "sys")),
                            insert=insert, delete_module=delete_module_via(args.mount), kcmdline=cmdline)
    except NoDaemon as e:
        return no_daemon("modprobe", str(e), e.why)
    return emit(out)


def cmd_depmod(args: argparse.Namespace) -> int:
    """depmod [-b BASEDIR] [VERSION]: write modules.dep, .alias, .softdep, .symbols."""
    from .kmod.depmod import depmod

    ap = argparse.ArgumentParser(prog="depmod")
    ap.add_argument("-b", "--basedir", default="")
    ap.add_argument("-a", "--all", action="store_true")
    ap.add_argument("version", nargs="?")
    opts = ap.parse_args(args.argv)
    dirname = modules_dir_for(args.mount)(opts.basedir or None, opts.version)
    if not os.path.isdir(dirname):
        sys.stderr.write(f"depmod: ERROR: could not open directory {dirname}: No such file or directory\n")
        return 1
    d = depmod(dirname)
    for name, text in (("modules.dep", d.modules_dep_text()), ("modules.alias", d.modules_alias_text()),
                       ("modules.softdep", d.modules_softdep_text()), ("modules.symbols", d.modules_symbols_text())):
        with open(os.path.join(dirname, name), "w") as f:
            f.write(text)
    return 0


# -- the daemon -----------------------------------------------------------------------------


def cmd_up(args: argparse.Namespace) -> int:
    from .daemon import Daemon, Options, recover_stale_mount, start_background

    mount = resolve_mount(args.mount)
    paths = state_paths(mount)
    try:
        st = request(str(mount), {"op": "status"}, timeout=2)
        print(f"pseudokernel: already running for {mount} (pid {st.get('pid')})", file=sys.stderr)
        return 0 if st.get("ready") else 1
    except (NoDaemon, OSError, ValueError):
        pass
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
    from .kmod.errors import mod_strerror, modname_normalize, path_to_modname

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

    for name, fn, help in (
        ("insmod", cmd_insmod, "insert a module (kmod's insmod)"),
        ("rmmod", cmd_rmmod, "remove modules (kmod's rmmod)"),
        ("lsmod", cmd_lsmod, "list loaded modules (kmod's lsmod)"),
        ("modinfo", cmd_modinfo, "show a module's information (kmod's modinfo)"),
        ("modprobe", cmd_modprobe, "load a module and its dependencies (kmod's modprobe)"),
        ("depmod", cmd_depmod, "index a modules directory (modules.dep and friends)"),
    ):
        p = add(name, fn, help)
        p.add_argument("argv", nargs=argparse.REMAINDER, help="the tool's own options and arguments")

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


KMOD_TOOLS = {
    "insmod": cmd_insmod, "rmmod": cmd_rmmod, "lsmod": cmd_lsmod,
    "modinfo": cmd_modinfo, "modprobe": cmd_modprobe, "depmod": cmd_depmod,
}


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
    if i < len(argv) and argv[i] in KMOD_TOOLS:
        try:
            return KMOD_TOOLS[argv[i]](argparse.Namespace(mount=mount, argv=argv[i + 1 :]))
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
