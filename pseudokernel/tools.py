"""The kmod-compatible tools: insmod, rmmod, lsmod, modinfo, modprobe, depmod.

They print what kmod 30's tools print, with the same program name and exit status: they do what
kmod does on the client side (open and inspect the file, read /sys and /proc, which here are the
mount's) and ask the daemon only for the two system calls, finit_module and delete_module.
Every insmod pays for this module's imports, so they are the lightest that do the job.
"""

from __future__ import annotations

import errno
import os
import sys

from .module.internal import MODULE_INIT_IGNORE_MODVERSIONS, MODULE_INIT_IGNORE_VERMAGIC
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
    from .kmod.log import KmodError

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
            from .kmod.elf import strip_section, strip_vermagic

            data = kfile.contents
            if flags & MODULE_INIT_IGNORE_MODVERSIONS:
                data = strip_section(data, "__versions")
            if flags & MODULE_INIT_IGNORE_VERMAGIC:
                data = strip_vermagic(data)
            msg.update(init_module=True, flags=0)
            fd = os.memfd_create("init_module", os.MFD_CLOEXEC)  # the buffer init_module(2) takes
            try:
                view = memoryview(data)
                while view:
                    view = view[os.write(fd, view):]
                reply = request(self.mount, msg, [fd])
            finally:
                os.close(fd)
        outcome = reply.get("outcome")
        if outcome in ("oops", "halted", "panic"):
            # the oops killed the task in its system call: so dies this process
            import signal

            sys.stdout.flush()
            sys.stderr.flush()
            os.kill(os.getpid(), signal.SIGKILL)
        return reply.get("errno", 0)


def cmd_insmod(args) -> int:
    from .kmod.insmod import insmod_main

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


def delete_module_via(mount: str | None, reports: list[str] | None = None):
    def delete_module(name: str, flags: int) -> int:
        reply = request(mount, {"op": "rmmod", "name": name, "flags": flags})
        if reports is not None:
            reports.extend(reply.get("report", ()))
        return reply.get("errno", 0)

    return delete_module


def cmd_rmmod(args) -> int:
    """kmod's rmmod; `--report` (ours) also prints what each module left behind."""
    from .kmod.module import DirSysReader
    from .kmod.rmmod import rmmod_main

    argv = [a for a in args.argv if a != "--report"]
    reports: list[str] = []
    mount = mount_point(args.mount)
    try:
        status = emit(rmmod_main(argv, DirSysReader(os.path.join(mount, "sys")), delete_module_via(args.mount, reports)))
    except NoDaemon as e:
        return no_daemon("rmmod", str(e), e.why)
    if "--report" in args.argv:
        sys.stdout.write("".join(line + "\n" for line in reports) or "no leaks, registrations or held locks\n")
    return status


def cmd_lsmod(args) -> int:
    from .kmod.lsmod import lsmod_main
    from .kmod.module import DirSysReader

    mount = mount_point(args.mount)
    try:
        with open(os.path.join(mount, "proc", "modules")) as f:
            text = f.read()
    except OSError:
        return no_daemon("lsmod", mount)
    return emit(lsmod_main(args.argv, text, DirSysReader(os.path.join(mount, "sys"))))


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


def cmd_modinfo(args) -> int:
    from .kmod.depmod import ModuleIndex
    from .kmod.modinfo import modinfo_main

    dirname_for = modules_dir_for(args.mount)

    def index_for(root: str | None, kversion: str | None):
        d = dirname_for(root, kversion)
        return ModuleIndex.from_dir(d) if os.path.isdir(d) else None

    return emit(modinfo_main(args.argv, index_for=index_for))


def cmd_modprobe(args) -> int:
    from .kmod.modprobe import modprobe_main
    from .kmod.module import DirSysReader

    mount = mount_point(args.mount)
    inserter = Inserter(args.mount)

    def insert(module, options: str, flags: int) -> int:
        from .kmod.compress import kmod_file_open

        data = read_file(module.path)
        if not isinstance(data, bytes):
            return data.errno
        return inserter(module.path, kmod_file_open(data), options, flags)

    cmdline = None
    try:
        with open(os.path.join(mount, "proc", "cmdline")) as f:
            cmdline = f.read()
    except OSError:
        pass
    try:
        out = modprobe_main(args.argv, dirname_for=modules_dir_for(args.mount), sys=DirSysReader(os.path.join(mount, "sys")),
                            insert=insert, delete_module=delete_module_via(args.mount), kcmdline=cmdline)
    except NoDaemon as e:
        return no_daemon("modprobe", str(e), e.why)
    return emit(out)


def cmd_depmod(args) -> int:
    """depmod [-b BASEDIR] [VERSION]: write modules.dep, .alias, .softdep, .symbols."""
    import argparse

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




KMOD_TOOLS = {
    "insmod": cmd_insmod, "rmmod": cmd_rmmod, "lsmod": cmd_lsmod,
    "modinfo": cmd_modinfo, "modprobe": cmd_modprobe, "depmod": cmd_depmod,
}
