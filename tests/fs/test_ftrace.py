"""/sys/kernel/tracing: the function_graph tracer over a module's code (issue 15).

The format is trace_functions_graph.c's (docs/ftrace.md says how it was checked); here: the
header, the columns, nesting of module function -> kernel function, the duration marks, the
filter, clearing, tracing_on, trace_printk, and that nop leaves the code as it was.
"""

from __future__ import annotations

import errno
import re

import pytest
from realref import PREBUILT

from pseudokernel.emu.kapi import ftrace as ft
from pseudokernel.fs import build_root
from pseudokernel.fs.tracing import graph_text, trace_find_mark, trace_print_graph_duration
from pseudokernel.fs.tree import Reader, lookup

T = "/sys/kernel/tracing/"
HELLO = PREBUILT / "hello.ko"
PROCFS = PREBUILT / "procfs.ko"
HEADER = ("# tracer: function_graph\n#\n"
          "# CPU  DURATION                  FUNCTION CALLS\n"
          "# |     |   |                     |   |   |   |\n")
# a leaf: CPU, mark, duration padded to its column, then the call
LEAF = re.compile(r"^ 0\) [ +!#*@$] [0-9.]+ us +\|  (?P<indent> *)(?P<func>\S.*)\(\);$")


def read(kernel, path: str) -> str:
    return lookup(build_root(kernel), path).read(Reader()).decode()


def write(kernel, path: str, text: str) -> int:
    return lookup(build_root(kernel), path).write(text.encode())


def truncate(kernel, path: str) -> None:
    lookup(build_root(kernel), path).truncate(0)


@pytest.fixture
def graph(kernel):
    write(kernel, T + "current_tracer", "function_graph\n")
    yield kernel
    write(kernel, T + "current_tracer", "nop\n")


def test_the_files_at_boot(kernel):
    for top in (T, "/sys/kernel/debug/tracing/"):
        assert read(kernel, top + "current_tracer") == "nop\n"
        assert read(kernel, top + "tracing_on") == "1\n"
        assert read(kernel, top + "available_tracers") == "blk mmiotrace function_graph function nop\n"  # Debian's
        assert read(kernel, top + "trace_clock").startswith("[local] global counter uptime perf")
        assert read(kernel, top + "set_ftrace_filter") == "#### all functions enabled ####\n"
        assert read(kernel, top + "trace").startswith("# tracer: nop\n#\n# entries-in-buffer/entries-written: 0/0   #P:1\n")
    assert "tracing" in lookup(build_root(kernel), "/sys/kernel").list()


def test_hello_init_and_its_kernel_calls_nested(graph):
    graph.finit_module(HELLO.read_bytes(), "count=2")
    text = read(graph, T + "trace")
    assert text.startswith(HEADER)
    lines = text[len(HEADER):].splitlines()
    start = lines.index(" 0)               |  hello_init [hello]() {")
    body = []
    for line in lines[start + 1:]:
        if line.endswith("|  }"):
            end = line
            break
        body.append(line)
    calls = [LEAF.match(line) for line in body]
    assert all(calls), body
    assert [c["func"] for c in calls] == ["kmalloc_trace", "snprintf", "_printk", "_printk"]
    assert {c["indent"] for c in calls} == {"  "}
    assert re.fullmatch(r" 0\) [ +!#*@$] [0-9.]+ us +\|  }", end)
    assert {line.index("|") for line in (end, *body)} == {18}  # the FUNCTION CALLS column
    graph.delete_module("hello")  # hello_exit is __exit, notrace: its calls at depth 0
    tail = read(graph, T + "trace").splitlines()
    assert any(re.fullmatch(r" 0\) [ +!#] [0-9.]+ us +\|  _printk\(\);", line) for line in tail[-4:])


def test_module_callbacks_from_the_mount(graph):
    graph.finit_module(PROCFS.read_bytes())
    try:
        truncate(graph, T + "trace")
        assert read(graph, "/proc/pk_procfs/items") == "0\talpha\n1\tbeta\n2\tgamma\n"
        lines = read(graph, T + "trace").splitlines()[4:]
        assert " 0)               |  items_show [procfs]() {" in lines
        i = lines.index(" 0)               |  items_show [procfs]() {")
        assert LEAF.match(lines[i + 1])["func"] == "seq_printf"
        assert LEAF.match(lines[i + 1])["indent"] == "  "
        assert any(LEAF.match(line) and LEAF.match(line)["func"] == "items_start [procfs]" for line in lines)
    finally:
        graph.delete_module("procfs")


