"""The kernel API families, driven by the kapi fixture (tests/modules/src/kapi): each scenario
(`insmod kapi.ko test=NAME`) exercises one family and is checked against what the kernel
prints and records."""

from __future__ import annotations

import errno
import re

import pytest
from realref import ko

from pseudokernel.log import format_dmesg, format_kmsg
from pseudokernel.module import LoadError


def run(kernel, test: str, unload: bool = True) -> tuple[int, str]:
    start = kernel.log.next_seq
    try:
        kernel.finit_module(ko("kapi"), f"test={test}")
        rc = 0
    except LoadError as e:
        rc = e.errno
    if rc == 0 and unload:
        kernel.delete_module("kapi")
    text = format_dmesg(kernel.log.records(start)).decode()
    return rc, re.sub(r"^\[ *\d+\.\d+\] ", "", text, flags=re.M)


def test_misc_device_is_registered_with_a_dynamic_minor(kernel):
    start = kernel.log.next_seq
    kernel.finit_module(ko("kapi"), "test=misc")
    misc = kernel.registry.of_kind("misc")
    assert [(r.name, r.info["minor"], r.owner) for r in misc] == [("kapi_misc", 124, "kapi")]
    assert "kapi: misc minor 124" in format_dmesg(kernel.log.records(start)).decode()
    devices = [r for r in kernel.registry.of_kind("device") if r.name == "kapi_misc"]
    assert devices == [] or devices[0].info["devt"] == (10 << 20) | 124
    kernel.delete_module("kapi")
    assert kernel.registry.of_kind("misc") == []


def test_work_items_run_when_flushed_and_when_waited_for(kernel):
    rc, text = run(kernel, "work")
    assert rc == 0
    assert "kapi: work ran (1)\nkapi: work ran (2)\nkapi: work runs 2\n" in text


def test_timer_fires_while_the_task_sleeps(kernel):
    rc, text = run(kernel, "timer")
    assert rc == 0
    lines = [line for line in text.splitlines() if line.startswith("kapi: timer")]
    assert lines[0] == "kapi: timer pending 1"
    fired = re.fullmatch(r"kapi: timer fired after (\d+) jiffies", lines[1])
    assert fired and int(fired.group(1)) >= 25  # 100 ms at HZ=250
    assert lines[2] == "kapi: timer pending 0"


def test_format_corners_and_continuations(kernel):
    rc, text = run(kernel, "fmt")
    assert rc == 0
    assert "kapi: [ab    |   abc|0x002a|+5|1099511627776|z]\n" in text
    assert "kapi: -ENODEV -1000\n" in text
    assert "kapi: not a continuation\n" in text
    assert "kapi: a line continued\n" in text


def test_platform_device_is_probed_and_dev_info_has_the_prefix_and_dict(kernel):
    start = kernel.log.next_seq
    kernel.finit_module(ko("kapi"), "test=pdev")
    recs = [r for r in kernel.log.records(start) if b"probed" in r.text]
    assert [r.text for r in recs] == [b"kapi_pdev kapi_pdev: probed with answer=42"]
    assert recs[0].dev_info == (("SUBSYSTEM", "platform"), ("DEVICE", "+platform:kapi_pdev"))
    assert b" SUBSYSTEM=platform\n DEVICE=+platform:kapi_pdev\n" in format_kmsg(recs)
    drivers = kernel.registry.of_kind("driver")
    assert [(r.name, r.info["bus"], r.owner) for r in drivers] == [("kapi_pdev", "platform", "kapi")]
    mod = kernel.find_module("kapi")
    assert kernel.module_drivers(mod) == {"platform:kapi_pdev": "../../../bus/platform/drivers/kapi_pdev"}
    start = kernel.log.next_seq
    kernel.delete_module("kapi")
    assert b"kapi_pdev kapi_pdev: removed" in [r.text for r in kernel.log.records(start)]
    assert kernel.registry.of_kind("driver") == []


def test_fault_in_a_callback_reports_the_module_frames(kernel):
    rc, text = run(kernel, "fault")
    assert rc == errno.EFAULT
    assert "BUG: kernel NULL pointer dereference, address: 0000000000000000\n" in text
    assert "#PF: supervisor read access in kernel mode\n" in text
    assert re.search(r"^RIP: 0010:kapi_probe\+0x[0-9a-f]+/0x[0-9a-f]+ \[kapi\]$", text, re.M)
    trace = text[text.index("Call Trace:"):]
    assert re.search(r"^ platform_device_register_full\+0x0/0x[0-9a-f]+\n kapi_init\+0x[0-9a-f]+/0x[0-9a-f]+ \[kapi\]\n"
                     r" do_one_initcall\+0x59/0x220$", trace, re.M)
    assert "Modules linked in: kapi(OE+)\n" in text


def test_warn_in_a_work_item_continues(kernel):
    rc, text = run(kernel, "warn", unload=False)
    assert rc == 0
    assert "------------[ cut here ]------------\nkapi: warning from a work item\n" in text
    assert re.search(r"^WARNING: CPU: 0 PID: 48 at \S+/kapi\.c:\d+ kapi_warn_fn\+0x11/0x18 \[kapi\]$", text, re.M)
    assert "Comm: kworker/0:2 " in text  # the reference machine's (machine.json "tasks")
    assert re.search(r"Call Trace:\n <TASK>\n process_one_work\+0x1c7/0x[0-9a-f]+\n worker_thread", text)
    assert kernel.find_module("kapi") is not None
    assert kernel.tainted & (1 << 9)  # TAINT_WARN


