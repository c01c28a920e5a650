"""`pseudokernel trace`'s text: a load's trace (module/trace.py's steps, as the daemon sends
them) as lines a terminal shows, one block per step under the kernel function's name; an
unload's (`rmmod --trace`) the same way.

A pure function of the steps, so a test or a program gets the same text from the JSON.
"""

from __future__ import annotations

from collections.abc import Callable

WIDTH = 22  # the step names' column


def _hex(v: int | None) -> str:
    return "-" if v is None else f"{v:#x}"


def _sig(s: dict) -> list[str]:
    enforce = "sig_enforce on" if s.get("enforce") else "sig_enforce off: loads, taints"
    return [f"{s.get('verdict')} ({enforce})"]


def _elf(s: dict) -> list[str]:
    return [f"{s.get('bytes')} bytes, {s.get('sections')} sections: ELF header and sections valid"]


def _file(s: dict) -> list[str]:
    return [f"{s.get('bytes')} bytes" + (f" from {s['file']}" if s.get("file") else "")]


def _setup(s: dict) -> list[str]:
    return [f"module '{s.get('name')}', {len(s.get('modinfo') or [])} .modinfo strings, "
            f"{s.get('versions')} __versions entries"]


def _modinfo(s: dict) -> list[str]:
    same = "same" if s.get("vermagic") == s.get("kernel_vermagic") else "differ"
    return [f"vermagic '{s.get('vermagic')}'", f"kernel   '{s.get('kernel_vermagic')}': {same}",
            f"license {s.get('license')}, {'in-tree' if s.get('intree') else 'out-of-tree'}"]


def _region(r: dict) -> str:
    bands = ", ".join(f"{b['type']} {b['end'] - b['start']} {b['perm']}" for b in r["bands"])
    return f"{r['name']} {_hex(r['base'])} size {r['size']} ({bands})"


def _layout(s: dict) -> list[str]:
    out = [_region(r) for r in s["regions"]]
    for sec in s.get("sections", []):
        out.append(f"  {_hex(sec['addr'])} {sec['size']:>7}  {sec['region']:<9} {sec['perm']:<13} {sec['name']}")
    return out


def _symbols(s: dict) -> list[str]:
    syms = s.get("symbols", [])
    out = [f"{len(syms)} undefined symbols resolved"]
    out += [f"  {sym['name']:<28} {_hex(sym['value'])}  {sym['from']}" for sym in syms]
    return out


def _relocations(s: dict) -> list[str]:
    types = ", ".join(f"{k} {v}" for k, v in sorted(s.get("types", {}).items()))
    out = [f"{s.get('total', 0)} relocations: {types or '-'}"]
    for r in s.get("first", []):
        out.append(f"  {r['type']:<15} {r['where']:<22} {r['symbol']}{r['addend']:+d} = {_hex(r['value'])}")
    return out


def _formation(s: dict) -> list[str]:
    return [f"state {s.get('state')}; exports: {' '.join(s.get('exports') or []) or '-'}", s.get("protections", "")]


def _args(s: dict) -> list[str]:
    given = ", ".join(p if v is None else f"{p}={v}" for p, v in s.get("given", [])) or "none"
    return [f"args '{s.get('args')}': {given}", f"the module's parameters: {' '.join(s.get('params') or []) or '-'}"]


def _sysfs(s: dict) -> list[str]:
    return [f"{s.get('path')}: {s.get('sections')} sections, parameters: {' '.join(s.get('parameters') or []) or '-'}"]


def _init(s: dict) -> list[str]:
    if "ret" not in s:
        return []
    return [f"init {s.get('symbol') or _hex(s.get('init'))} ({_hex(s.get('init'))}) returned {s['ret']}"]


def _enable_ro(s: dict) -> list[str]:
    lo, hi = s.get("ro_after_init", [0, 0])
    return [f"ro_after_init {_hex(lo)}-{_hex(hi)} read-only" if hi > lo else "no ro_after_init data"]


def _free_init(s: dict) -> list[str]:
    regions = s.get("regions") or []
    return [f"{r['name']} {_hex(r['base'])} ({r['size']} bytes) freed" for r in regions] or ["no init memory"]


def _names(names: list | None) -> str:
    return " ".join(names or []) or "-"


