"""`pseudokernel trace` and `pseudokernel layout` through a daemon: the trace's addresses and
the picture's are the ones /sys/module/NAME/sections shows."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from pkrun import daemon_at, pk

PREBUILT = Path(__file__).resolve().parents[1] / "modules" / "prebuilt"


@pytest.fixture
def daemon(tmp_path):
    yield from daemon_at(tmp_path)


def sysfs_sections(mount: Path, name: str) -> dict[str, int]:
    d = mount / "sys" / "module" / name / "sections"
    return {f.name: int(f.read_text(), 16) for f in d.iterdir()}


def test_trace_json_matches_sysfs(daemon):
    mount, _ = daemon
    r = pk("trace", "--json", str(PREBUILT / "params.ko"), "p_int=3", "p_charp=traced", mount=mount)
    assert r.returncode == 0, r.stderr
    by = {s["step"]: s for s in json.loads(r.stdout)}
    assert by["kernel_read_file"]["bytes"] == (PREBUILT / "params.ko").stat().st_size
    assert {s["name"]: s["addr"] for s in by["layout_and_allocate"]["sections"]} == sysfs_sections(mount, "params")
    assert by["parse_args"]["given"] == [["p_int", "3"], ["p_charp", "traced"]]
    assert (mount / "sys/module/params/parameters/p_charp").read_text() == "traced\n"
    assert by["do_init_module"]["ret"] == 0


def test_trace_text_and_a_failure(daemon):
    mount, _ = daemon
    r = pk("trace", str(PREBUILT / "hello.ko"), "count=1", mount=mount)
    assert r.returncode == 0, r.stderr
    out = r.stdout.decode()
    lines = [line.split()[0] for line in out.splitlines() if line and not line.startswith(" ")]
    assert lines[0] == "kernel_read_file" and lines[-2:] == ["module_enable_ro", "do_free_init"]
    assert "init hello_init [hello]" in out and "returned 0" in out
    r = pk("trace", str(PREBUILT / "unknown_sym.ko"), mount=mount)
    assert r.returncode == 1
    out = r.stdout.decode()
    assert "simplify_symbols       FAILED: -ENOENT (2)" in out
    assert "printk: unknown_sym: Unknown symbol pseudokernel_no_such_function (err -2)" in out
    assert b"Unknown symbol in module" in r.stderr


def test_layout_matches_sysfs(daemon, tmp_path):
    mount, _ = daemon
    assert pk("trace", str(PREBUILT / "hello.ko"), mount=mount).returncode == 0
    r = pk("layout", "hello", mount=mount)
    assert r.returncode == 0, r.stderr
    out = r.stdout.decode()
    for name, addr in sysfs_sections(mount, "hello").items():
        assert f"{addr:#x}  {name}" in out
    assert "freed after init" in out
    svg = tmp_path / "hello.svg"
    assert pk("layout", "hello", "--svg", str(svg), mount=mount).returncode == 0
    assert ET.parse(svg).getroot().tag.endswith("svg")
    r = pk("layout", "nosuch", mount=mount)
    assert r.returncode == 1 and b"no module 'nosuch' is loaded" in r.stderr


def test_the_drop_folder_writes_each_loads_trace(daemon):
    import shutil

    from pkrun import wait_for

    mount, drop = daemon
    state = Path(json.loads(pk("status", "--json", mount=mount).stdout)["state"])
    shutil.copy(PREBUILT / "hello.ko", drop / "hello.ko")
    shutil.copy(PREBUILT / "unknown_sym.ko", drop / "unknown_sym.ko")
    assert wait_for(lambda: (state / "traces" / "unknown_sym.ko.txt").exists()
                    and (state / "traces" / "hello.ko.txt").exists())
    assert "returned 0" in (state / "traces" / "hello.ko.txt").read_text()
    assert "simplify_symbols       FAILED: -ENOENT" in (state / "traces" / "unknown_sym.ko.txt").read_text()


def test_insmod_and_modprobe_trace_their_loads(tmp_path):
    """`pseudokernel insmod --trace` runs the real insmod sealed and prints each load's steps on
    standard error; kmod's own output and status are untouched."""
    for mount, _drop in daemon_at(tmp_path):
        hello = str(PREBUILT / "hello.ko")
        r = pk("insmod", "--trace", hello, "who=trace", mount=mount)
        assert (r.returncode, r.stdout) == (0, b""), r.stderr
        text = r.stderr.decode()
        assert text.startswith(f"kernel_read_file       194592 bytes from {hello}\n")
        assert "parse_args             args 'who=trace': who=trace" in text
        assert "do_init_module         init hello_init [hello]" in text and text.rstrip().endswith("freed")
        r = pk("insmod", "--trace=json", str(PREBUILT / "unknown_sym.ko"), mount=mount)
        assert r.returncode == 1
        steps = json.loads(r.stderr.decode().splitlines()[0])
        assert steps[-1]["step"] == "simplify_symbols" and steps[-1].get("errno") == 2
        assert r.stderr.decode().splitlines()[-1].endswith("unknown_sym.ko: Unknown symbol in module")


def test_rmmod_traces_its_unload_and_ftrace_on_the_mount(tmp_path):
    """`pseudokernel rmmod --trace` prints delete_module's steps on standard error after the
    real rmmod; /sys/kernel/tracing answers shell redirections as tracefs does."""
    for mount, _drop in daemon_at(tmp_path):
        tracing = mount / "sys/kernel/tracing"
        (tracing / "current_tracer").write_text("function_graph\n")
        assert pk("insmod", str(PREBUILT / "hello.ko"), mount=mount).returncode == 0
        graph = (mount / "sys/kernel/debug/tracing/trace").read_text()
        assert graph.startswith("# tracer: function_graph\n#\n# CPU  DURATION")
        assert " 0)               |  hello_init [hello]() {\n" in graph
        with open(tracing / "trace", "w"):  # `> trace`
            pass
        assert (tracing / "trace").read_text().count("\n") == 4
        r = pk("rmmod", "--trace", "hello", mount=mount)
        assert (r.returncode, r.stdout) == (0, b""), r.stderr
        text = r.stderr.decode()
        assert text.startswith("find_module            'hello' LIVE, refcount 0")
        assert "exit hello_exit [hello]" in text and "printk: hello: goodbye world" in text
        assert "module_memfree         core 0x" in text
        assert "|  _printk();" in (tracing / "trace").read_text()
        (tracing / "current_tracer").write_text("nop\n")
        r = pk("rmmod", "--trace=json", "hello", mount=mount)
        assert r.returncode == 1
        assert "no delete_module(2) for hello reached the kernel" in r.stderr.decode() or \
            json.loads(r.stderr.decode().splitlines()[-1])[-1]["error"] == "ENOENT"
