"""load_module(): the steps of kernel/module/main.c, in the kernel's order.

Each step raises on failure after printing what the kernel prints; the unwinding at the end
releases what the steps before took, in reverse, as the kernel's goto ladder does.
"""

from __future__ import annotations

from errno import EBUSY, EEXIST, EFAULT, EINTR, EINVAL, EIO, ENOEXEC, ENOMEM, EPERM, ETIME
from signal import SIGSEGV
from typing import TYPE_CHECKING

from .. import oops
from ..bits import s32
from ..emu.traps import CpuStop
from ..profile.versions import EARLY_MOD_CHECK, ELF_VALIDITY_CACHE
from . import elf
from .bugs import fortify_strlen_overflow
from .elf import (
    SHF_ALLOC,
    SHF_RO_AFTER_INIT,
    SHT_NOTE,
    LoadInfo,
    elf_validity_check,
)
from .internal import MODULE_INIT_IGNORE_MODVERSIONS, MODULE_NAME_LEN, LoadError
from .kallsyms import add_kallsyms
from .layout import free_module_memory, layout_and_allocate_memory, region_dicts
from .modinfo import (
    check_export_symbol_versions,
    check_modinfo,
    check_module_license_and_versions,
    get_modinfo,
    load_modinfo,
    module_augment_kernel_taints,
    module_sig_taint,
)
from .module import MemType, Module, State
from .params import destroy_params, parse_args, read_params
from .relocate import Image, apply_relocations, module_finalize
from .signing import module_sig_check
from .strict_rwx import module_enable_protections, module_enforce_rwx_sections
from .symbols import read_exports, simplify_symbols, verify_exported_symbols
from .sysfs import mod_sysfs_setup
from .version import check_modstruct_version, read_versions

if TYPE_CHECKING:
    from ..state import KernelState
    from .trace import LoadTrace

NOP5 = bytes((0x0F, 0x1F, 0x44, 0x00, 0x00))  # x86_nops[5]: what ftrace_init_nop() writes


def setup_load_info(kernel: KernelState, info: LoadInfo, flags: int) -> None:
    """6.1's setup_load_info(): .modinfo, the symbol table and struct module found (later
    kernels find them in elf_validity_cache_copy(): _cache_load_info() does the rest)."""
    info.index.info = info.find_sec(".modinfo")
    info.modinfo = load_modinfo(info)
    if info.index.info:
        info.name = get_modinfo(info.modinfo, "name")
    for i in range(1, info.shnum):
        if info.sechdrs[i].type == 2:  # SHT_SYMTAB
            info.index.sym = i
            info.index.str = info.sechdrs[i].link
            info.strtab = info.section_bytes(info.index.str)
            break
    if info.index.sym == 0:
        kernel.log.warn(f"{info.name or '(missing .modinfo section or name field)'}: module has no symbols (stripped?)\n")
        raise LoadError(ENOEXEC, "no symbols")
    info.index.mod = info.find_sec(".gnu.linkonce.this_module")
    if not info.index.mod:
        kernel.log.warn(f"{info.name or '(missing .modinfo section or name field)'}: No module found in object\n")
        raise LoadError(ENOEXEC, "no module")
    _cache_load_info(kernel, info, flags)


def _cache_load_info(kernel: KernelState, info: LoadInfo, flags: int) -> None:
    """The module's name in its struct module, __versions and the per-CPU section."""
    raw = info.section_bytes(info.index.mod)
    off = kernel.profile.structs.module.name
    name = raw[off : off + MODULE_NAME_LEN]
    info.mod_name = name.split(b"\0", 1)[0].decode("utf-8", "replace")
    # all MODULE_NAME_LEN bytes used: no NUL for the fortified strlen() of add_unformed_module()
    info.mod_name_overflows = len(name) == MODULE_NAME_LEN and b"\0" not in name
    if info.name is None:
        info.name = info.mod_name
    info.index.vers = 0 if flags & MODULE_INIT_IGNORE_MODVERSIONS else info.find_sec("__versions")
    info.versions = read_versions(info)
    info.index.pcpu = info.find_sec(".data..percpu")