def test_filter_limits_what_is_recorded(graph):
    assert write(graph, T + "set_ftrace_filter", "_printk\n")
    assert read(graph, T + "set_ftrace_filter") == "_printk\n"
    graph.finit_module(HELLO.read_bytes())
    lines = read(graph, T + "trace").splitlines()[4:]
    assert [LEAF.match(line)["func"] for line in lines] == ["_printk"]
    assert LEAF.match(lines[0])["indent"] == ""  # hello_init is not traced: _printk at depth 0
    write(graph, T + "set_ftrace_filter", "*:mod:hello")
    assert read(graph, T + "set_ftrace_filter") == "_printk\n"  # hello_exit: text of hello
    truncate(graph, T + "set_ftrace_filter")  # `> set_ftrace_filter`
    assert read(graph, T + "set_ftrace_filter") == "#### all functions enabled ####\n"
    with pytest.raises(OSError) as e:
        write(graph, T + "set_ftrace_filter", "no_such_function_anywhere")
    assert e.value.errno == errno.EINVAL
    graph.delete_module("hello")


def test_module_filter_and_glob(graph):
    write(graph, T + "set_ftrace_filter", "hello_*:mod:hello")
    graph.finit_module(HELLO.read_bytes())
    lines = read(graph, T + "trace").splitlines()[4:]
    assert lines == [] or all("hello_" in line for line in lines)
    truncate(graph, T + "set_ftrace_filter")
    graph.delete_module("hello")


def test_clear_and_tracing_on(graph):
    graph.finit_module(HELLO.read_bytes())
    assert len(read(graph, T + "trace")) > len(HEADER)
    truncate(graph, T + "trace")  # `> trace`
    assert read(graph, T + "trace") == HEADER
    write(graph, T + "tracing_on", "0\n")
    assert read(graph, T + "tracing_on") == "0\n"
    graph.delete_module("hello")
    assert read(graph, T + "trace") == HEADER
    write(graph, T + "tracing_on", "1\n")
    graph.finit_module(HELLO.read_bytes())
    assert "hello_init [hello]() {" in read(graph, T + "trace")
    with pytest.raises(OSError) as e:
        write(graph, T + "tracing_on", "on")
    assert e.value.errno == errno.EINVAL
    graph.delete_module("hello")


def test_current_tracer_and_clock(kernel):
    with pytest.raises(OSError) as e:
        write(kernel, T + "current_tracer", "nonesuch")
    assert e.value.errno == errno.EINVAL
    with pytest.raises(OSError) as e:
        write(kernel, T + "current_tracer", "wakeup")  # not built in Debian's 6.1
    assert e.value.errno == errno.EINVAL
    assert read(kernel, T + "current_tracer") == "nop\n"
    write(kernel, T + "trace_clock", "global")
    assert read(kernel, T + "trace_clock").startswith("local [global] counter")
    with pytest.raises(OSError):
        write(kernel, T + "trace_clock", "sundial")


def test_nop_leaves_the_code_and_the_doorway_as_they_were(kernel):
    kernel.finit_module(PROCFS.read_bytes())
    try:
        api = kernel.api
        assert api.m.dispatch == api._dispatch
        mod = kernel.find_module("procfs")
        start, size = mod.section_ranges["__mcount_loc"]
        raw = api.m.read(start, size)
        sites = [int.from_bytes(raw[i:i + 8], "little") for i in range(0, size, 8)]
        live = [s for s in sites if mod.section_ranges and _mapped(api, s)]
        before = {s: api.m.read(s, 5) for s in live}
        assert set(before.values()) == {ft.NOP5}
        write(kernel, T + "current_tracer", "function_graph")
        read(kernel, "/proc/pk_procfs/items")  # a syscall: the sites are calls now
        assert all(api.m.read(s, 1) == b"\xe8" for s in live)
        write(kernel, T + "current_tracer", "nop")
        assert api.m.dispatch == api._dispatch
        assert {s: api.m.read(s, 5) for s in live} == before
        assert read(kernel, "/proc/pk_procfs/items") == "0\talpha\n1\tbeta\n2\tgamma\n"
    finally:
        kernel.delete_module("procfs")


def _mapped(api, addr: int) -> bool:
    try:
        api.m.read(addr, 1)
        return True
    except Exception:
        return False


