"""The CPU and the machine as the kernel describes them to modules: boot_cpu_data (filled like
the reference machine's QEMU qemu64 CPU), x86_match_cpu(), pv_ops with the native functions of
arch/x86/kernel/paravirt.c, MSR access, port I/O with nothing behind the ports, the per-CPU
variables of the running task (current_task, __preempt_count, cpu_number, this_cpu_off), the
memory layout variables (page_offset_base, vmemmap_base, ...) and the CPU masks of a one-CPU
machine.

The CPUID answers are unicorn's own with UC_CPU_X86_QEMU64, so an instruction CPUID in a
module and boot_cpu_data tell the same story; x86_capability is filled as get_cpu_cap() and
init_amd() fill it (arch/x86/kernel/cpu/common.c, amd.c).
"""

from __future__ import annotations

import struct
from errno import EIO

from unicorn import UC_HOOK_INSN
from unicorn import x86_const as X

from . import KernelApi, kapi, kboot, kdata

X86_VENDOR_AMD = 2
MODEL_ID = b"QEMU Virtual CPU version 2.5+"
# x86_capability word numbers (arch/x86/include/asm/cpufeatures.h)
CPUID_1_EDX, CPUID_8000_0001_EDX, CPUID_LNX_1, CPUID_1_ECX, CPUID_8000_0001_ECX = 0, 1, 3, 4, 6
CPUID_LNX_2, CPUID_7_0_EBX, CPUID_D_1_EAX, CPUID_7_ECX, CPUID_7_EDX = 8, 9, 10, 16, 18
CPUID_8000_0008_EBX, CPUID_8000_000A_EDX, CPUID_6_EAX, CPUID_8000_0007_EBX = 13, 15, 14, 17
NCAPINTS = 22
# synthetic bits the kernel sets on this CPU: k8, rep_good, nopl, always, cpuid (word 3),
# vmmcall (word 8); bugs: fxsave_leak, sysret_ss_attrs, null_seg, spectre_v1/v2,
# spec_store_bypass, swapgs, retbleed? (not for family 0xf), srso? (no)
SYNTHETIC = ((CPUID_LNX_1, (4, 16, 20, 21, 25)), (CPUID_LNX_2, (15,)))
BUGS = ((NCAPINTS, (6, 8, 10, 15, 16, 17, 21)),)
MSR_OK = {0x10, 0x1B, 0xC0000080, 0xC0000081, 0xC0000082, 0xC0000083, 0xC0000084, 0xC0000100,
          0xC0000101, 0xC0000102, 0x174, 0x175, 0x176, 0x277, 0x2FF, 0xFE, 0x179, 0x17A, 0x17B,
          0x400, 0x401, 0x402, 0x403, 0xC0010015}
HZ = 250


