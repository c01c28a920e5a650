"""The load's trace (module/trace.py) against the loader's own state, the failing step of
each failing fixture, and the layout pictures drawn from module_layout()."""

from __future__ import annotations

import errno
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from pseudokernel.draw_layout import draw_svg, draw_text
from pseudokernel.module import LoadError
from pseudokernel.module.layout import module_layout
from pseudokernel.module.module import MemType
from pseudokernel.module.trace import LoadTrace, UnloadTrace
from pseudokernel.print_trace import format_trace

PREBUILT = Path(__file__).resolve().parents[1] / "modules" / "prebuilt"
UNLOAD_STEPS = ["find_module", "source_list", "module_state", "try_stop_module", "exit", "unload_report",
                "free_module", "mod_sysfs_teardown", "destroy_params", "list_del_rcu", "module_memfree"]
STEPS = ["module_sig_check", "elf_validity_check", "setup_load_info", "check_modinfo", "layout_and_allocate",
         "add_unformed_module", "simplify_symbols", "apply_relocations", "complete_formation", "parse_args",
         "mod_sysfs_setup", "do_init_module", "module_enable_ro", "do_free_init"]


def traced(kernel, name: str, args: str = ""):
    tr = LoadTrace(kernel.log)
    try:
        mod = kernel.finit_module((PREBUILT / name).read_bytes(), args, 0, name, trace=tr)
    except LoadError:
        mod = None
    return mod, {s["step"]: s for s in tr.finish()}, tr.steps


def test_hello_trace_is_the_loaders_state(kernel):
    mod, by, steps = traced(kernel, "hello.ko", "count=2 who=trace")
    assert [s["step"] for s in steps] == STEPS
    assert not any(s.get("failed") for s in steps)
    assert by["module_sig_check"]["verdict"] == "unsigned" and by["module_sig_check"]["sig_ok"] is False
    assert by["check_modinfo"]["vermagic"] == kernel.profile.vermagic == by["check_modinfo"]["kernel_vermagic"]
    assert "hello: loading out-of-tree module taints kernel." in by["check_modinfo"]["messages"]
    lay = by["layout_and_allocate"]
    assert {s["name"]: s["addr"] for s in lay["sections"]} == mod.sections
    regions = {r["name"]: r for r in lay["regions"]}
    assert regions["core"]["base"] == mod.mem[MemType.TEXT].base and regions["core"]["size"] == mod.core_size()
    assert regions["init"] == {**mod.init_at_load[0], "freed": False}
    perms = {s["name"]: s["perm"] for s in lay["sections"]}
    assert perms[".init.text"] == perms[".exit.text"] == "RX"
    assert perms[".rodata"] == "RO" and perms[".data"] == perms[".bss"] == "RW NX"
    syms = {s["name"]: s for s in by["simplify_symbols"]["symbols"]}
    assert syms["_printk"]["from"] == "vmlinux" and syms["_printk"]["value"]
    assert set(syms) >= {"_printk", "kfree", "param_ops_int"}
    rel = by["apply_relocations"]
    assert rel["total"] == sum(rel["types"].values()) > 0 and 0 < len(rel["first"]) <= 5
    assert all(mod.within(r["loc"]) or r["where"].startswith(".init") for r in rel["first"])
    assert by["parse_args"]["given"] == [["count", "2"], ["who", "trace"]]
    assert by["mod_sysfs_setup"]["path"] == "/sys/module/hello"
    init = by["do_init_module"]
    assert init["ret"] == 0 and init["init"] == mod.init and init["symbol"].startswith("hello_init")
    assert "hello: hello trace (2 of 2)" in init["messages"]
    assert by["do_free_init"]["regions"][0]["base"] == regions["init"]["base"] and mod.init_size() == 0
    text = format_trace(steps)
    assert "do_init_module" in text and "returned 0" in text and ".init.text" in text


def test_params_are_parsed_and_shown(kernel):
    mod, by, _ = traced(kernel, "params.ko", "p_int=-7 p_charp=fresh p_bool")
    assert by["parse_args"]["given"] == [["p_int", "-7"], ["p_charp", "fresh"], ["p_bool", None]]
    assert set(by["parse_args"]["params"]) == {p.name for p in mod.params}
    kp = {p.name: p for p in mod.params}
    assert kernel.param_show(mod, kp["p_int"]) == b"-7\n"
    assert kernel.param_show(mod, kp["p_charp"]) == b"fresh\n"
    assert {s["name"]: s["addr"] for s in by["layout_and_allocate"]["sections"]} == mod.sections
    assert by["do_init_module"]["ret"] == 0


def test_importer_symbols_come_from_the_exporter(kernel):
    kernel.finit_module((PREBUILT / "exporter.ko").read_bytes())
    _, by, _ = traced(kernel, "importer.ko")
    froms = {s["from"] for s in by["simplify_symbols"]["symbols"]}
    assert "exporter" in froms and "vmlinux" in froms


@pytest.mark.parametrize("name, step, err, line", [
    ("unknown_sym.ko", "simplify_symbols", "ENOENT", "unknown_sym: Unknown symbol pseudokernel_no_such_function (err -2)"),
    ("badmagic.ko", "check_modinfo", "ENOEXEC", "badmagic: version magic '"),
    ("eperm.ko", "do_init_module", "EPERM", None),
])
def test_failure_is_at_the_step_that_failed(kernel, name, step, err, line):
    mod, by, steps = traced(kernel, name)
    assert mod is None
    last = steps[-1]
    assert last["step"] == step and last["failed"] and last["error"] == err
    assert [s for s in steps if s.get("failed")] == [last]
    if line:
        assert any(m.startswith(line) for m in last["messages"])
    if name == "unknown_sym.ko":
        assert sum("Unknown symbol" in m for m in last["messages"]) == 2
    if name == "badmagic.ko":
        assert last["messages"][0].endswith(f"should be '{kernel.profile.vermagic}'")
    if name == "eperm.ko":
        assert last["ret"] == -1
    assert f"FAILED: -{err}" in format_trace(steps)


