"""The daemon: one Kernel, its FUSE mount, the control socket and the drop folder.

`pseudokernel up` runs this in the background and returns when the mount answers; SIGTERM or
`down` unmounts and exits (nothing is unloaded: the state simply ends with the process).
"""

from __future__ import annotations

import errno
import json
import logging
import os
import signal
import subprocess
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from . import sigpending
from .fs import devtmpfs
from .kernel import Kernel
from .kmod import FEATURES_WITH_ZLIB
from .kmod.compress import kmod_file_open
from .kmod.log import KmodError
from .module import LoadError
from .module.decompress import module_compression
from .module.internal import MODULE_INIT_COMPRESSED_FILE
from .module.layout import module_layout
from .module.module import State
from .module.trace import LoadTrace, UnloadTrace
from .paths import StatePaths, state_paths
from .profile import KernelProfile
from .profile.versions import IDEMPOTENT_FINIT

log = logging.getLogger("pseudokernel.daemon")

STOP_SIGNALS = {signal.SIGTERM, signal.SIGINT, signal.SIGHUP}
SHUTDOWN_GRACE = 2.0  # seconds the FUSE loop has to return after the unmount


@dataclass
class Options:
    mount: str
    drop: str
    profile: str | None = None
    cmdline: str | None = None
    sig_enforce: bool = False
    budget: float = 5.0
    allow_other: bool = False
    kptr_restrict: int = 0
    log_level: str = "info"
    seed: int | None = None
    gdb: int | None = None  # every init waits for gdb on this port (`up --gdb PORT`)
    pm_qos: bool = True  # shallow idle states while the mount is busy (fs/pm_qos.py)


