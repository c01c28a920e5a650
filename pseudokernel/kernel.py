"""The Kernel: the state every frontend looks at, and the two syscalls that change it.

finit_module() and delete_module() run one at a time (there is one CPU); readers take the
short `mutex` (the kernel's module_mutex) and never wait for a module's init to finish.
"""

from __future__ import annotations

import errno
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from . import oops, sigpending, taint
from .emu.kapi import KernelApi, Registry
from .emu.kapi.task import close_tasks
from .emu.machine import Machine
from .emu.memory_map import PERCPU_BASE
from .emu.traps import CpuStop
from .emu.vsprintf import Args, ListArgs, MemoryFault, vsnprintf
from .log import PrintkLog
from .module.decompress import module_decompress
from .module.internal import (
    MODULE_INIT_COMPRESSED_FILE,
    MODULE_INIT_IGNORE_MODVERSIONS,
    MODULE_INIT_IGNORE_VERMAGIC,
    MODULE_NAME_LEN,
    LoadError,
)
from .module.kallsyms import find_kallsyms_symbol
from .module.main import load_module
from .module.module import Module, State
from .module.trace import LoadTrace, UnloadTrace
from .module.unload import __module_get as _module_get_ref
from .module.unload import delete_module, module_put, try_module_get
from .profile import KernelProfile
from .profile.versions import KALLSYMS_BY_MEM
from .unwind import OrcTable

O_NONBLOCK = 0o4000


@dataclass
class Caller:
    """The process making a system call on the mount (FUSE tells its pid, uid and gid)."""

    pid: int
    comm: str
    uid: int = 0
    gid: int = 0
    mm: int | None = None  # a real process (a mount's caller): the pid whose memory is its user half


@dataclass
class Event:
    """What happened to a module, for the drop folder's events file and `wait`."""

    name: str
    action: str  # load, unload
    result: str  # live, errno name, oops, budget
    errno: int
    detail: str = ""