def _find_module(s: dict) -> list[str]:
    if not s.get("found"):
        return [f"no module '{s.get('name')}'"]
    return [f"'{s.get('name')}' {s.get('state')}, refcount {s.get('refcount')}, holders: {_names(s.get('holders'))}, "
            f"uses: {_names(s.get('uses'))}", f"init {_hex(s.get('init') or None)}, exit {_hex(s.get('exit') or None)}"]


def _source_list(s: dict) -> list[str]:
    holders = s.get("holders") or []
    return [f"used by {' '.join(holders)}" if holders else "no module uses it"]


def _stop(s: dict) -> list[str]:
    refs = s.get("refcount", 0)
    text = f"refcount {refs}: " + ("no users" if not refs else f"{refs} in use")
    if s.get("forced"):
        text += ", forced (taints: R)"
    return [text + (f"; state {s['state']}" if s.get("state") else "")]


def _exit(s: dict) -> list[str]:
    if not s.get("exit"):
        return ["no exit function"]
    us = s.get("duration_ns", 0) / 1000
    return [f"exit {s.get('symbol') or _hex(s.get('exit'))} ({_hex(s.get('exit'))}) {s.get('outcome')} in {us:.3f} us"]


def _report(s: dict) -> list[str]:
    n = len(s.get("report") or [])
    return [f"{n} report lines (below)" if n else "no leaks, registrations or held locks"]


def _free_module(s: dict) -> list[str]:
    return [f"unlinked: {'yes' if s.get('unlinked') else 'no'}, {s.get('modules_after')} modules left"]


def _teardown(s: dict) -> list[str]:
    return [f"{s.get('path')} removed: {s.get('sections')} sections, parameters: {_names(s.get('parameters'))}"]


def _memfree(s: dict) -> list[str]:
    out = [f"{r['name']} {_hex(r['base'])} size {r['size']} freed" for r in s.get("regions") or []]
    kinds = s.get("kinds") or []
    if len(kinds) > len(out):  # 6.1's core region holds several kinds; 6.4 allocates each alone
        out += [f"  {k['type']:<15} {_hex(k['base'])} {k['size']:>7}" for k in kinds]
    if s.get("percpu"):
        out.append(f"per-CPU data {s['percpu']} bytes freed")
    return out or ["no memory"]


SUMMARIES: dict[str, Callable[[dict], list[str]]] = {
    "kernel_read_file": _file, "copy_module_from_user": _file, "module_sig_check": _sig,
    "elf_validity_check": _elf, "setup_load_info": _setup, "check_modinfo": _modinfo,
    "elf_validity_cache_copy": lambda s: _elf(s) + _setup(s),
    "layout_and_allocate": _layout, "simplify_symbols": _symbols, "apply_relocations": _relocations,
    "complete_formation": _formation, "parse_args": _args, "mod_sysfs_setup": _sysfs,
    "do_init_module": _init, "module_enable_ro": _enable_ro, "do_free_init": _free_init,
    # delete_module(2) (module/unload.py)
    "find_module": _find_module, "source_list": _source_list,
    "module_state": lambda s: [f"state {s.get('state')}"],
    "try_force_unload": lambda s: [f"init without exit: force {'asked' if s.get('force') else 'not asked'}"],
    "try_stop_module": _stop, "exit": _exit, "unload_report": _report, "free_module": _free_module,
    "mod_sysfs_teardown": _teardown, "destroy_params": lambda s: [f"parameters: {_names(s.get('parameters'))}"],
    "list_del_rcu": lambda s: [f"unlinked from {s.get('modules_before')} modules"], "module_memfree": _memfree,
}


def format_trace(steps: list[dict], width: int = WIDTH) -> str:
    """The trace as text: each step's name, its values, the kernel's lines printed during it
    (`printk:`), and FAILED with the errno where the load stopped."""
    lines = []
    for s in steps:
        keep = s["step"] in ("do_init_module", "find_module", "source_list", "module_state", "try_stop_module", "exit")
        body = [] if s.get("failed") and not keep else SUMMARIES.get(s["step"], lambda _: [])(s)
        if s.get("failed"):
            body.append(f"FAILED: -{s.get('error')} ({s.get('errno')})")
        body += [f"printk: {m}" for m in s.get("messages", [])]
        if not body:
            body = ["done"]
        lines.append(f"{s['step']:<{width}} {body[0]}")
        lines += [f"{'':<{width}} {b}" for b in body[1:] if b]
    return "\n".join(lines) + "\n"