class CpuModel:
    """CPUID leaves as the emulated CPU answers them, and the kernel's view built from them."""

    def __init__(self, k: KernelApi) -> None:
        self.leaves: dict[tuple[int, int], tuple[int, int, int, int]] = {}
        m = k.m
        for leaf in list(range(0, 0xE)) + list(range(0x80000000, 0x8000000B)):
            for sub in (0, 1) if leaf in (4, 7, 0xD) else (0,):
                self.leaves[(leaf, sub)] = _cpuid(m, leaf, sub)
        self.level = self.leaves[(0, 0)][0]
        self.xlevel = self.leaves[(0x80000000, 0)][0]
        self.caps = [0] * 24
        c = self.caps
        eax, ebx, ecx, edx = self.cpuid(1)
        c[CPUID_1_EDX], c[CPUID_1_ECX] = edx, ecx
        self.family = (eax >> 8) & 0xF
        self.model = (eax >> 4) & 0xF
        if self.family == 0xF:
            self.family += (eax >> 20) & 0xFF
        if self.family >= 6:
            self.model += ((eax >> 16) & 0xF) << 4
        self.stepping = eax & 0xF
        if self.level >= 7:
            _, ebx7, ecx7, edx7 = self.cpuid(7)
            c[CPUID_7_0_EBX], c[CPUID_7_ECX], c[CPUID_7_EDX] = ebx7, ecx7, edx7
        if self.level >= 0xD:
            c[CPUID_D_1_EAX] = self.cpuid(0xD, 1)[0]
        if self.level >= 6:
            c[CPUID_6_EAX] = self.cpuid(6)[0]
        if self.xlevel >= 0x80000001:
            _, _, ecx8, edx8 = self.cpuid(0x80000001)
            c[CPUID_8000_0001_EDX], c[CPUID_8000_0001_ECX] = edx8, ecx8
        if self.xlevel >= 0x80000007:
            c[CPUID_8000_0007_EBX] = self.cpuid(0x80000007)[1]
        if self.xlevel >= 0x80000008:
            c[CPUID_8000_0008_EBX] = self.cpuid(0x80000008)[1]
            self.phys_bits = self.cpuid(0x80000008)[0] & 0xFF
            self.virt_bits = (self.cpuid(0x80000008)[0] >> 8) & 0xFF
        else:
            self.phys_bits, self.virt_bits = 40, 48
        if self.xlevel >= 0x8000000A:
            c[CPUID_8000_000A_EDX] = self.cpuid(0x8000000A)[3]
        for word, bits in SYNTHETIC + BUGS:
            for b in bits:
                c[word] |= 1 << b
        v = self.leaves[(0, 0)]
        self.vendor_id = struct.pack("<III", v[1], v[3], v[2])

    def cpuid(self, leaf: int, sub: int = 0) -> tuple[int, int, int, int]:
        got = self.leaves.get((leaf, sub)) or self.leaves.get((leaf, 0))
        return got if got is not None else (0, 0, 0, 0)

    def has(self, bit: int) -> bool:
        return bool(self.caps[bit >> 5] >> (bit & 31) & 1) if bit >> 5 < len(self.caps) else False


def _cpuid(m, leaf: int, sub: int) -> tuple[int, int, int, int]:
    """Run CPUID on the emulated CPU (before any module code runs)."""
    uc = m.uc
    addr = m.scratch_code(b"\x0f\xa2")
    uc.reg_write(X.UC_X86_REG_RAX, leaf)
    uc.reg_write(X.UC_X86_REG_RCX, sub)
    uc.emu_start(addr, addr + 2)
    return tuple(uc.reg_read(r) & 0xFFFFFFFF for r in (X.UC_X86_REG_RAX, X.UC_X86_REG_RBX, X.UC_X86_REG_RCX, X.UC_X86_REG_RDX))


def cpu(k: KernelApi) -> CpuModel:
    c = k.state.get("cpu")
    if c is None:
        c = k.state["cpu"] = CpuModel(k)
    return c


def _fill(k: KernelApi, addr: int, struct_name: str, values: dict[str, int | bytes]) -> None:
    s = k.btf_struct(struct_name)
    if s is None:
        return
    for name, v in values.items():
        mem = s.members.get(name)
        if mem is None:
            continue
        if isinstance(v, bytes):
            k.m.write(addr + mem.offset, v[: mem.type.size])
        elif mem.bit_size:
            cur = k.m.read_u32(addr + mem.offset)
            mask = ((1 << mem.bit_size) - 1) << mem.bit_offset
            k.m.write_u32(addr + mem.offset, (cur & ~mask) | ((v << mem.bit_offset) & mask))
        else:
            k.m.write(addr + mem.offset, (v & ((1 << (8 * mem.type.size)) - 1)).to_bytes(mem.type.size, "little"))


@kdata("boot_cpu_data", size=288)
def boot_cpu_data(k: KernelApi, addr: int) -> None:
    c = cpu(k)
    _fill(k, addr, "cpuinfo_x86", {
        "x86": c.family, "x86_vendor": X86_VENDOR_AMD, "x86_model": c.model, "x86_stepping": c.stepping,
        "x86_virt_bits": c.virt_bits, "x86_phys_bits": c.phys_bits, "extended_cpuid_level": c.xlevel,
        "cpuid_level": c.level, "x86_vendor_id": c.vendor_id + b"\0", "x86_model_id": MODEL_ID + b"\0",
        "x86_cache_size": 512, "x86_cache_alignment": 64, "x86_cache_max_rmid": -1,
        "x86_cache_occ_scale": -1, "loops_per_jiffy": 4 * 1000 * 1000 * 1000 // HZ // 2,
        "x86_max_cores": 1, "x86_clflush_size": 64, "booted_cores": 1, "microcode": 0x1000065,
        "x86_cache_bits": c.phys_bits, "initialized": 1, "logical_proc_id": 0,
    })
    s = k.btf_struct("cpuinfo_x86")
    off = s.members["x86_capability"].offset if s else 40
    k.m.write(addr + off, struct.pack("<24I", *c.caps))