def test_recursion_hits_the_stack_guard_page(kernel):
    rc, text = run(kernel, "recurse")
    assert rc == errno.EFAULT
    assert re.search(r"^BUG: TASK stack guard page was hit at [0-9a-f]{16} \(stack is [0-9a-f]{16}\.\.[0-9a-f]{16}\)$",
                     text, re.M)
    assert "stack guard page: 0000 [#1] PREEMPT SMP NOPTI\n" in text
    assert re.search(r"^ recurse\+0x[0-9a-f]+/0x[0-9a-f]+ \[kapi\]$", text, re.M)


def test_missing_cpu_feature_is_an_invalid_opcode(kernel):
    rc, text = run(kernel, "ssse3")
    assert rc == errno.EFAULT
    assert "invalid opcode: 0000 [#1] PREEMPT SMP NOPTI\n" in text
    assert re.search(r"^RIP: 0010:kapi_init\+0x[0-9a-f]+/0x[0-9a-f]+ \[kapi\]$", text, re.M)


def test_stack_protector_panics(kernel):
    rc, text = run(kernel, "canary")
    assert rc != 0
    msg = "stack-protector: Kernel stack is corrupted in: smash.constprop.0+0x58/0x61 [kapi]"
    assert f"Kernel panic - not syncing: {msg}\n" in text
    assert " panic+0x118/" in text and " __stack_chk_fail+0x10/0x10\n" in text
    assert text.rstrip().endswith(f"---[ end Kernel panic - not syncing: {msg} ]---")


def test_cpu_is_qemu64(kernel):
    from pseudokernel.emu.kapi.cpu import cpu

    c = cpu(kernel.api)
    assert (c.vendor_id, c.family, c.model, c.stepping) == (b"AuthenticAMD", 6, 6, 3)  # QEMU's qemu64
    assert c.has(0 * 32 + 26) and c.has(4 * 32 + 0)  # sse2, pni
    assert not c.has(4 * 32 + 9) and not c.has(4 * 32 + 28) and not c.has(4 * 32 + 25)  # ssse3, avx, aes
    addr = kernel.api.data_symbol("boot_cpu_data")
    assert kernel.machine.read(addr, 4) == bytes((6, 2, 6, 3))


def test_defaulted_calls_are_recorded_with_their_arguments(kernel):
    kernel.finit_module(ko("kapi"), "test=pdev")
    calls = kernel.api.unhandled_calls.get("kapi", [])
    for name, args in calls:
        assert isinstance(name, str) and all(isinstance(a, int) for a in args)
    kernel.delete_module("kapi")


@pytest.mark.parametrize("test", ["misc", "work", "timer", "fmt", "pdev"])
def test_exit_runs_without_a_fault(kernel, test):
    rc, text = run(kernel, test)
    assert rc == 0
    assert f"kapi: exit ({test})\n" in text
    assert "BUG" not in text and "WARNING" not in text



def test_proc_entries_show_in_the_mount_tree(kernel):
    """proc_mkdir()/proc_create() at the top level appear in /proc of the mount."""
    from pseudokernel.emu.kapi import fs
    from pseudokernel.fs import build_root
    from pseudokernel.fs.tree import Reader, lookup

    k = kernel.api
    name = k.static_string("kapi_dir")
    d = fs._proc(k, name, 0o40555, 0, dir=True)
    fs._proc(k, k.static_string("state"), 0o444, d)
    root = build_root(kernel)
    assert "kapi_dir" in lookup(root, "proc").list()
    assert lookup(root, "proc/kapi_dir").list() == ["state"]
    with pytest.raises(OSError) as e:  # no proc_ops to read with: pde_read()'s -EIO
        lookup(root, "proc/kapi_dir/state").read(Reader())
    assert e.value.errno == errno.EIO
    fs.remove_proc_subtree(k, name, 0)


def test_proc_net_shows_once_a_module_uses_init_net(kernel):
    """The namespace's /proc/net and /proc/net/stat are kernel API records like a module's
    entries; the view builds them as it builds any /proc entry."""
    from pseudokernel.fs import build_root
    from pseudokernel.fs.tree import lookup

    kernel.api.data_symbol("init_net")  # initialised on first use (the fixture may have)
    root = build_root(kernel)
    assert "net" in lookup(root, "proc").list()
    assert lookup(root, "proc/net").list() == ["dev", "stat"]  # dev: the kernel's own file
    assert "kapi_dir" not in lookup(root, "proc").list()


def test_the_kernel_side_of_the_doorway_answers_every_member(kernel):
    """Kernel implements every member of KernelSide (the handlers' one way to the kernel), and
    the module references a handler takes through it move the module's count."""
    import inspect

    from pseudokernel.emu.kapi import KernelSide

    for name, _ in inspect.getmembers(KernelSide, inspect.isfunction):
        assert callable(getattr(kernel, name)), name
    for name in KernelSide.__annotations__:
        assert hasattr(kernel, name), name
    mod = kernel.finit_module(ko("hello"))
    side = kernel.api.kernel
    assert side.try_module_get(mod.struct_addr)
    side.module_get(mod.struct_addr)
    assert mod.refcount == 2
    side.module_put(mod.struct_addr)
    side.module_put(mod.struct_addr)
    assert mod.refcount == 0
    kernel.delete_module("hello")