class Kernel:
    def __init__(
        self,
        profile: KernelProfile | None = None,
        *,
        cmdline: str | None = None,
        budget: float = 5.0,
        sig_enforce: bool = False,
        seed: int | None = None,
        kptr_restrict: int = 0,
    ) -> None:
        self.profile = profile or KernelProfile.load()
        p = self.profile
        self.log = PrintkLog(
            default_level=p.config_int("MESSAGE_LOGLEVEL_DEFAULT", 4),
            buf_shift=p.config_int("LOG_BUF_SHIFT", 17),
        )
        self.cmdline = cmdline if cmdline is not None else f"BOOT_IMAGE=/boot/vmlinuz-{p.release} root=/dev/vda ro quiet"
        self.sig_enforce = sig_enforce or self.cmdline_param("module.sig_enforce", "0") in ("1", "y", "Y")
        self.kptr_restrict = kptr_restrict
        self.tainted = 0
        self.debug_locks = True
        self.modules: list[Module] = []  # newest first, as list_add_rcu() keeps them
        self.by_name: dict[str, Module] = {}  # the same modules by name: lookups stay O(1)
        # what the views show changes only when this does: module states, references, taint,
        # memory; readers key their caches on it (with the log's next_seq for the log files)
        self.generation = 0
        self._owners: dict[int, Module] = {}  # module_at(): an allocation's address -> its module
        # after each syscall that may change what the views show, outside its locks; the
        # argument says whether the callee may wait (not when a caller may hold a lock)
        self.on_change: list[Callable[[bool], None]] = []
        self.view_cache: dict[tuple, tuple[int, bytes]] = {}  # views made once per generation
        self.mutex = threading.RLock()  # module_mutex: held briefly, by readers too
        self.syscall_lock = threading.Lock()  # one load or unload at a time: one CPU
        self.held_locks: dict[int, int] = {}
        self.listeners: list[Callable[[Event], None]] = []
        self.machine = Machine(p, budget=budget, seed=seed)
        self.registry = Registry()  # what modules registered: misc devices, drivers, algorithms ...
        self.ptr_key = self.machine.rand.bytes(16)
        self.next_pid = 100
        self.current_pid = 1
        self.current_comm = "swapper/0"
        self.current_where = "init"
        self.current_uid = self.current_gid = 0
        self.devtmpfs_nodes: dict[str, tuple[int, int]] = {}  # what mknod made in dev/: name -> (devt, mode)
        self.devtmpfs_files: dict[str, tuple[bytearray, int]] = {}  # regular files made there: (bytes, mode)
        self.user_mms: dict[int, int] = {}  # pid -> the host process whose memory is its user half
        self.api = KernelApi(self.machine, log=self.log, profile=p, registry=self.registry, kernel=self)
        self.machine.on_invalid_opcode = self._on_invalid_opcode
        self.die_counter = 0
        self.exec_summary: dict[str, int] | bytes = {}  # the first oops's registers (oops.oops_end)
        self.cr2 = 0
        self.wakeups = threading.Condition()  # a wake_up() for the tasks asleep in sleep()
        self.user_fs = 0x00007F47398C7040
        self._orc: dict[int, OrcTable | None] = {}
        self._param_allocs: set[int] = set()
        self._warned: set[str] = set()
        self.last_report: list[str] = []
        self.last_unloaded: tuple[str, str] | None = None  # print_modules' [last unloaded: ...]
        self.console_loglevel = 4 if "quiet" in self.cmdline.split() else p.config_int("CONSOLE_LOGLEVEL_DEFAULT", 7)
        self.saved_console_loglevel = -1  # do_syslog()'s, while the console is off
        self.syslog_clear_seq = 0  # where `dmesg -S` starts: the last SYSLOG_ACTION_CLEAR
        self.drivers: dict[int, dict[str, str]] = {}  # id(module) -> drivers/ links
        self._kallsyms_text: dict[bool, bytes] = {}
        self._boot_messages()

    def _boot_messages(self) -> None:
        self.log.notice(self.profile.banner)
        self.log.info(f"Command line: {self.cmdline}\n")
        self.log.notice(f"Kernel command line: {self.cmdline}\n")

    # -- configuration ---------------------------------------------------------------------

    def cmdline_param(self, name: str, default: str) -> str:
        for word in self.cmdline.split():
            key, _, val = word.partition("=")
            if key.replace("-", "_") == name.replace("-", "_"):
                return val
        return default

    def trusted_keys(self) -> list[bytes]:
        return self.profile.certificates

    # -- taint -----------------------------------------------------------------------------

    def test_taint(self, flag: int) -> bool:
        return bool(self.tainted & (1 << flag))

    def add_taint(self, flag: int, lockdep_ok: bool = True) -> None:
        if not lockdep_ok and self.debug_locks:
            self.debug_locks = False
            self.log.warn("Disabling lock debugging due to kernel taint\n")
        self.tainted |= 1 << flag
        self.generation += 1

    def add_taint_module(self, mod: Module, flag: int, lockdep_ok: bool = True) -> None:
        self.add_taint(flag, lockdep_ok)
        mod.taints |= 1 << flag

    # -- module list -----------------------------------------------------------------------

    def find_module(self, name: str, even_unformed: bool = False) -> Module | None:
        with self.mutex:
            mod = self.by_name.get(name)
        if mod is not None and (even_unformed or mod.state != State.UNFORMED):
            return mod
        return None

    def module_at(self, addr: int) -> Module | None:
        """__module_address(): the module whose core or init memory holds addr. The module
        area's allocator finds the allocation (a bisection); which module made it is kept by
        its address, checked against the module's own allocations (an address freed and
        handed out again), and learned again from the list when unknown."""
        found = self.machine.modules_area.find(addr)
        if found is None:
            return None
        base = found[0]
        mod = self._owners.get(base)
        if mod is None or not any(a.base == base for a in mod.allocations):
            with self.mutex:  # newest first: the module asked about is most often the newest
                mod = next((m for m in self.modules for a in m.allocations if a.base == base), None)
            if mod is None:
                return None
            if len(self._owners) > 2 * len(self.modules) + 64:  # addresses of modules long gone
                self._owners.clear()
            self._owners[base] = mod
        return mod if mod.state != State.UNFORMED and self.by_name.get(mod.name) is mod else None

    def module_by_struct(self, addr: int) -> Module | None:
        """The module whose struct module (THIS_MODULE) is at addr."""
        mod = self.module_at(addr)
        if mod is not None and mod.struct_addr == addr:
            return mod
        for mod in self.modules:  # not yet formed (a parameter op during load)
            if mod.struct_addr == addr:
                return mod
        return None

    def percpu_address(self, ptr: int) -> int:
        return PERCPU_BASE + ptr

    # -- the task making the syscall -------------------------------------------------------

    @contextmanager
    def syscall(self, comm: str, where: str, changes: bool = True,
                caller: Caller | None = None) -> Iterator[None]:
        """One system call at a time (one CPU). A new process asks: it gets the next PID, as
        on a quiet machine. Afterwards (changes) the generation moves and, outside the locks,
        on_change runs: the mount invalidates what the host kernel cached of what changed,
        before the caller has its answer (fs/hostcache.py); a read of a module's /proc file
        changes nothing the views show."""
        try:
            # the syscall lock, then the CPU: unicorn is not to be touched from two threads
            # (a parameter read from the mount takes the machine's lock alone)
            # a caller waiting for either is killable (mutex_lock_killable)
            sigpending.acquire(self.syscall_lock)
            try:
                sigpending.acquire(self.machine.lock)
                try:
                    if caller is None:
                        self.next_pid += 1
                        caller = Caller(self.next_pid, comm)
                    self.current_pid, self.current_comm = caller.pid, caller.comm
                    self.current_uid, self.current_gid = caller.uid, caller.gid
                    self.current_where = where
                    if caller.mm is not None:
                        self.user_mms[caller.pid] = caller.mm
                    try:
                        yield
                    finally:
                        self.user_mms.pop(caller.pid, None)
                finally:
                    self.machine.lock.release()
            finally:
                self.syscall_lock.release()
        finally:
            if changes:
                self._changed(wait=True)

    def _changed(self, wait: bool) -> None:
        self.generation += 1
        for fn in list(self.on_change):
            fn(wait)

    def sleep(self, woken: Callable[[], bool]) -> bool:
        """schedule() of a process's task on a wait queue: the CPU and the syscall slot go to
        other tasks until woken() holds (a wake_up() from another process's write), or the
        caller is signalled or the daemon goes down (False: Ctrl-C on a blocked read). The task resumes when the calls
        other tasks made meanwhile have returned: they run nested on the one CPU."""
        m = self.machine
        depth = m.depth()
        frames = m._frames  # the processes' context's calls (a kthread's run on its own)
        task = (self.current_pid, self.current_comm, self.current_where, self.current_uid, self.current_gid)
        budget = m.pause_budget(depth)
        held = m.lock._release_save()
        self.syscall_lock.release()
        # what the task did so far is seen by the others from now on
        self._changed(wait=False)
        try:
            with self.wakeups:
                while not (woken() and len(frames) == depth):
                    if (sigpending.signal_pending() or sigpending.stopping()) and len(frames) == depth:
                        m.signal_delivered = True
                        return False
                    self.wakeups.wait(sigpending.POLL)
            return True
        finally:
            self.syscall_lock.acquire()
            m.lock._acquire_restore(held)
            m.resume_budget(budget)
            self.current_pid, self.current_comm, self.current_where, self.current_uid, self.current_gid = task
            self.api.refresh_task()  # current is this task again, whoever ran meanwhile

    def wake_up(self) -> None:
        """Something a sleeping task may wait for happened: each looks at its condition."""
        with self.wakeups:
            self.wakeups.notify_all()

    def user_regs(self, where: str) -> dict[str, int]:
        """Registers of the calling process at its syscall instruction (glibc's syscall())."""
        base = 0x55D4C6B64400 + (self.current_pid << 12)
        return {
            "rip": 0x7F47399C9829,
            "rsp": 0x7FFC2D2FD688,
            "rbx": base + 0x1380,
            "rsi": base - 0x3A08F60,
            "r9": 0x7F4739AA32A0,
            "r14": base,
        }

    def format_kernel_frame(self, frame: str) -> str:
        """'do_one_initcall+0x59' -> 'do_one_initcall+0x59/0x220', sized from kallsyms."""
        name, _, off = frame.partition("+")
        addr = self.profile.kallsyms_by_name.get(name)
        if addr is None:
            return frame
        found = self.profile.symbol_at(addr)
        return f"{frame}/{found[2]:#x}" if found else frame

    def orc_table(self, mod: Module) -> OrcTable | None:
        key = id(mod)
        if key not in self._orc:
            self._orc[key] = OrcTable.read(self, mod)
        return self._orc[key]

    # -- what the views ask ------------------------------------------------------------------

    def kallsyms_show_value(self, reader) -> bool:
        """kallsyms_show_value(): real addresses only for the privileged (CAP_SYSLOG), and
        for nobody with kptr_restrict 2. The daemon's owner counts as privileged."""
        return self.kptr_restrict < 2 and reader.privileged

    def vmlinux_kallsyms_text(self, show: bool) -> bytes:
        if show not in self._kallsyms_text:
            self._kallsyms_text[show] = "".join(
                f"{addr if show else 0:016x} {typ} {name}\n" for addr, typ, name in self.profile.kallsyms
            ).encode()
        return self._kallsyms_text[show]

    def module_drivers(self, mod: Module) -> dict[str, str]:
        return self.drivers.get(id(mod), {})

    def param_show(self, mod: Module, kp) -> bytes:
        """A read of /sys/module/<mod>/parameters/<name>: the param's get op, on the CPU."""
        from .module.params import param_attr_show

        try:
            sigpending.acquire(self.machine.lock)  # unicorn is one CPU: no kmalloc or read while a load runs
            try:
                if self.by_name.get(mod.name) is not mod or mod.state == State.UNFORMED:
                    raise OSError(errno.ENODEV, kp.name)  # unloaded since the file was found (kernfs)
                return param_attr_show(self, mod, kp)
            finally:
                self.machine.lock.release()
        except CpuStop as stop:
            raise self._call_stopped(mod, stop, "param", kp.name) from None

    def _call_stopped(self, mod: Module | None, stop: CpuStop, where: str, name: str) -> OSError:
        """A file operation's callback did not return: EINTR for a caller who was signalled,
        else EFAULT after the kernel's report, with the signal the caller dies of."""
        outcome = self.report_cpu_stop(mod, stop, where)
        if outcome == "interrupted":
            return OSError(errno.EINTR, name)
        return oops.TaskDead(errno.EFAULT, name, oops.fatal_signal(stop))

    def read_module_file(self, rec) -> bytes:
        """A read of a file a module put in /proc (a `cat` of it): its callbacks run on the CPU.
        A fault in them is reported as the kernel's oops and fails the read with EFAULT."""
        from .emu.kapi.seq_file import read_proc_entry

        with self.syscall("cat", "read", changes=False):
            if self.registry.find("proc", rec.obj) is not rec:
                raise OSError(errno.ENODEV, rec.name)  # removed since the file was found
            try:
                return read_proc_entry(self.api, rec)
            except CpuStop as stop:
                raise self._call_stopped(self.find_module(rec.owner), stop, "read", rec.name) from None
            except MemoryFault as e:  # a pointer of the module's (its ops, its seq_file) leads nowhere
                self.log.err(f"pseudokernel: {rec.owner}: /proc/{rec.info.get('path', rec.name)}: "
                             f"read through a bad pointer ({e})\n")
                raise OSError(errno.EFAULT, rec.name) from None

    def param_store(self, mod: Module, kp, data: bytes) -> int:
        from .module.params import param_attr_store

        with self.syscall("sh", "param"):
            if self.by_name.get(mod.name) is not mod or mod.state == State.UNFORMED:
                raise OSError(errno.ENODEV, kp.name)
            try:
                return param_attr_store(self, mod, kp, data)
            except CpuStop as stop:
                raise self._call_stopped(mod, stop, "param", kp.name) from None

    # -- kmalloc_parameter(): strings the charp ops allocate ---------------------------------

    def params_kmalloc(self, size: int) -> int:
        addr = self.machine.kmalloc(size, kind="param")
        if addr:
            self._param_allocs.add(addr)
        return addr

    def params_kfree(self, addr: int) -> None:
        """maybe_kfree_parameter(): only what params_kmalloc() handed out."""
        if addr in self._param_allocs:
            self._param_allocs.discard(addr)
            self.machine.slab.free(addr)

    # -- running module code ---------------------------------------------------------------

    def run_in_module(self, mod: Module, fn: int, *args: int, ret_addr: int | None = None) -> int:
        """fn(*args) for the kernel: module code on the CPU; a leaf kernel function (a
        parameter's standard ops) as the Python it is (KernelApi.leaf). One that faults goes
        through the CPU again, for the oops the kernel would print from inside it."""
        leaf = self.api.leaf(fn) if ret_addr is None else None
        if leaf is not None:
            try:
                return leaf(*args)
            except MemoryFault:
                pass
        return self.machine.call(fn, *args, ret_addr=ret_addr)

    def _on_invalid_opcode(self, rip: int) -> bool:
        return oops.handle_ud2(self, rip)

    def report_cpu_stop(self, mod: Module | None, stop: CpuStop, where: str) -> str:
        """Print what the kernel prints for a fault, a BUG or a stuck CPU; returns the outcome."""
        return oops.report(self, mod, stop, where)

    def dump_stack_at(self, regs: dict[str, int], first: tuple[str, ...], chain: list) -> None:
        """dump_stack() from a kernel function a module called (warn_alloc)."""
        for line in oops.dump_stack_print_info(self) + oops.call_trace(self, regs, self.current_where, first=first, chain=chain):
            self.log.printk(line)

    def panic(self, message: str, regs: dict[str, int]) -> None:
        oops.panic(self, message, regs, self.current_where)

    def die_at(self, bug: str, regs: dict[str, int], chain: list) -> None:
        """BUG() in a kernel function a module called (usercopy_abort): the report, with the
        machine's frames from the BUG down to the call (profile.frames(bug): its RIP first),
        then the module's (regs: at the module's return address)."""
        rip, *above = self.profile.frames(bug)
        first = tuple(self.format_kernel_frame(f) for f in above) + (self.format_symbol(regs["rip"]),)
        trace = oops.call_trace(self, regs, self.current_where, first=first, chain=chain)
        oops.die_in_kernel(self, self.profile.machine["bugs"][bug], rip, trace)

    # -- module references, for the handlers (kernel/module/main.c) ------------------------

    def try_module_get(self, module: int) -> bool:
        return try_module_get(self, module)

    def module_get(self, module: int) -> None:
        _module_get_ref(self, module)  # imported under another name: __x is mangled in a class

    def module_put(self, module: int) -> None:
        module_put(self, module)

    # -- the syscalls ----------------------------------------------------------------------

    def finit_module(self, data: bytes, args: str | None = "", flags: int = 0, filename: str = "",
                     trace: LoadTrace | None = None) -> Module:
        """Load a module image; returns the LIVE module or raises LoadError(errno). A trace
        records each step of the load (module/trace.py)."""
        if flags & ~(MODULE_INIT_IGNORE_MODVERSIONS | MODULE_INIT_IGNORE_VERMAGIC | MODULE_INIT_COMPRESSED_FILE):
            raise LoadError(errno.EINVAL, "flags")
        if not data:
            raise LoadError(errno.EINVAL, "empty file")
        with self.syscall("insmod", "init"):
            if flags & MODULE_INIT_COMPRESSED_FILE:
                data = module_decompress(self, data)
            return load_module(self, data, args, flags, filename, trace)

    def init_module(self, data: bytes, args: str | None = "", trace: LoadTrace | None = None) -> Module:
        """init_module(2): the image in memory (kmod's path for compressed or forced files)."""
        if len(data) < 64:
            raise LoadError(errno.ENOEXEC, "shorter than an ELF header")
        with self.syscall("insmod", "init"):
            return load_module(self, data, args, 0, "", trace)

    def delete_module(self, name: str, flags: int = O_NONBLOCK, trace: UnloadTrace | None = None) -> None:
        """Unload a module: raises OSError(errno) as the syscall fails. What the module left
        behind (memory, registrations, locks) is reported and kept in last_report. With a
        trace, each step of the unload is recorded in it (module/trace.py)."""
        if not name or len(name.encode("utf-8", "surrogateescape")) >= MODULE_NAME_LEN:
            if trace:  # no module has that name (the kernel cut it to MODULE_NAME_LEN - 1)
                trace.begin("find_module")
                trace.find_module(None, name)
                trace.failed(errno.ENOENT)
            raise OSError(errno.ENOENT, name)
        with self.syscall("rmmod", "exit"):
            delete_module(self, name, flags, trace)

    # -- formatting ------------------------------------------------------------------------

    def lookup_symbol(self, addr: int) -> tuple[str, int, int, str | None] | None:
        """kallsyms_lookup(): (name, offset, size, module) for an address, as %pS needs."""
        mod = self.module_at(addr)
        if mod is not None:
            found = find_kallsyms_symbol(mod, addr, self.profile.since(KALLSYMS_BY_MEM))
            if found is None:
                return None
            return found[0], found[1], found[2], mod.name
        found = self.profile.symbol_at(addr)
        if found is not None:
            return found[0], found[1], found[2], None
        name = self.machine.function_name(addr)
        if name is not None:
            return name, 0, 1, None
        return None

    def format_symbol(self, addr: int, with_offset: bool = True) -> str:
        found = self.lookup_symbol(addr)
        if found is None:
            return f"0x{addr:x}"
        name, off, size, modname = found
        text = f"{name}+{off:#x}/{size:#x}" if with_offset else name
        return text + (f" [{modname}]" if modname else "")

    def vsnprintf(self, fmt: bytes, args: Args) -> bytes:
        return vsnprintf(fmt, args, self.machine, self, hash_key=self.ptr_key, structs=self.profile.structs,
                         kptr_restrict=self.kptr_restrict, warn=self._vsprintf_warn)

    def _vsprintf_warn(self, site: str, message: bytes) -> None:
        """A WARN_ONCE inside vsprintf (an unsupported %n, an absurd width ...)."""
        key = "vsprintf:" + site
        if key in self._warned:
            return
        self._warned.add(key)
        self.log.printk(b"------------[ cut here ]------------\n")
        self.log.printk(message if message.endswith(b"\n") else message + b"\n")
        self.log.printk(f"\x014WARNING: CPU: 0 PID: {self.current_pid} at lib/vsprintf.c {site}\n")
        self.add_taint(taint.WARN)

    def lookup(self, addr: int):
        """The vsprintf Symbols protocol."""
        return self.lookup_symbol(addr)

    def hashed_pointer(self, addr: int) -> str:
        """What %p prints for addr."""
        return vsnprintf(b"%p", ListArgs([addr]), self.machine, self, hash_key=self.ptr_key).decode()

    def close(self) -> None:
        """Free the machine, once no kthread can run on it any more (a thread still running
        module code keeps it: leaked rather than freed under it)."""
        if close_tasks(self.api):
            self.machine.close()

