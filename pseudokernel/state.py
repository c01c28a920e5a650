"""The running kernel as its parts see it: what the loader (module/), the dumpers (oops.py,
unwind.py) and the unload report (leaks.py) may read and call.

kernel.Kernel is the one implementation. The declaration stands apart because Kernel composes
those parts (it runs the loader, prints through the dumpers): were they to name Kernel itself,
every part would import the file that imports it. The handlers of the emulator see less still:
emu/kapi's KernelSide.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from .emu.kapi import KernelApi, Registry
    from .emu.machine import Machine
    from .emu.traps import CpuStop
    from .log import PrintkLog
    from .module.module import Module
    from .profile import KernelProfile


class KernelState(Protocol):
    profile: KernelProfile
    log: PrintkLog
    machine: Machine
    api: KernelApi
    registry: Registry
    mutex: threading.RLock
    modules: list[Module]  # newest first
    by_name: dict[str, Module]
    generation: int  # bumped when what the views show changes
    tainted: int
    debug_locks: bool
    sig_enforce: bool
    held_locks: dict[int, int]
    die_counter: int
    exec_summary: dict[str, int] | bytes
    cr2: int
    current_pid: int
    current_comm: str
    current_where: str  # init, exit, kthread ...: which call path the CPU is on
    user_fs: int
    last_report: list[str]
    last_unloaded: tuple[str, str] | None

    def cmdline_param(self, name: str, default: str) -> str: ...
    def trusted_keys(self) -> list[bytes]: ...
    def test_taint(self, flag: int) -> bool: ...
    def add_taint(self, flag: int, lockdep_ok: bool = True) -> None: ...
    def add_taint_module(self, mod: Module, flag: int, lockdep_ok: bool = True) -> None: ...
    def find_module(self, name: str, even_unformed: bool = False) -> Module | None: ...
    def module_at(self, addr: int) -> Module | None: ...
    def module_by_struct(self, addr: int) -> Module | None: ...
    def percpu_address(self, ptr: int) -> int: ...
    def user_regs(self, where: str) -> dict[str, int]: ...
    def format_kernel_frame(self, frame: str) -> str: ...
    def format_symbol(self, addr: int, with_offset: bool = True) -> str: ...
    def hashed_pointer(self, addr: int) -> str: ...
    def orc_table(self, mod: Module) -> Any: ...  # unwind.OrcTable, which is typed against this
    def run_in_module(self, mod: Module, fn: int, *args: int, ret_addr: int | None = None) -> int: ...
    def report_cpu_stop(self, mod: Module | None, stop: CpuStop, where: str) -> str: ...