def test_trace_printk_in_the_graph_and_in_nop(kernel):
    """No fixture calls trace_printk(): the handlers directly, ip inside a module function."""
    kernel.finit_module(PROCFS.read_bytes())
    try:
        api = kernel.api
        mod = kernel.find_module("procfs")
        ip = next(s.value for s in mod.kallsyms if s.name == "items_show") + 8
        ft.__trace_puts(api, ip, api.static_string("puts text\n"), 10)
        text = read(kernel, T + "trace")
        assert "# entries-in-buffer/entries-written: 1/1   #P:1\n" in text
        line = text.splitlines()[-1]
        assert re.fullmatch(r" *\S+-\d+ +\[000\] \.\.\.\.\. +\d+\.\d{6}: items_show: puts text", line), line
        write(kernel, T + "current_tracer", "function_graph")
        ft.__trace_puts(api, ip, api.static_string("in graph\n"), 9)
        assert read(kernel, T + "trace") == HEADER + " 0)               |  /* in graph */\n"
    finally:
        write(kernel, T + "current_tracer", "nop")
        kernel.delete_module("procfs")


def _ev(kind, func, depth=0, ts=0, calltime=0, text="", pid=1, comm="insmod"):
    return ft.Event(kind, ts, pid, comm, func, depth, calltime, text)


def test_graph_format_against_the_kernel_s_rules():
    """print_graph_comment() indents past depth 0 only; a return whose entry was lost names
    its function; a task switch draws verif_pid()'s banner."""
    events = [
        _ev("ent", "outer [m]", 0, 0),
        _ev("ent", "inner [m]", 1, 10),
        _ev("print", "inner [m]", text="hi\n"),
        _ev("ent", "kfree", 2, 20),
        _ev("ret", "kfree", 2, 1_020, 20),
        _ev("ret", "inner [m]", 1, 150_010, 10),
        _ev("ret", "outer [m]", 0, 2_000_000_000, 0),
        _ev("ret", "lost [m]", 0, 12_345, 0, pid=2, comm="cat"),
    ]
    assert graph_text(events) == HEADER + (
        " 0)               |  outer [m]() {\n"
        " 0)               |    inner [m]() {\n"
        " 0)               |      /* hi */\n"
        " 0)   1.000 us    |      kfree();\n"
        " 0) ! 150.000 us  |    }\n"
        " 0) $ 2000000 us  |  }\n"
        " ------------------------------------------\n"
        " 0)    insmod-1    =>     cat-2     \n"
        " ------------------------------------------\n\n"
        " 0) + 12.345 us   |  } /* lost [m] */\n")


def test_duration_column_and_marks():
    assert trace_print_graph_duration(1234) == "1.234 us    "
    assert trace_print_graph_duration(12345) == "12.345 us   "
    assert trace_print_graph_duration(1234567) == "1234.567 us "
    assert trace_print_graph_duration(12345678) == "12345.67 us "
    assert trace_print_graph_duration(1234567890) == "1234567 us  "
    assert [trace_find_mark(d) for d in (10_000, 10_001, 100_001, 1_000_001, 10_000_001, 100_000_001,
                                         1_000_000_001)] == [" ", "+", "!", "#", "*", "@", "$"]


def test_the_function_tracer(kernel):
    write(kernel, T + "current_tracer", "function")
    try:
        kernel.finit_module(HELLO.read_bytes())
        text = read(kernel, T + "trace")
        assert text.startswith("# tracer: function\n#\n# entries-in-buffer/entries-written: ")
        lines = [line for line in text.splitlines() if not line.startswith("#")]
        calls = [re.fullmatch(r" *insmod-\d+ +\[000\] \.\.\.\.\. +\d+\.\d{6}: (\S+) <-(\S+)", line) for line in lines]
        assert all(calls), lines
        pairs = [(c[1], c[2]) for c in calls]
        assert ("kmalloc_trace", "hello_init") in pairs and ("_printk", "hello_init") in pairs
        assert pairs.index(("kmalloc_trace", "hello_init")) > [f for f, _ in pairs].index("hello_init")
        assert f"entries-written: {len(lines)}/{len(lines)} " in text
    finally:
        write(kernel, T + "current_tracer", "nop")
        kernel.delete_module("hello")


def test_an_oops_under_the_graph_tracer_unwinds_past_return_to_handler(graph):
    """The ORC walk asks the tracer for the real return address, as ftrace_graph_ret_addr()."""
    with pytest.raises(OSError):
        graph.finit_module((PREBUILT / "oops.ko").read_bytes())
    log = "".join(r.text.decode() for r in graph.log.records(0))
    assert "Call Trace:" in log and "do_one_initcall+0x59/0x220" in log
    assert "return_to_handler" not in log
    assert " 0)               |  faulty_init [oops]() {\n" in read(graph, T + "trace")