def blacklisted(kernel: KernelState, name: str) -> bool:
    """module_blacklist=a,b: each comma-ended piece compared whole (an empty piece matches an
    empty name; nothing is blacklisted without the parameter)."""
    pieces = kernel.cmdline_param("module_blacklist", "").split(",")
    return name in pieces[:-1] or (pieces[-1] != "" and name == pieces[-1])


def rewrite_section_headers(info: LoadInfo) -> None:
    """sh_addr := where each section is in the kernel's copy of the file (a vmalloc buffer):
    what symbols of sections that are never loaded resolve to."""
    info.sechdrs[0].addr = 0
    for s in info.sechdrs[1:]:
        s.addr = (info.temp_base + s.offset) & ((1 << 64) - 1)
    info.sechdrs[info.index.vers].flags &= ~SHF_ALLOC
    info.sechdrs[info.index.info].flags &= ~SHF_ALLOC


def elf_validity_cache_copy(kernel: KernelState, info: LoadInfo, flags: int) -> None:
    struct_size = kernel.profile.structs.module.get("sizeof", 0) if kernel.profile.btf is not None else None
    elf.elf_validity_cache_copy(info, kernel.log, lambda i: get_modinfo(load_modinfo(i), "name"),
                                struct_size or None)
    info.modinfo = load_modinfo(info)
    _cache_load_info(kernel, info, flags)


def early_checks_61(kernel: KernelState, info: LoadInfo, mod: Module, tr: LoadTrace | None) -> None:
    """What 6.1's load_module() checks before layout_and_allocate()."""
    if tr:
        tr.begin("blacklisted")
    if blacklisted(kernel, info.name):
        kernel.log.err(f"Module {info.name} is blacklisted\n")
        raise LoadError(EPERM, "blacklisted")
    rewrite_section_headers(info)
    if tr:
        tr.begin("check_modstruct_version")
    check_modstruct_version(kernel, info, mod)


def early_mod_check(kernel: KernelState, info: LoadInfo, mod: Module, flags: int, tr: LoadTrace | None) -> None:
    """Later kernels' checks before anything is allocated: 6.1's, then check_modinfo() (which
    no longer taints) and a module of the same name already there (EEXIST, or EBUSY while it
    is still coming: wait_event_interruptible() for it to finish is not modelled, the load
    fails at once as if interrupted)."""
    early_checks_61(kernel, info, mod, tr)
    if tr:
        tr.begin("check_modinfo")
    check_modinfo(kernel, mod, info, info.modinfo, flags, taint=False)
    if tr:
        tr.check_modinfo(kernel, info)
        tr.begin("module_patient_check_exists")
    with kernel.mutex:
        module_patient_check_exists(kernel, info.mod_name)


def module_patient_check_exists(kernel: KernelState, name: str) -> None:
    old = kernel.find_module(name, even_unformed=True)
    if old is not None:
        raise LoadError(EEXIST if old.state == State.LIVE else EBUSY, "already loaded")


def layout_and_allocate(kernel: KernelState, info: LoadInfo, mod: Module, flags: int,
                        tr: LoadTrace | None = None) -> Image:
    if not kernel.profile.since(EARLY_MOD_CHECK):
        if tr:
            tr.begin("check_modinfo")
        check_modinfo(kernel, mod, info, info.modinfo, flags)
        if tr:
            tr.check_modinfo(kernel, info)
    if tr:
        tr.begin("layout_and_allocate")
    module_enforce_rwx_sections(kernel, info, mod)
    info.sechdrs[info.index.pcpu].flags &= ~SHF_ALLOC
    for name in (".data..ro_after_init", "__jump_table"):
        ndx = info.find_sec(name)
        if ndx:
            info.sechdrs[ndx].flags |= SHF_RO_AFTER_INIT
    image = layout_and_allocate_memory(kernel, info, mod)
    if tr:
        tr.layout_and_allocate(kernel, info, mod)
    return image