@kapi("x86_match_cpu")
def x86_match_cpu(k: KernelApi, match: int) -> int:
    """arch/x86/kernel/cpu/match.c: the first entry that fits boot_cpu_data, or NULL."""
    c = cpu(k)
    s = k.btf_struct("x86_cpu_id")
    size = s.size if s else 24
    o = {n: s.members[n].offset for n in ("vendor", "family", "model", "steppings", "feature", "flags")} if s else \
        {"vendor": 0, "family": 2, "model": 4, "steppings": 6, "feature": 8, "flags": 10}
    m = match
    for _ in range(4096):
        raw = k.m.read(m, size)
        f = {n: int.from_bytes(raw[o[n]:o[n] + 2], "little") for n in o}
        if not f["flags"] & 1:
            return 0
        if ((f["vendor"] == 0xFFFF or f["vendor"] == X86_VENDOR_AMD)
                and (f["family"] == 0 or f["family"] == c.family)
                and (f["model"] == 0 or f["model"] == c.model)
                and (f["steppings"] == 0 or f["steppings"] >> c.stepping & 1)
                and (f["feature"] == 0 or c.has(f["feature"]))):
            return m
        m += size
    return 0


@kapi("x86_cpu_has_min_microcode_rev")
def x86_cpu_has_min_microcode_rev(k: KernelApi, table: int) -> int:
    return 0


XFEATURE_NAMES = ("x87 floating point registers", "SSE registers", "AVX registers", "MPX bounds registers",
                  "MPX CSR", "AVX-512 opmask", "AVX-512 Hi256", "AVX-512 ZMM_Hi256")


@kapi("cpu_has_xfeatures")
def cpu_has_xfeatures(k: KernelApi, xfeatures_needed: int, feature_name: int) -> int:
    """arch/x86/kernel/fpu/xstate.c: qemu64 has no XSAVE, so no xfeature is enabled; the name
    of the first one asked for is handed back, as the kernel does."""
    if feature_name:
        first = (xfeatures_needed & -xfeatures_needed).bit_length() - 1
        name = XFEATURE_NAMES[first] if 0 <= first < len(XFEATURE_NAMES) else "unknown xstate feature"
        k.m.write_u64(feature_name, k.static_string(name))
    return 0


# -- pv_ops: the native functions (arch/x86/kernel/paravirt.c) ----------------------------------

