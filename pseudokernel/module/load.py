"""load_module(): the steps of kernel/module/main.c, in the kernel's order.

Each step raises on failure after printing what the kernel prints; the unwinding at the end
releases what the steps before took, in reverse, as the kernel's goto ladder does.
"""

from __future__ import annotations

from errno import EFAULT, EINVAL, ENOEXEC, ENOMEM, EPERM
from typing import TYPE_CHECKING

from unicorn import UC_PROT_EXEC, UC_PROT_READ, UC_PROT_WRITE

from .. import taint
from ..emu.machine import CpuStop
from . import LoadError
from .bugs import fortify_strlen_overflow
from .elf import (
    INIT_OFFSET_MASK,
    SHF_ALLOC,
    SHF_EXECINSTR,
    SHF_RO_AFTER_INIT,
    SHT_NOBITS,
    SHT_NOTE,
    LoadInfo,
    elf_validity_check,
)
from .kallsyms import add_kallsyms
from .layout import layout_sections, layout_symtab
from .modinfo import check_modinfo, check_module_license_and_versions, get_modinfo, load_modinfo
from .module import Module, State
from .params import destroy_params, parse_args, read_params
from .relocate import Image, apply_relocations
from .signing import module_sig_check
from .symbols import read_exports, simplify_symbols, verify_exported_symbols
from .version import check_modstruct_version, read_versions

if TYPE_CHECKING:
    from ..kernel import Kernel

MODULE_INIT_IGNORE_MODVERSIONS = 1
MODULE_INIT_IGNORE_VERMAGIC = 2
MODULE_INIT_COMPRESSED_FILE = 4
MODULE_NAME_LEN = 56
NOP5 = bytes((0x0F, 0x1F, 0x44, 0x00, 0x00))  # x86_nops[5]: what ftrace_init_nop() writes


def setup_load_info(kernel: Kernel, info: LoadInfo, flags: int) -> None:
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
    raw = info.section_bytes(info.index.mod)
    off = kernel.struct_offset("module", "name", 24)
    name = raw[off : off + MODULE_NAME_LEN]
    info.mod_name = name.split(b"\0", 1)[0].decode("utf-8", "replace")
    # all MODULE_NAME_LEN bytes used: no NUL for the fortified strlen() of add_unformed_module()
    info.mod_name_overflows = len(name) == MODULE_NAME_LEN and b"\0" not in name
    if info.name is None:
        info.name = info.mod_name
    info.index.vers = 0 if flags & MODULE_INIT_IGNORE_MODVERSIONS else info.find_sec("__versions")
    info.versions = read_versions(info)
    info.index.pcpu = info.find_sec(".data..percpu")


def blacklisted(kernel: Kernel, name: str) -> bool:
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


def module_enforce_rwx_sections(kernel: Kernel, info: LoadInfo, mod: Module) -> None:
    """strict_rwx.c: no section may be both writable and executable."""
    if not kernel.profile.enabled("STRICT_MODULE_RWX"):
        return
    for i, s in enumerate(info.sechdrs):
        if s.flags & 0x1 and s.flags & SHF_EXECINSTR:
            kernel.log.err(f"{mod.name}: section {s.name} (index {i}) has invalid WRITE|EXEC flags\n")
            raise LoadError(ENOEXEC, "W+X section")


def layout_and_allocate(kernel: Kernel, info: LoadInfo, mod: Module, flags: int) -> Image:
    check_modinfo(kernel, mod, info, info.modinfo, flags)
    module_enforce_rwx_sections(kernel, info, mod)
    info.sechdrs[info.index.pcpu].flags &= ~SHF_ALLOC
    for name in (".data..ro_after_init", "__jump_table"):
        ndx = info.find_sec(name)
        if ndx:
            info.sechdrs[ndx].flags |= SHF_RO_AFTER_INIT
    strict = kernel.profile.enabled("STRICT_MODULE_RWX")
    layout_sections(mod, info, strict, kernel.profile.enabled("MODULE_UNLOAD"))
    info.symtab_offsets = layout_symtab(mod, info, strict, kernel.profile.enabled("KALLSYMS_ALL"))
    return move_module(kernel, info, mod)


def move_module(kernel: Kernel, info: LoadInfo, mod: Module) -> Image:
    m = kernel.machine
    core = m.module_alloc(mod.core_layout.size)
    if core is None:
        raise LoadError(ENOMEM, "module_alloc")
    mod.core_layout.base = core
    image = Image()
    image.add(core, mod.core_layout.size)
    if mod.init_layout.size:
        init = m.module_alloc(mod.init_layout.size)
        if init is None:
            m.module_memfree(core)
            raise LoadError(ENOMEM, "module_alloc")
        mod.init_layout.base = init
        image.add(init, mod.init_layout.size)
    for s in info.sechdrs:
        if not s.flags & SHF_ALLOC:
            continue
        if s.entsize & INIT_OFFSET_MASK:
            dest = mod.init_layout.base + (s.entsize & ~INIT_OFFSET_MASK)
        else:
            dest = mod.core_layout.base + s.entsize
        if s.type != SHT_NOBITS and s.size:
            image.write(dest, info.data[s.offset : s.offset + s.size])
        s.addr = dest
    mod.struct_addr = info.sechdrs[info.index.mod].addr
    return image


def percpu_modalloc(kernel: Kernel, mod: Module, info: LoadInfo) -> None:
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


def find_module_sections(kernel: Kernel, mod: Module, info: LoadInfo) -> None:
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