def percpu_modalloc(kernel: KernelState, mod: Module, info: LoadInfo) -> None:
    pcpusec = info.sechdrs[info.index.pcpu]
    if not info.index.pcpu or not pcpusec.size:
        return
    align = pcpusec.addralign or 1
    if align > 4096:
        kernel.log.warn(f"{mod.name}: per-cpu alignment {align} > 4096\n")
        align = 4096
    addr = kernel.machine.percpu.alloc_reserved(pcpusec.size, align)
    if addr is None:
        kernel.log.warn(f"{mod.name}: Could not allocate {pcpusec.size} bytes percpu data\n")
        raise LoadError(ENOMEM, "percpu")
    mod.percpu = addr
    mod.percpu_size = pcpusec.size


def find_module_sections(kernel: KernelState, mod: Module, info: LoadInfo) -> None:
    for name, attr, entsize in (("__ksymtab", "num_syms", 12), ("__ksymtab_gpl", "num_gpl_syms", 12)):
        i = info.find_sec(name)
        setattr(mod, attr, info.sechdrs[i].size // entsize if i else 0)
    mod.has_crcs = bool(info.find_sec("__kcrctab"))
    mod.has_gpl_crcs = bool(info.find_sec("__kcrctab_gpl"))
    if kernel.profile.enabled("CONSTRUCTORS") and info.find_sec(".ctors") and info.find_sec(".init_array"):
        kernel.log.warn(f"{mod.name}: has both .ctors and .init_array.\n")
        raise LoadError(EINVAL, "ctors")
    if info.find_sec("__obsparm"):
        kernel.log.warn(f"{mod.name}: Ignoring obsolete parameters\n")
    btf = info.find_any_sec(".BTF")  # any_section_objs(): kept by btf_module_notify() at COMING
    if btf and kernel.profile.enabled("DEBUG_INFO_BTF_MODULES"):
        mod.btf = info.section_bytes(btf)


def setup_modinfo(mod: Module, info: LoadInfo) -> None:
    mod.modinfo = info.modinfo
    mod.version = get_modinfo(info.modinfo, "version")
    mod.srcversion = get_modinfo(info.modinfo, "srcversion")


def ftrace_module_init(kernel: KernelState, info: LoadInfo, image: Image) -> None:
    """Turn each `call __fentry__` listed in __mcount_loc into a 5-byte NOP (ftrace_init_nop)."""
    i = info.find_sec("__mcount_loc")
    if not i:
        return
    sec = info.sechdrs[i]
    raw = image.read(sec.addr, sec.size)
    for j in range(0, len(raw) - 7, 8):
        site = int.from_bytes(raw[j : j + 8], "little")
        try:
            if image.read(site, 1) == b"\xe8":
                image.write(site, NOP5)
        except LookupError:
            continue


def init_notes(mod: Module, info: LoadInfo, image: Image) -> None:
    """The SHT_NOTE sections /sys/module/<name>/notes shows."""
    for s in info.sechdrs:
        if s.type == SHT_NOTE and not s.empty:
            mod.notes[s.name] = image.read(s.addr, s.size)


def load_module(kernel: KernelState, data: bytes, args: str | None = "", flags: int = 0, filename: str = "",
                trace: LoadTrace | None = None) -> Module:
    """finit_module(2) after the file has been read: returns the LIVE module or raises.
    With a trace, each step is recorded in it as it runs (trace.py)."""
    info = LoadInfo(data)
    # kernel_read_file() vmalloc()ed the file: the address range the temporary copy has
    info.temp_base = kernel.machine.vmalloc_area.alloc(len(data)) or 0
    try:
        try:
            mod = _load_module(kernel, info, args, flags, filename, trace)
        finally:
            if info.temp_base:
                kernel.machine.vmalloc_area.free(info.temp_base)  # free_copy()
        return do_init_module(kernel, mod, trace)
    except OSError as e:
        if trace:
            trace.failed(e.errno or EINVAL)
        raise


def _load_module(kernel: KernelState, info: LoadInfo, args: str, flags: int, filename: str,
                 tr: LoadTrace | None) -> Module:
    log = kernel.log
    if tr:
        tr.begin("module_sig_check")
        size = info.len
    module_sig_check(kernel, info, flags)
    if tr:
        tr.module_sig_check(kernel, info, size)
    if kernel.profile.since(ELF_VALIDITY_CACHE):
        if tr:
            tr.begin("elf_validity_cache_copy")
        elf_validity_cache_copy(kernel, info, flags)
        if tr:
            tr.elf_validity_check(info, name=info.name, modinfo=info.modinfo, versions=len(info.versions))
    else:
        if tr:
            tr.begin("elf_validity_check")
        elf_validity_check(info, log)
        if tr:
            tr.elf_validity_check(info)
            tr.begin("setup_load_info")
        setup_load_info(kernel, info, flags)
        if tr:
            tr.end(name=info.name, modinfo=info.modinfo, versions=len(info.versions))
    mod = Module(name=info.mod_name, filename=filename)
    if kernel.profile.since(EARLY_MOD_CHECK):
        early_mod_check(kernel, info, mod, flags, tr)
    else:
        early_checks_61(kernel, info, mod, tr)
    image = layout_and_allocate(kernel, info, mod, flags, tr)
    mod.name = info.mod_name
    stage = "allocated"
    try:
        if info.mod_name_overflows:
            fortify_strlen_overflow(kernel)
            e = LoadError(EFAULT, "oops")
            e.signal = SIGSEGV  # BUG(): die()
            raise e
        if tr:
            tr.begin("add_unformed_module")
        add_unformed_module(kernel, mod)
        stage = "listed"
        if kernel.profile.since(EARLY_MOD_CHECK):
            if tr:
                tr.begin("module_augment_kernel_taints")
            module_augment_kernel_taints(kernel, mod, info)
        else:
            module_sig_taint(kernel, mod, info)
        percpu_modalloc(kernel, mod, info)
        mod.refcnt = 2  # module_unload_init(): MODULE_REF_BASE, plus one held during init
        find_module_sections(kernel, mod, info)
        if not kernel.profile.since(EARLY_MOD_CHECK):
            check_module_license_and_versions(kernel, mod)
        else:
            check_export_symbol_versions(kernel, mod)
        setup_modinfo(mod, info)
        if tr:
            tr.begin("simplify_symbols")
        values = simplify_symbols(kernel, mod, info)
        if tr:
            tr.simplify_symbols(kernel, info, values)
            tr.begin("apply_relocations")
        apply_relocations(kernel, mod, info, image, values)
        if tr:
            tr.apply_relocations(info, values)
            tr.begin("post_relocation")
        post_relocation(kernel, mod, info, image, values)
        if not isinstance(args, str):  # strndup_user(uargs) failed: the errno it gave (None: EFAULT)
            raise OSError(args or EFAULT, "strndup_user")
        ftrace_module_init(kernel, info, image)
        for base, buf in image.regions:
            kernel.machine.write(base, bytes(buf))
        mod.args = args
        if tr:
            tr.begin("complete_formation")
        complete_formation(kernel, mod, info)
        stage = "formed"
        if tr:
            tr.end(state="COMING", exports=[s.name for s in mod.syms],
                   protections="module_enable_ro(mod, false), module_enable_nx(), module_enable_x()")
            tr.begin("parse_args")
        mod.params = read_params(kernel, mod, *mod.param_range) if mod.param_range[1] else []
        after_dashes = parse_args(kernel, mod, args)
        if after_dashes is not None:
            log.warn(f"{mod.name}: parameters '{after_dashes}' after `--' ignored\n")
        if tr:
            tr.parse_args(mod, args)
            tr.begin("mod_sysfs_setup")
        mod_sysfs_setup(kernel, mod)
        if tr:
            tr.end(path=f"/sys/module/{mod.name}", sections=len(mod.sections),
                   parameters=[p.name for p in mod.params if p.perm])
    except OSError as e:
        _unwind(kernel, mod, stage)
        err = e if isinstance(e, LoadError) else LoadError(e.errno or EINVAL, str(e))
        err.unknown_symbols = info.unknown_symbols
        raise err from None
    except CpuStop as e:
        # a module's own parameter op faulted while the module was COMING
        kernel.report_cpu_stop(mod, e, "parse_args")
        raise LoadError(ENOEXEC, "parameter op faulted") from None
    except BaseException:
        _unwind(kernel, mod, stage)
        raise
    return mod


def post_relocation(kernel: KernelState, mod: Module, info: LoadInfo, image: Image, values: list[int]) -> None:
    if mod.percpu_size:
        pcpu = info.sechdrs[info.index.pcpu]
        kernel.machine.write(kernel.percpu_address(mod.percpu), info.data[pcpu.offset : pcpu.offset + pcpu.size])
    add_kallsyms(mod, info, values)
    mod.sections = {s.name: s.addr for s in info.sechdrs if not s.empty}
    mod.section_ranges = {s.name: (s.addr, s.size) for s in info.sechdrs if not s.empty}
    init_notes(mod, info, image)
    mod.bug_table = _section_range(info, "__bug_table")
    mod.param_range = _section_range(info, "__param")
    mod.init, mod.exit = _init_exit(kernel, info, image)
    module_finalize(kernel, info, image)


def _section_range(info: LoadInfo, name: str) -> tuple[int, int]:
    i = info.find_sec(name)
    return (info.sechdrs[i].addr, info.sechdrs[i].size) if i else (0, 0)


def _init_exit(kernel: KernelState, info: LoadInfo, image: Image) -> tuple[int, int]:
    """mod->init and mod->exit, read from the relocated struct module."""
    base = info.sechdrs[info.index.mod].addr
    size = info.sechdrs[info.index.mod].size
    if kernel.profile.btf is None:  # no layout to trust: the module's own symbols
        return _init_exit_from_symbols(info)
    init_off, exit_off = kernel.profile.structs.module.init, kernel.profile.structs.module.exit
    if max(init_off, exit_off) + 8 > size:
        return _init_exit_from_symbols(info)
    raw = image.read(base, size)
    return (
        int.from_bytes(raw[init_off : init_off + 8], "little"),
        int.from_bytes(raw[exit_off : exit_off + 8], "little"),
    )


def _init_exit_from_symbols(info: LoadInfo) -> tuple[int, int]:
    found = {"init_module": 0, "cleanup_module": 0}
    for sym in info.symbols():
        name = info.symbol_name(sym[0])
        if name in found and sym[3] and sym[3] < info.shnum:
            found[name] = info.sechdrs[sym[3]].addr + sym[4]
    return found["init_module"], found["cleanup_module"]


def complete_formation(kernel: KernelState, mod: Module, info: LoadInfo) -> None:
    with kernel.mutex:
        mod.syms = read_exports(kernel, mod, info)
        verify_exported_symbols(kernel, mod)
        module_enable_protections(kernel, mod, after_init=False)
        set_module_state(kernel, mod, State.COMING)


def _unwind(kernel: KernelState, mod: Module, stage: str) -> None:
    """The error ladder at the end of load_module()."""
    if stage == "formed":
        set_module_state(kernel, mod, State.GOING)
        destroy_params(kernel, mod)
    free_module_resources(kernel, mod, unlink=stage in ("listed", "formed"))


# -- the module list and states --------------------------------------------------------------

def add_unformed_module(kernel: KernelState, mod: Module) -> None:
    """The name is taken from here on: a second load of it waits (EBUSY) or fails (EEXIST)."""
    with kernel.mutex:
        mod.state = State.UNFORMED
        module_patient_check_exists(kernel, mod.name)
        kernel.modules.insert(0, mod)
        kernel.by_name[mod.name] = mod


def set_module_state(kernel: KernelState, mod: Module, state: State) -> None:
    """mod->state = state: in the Module the views read and in the struct module the module's
    own code can read."""
    with kernel.mutex:
        mod.state = state
        kernel.generation += 1
    if mod.struct_addr:
        try:
            kernel.machine.write_u32(mod.struct_addr, int(state))
        except Exception:
            pass


# -- init ---------------------------------------------------------------------------------------

def _kernel_text(kernel: KernelState, what: str) -> int | None:
    """Where the kernel's call of a module's init or exit returns (the machine's frame
    "name+0xoff"): what a backtrace through the module shows below it."""
    name, _, offset = kernel.profile.frames(what)[0].partition("+")
    addr = kernel.profile.kallsyms_by_name.get(name)
    return addr + int(offset, 16) if addr is not None else None


def do_init_module(kernel: KernelState, mod: Module, tr: LoadTrace | None = None) -> Module:
    """Run init. A fault leaves the module COMING, as the kernel leaves it when the oops
    kills insmod; a CPU stopped for running past its budget (the kernel would spin on
    forever) is unwound like an init that failed, so its memory comes back."""
    ret = 0
    if tr:
        tr.begin("do_init_module")
    if mod.init:
        ret_addr = _kernel_text(kernel, "init_call")
        try:
            ret = s32(kernel.machine.call(mod.init, ret_addr=ret_addr))
        except Exception as stop:  # a CpuStop, or a bug in a handler: never lose the module
            outcome = kernel.report_cpu_stop(mod, stop, "init")
            if outcome in ("budget", "error", "interrupted"):
                # the kernel would spin on (budget) or has no equivalent (an emulator bug):
                # unwind as for a failed init so the memory comes back
                what = f"init stopped after {kernel.machine.budget:g}s" if outcome == "budget" else "init aborted"
                kernel.log.err(f"pseudokernel: {mod.name}: {what}; module unloaded\n")
                set_module_state(kernel, mod, State.GOING)
                mod.refcnt -= 1
                free_module(kernel, mod)
                err = {"budget": ETIME, "interrupted": EINTR}.get(outcome, EIO)
                raise LoadError(err, outcome) from None
            e = LoadError(EFAULT, outcome)
            e.signal = oops.fatal_signal(stop)
            raise e from None
    if tr:
        tr.do_init_module(kernel, mod, ret)
    if ret < 0:
        set_module_state(kernel, mod, State.GOING)
        mod.refcnt -= 1
        free_module(kernel, mod)
        raise LoadError(-ret, "init")
    if ret > 0:
        kernel.log.warn(
            f"do_init_module: '{mod.name}'->init suspiciously returned {ret}, it should follow 0/-E convention\n"
            "do_init_module: loading module anyway...\n"
        )
        oops.dump_stack(kernel, mod)
    with kernel.mutex:
        set_module_state(kernel, mod, State.LIVE)
        mod.refcnt -= 1
        # what `pseudokernel layout` draws, freed
        strict = kernel.profile.enabled("STRICT_MODULE_RWX")
        mod.init_at_load = [{**r, "freed": True} for r in region_dicts(mod, strict, init=True)]
        free_module_memory(kernel, mod, init_only=True)
        kernel.generation += 1
    if tr:
        tr.begin("module_enable_ro")
    module_enable_protections(kernel, mod, after_init=True)
    if tr:
        roai = mod.mem[MemType.RO_AFTER_INIT]
        tr.end(after_init=True, ro_after_init=[roai.base, roai.base + roai.size])
        tr.begin("do_free_init")
        tr.end(regions=[{"name": r["name"], "base": r["base"], "size": r["size"]} for r in mod.init_at_load])
    return mod


# -- freeing ------------------------------------------------------------------------------------

def free_module_resources(kernel: KernelState, mod: Module, unlink: bool) -> None:
    """Release memory, per-CPU data, references and the list entry of a failed load."""
    m = kernel.machine
    with kernel.mutex:
        for target in mod.target_list:
            target.refcnt -= 1
            if mod in target.source_list:
                target.source_list.remove(mod)
        mod.target_list.clear()
        if unlink and mod in kernel.modules:
            kernel.modules.remove(mod)
            del kernel.by_name[mod.name]
        kernel.generation += 1
    if mod.percpu_size:
        m.percpu.free(mod.percpu)
        mod.percpu_size = 0
    free_module_memory(kernel, mod)
    if getattr(mod, "args_addr", 0):
        kernel.api.kfree(mod.args_addr)
        mod.args_addr = 0


def free_module(kernel: KernelState, mod: Module) -> None:
    """free_module(): sysfs gone, parameters destroyed, memory released, unlinked. Locks
    that lived in the module or were taken by it go with it (the report named them)."""
    for lock, caller in list(kernel.held_locks.items()):
        if mod.within(lock) or mod.within(caller):
            del kernel.held_locks[lock]
    destroy_params(kernel, mod)
    set_module_state(kernel, mod, State.UNFORMED)
    free_module_resources(kernel, mod, unlink=True)