PV_OPS = {
    "cpu": {"io_delay": "native_io_delay", "cpuid": "native_cpuid", "get_debugreg": "pv_native_get_debugreg",
            "set_debugreg": "pv_native_set_debugreg", "read_cr0": "native_read_cr0", "write_cr0": "native_write_cr0",
            "write_cr4": "native_write_cr4", "wbinvd": "native_wbinvd", "read_msr": "native_read_msr",
            "write_msr": "native_write_msr", "read_msr_safe": "native_read_msr_safe",
            "write_msr_safe": "native_write_msr_safe", "read_pmc": "native_read_pmc",
            "load_tr_desc": "native_load_tr_desc", "set_ldt": "native_set_ldt", "load_gdt": "native_load_gdt",
            "load_idt": "native_load_idt", "store_tr": "native_store_tr", "load_tls": "native_load_tls",
            "load_gs_index": "native_load_gs_index", "write_ldt_entry": "native_write_ldt_entry",
            "write_gdt_entry": "native_write_gdt_entry", "write_idt_entry": "native_write_idt_entry",
            "alloc_ldt": "paravirt_nop", "free_ldt": "paravirt_nop", "load_sp0": "native_load_sp0",
            "invalidate_io_bitmap": "native_tss_invalidate_io_bitmap",
            "update_io_bitmap": "native_tss_update_io_bitmap", "start_context_switch": "paravirt_nop",
            "end_context_switch": "paravirt_nop"},
    "irq": {"save_fl": "native_save_fl", "irq_disable": "pv_native_irq_disable",
            "irq_enable": "pv_native_irq_enable", "safe_halt": "native_safe_halt", "halt": "native_halt"},
    "mmu": {"flush_tlb_user": "native_flush_tlb_local", "flush_tlb_kernel": "native_flush_tlb_global",
            "flush_tlb_one_user": "native_flush_tlb_one_user", "flush_tlb_multi": "native_flush_tlb_multi",
            "tlb_remove_table": "tlb_remove_page", "exit_mmap": "paravirt_nop",
            "notify_page_enc_status_changed": "paravirt_nop", "read_cr2": "pv_native_read_cr2",
            "write_cr2": "pv_native_write_cr2", "read_cr3": "__native_read_cr3", "write_cr3": "native_write_cr3",
            "pgd_alloc": "__paravirt_pgd_alloc", "pgd_free": "paravirt_nop", "alloc_pte": "paravirt_nop",
            "alloc_pmd": "paravirt_nop", "alloc_pud": "paravirt_nop", "alloc_p4d": "paravirt_nop",
            "release_pte": "paravirt_nop", "release_pmd": "paravirt_nop", "release_pud": "paravirt_nop",
            "release_p4d": "paravirt_nop", "set_pte": "native_set_pte", "set_pmd": "native_set_pmd",
            "ptep_modify_prot_start": "__ptep_modify_prot_start",
            "ptep_modify_prot_commit": "__ptep_modify_prot_commit", "set_pud": "native_set_pud",
            "pmd_val": "_paravirt_ident_64", "make_pmd": "_paravirt_ident_64", "pud_val": "_paravirt_ident_64",
            "make_pud": "_paravirt_ident_64", "set_p4d": "native_set_p4d", "p4d_val": "_paravirt_ident_64",
            "make_p4d": "_paravirt_ident_64", "set_pgd": "native_set_pgd", "pte_val": "_paravirt_ident_64",
            "pgd_val": "_paravirt_ident_64", "make_pte": "_paravirt_ident_64", "make_pgd": "_paravirt_ident_64",
            "dup_mmap": "paravirt_nop", "activate_mm": "paravirt_nop", "set_fixmap": "native_set_fixmap"},
    "lock": {"queued_spin_lock_slowpath": "native_queued_spin_lock_slowpath",
             "queued_spin_unlock": "__native_queued_spin_unlock", "wait": "paravirt_nop", "kick": "paravirt_nop",
             "vcpu_is_preempted": "__native_vcpu_is_preempted"},
}
LAZY = {"enter": "paravirt_nop", "leave": "paravirt_nop", "flush": "paravirt_nop"}


@kdata("pv_ops", size=672)
def pv_ops(k: KernelApi, addr: int) -> None:
    top = k.btf_struct("paravirt_patch_template")
    if top is None:
        return
    for group, table in PV_OPS.items():
        g = top.members.get(group)
        sub = k.btf_struct(g.type.name) if g else None
        if sub is None:
            continue
        for member, fn in table.items():
            if member in sub.members:
                k.m.write_u64(addr + g.offset + sub.members[member].offset, k.function(fn))
        if group == "mmu" and "lazy_mode" in sub.members:
            lazy = k.btf_struct("pv_lazy_ops")
            base = addr + g.offset + sub.members["lazy_mode"].offset
            for member, fn in LAZY.items():
                if lazy and member in lazy.members:
                    k.m.write_u64(base + lazy.members[member].offset, k.function(fn))


X86_EFLAGS_IF = 0x200


@kapi("native_save_fl")
def native_save_fl(k: KernelApi) -> int:
    return k.state.get("eflags", 0x246)


@kapi("pv_native_irq_disable", "native_irq_disable")
def pv_native_irq_disable(k: KernelApi) -> None:
    k.state["eflags"] = k.state.get("eflags", 0x246) & ~X86_EFLAGS_IF


@kapi("pv_native_irq_enable", "native_irq_enable")
def pv_native_irq_enable(k: KernelApi) -> None:
    k.state["eflags"] = k.state.get("eflags", 0x246) | X86_EFLAGS_IF


@kapi("paravirt_nop", "native_io_delay", "native_wbinvd", "native_safe_halt", "native_halt",
      "native_flush_tlb_local", "native_flush_tlb_global", "native_flush_tlb_one_user", "native_write_cr0",
      "native_write_cr4", "native_write_cr3", "pv_native_write_cr2", "native_load_sp0")