class Daemon:
    def __init__(self, opts: Options) -> None:
        self.opts = opts
        self.paths: StatePaths = state_paths(opts.mount)
        self.mount = str(self.paths.mount)
        self.drop = Path(opts.drop).resolve()
        self.kernel: Kernel | None = None
        self.ready = threading.Event()
        self.events_lock = threading.Lock()
        self.outcomes: dict[str, dict] = {}
        self.unload_reports: dict[str, list[str]] = {}  # by module name: its last unload's report
        # by module name: the steps of its last delete_module(2), and when (`rmmod --trace`)
        self.unload_traces: dict[str, dict[str, Any]] = {}
        self.outcome_cond = threading.Condition()
        self.watcher = None
        self.server = None
        self._stopping = threading.Event()
        # finit_module() loads under way, by the file's inode: later kernels let concurrent
        # calls on one file share the first one's result (main.c: idempotent())
        self._idem: dict[tuple[int, int], dict] = {}
        self._idem_lock = threading.Lock()
        # gdb stubs armed for a load's init, by the thread that loads (insmod --gdb)
        self._gdb_stubs: dict[int, Any] = {}
        self._gdb_lock = threading.Lock()

    # -- module operations (the drop folder and the socket both come here) ------------------

    def event(self, record: dict[str, Any]) -> None:
        record = {"time": round(time.time(), 6), **record}
        line = (json.dumps(record) + "\n").encode()
        with self.events_lock:  # one write(2) in append mode: a reader sees whole lines
            fd = os.open(self.paths.events, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o666)
            try:
                os.write(fd, line)
            finally:
                os.close(fd)
        with self.outcome_cond:
            if record.get("name"):
                self.outcomes[record["name"]] = record
            self.outcome_cond.notify_all()

    def load_data(self, data: bytes, args: str | None, flags: int, filename: str, origin: str, syscall: str = "finit",
                  trace: LoadTrace | None = None) -> dict:
        """finit_module() of a file's bytes, or init_module() of an image kmod prepared.

        A compressed file from the drop folder is inflated first, as kmod does for a kernel
        without in-kernel decompression (Debian's 6.1). With a trace, the reply carries it."""
        reply = self._load_data(data, args, flags, filename, origin, syscall, trace)
        if trace:
            reply["trace"] = trace.finish()
        return reply

    def _load_data(self, data: bytes, args: str | None, flags: int, filename: str, origin: str, syscall: str,
                   trace: LoadTrace | None) -> dict:
        k = self.kernel
        try:
            if syscall == "init":
                mod = k.init_module(data, args, trace)
            else:
                # only the drop folder does what kmod does: a compressed file goes to the
                # kernel as it is when it inflates that kind itself (/sys/module/compression,
                # kmod 34), else inflated through init_module(); a compressed file given to
                # finit_module() by a program is the kernel's to refuse or inflate
                kfile = kmod_file_open(data, FEATURES_WITH_ZLIB) if origin == "drop" and len(data) >= 6 else None
                if kfile is not None and kfile.compression and kfile.compression == module_compression(k):
                    mod = k.finit_module(data, args, flags | MODULE_INIT_COMPRESSED_FILE, filename, trace)
                elif kfile is not None and not kfile.direct:
                    mod = k.init_module(kfile.contents, args, trace)
                else:
                    mod = k.finit_module(data, args, flags, filename, trace)
        except LoadError as e:
            outcome = e.reason if e.reason in ("oops", "budget", "panic") else errno.errorcode.get(e.errno, str(e.errno))
            name = _guess_name(filename)
            record = {"action": "load", "file": filename, "name": name, "origin": origin,
                      "result": outcome, "errno": e.errno}
            if e.unknown_symbols:
                record["unknown_symbols"] = e.unknown_symbols
            self.event(record)
            log.info("load %s: %s (%s)", filename, os.strerror(e.errno), outcome)
            return {"errno": e.errno, "outcome": outcome, "name": name, "unknown_symbols": e.unknown_symbols,
                    "signal": e.signal}
        except (OSError, KmodError) as e:
            self.event({"action": "load", "file": filename, "name": _guess_name(filename), "origin": origin,
                        "result": errno.errorcode.get(e.errno or 0, "EIO"), "errno": e.errno or errno.EIO})
            return {"errno": e.errno or errno.EIO, "outcome": "error"}
        except Exception:  # a bug of ours must not lose the outcome nor the daemon
            log.exception("load %s: internal error", filename)
            self.event({"action": "load", "file": filename, "name": _guess_name(filename), "origin": origin,
                        "result": "error", "errno": errno.EIO})
            return {"errno": errno.EIO, "outcome": "error"}
        self.event({"action": "load", "file": filename, "name": mod.name, "origin": origin, "result": "live", "errno": 0})
        log.info("load %s: %s live", filename, mod.name)
        return {"errno": 0, "name": mod.name, "exports": [s.name for s in mod.syms]}

    def load_fd(self, fd: int, args: str | None, flags: int, filename: str, origin: str,
                trace: LoadTrace | None = None) -> dict:
        """finit_module() of an open file. From 6.6 (idempotent_init_module()) a call on a
        file whose load is under way waits for it and returns what it returned."""
        if not self.kernel.profile.since(IDEMPOTENT_FINIT):
            return self._load_fd(fd, args, flags, filename, origin, trace)
        st = os.fstat(fd)
        key = (st.st_dev, st.st_ino)
        with self._idem_lock:
            first = self._idem.get(key)
            if first is None:
                mine = self._idem[key] = {"done": threading.Event(), "reply": {"errno": errno.EINTR}}
        if first is not None:
            first["done"].wait()
            return {k: v for k, v in first["reply"].items() if k != "trace"}
        try:
            mine["reply"] = self._load_fd(fd, args, flags, filename, origin, trace)
            return mine["reply"]
        finally:
            with self._idem_lock:
                del self._idem[key]
            mine["done"].set()

    def _load_fd(self, fd: int, args: str | None, flags: int, filename: str, origin: str,
                 trace: LoadTrace | None) -> dict:
        from .server import kernel_read_file

        if trace:
            trace.begin("kernel_read_file")
        try:
            data = kernel_read_file(fd)
        except OSError as e:
            if trace:
                trace.failed(e.errno or errno.EIO)
            if origin == "drop" and e.errno == errno.ETXTBSY:
                return {"errno": e.errno}  # still being written: its close will bring it back (no trace)
            self.event({"action": "load", "file": filename, "name": _guess_name(filename), "origin": origin,
                        "result": errno.errorcode.get(e.errno, "EIO"), "errno": e.errno})
            return {"errno": e.errno, "outcome": "error", **({"trace": trace.finish()} if trace else {})}
        if trace:
            trace.end(file=filename, bytes=len(data))
        return self.load_data(data, args, flags, filename, origin, trace=trace)

    def load_path(self, path: str, args: str) -> dict:
        """The drop folder's load: the reply (errno, name, exports or unknown_symbols). Its
        trace goes to traces/FILE.txt in the state directory (`pseudokernel status` shows it),
        since nobody is there to read a reply."""
        reply = self._load_path(path, args)
        if "trace" in reply:
            self.write_trace(os.path.basename(path), reply.pop("trace"))
        return reply

    def write_trace(self, filename: str, steps: list[dict]) -> None:
        from .print_trace import format_trace

        try:
            traces = self.paths.dir / "traces"
            traces.mkdir(exist_ok=True)
            tmp = traces / f".{filename}.txt.tmp"
            tmp.write_text(format_trace(steps))
            tmp.replace(traces / f"{filename}.txt")  # a reader sees the whole trace or the last one
        except OSError as e:
            log.warning("drop folder: cannot write the trace of %s: %s", filename, e.strerror)

    def _load_path(self, path: str, args: str) -> dict:
        try:
            fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
        except OSError as e:
            log.warning("drop folder: cannot open %s: %s", path, e.strerror)
            return {"errno": e.errno or errno.EIO}
        try:
            if not self._inside_drop(fd):
                log.warning("drop folder: %s is not a file of the drop folder; ignored", path)
                return {"errno": errno.EPERM}
            if self.opts.gdb:
                return self.with_gdb(self.opts.gdb, None, lambda: self.load_fd(fd, args, 0, path, "drop",
                                                                              LoadTrace(self.kernel.log)), required=False)
            return self.load_fd(fd, args, 0, path, "drop", LoadTrace(self.kernel.log))
        finally:
            os.close(fd)

    def _inside_drop(self, fd: int) -> bool:
        real = os.path.realpath(f"/proc/self/fd/{fd}")
        return os.path.dirname(real) == str(self.drop)

    def unload(self, name: str, flags: int = os.O_NONBLOCK, origin: str = "rmmod") -> int:
        trace = UnloadTrace(self.kernel.log)  # a handful of steps: kept for every unload
        try:
            try:
                self.kernel.delete_module(name, flags, trace)
            finally:
                self.unload_traces[name] = {"time": time.time(), "steps": trace.finish()}
        except Exception as e:
            if not isinstance(e, OSError):
                log.exception("unload %s: internal error", name)
                e = OSError(errno.EIO, "internal error")
            users = []
            mod = self.kernel.find_module(name)
            if mod is not None:
                users = [u.name for u in mod.source_list]
            self.event({"action": "unload", "name": name, "origin": origin,
                        "result": errno.errorcode.get(e.errno, str(e.errno)), "errno": e.errno, "users": users})
            log.info("unload %s: %s", name, os.strerror(e.errno))
            return e.errno
        report = self.kernel.last_report
        self.unload_reports[name] = report
        record = {"action": "unload", "name": name, "origin": origin, "result": "unloaded", "errno": 0}
        if report:
            record["report"] = report
        self.event(record)
        log.info("unload %s", name)
        return 0

    def syslog(self, action: int, size: int) -> dict:
        from .syslog import do_syslog

        try:
            with self.kernel.syscall("dmesg", "syslog"):
                ret, data = do_syslog(self.kernel, action, size)
        except OSError as e:
            return {"errno": e.errno}
        return {"errno": 0, "ret": ret, "data": data.decode("latin-1")}

    # -- the control socket ----------------------------------------------------------------

    def dispatch(self, msg: dict, fds: list[int]) -> dict:
        op = msg.get("op")
        if op == "status":
            return self.status()
        if op == "insmod":
            if msg.get("gdb") is not None:  # `insmod --gdb PORT`: init stops for gdb
                return self.with_gdb(int(msg["gdb"]), msg.get("pid"), lambda: self.insmod(msg, fds))
            if self.opts.gdb:
                return self.with_gdb(self.opts.gdb, msg.get("pid"), lambda: self.insmod(msg, fds), required=False)
            return self.insmod(msg, fds)
        if op == "syslog":  # the sealed shell's syslog(2): the bridge checked the caller
            return self.syslog(int(msg.get("action", -1)), int(msg.get("size", 0)))
        if op == "mknod":  # the sealed shell's mknod of a node in /dev: the bridge checked the caller
            with self.kernel.syscall("mknod", "mknod"):
                return {"errno": devtmpfs.mknod(self.kernel, str(msg["name"]), int(msg["devt"]), int(msg["mode"]))}
        if op == "rmmod":
            err = self.unload(msg["name"], int(msg.get("flags", os.O_NONBLOCK)), "rmmod")
            return {"errno": err, "report": [] if err else self.kernel.last_report}
        if op == "layout":  # `pseudokernel layout NAME`: the module's regions and sections
            mod = self.kernel.find_module(msg["name"])
            if mod is None:
                return {"errno": errno.ENOENT, "error": f"no module {msg['name']!r} is loaded"}
            return {"errno": 0, "layout": module_layout(self.kernel, mod)}
        if op == "gdbinit":  # `pseudokernel gdbinit NAME`: where gdb finds the module's sections
            mod = self.kernel.find_module(msg["name"])
            if mod is None:
                return {"errno": errno.ENOENT, "error": f"no module {msg['name']!r} is loaded"}
            return {"errno": 0, "file": mod.filename, "state": mod.state.name, "sections": gdb_sections(mod)}
        if op == "report":  # `pseudokernel rmmod --report`: what the module's last unload left
            return {"errno": 0, "report": self.unload_reports.get(msg["name"], []),
                    "trace": self.unload_traces.get(msg["name"])}  # `rmmod --trace`: its last delete_module
        if op == "wait":
            return self.wait_outcome(msg["name"], float(msg.get("timeout", 60)), float(msg.get("since", 0)))
        if op == "down":
            threading.Thread(target=self.shutdown, daemon=True).start()
            return {"errno": 0}
        return {"errno": errno.EINVAL, "error": f"unknown request {op!r}"}

    def insmod(self, msg: dict, fds: list[int]) -> dict:
        args = msg.get("args", "")
        if msg.get("args_fd") and len(fds) > 1:  # too long for the request: in a memfd
            args = os.pread(fds[1], 1 << 23, 0).decode("utf-8", "surrogateescape")
        flags = int(msg.get("flags", 0))
        filename = msg.get("filename", "")
        if not fds:
            return {"errno": errno.EBADF, "error": "no module image: it travels as a file descriptor"}
        trace = LoadTrace(self.kernel.log) if msg.get("trace") else None
        if msg.get("init_module"):
            from .server import copy_module_from_user

            data = copy_module_from_user(fds[0])
            if trace:
                trace.begin("copy_module_from_user")
                trace.end(bytes=len(data))
            return self.load_data(data, args, 0, filename, "insmod", "init", trace)
        return self.load_fd(fds[0], args, flags, filename, "insmod", trace)

    # -- gdb on a module's init (gdbstub.py) -----------------------------------------------

    def with_gdb(self, port: int, pid: int | None, load: Callable[[], dict], required: bool = True) -> dict:
        """load() with a gdb stub on 127.0.0.1:port armed for the init it calls. The stub
        waits for gdb until the requesting process (pid, the launcher of the sealed insmod)
        is gone; then init runs on, and the load finishes as for any insmod killed meanwhile.
        A port that cannot be had fails the load, unless the daemon arms every init (`up
        --gdb`: not required): that load then runs without gdb."""
        from .gdbstub import GdbStub

        pidfd = _pidfd(pid)
        try:
            stub = GdbStub(self.kernel.machine, port, gone=lambda: _exited(pidfd))
        except OSError as e:
            _close(pidfd)
            log.info("gdb on port %s: %s", port, e.strerror)
            if not required:
                return load()
            return {"errno": e.errno or errno.EIO, "error": f"gdb port {port}: {e.strerror}"}
        me = threading.get_ident()
        with self._gdb_lock:
            self._gdb_stubs[me] = stub
            self.kernel.machine.on_call = self._gdb_on_call
        reply: dict = {"errno": errno.EIO}
        try:
            reply = load()
            return reply
        finally:
            with self._gdb_lock:
                del self._gdb_stubs[me]
                if not self._gdb_stubs:
                    self.kernel.machine.on_call = None
            stub.finish(int(reply.get("errno") or 0))
            _close(pidfd)

    def _gdb_on_call(self, addr: int) -> None:
        """Machine.on_call while a stub is armed: the call of a COMING module's init, made
        by the thread that armed the stub, is where it attaches."""
        stub = self._gdb_stubs.get(threading.get_ident())
        if stub is None or stub.attached:
            return
        if any(m.state == State.COMING and m.init == addr for m in list(self.kernel.modules)):
            log.info("init at %#x waits for gdb on port %d", addr, stub.port)
            stub.attach()

    def status(self) -> dict:
        k = self.kernel
        mods = []
        if k is not None:
            with k.mutex:
                mods = [m.name for m in k.modules if m.state != State.UNFORMED]
        return {
            "errno": 0,
            "ready": self.ready.is_set(),
            "pid": os.getpid(),
            "mount": self.mount,
            "drop": str(self.drop),
            "state": str(self.paths.dir),
            "log": str(self.paths.log),
            "events": str(self.paths.events),
            "profile": k.profile.name if k else None,
            "release": k.profile.release if k else None,
            # what syslog(2) answers a sealed process (kernel/printk/printk.c: log_buf_len on
            # one CPU, CONFIG_SECURITY_DMESG_RESTRICT's default)
            "syslog": {"log_buf_len": 1 << k.profile.config_int("LOG_BUF_SHIFT", 17),
                       "dmesg_restrict": int(k.profile.enabled("SECURITY_DMESG_RESTRICT"))} if k else None,
            "modules": mods,
        }

    def wait_outcome(self, name: str, timeout: float, since: float) -> dict:
        deadline = time.monotonic() + timeout
        with self.outcome_cond:
            while True:
                rec = self.outcomes.get(name)
                if rec and rec["time"] >= since:
                    return {"errno": 0, "event": rec}
                left = deadline - time.monotonic()
                if left <= 0:
                    return {"errno": errno.ETIMEDOUT}
                self.outcome_cond.wait(left)

    # -- life ------------------------------------------------------------------------------

    def shutdown(self) -> None:
        """Unmount and exit within seconds, whatever is in flight: every wait of the daemon
        ends (sigpending: blocked readers get their answer, a running callback is abandoned),
        a mount still busy with open files is detached lazily, and if the FUSE loop has not
        returned after SHUTDOWN_GRACE the process ends itself, which aborts the connection for
        any file left open (its next operation fails with ENOTCONN, nobody waits)."""
        if self._stopping.is_set():
            return
        self._stopping.set()
        log.info("shutting down")
        sigpending.stop_all()
        if self.kernel is not None:
            self.kernel.log.wake_all()
        for argv in (["fusermount3", "-u", self.mount], ["fusermount3", "-u", "-z", self.mount]):
            try:
                if subprocess.run(argv, capture_output=True, timeout=2).returncode == 0:
                    break
            except subprocess.TimeoutExpired:
                pass
        timer = threading.Timer(SHUTDOWN_GRACE, self._exit_now)
        timer.daemon = True
        timer.start()

    def _exit_now(self) -> None:
        log.warning("the FUSE loop did not return in %ss: exiting", SHUTDOWN_GRACE)
        self._cleanup()
        logging.shutdown()
        os._exit(0)

    def _cleanup(self) -> None:
        if self.watcher:
            self.watcher.stop()
        if self.server:
            self.server.shutdown()
            self.server.server_close()
        for p in (self.paths.socket, self.paths.pidfile, self.paths.info):
            try:
                p.unlink()
            except OSError:
                pass

    def _signals(self) -> None:
        """SIGTERM, SIGINT and SIGHUP, blocked in every thread, arrive here: libfuse's own
        handlers only set a flag its workers see at their next request, which may never come."""
        signal.sigwait(STOP_SIGNALS)
        self.shutdown()

    def run(self) -> int:
        import mfusepy as fuse

        from .fs.mount import KernelFS, mount_options
        from .server import ControlServer

        signal.pthread_sigmask(signal.SIG_BLOCK, STOP_SIGNALS)  # before any thread: all inherit it
        _tune_malloc()
        threading.Thread(target=self._signals, name="signals", daemon=True).start()
        self.paths.dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        _setup_logging(self.paths.log, self.opts.log_level)
        profile = KernelProfile.load(self.opts.profile)
        self.kernel = Kernel(
            profile,
            cmdline=self.opts.cmdline,
            budget=self.opts.budget,
            sig_enforce=self.opts.sig_enforce,
            kptr_restrict=self.opts.kptr_restrict,
            seed=self.opts.seed,
        )
        # warm the lazily loaded profile data now rather than in the first load (kallsyms by
        # name: ~0.1 s, which every load's _kernel_text() asks for)
        _ = profile.exports, profile.kallsyms, profile.btf, profile.kallsyms_by_name, profile.has_image
        self.paths.events.touch()
        self.drop.mkdir(parents=True, exist_ok=True)
        self.server = ControlServer(str(self.paths.socket), self.dispatch)
        self.server.serve_in_thread()
        self.paths.pidfile.write_text(f"{os.getpid()}\n")
        self.paths.info.write_text(json.dumps({"mount": self.mount, "drop": str(self.drop), "pid": os.getpid()}))

        daemon = self

        class Ops(KernelFS):
            def init_with_config(self, conn: Any, config: Any) -> None:
                super().init_with_config(conn, config)
                daemon.ready.set()
                threading.Thread(target=daemon._start_watcher, daemon=True).start()

        ops = Ops(self.kernel, self.mount, pm_qos=self.opts.pm_qos)
        log.info("mounting %s (profile %s)", self.mount, profile.name)
        try:
            fuse.FUSE(ops, self.mount, raw_fi=True, foreground=True, nothreads=False,
                      **mount_options(self.opts.allow_other))
        finally:
            log.info("unmounted %s", self.mount)
            self._cleanup()
        return 0

    def _start_watcher(self) -> None:
        from .watch import DropFolder

        self.watcher = DropFolder(self.drop, self.load_path, lambda name: self.unload(name, origin="drop"))
        self.watcher.start()
        log.info("watching %s", self.drop)