def setup_modinfo(mod: Module, info: LoadInfo) -> None:
    mod.modinfo = info.modinfo
    mod.version = get_modinfo(info.modinfo, "version")
    mod.srcversion = get_modinfo(info.modinfo, "srcversion")


def ftrace_module_init(kernel: Kernel, info: LoadInfo, image: Image) -> None:
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


def module_enable_protections(kernel: Kernel, mod: Module, after_init: bool) -> None:
    """module_enable_ro()/nx()/x(): text RX, rodata RO, ro_after_init RO once init is done."""
    if not kernel.profile.enabled("STRICT_MODULE_RWX"):
        return
    m = kernel.machine
    for lay, is_core in ((mod.core_layout, True), (mod.init_layout, False)):
        if not lay.size:
            continue
        m.protect(lay.base, lay.text_size, UC_PROT_READ | UC_PROT_EXEC)
        m.protect(lay.base + lay.text_size, lay.ro_size - lay.text_size, UC_PROT_READ)
        ro_end = lay.ro_after_init_size if (after_init and is_core) else lay.ro_size
        m.protect(lay.base + lay.ro_size, ro_end - lay.ro_size, UC_PROT_READ)
        m.protect(lay.base + ro_end, lay.size - ro_end, UC_PROT_READ | UC_PROT_WRITE)


def load_module(kernel: Kernel, data: bytes, args: str = "", flags: int = 0, filename: str = "") -> Module:
    """finit_module(2) after the file has been read: returns the LIVE module or raises."""
    info = LoadInfo(data)
    # kernel_read_file() vmalloc()ed the file: the address range the temporary copy has
    info.temp_base = kernel.machine.vmalloc_area.alloc(len(data)) or 0
    try:
        mod = _load_module(kernel, info, args, flags, filename)
    finally:
        if info.temp_base:
            kernel.machine.vmalloc_area.free(info.temp_base)  # free_copy()
    return kernel.do_init_module(mod)


def _load_module(kernel: Kernel, info: LoadInfo, args: str, flags: int, filename: str) -> Module:
    log = kernel.log
    module_sig_check(kernel, info, flags)
    elf_validity_check(info, log)
    setup_load_info(kernel, info, flags)
    if blacklisted(kernel, info.name):
        log.err(f"Module {info.name} is blacklisted\n")
        raise LoadError(EPERM, "blacklisted")
    rewrite_section_headers(info)
    mod = Module(name=info.mod_name, filename=filename)
    check_modstruct_version(kernel, info, mod)
    image = layout_and_allocate(kernel, info, mod, flags)
    mod.name = info.mod_name
    stage = "allocated"
    try:
        if info.mod_name_overflows:
            fortify_strlen_overflow(kernel)
            raise LoadError(EFAULT, "oops")
        kernel.add_unformed_module(mod)
        stage = "listed"
        mod.sig_ok = info.sig_ok
        if kernel.profile.enabled("MODULE_SIG") and not mod.sig_ok:
            log.printk_once(
                "module-sig",
                f"\x015{mod.name}: module verification failed: signature and/or required key missing - tainting kernel\n",
            )
            kernel.add_taint_module(mod, taint.UNSIGNED_MODULE)
        percpu_modalloc(kernel, mod, info)
        mod.refcnt = 2  # module_unload_init(): MODULE_REF_BASE, plus one held during init
        find_module_sections(kernel, mod, info)
        check_module_license_and_versions(kernel, mod)
        setup_modinfo(mod, info)
        values = simplify_symbols(kernel, mod, info)
        apply_relocations(kernel, mod, info, image, values)
        post_relocation(kernel, mod, info, image, values)
        ftrace_module_init(kernel, info, image)
        kernel.write_module_image(mod, image)
        mod.args = args
        complete_formation(kernel, mod, info)
        stage = "formed"
        mod.params = read_params(kernel, mod, *mod.param_range) if mod.param_range[1] else []
        after_dashes = parse_args(kernel, mod, args)
        if after_dashes is not None:
            log.warn(f"{mod.name}: parameters '{after_dashes}' after `--' ignored\n")
        kernel.mod_sysfs_setup(mod)
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


def post_relocation(kernel: Kernel, mod: Module, info: LoadInfo, image: Image, values: list[int]) -> None:
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


def _section_range(info: LoadInfo, name: str) -> tuple[int, int]:
    i = info.find_sec(name)
    return (info.sechdrs[i].addr, info.sechdrs[i].size) if i else (0, 0)


def _init_exit(kernel: Kernel, info: LoadInfo, image: Image) -> tuple[int, int]:
    """mod->init and mod->exit, read from the relocated struct module."""
    base = info.sechdrs[info.index.mod].addr
    size = info.sechdrs[info.index.mod].size
    init_off = kernel.struct_offset("module", "init", None)
    exit_off = kernel.struct_offset("module", "exit", None)
    if init_off is None or exit_off is None or max(init_off, exit_off) + 8 > size:
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


def complete_formation(kernel: Kernel, mod: Module, info: LoadInfo) -> None:
    with kernel.mutex:
        mod.syms = read_exports(kernel, mod, info)
        verify_exported_symbols(kernel, mod)
        module_enable_protections(kernel, mod, after_init=False)
        kernel.set_state(mod, State.COMING)


def _unwind(kernel: Kernel, mod: Module, stage: str) -> None:
    """The error ladder at the end of load_module()."""
    if stage == "formed":
        kernel.set_state(mod, State.GOING)
        destroy_params(kernel, mod)
    kernel.free_module_resources(mod, unlink=stage in ("listed", "formed"))