def paravirt_nop(k: KernelApi) -> None:
    return None


@kapi("_paravirt_ident_64")
def _paravirt_ident_64(k: KernelApi, x: int) -> int:
    return x


@kapi("native_read_cr0")
def native_read_cr0(k: KernelApi) -> int:
    return 0x80050033


@kapi("pv_native_read_cr2")
def pv_native_read_cr2(k: KernelApi) -> int:
    return k.kernel.cr2


@kapi("__native_read_cr3")
def __native_read_cr3(k: KernelApi) -> int:
    return 0x27C2000


@kapi("native_cpuid")
def native_cpuid(k: KernelApi, eax: int, ebx: int, ecx: int, edx: int) -> None:
    regs = cpu(k).cpuid(k.m.read_u32(eax), k.m.read_u32(ecx))
    for p, v in zip((eax, ebx, ecx, edx), regs):
        k.m.write_u32(p, v)


def msr_exists(msr: int) -> bool:
    return msr in MSR_OK


@kapi("native_read_msr")
def native_read_msr(k: KernelApi, msr: int) -> int:
    return 0


@kapi("native_read_msr_safe")
def native_read_msr_safe(k: KernelApi, msr: int, err: int) -> int:
    """A #GP for an MSR the CPU does not have, as rdmsr on qemu64 under TCG gives."""
    ok = msr_exists(msr & 0xFFFFFFFF)
    if err:
        k.m.write_u32(err, 0 if ok else -EIO)
    return 0


@kapi("native_write_msr", "native_write_msr_safe")
def native_write_msr_safe(k: KernelApi, msr: int, low: int, high: int) -> int:
    return 0 if msr_exists(msr & 0xFFFFFFFF) else -EIO & 0xFFFFFFFF


@kapi("rdmsr_safe_on_cpu", "rdmsrl_safe_on_cpu", "wrmsr_safe_on_cpu", "wrmsrl_safe_on_cpu")
def rdmsr_safe_on_cpu(k: KernelApi, cpu_: int, msr: int) -> int:
    return 0 if msr_exists(msr & 0xFFFFFFFF) else -EIO & 0xFFFFFFFF


@kapi("rdmsr_on_cpu", "rdmsrl_on_cpu")
def rdmsr_on_cpu(k: KernelApi, cpu_: int, msr: int, lo: int, hi: int = 0) -> int:
    return 0 if msr_exists(msr & 0xFFFFFFFF) else -EIO & 0xFFFFFFFF


# -- the per-CPU variables of the running task -----------------------------------------------------

def percpu_var(k: KernelApi, name: str) -> int | None:
    sym = k.profile.exports.get(name)
    if sym is None or sym.addr is None:
        return None
    return k.kernel.percpu_address(sym.addr)


@kdata("current_task")
def current_task(k: KernelApi, addr: int) -> None:
    k.m.write_u64(addr, current(k))


@kdata("__preempt_count")
def __preempt_count(k: KernelApi, addr: int) -> None:
    k.m.write_u32(addr, 0x80000000)  # PREEMPT_ENABLED: nothing held, no resched pending


@kdata("cpu_number")
def cpu_number(k: KernelApi, addr: int) -> None:
    k.m.write_u32(addr, 0)


@kdata("pcpu_hot", size=64)
@kdata("const_pcpu_hot", size=64)
def pcpu_hot(k: KernelApi, addr: int) -> None:
    """6.2+ (6.12): current_task, __preempt_count and cpu_number are members of one per-CPU
    struct pcpu_hot (const_pcpu_hot is the same address, read with this_cpu_read_stable())."""
    hot = k.S.pcpu_hot
    k.m.write_u64(addr + hot.current_task, current(k))
    k.m.write_u32(addr + hot.preempt_count, 0x80000000)
    k.m.write_u32(addr + hot.cpu_number, 0)


@kdata("this_cpu_off")
def this_cpu_off(k: KernelApi, addr: int) -> None:
    k.m.write_u64(addr, k.kernel.percpu_address(0))


@kdata("__per_cpu_offset", size=8 * 8192)
def __per_cpu_offset(k: KernelApi, addr: int) -> None:
    k.m.write_u64(addr, k.kernel.percpu_address(0))