def test_no_trace_is_the_default(kernel):
    mod = kernel.finit_module((PREBUILT / "hello.ko").read_bytes())
    assert mod.init_at_load  # kept for `pseudokernel layout` whether traced or not


def test_layout_pictures(kernel):
    mod = kernel.finit_module((PREBUILT / "hello.ko").read_bytes())
    layout = module_layout(kernel, mod)
    assert {s["name"]: s["addr"] for s in layout["sections"]} == mod.sections
    init = [r for r in layout["regions"] if r["name"] == "init"]
    assert init == mod.init_at_load and init[0]["freed"]
    assert {y["what"]: y["symbol"] for y in layout["symbols"]} == {
        "init": "hello_init", "exit": "hello_exit", "__this_module": "__this_module"}
    text = draw_text(layout)
    for name, addr in mod.sections.items():
        assert f"{addr:#x}  {name}" in text
    assert "freed after init" in text and "<- init: hello_init" in text
    assert "RX (text" in text and "RW NX (data" in text
    svg = ET.fromstring(draw_svg(layout))
    words = " ".join(t.text or "" for t in svg.iter("{http://www.w3.org/2000/svg}text"))
    assert ".init.text" in words and "hello_exit" in words and "freed after init" in words


def unloaded(kernel, name: str, flags: int | None = None):
    tr = UnloadTrace(kernel.log)
    err = 0
    try:
        if flags is None:
            kernel.delete_module(name, trace=tr)
        else:
            kernel.delete_module(name, flags, trace=tr)
    except OSError as e:
        err = e.errno
    steps = tr.finish()
    return err, {s["step"]: s for s in steps}, steps


def test_rmmod_trace_is_the_unloads_state(kernel):
    mod = kernel.finit_module((PREBUILT / "hello.ko").read_bytes(), "who=trace")
    regions = [(a.base, a.size) for a in mod.allocations]
    kinds = {t.name.lower(): (mod.mem[t].base, mod.mem[t].size) for t in MemType if mod.mem[t].size}
    params, exit_ = [p.name for p in mod.params], mod.exit
    err, by, steps = unloaded(kernel, "hello")
    assert err == 0 and kernel.find_module("hello") is None
    assert [s["step"] for s in steps] == UNLOAD_STEPS
    assert not any(s.get("failed") for s in steps)
    found = by["find_module"]
    assert found["found"] and found["state"] == "LIVE" and found["refcount"] == 0 and found["holders"] == []
    assert found["exit"] == exit_
    assert by["try_stop_module"]["refcount"] == 0 and by["try_stop_module"]["state"] == "GOING"
    ex = by["exit"]
    assert ex["symbol"] == "hello_exit [hello]" and ex["outcome"] == "returned" and ex["duration_ns"] > 0
    assert ex["messages"] == ["hello: goodbye trace"]
    assert by["unload_report"]["report"] == kernel.last_report == []
    assert by["free_module"]["unlinked"] and by["free_module"]["modules_after"] == len(kernel.modules)
    assert by["mod_sysfs_teardown"]["path"] == "/sys/module/hello"
    assert by["destroy_params"]["parameters"] == params
    mem = by["module_memfree"]
    assert [(r["base"], r["size"]) for r in mem["regions"]] == regions and all(r["freed"] for r in mem["regions"])
    assert {k["type"]: (k["base"], k["size"]) for k in mem["kinds"]} == kinds
    assert mem["total"] == sum(size for _, size in kinds.values())
    text = format_trace(steps)
    assert "exit                   exit hello_exit [hello]" in text and " returned in " in text
    assert "printk: hello: goodbye trace" in text and "/sys/module/hello removed" in text


def test_rmmod_trace_of_a_module_in_use(kernel):
    kernel.finit_module((PREBUILT / "exporter.ko").read_bytes())
    kernel.finit_module((PREBUILT / "importer.ko").read_bytes())
    err, by, steps = unloaded(kernel, "exporter")
    assert err == errno.EWOULDBLOCK and [s["step"] for s in steps] == ["find_module", "source_list"]
    assert by["find_module"]["holders"] == by["source_list"]["holders"] == ["importer"]
    assert by["source_list"]["failed"] and by["source_list"]["error"] == "EWOULDBLOCK"
    assert "used by importer" in format_trace(steps) and "FAILED: -EWOULDBLOCK" in format_trace(steps)
    mod = kernel.find_module("importer")
    assert kernel.try_module_get(mod.struct_addr)  # a reference held, as an open file's
    err, by, steps = unloaded(kernel, "importer")
    assert err == errno.EWOULDBLOCK and steps[-1]["step"] == "try_stop_module"
    assert steps[-1]["refcount"] == 1 == mod.refcount and steps[-1]["error"] == "EWOULDBLOCK"
    assert mod.state.name == "LIVE" and "1 in use" in format_trace(steps)
    kernel.module_put(mod.struct_addr)
    assert unloaded(kernel, "importer")[0] == 0
    assert unloaded(kernel, "exporter")[0] == 0


def test_rmmod_trace_of_no_such_module(kernel):
    err, by, steps = unloaded(kernel, "nonesuch")
    assert err == errno.ENOENT and steps == [{"step": "find_module", "name": "nonesuch", "found": False,
                                              "failed": True, "errno": errno.ENOENT, "error": "ENOENT"}]
    assert format_trace(steps).startswith("find_module            no module 'nonesuch'\n")