M_MMAP_THRESHOLD, M_ARENA_MAX = -3, -8


def _tune_malloc() -> None:
    """Big file contents (kallsyms: megabytes) made and dropped by ten FUSE threads at once
    otherwise stay in glibc's per-thread arenas: its mmap threshold grows with each big free,
    so they stop being returned to the system. A fixed threshold and two arenas kept a soak's
    RSS from 200 MB to about 110 (scripts/robustness soak, docs/robustness.md)."""
    import ctypes

    try:
        libc = ctypes.CDLL(None)
        libc.mallopt(M_MMAP_THRESHOLD, 128 * 1024)
        libc.mallopt(M_ARENA_MAX, 2)
    except (OSError, AttributeError):
        pass  # not glibc: nothing to tune


def gdb_sections(mod) -> dict[str, int]:
    """The sections gdb's add-symbol-file relocates, by address: the module's allocated
    sections but the symbol table the kernel keeps for kallsyms; init's only while it is
    mapped (the module is not LIVE yet)."""
    out = {}
    for name, (addr, _size) in mod.section_ranges.items():
        if name in (".symtab", ".strtab") or (name.startswith(".init") and mod.state == State.LIVE):
            continue
        out[name] = addr
    return out


def _pidfd(pid: int | None) -> int | None:
    try:
        return os.pidfd_open(int(pid)) if pid else None
    except (OSError, ValueError):
        return -1  # gone already


def _exited(pidfd: int | None) -> bool:
    if pidfd is None:
        return False
    if pidfd < 0:
        return True
    import select

    return bool(select.select([pidfd], [], [], 0)[0])


def _close(fd: int | None) -> None:
    if fd is not None and fd >= 0:
        os.close(fd)


def _guess_name(filename: str) -> str:
    base = os.path.basename(filename)
    for suffix in (".ko.xz", ".ko.zst", ".ko.gz", ".ko"):
        if base.endswith(suffix):
            base = base[: -len(suffix)]
            break
    return base.replace("-", "_")


def _setup_logging(path: Path, level: str) -> None:
    handler = logging.FileHandler(path)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger("pseudokernel")
    root.handlers[:] = [handler]
    root.setLevel(getattr(logging, level.upper(), logging.INFO))