def set_current_task(k: KernelApi, task: int) -> None:
    """The per-CPU pointer module code reads as current (%gs:current_task, 6.12's pcpu_hot):
    switched with the task on the CPU (sched.py's switch_to)."""
    addrs = k.state.get("current_task_addrs")
    if addrs is None:
        hot = percpu_var(k, "pcpu_hot")
        addrs = [a for a in (percpu_var(k, "current_task"),
                             hot + k.S.pcpu_hot.current_task if hot is not None else None) if a is not None]
        k.state["current_task_addrs"] = addrs
    for addr in addrs:
        k.m.write_u64(addr, task)


def preempt_count(k: KernelApi) -> int:
    """preempt_count() (without the inverted need-resched bit)."""
    addr = _preempt_count_addr(k)
    return k.m.read_u32(addr) & 0x7FFFFFFF if addr is not None else 0


def set_preempt_count(k: KernelApi, count: int) -> None:
    addr = _preempt_count_addr(k)
    if addr is not None:
        k.m.write_u32(addr, (k.m.read_u32(addr) & 0x80000000) | (count & 0x7FFFFFFF))


def _preempt_count_addr(k: KernelApi) -> int | None:
    """%gs:__preempt_count (6.12: a member of pcpu_hot)."""
    if "preempt_count_addr" not in k.state:
        addr = percpu_var(k, "__preempt_count")
        hot = percpu_var(k, "pcpu_hot")
        if addr is None and hot is not None:
            addr = hot + k.S.pcpu_hot.preempt_count
        k.state["preempt_count_addr"] = addr
    return k.state["preempt_count_addr"]


def current(k: KernelApi) -> int:
    """The task_struct of the running task: a kernel thread's own, or the one the processes
    making system calls share (insmod, rmmod, cat: its pid, comm and credentials are the
    caller's)."""
    s = k.state.get("tasks")
    if s is not None and s.running is not None:
        return s.running.task
    task = k.state.get("current")
    if task is None:
        s = k.btf_struct("task_struct")
        size = s.size if s else 9792
        task = k.m.kmalloc(size, "", 0, kind="task")
        k.state["current"] = task
        cred_s = k.btf_struct("cred")
        cred = k.m.kmalloc(cred_s.size if cred_s else 176, "", 0, kind="cred")
        k.state["current_cred"] = cred
        full = (1 << 41) - 1  # CAP_LAST_CAP 40: root has them all
        _fill(k, cred, "cred", {"usage": 4, "user_ns": k.data_symbol("init_user_ns")})
        if cred_s:
            for cap in ("cap_permitted", "cap_effective", "cap_bset"):
                if cap in cred_s.members:
                    k.m.write_u64(cred + cred_s.members[cap].offset, full)
        mm_s = k.btf_struct("mm_struct")
        mm = k.m.kmalloc(mm_s.size if mm_s else 1024, "", 0, kind="mm")
        sig_s = k.btf_struct("signal_struct")
        sig = k.m.kmalloc(sig_s.size if sig_s else 1024, "", 0, kind="signal")
        _fill(k, task, "task_struct", {
            "usage": 2, "stack": k.m.stack_base, "cred": cred, "real_cred": cred, "mm": mm, "active_mm": mm,
            "group_leader": task, "real_parent": task, "parent": task, "signal": sig, "prio": 120,
            "static_prio": 120, "normal_prio": 120, "nr_cpus_allowed": 1,
        })
        if "nsproxy" in (s.members if s else {}):
            k.m.write_u64(task + s.members["nsproxy"].offset, init_nsproxy(k))
        k.state["task_id"] = None
    kernel = k.kernel
    ident = (kernel.current_pid, kernel.current_comm, kernel.current_uid, kernel.current_gid)
    if k.state.get("task_id") != ident:
        k.state["task_id"] = ident
        k.m.write_u64(task, k.m.read_u64(task) & ~(1 << 2))  # a new task: no TIF_SIGPENDING
        _fill(k, task, "task_struct", {"pid": ident[0], "tgid": ident[0], "comm": ident[1].encode()[:15].ljust(16, b"\0")})
        cred = k.state["current_cred"]
        for name in ("uid", "suid", "euid", "fsuid"):
            k.m.write_u32(cred + k.S.cred[name], ident[2])
        for name in ("gid", "sgid", "egid", "fsgid"):
            k.m.write_u32(cred + k.S.cred[name], ident[3])
    return task


def init_nsproxy(k: KernelApi) -> int:
    p = k.state.get("init_nsproxy")
    if p is None:
        s = k.btf_struct("nsproxy")
        p = k.m.kmalloc(s.size if s else 64, "", 0, kind="nsproxy")
        k.state["init_nsproxy"] = p
        net = k.data_symbol("init_net")
        _fill(k, p, "nsproxy", {"count": 1, "net_ns": net})
    return p


@kboot
def setup_current(k: KernelApi) -> None:
    """The per-CPU area of CPU 0 holds the running task from the start (module code reads
    %gs:current_task even when the module does not import the symbol by name)."""
    addr = percpu_var(k, "current_task")
    if addr is not None:
        k.m.write_u64(addr, current(k))
    addr = percpu_var(k, "__preempt_count")
    if addr is not None:
        k.m.write_u32(addr, 0x80000000)
    addr = percpu_var(k, "pcpu_hot")
    if addr is not None:
        pcpu_hot(k, addr)
    addr = percpu_var(k, "this_cpu_off")
    if addr is not None:
        k.m.write_u64(addr, k.kernel.percpu_address(0))
    k.enter_hooks.append(current)
    k.m.hook_all(UC_HOOK_INSN, _on_in, k, 1, 0, X.UC_X86_INS_IN)
    k.m.hook_all(UC_HOOK_INSN, _on_out, k, 1, 0, X.UC_X86_INS_OUT)


def _on_in(uc, port: int, size: int, k: KernelApi) -> int:
    """Nothing answers on the ISA bus of the emulated machine: a floating bus reads all ones."""
    return (1 << (8 * size)) - 1


def _on_out(uc, port: int, size: int, value: int, k: KernelApi) -> None:
    return None


# -- the memory layout and the CPU masks ----------------------------------------------------------

def _u64(value: int):
    def init(k: KernelApi, addr: int) -> None:
        k.m.write_u64(addr, value)

    return init


def _int(value: int, size: int):
    def init(k: KernelApi, addr: int) -> None:
        k.m.write(addr, (value & ((1 << (8 * size)) - 1)).to_bytes(size, "little"))

    return init


for _name, _value, _size in (
    ("page_offset_base", 0xFFFF888000000000, 8), ("vmemmap_base", 0xFFFFEA0000000000, 8),
    ("vmalloc_base", 0xFFFFC90000000000, 8), ("phys_base", 0, 8), ("__default_kernel_pte_mask", -1, 8),
    ("__supported_pte_mask", 0x8000000000000FFF, 8), ("sme_me_mask", 0, 8), ("max_pfn", 0x40000, 8),
    ("totalram_pages", 0x3C000, 8), ("high_memory", 0xFFFF888040000000, 8),
    ("__cpu_online_mask", 1, 8), ("__cpu_possible_mask", 1, 8), ("__cpu_present_mask", 1, 8),
    ("__cpu_active_mask", 1, 8), ("cpu_all_bits", 1, 8), ("nr_cpu_ids", 1, 4), ("__num_online_cpus", 1, 4),
    ("tsc_khz", 2000000, 4), ("cpu_khz", 2000000, 4), ("loops_per_jiffy", 4000000, 8),
    ("system_state", 3, 4), ("nr_node_ids", 1, 4), ("nr_online_nodes", 1, 4),
    # the topology of one package, one die, one core, one thread (topology_max_packages() ...):
    # 6.1's names, then 6.12's (arch/x86/kernel/cpu/topology_common.c)
    ("__max_logical_packages", 1, 4), ("__max_die_per_package", 1, 4),
    ("__max_dies_per_package", 1, 4), ("__max_threads_per_core", 1, 4),
    ("__num_cores_per_package", 1, 4), ("__num_threads_per_package", 1, 4),
):
    kdata(_name)(_int(_value, _size))


@kdata("node_states", size=8 * 8)
def node_states(k: KernelApi, addr: int) -> None:
    for i in range(6):
        k.m.write_u64(addr + 8 * i, 1)


@kdata("cpu_sibling_map")
def cpu_sibling_map(k: KernelApi, addr: int) -> None:
    return None
