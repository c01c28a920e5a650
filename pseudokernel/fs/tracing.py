"""/sys/kernel/tracing (and /sys/kernel/debug/tracing): tracefs, over the recorder in
emu/kapi/ftrace.py. The trace file is printed as kernel/trace/trace_functions_graph.c prints
function_graph's events (print_graph_entry_leaf/_nested, print_graph_return,
print_graph_comment, print_graph_duration, verif_pid) and, for nop and function, as trace.c
and trace_output.c print function calls and trace_printk's lines. docs/ftrace.md says what was checked against what.
"""

from __future__ import annotations

import errno
from typing import TYPE_CHECKING

from ..emu.kapi import ftrace as ft
from .tree import Dir, File, Reader, StaticDir

if TYPE_CHECKING:
    from ..kernel import Kernel

TRACE_MODE_WRITE = 0o640  # kernel/trace/trace.h
TRACE_MODE_READ = 0o440
NR_CPUS = 1
MAX_BYTES_FOR_CPU = len(str(NR_CPUS - 1))
TRACE_GRAPH_INDENT = 2
TRACE_GRAPH_PROCINFO_LENGTH = 14
# trace_output.c's mark[]: a duration above each threshold (ns) gets its sign
MARKS = ((1_000_000_000, "$"), (100_000_000, "@"), (10_000_000, "*"), (1_000_000, "#"), (100_000, "!"),
         (10_000, "+"))


def trace_find_mark(d: int) -> str:
    for val, sym in MARKS:
        if d > val:
            return sym
    return " "


def trace_print_graph_duration(duration: int) -> str:
    """'1.234 us    ': microseconds, at most 7 digits, padded to the column."""
    usecs, nsecs_rem = divmod(duration, 1000)
    out = str(usecs)
    length = len(out)
    if length < 7:
        slen = min(5, 8 - length)  # snprintf's size, its NUL included
        nsecs = f"{nsecs_rem:03d}"[: slen - 1]
        out += "." + nsecs
        length += len(nsecs) + 1
    return out + " us " + " " * max(0, 8 - length)


def print_graph_cpu(cpu: int) -> str:
    return f" {cpu:>{MAX_BYTES_FOR_CPU}}) "


def print_graph_proc(comm: str, pid: int) -> str:
    text = f"{comm[:7]}-{pid}"
    spaces = max(0, TRACE_GRAPH_PROCINFO_LENGTH - len(text))
    return " " * (spaces // 2) + text + " " * (spaces - spaces // 2)


def graph_header() -> str:
    """print_graph_headers_flags() with the default flags: CPU, overhead, duration."""
    return ("# tracer: function_graph\n#\n"
            "# CPU  DURATION                  FUNCTION CALLS\n"
            "# |     |   |                     |   |   |   |\n")


def graph_text(events: list[ft.Event], cpu: int = 0) -> str:
    """The function_graph trace of the buffer's events, one CPU's."""
    out = [graph_header()]
    last_pid, last_comm = -1, ""
    depth = 0
    enter_funcs: dict[int, str] = {}
    fill_full = "              |  "
    i = 0
    while i < len(events):
        ev = events[i]
        line = ""
        if ev.pid != last_pid:  # verif_pid(): a context-switch banner between two tasks
            if last_pid != -1:
                line += (" ------------------------------------------\n" + print_graph_cpu(cpu)
                         + print_graph_proc(last_comm, last_pid) + " => " + print_graph_proc(ev.comm, ev.pid)
                         + "\n ------------------------------------------\n\n")
            last_pid = ev.pid
        last_comm = ev.comm
        line += print_graph_cpu(cpu)
        if ev.kind == "ent":
            nxt = events[i + 1] if i + 1 < len(events) else None
            indent = " " * (ev.depth * TRACE_GRAPH_INDENT)
            if nxt is not None and nxt.kind == "ret" and nxt.pid == ev.pid and nxt.func == ev.func:
                d = nxt.ts - nxt.calltime
                line += f"{trace_find_mark(d)} {trace_print_graph_duration(d)}|  {indent}{ev.func}();\n"
                depth = ev.depth - 1
                enter_funcs.pop(ev.depth, None)
                i += 1
            else:
                line += f"{fill_full}{indent}{ev.func}() {{\n"
                depth = ev.depth
                enter_funcs[ev.depth] = ev.func
        elif ev.kind == "ret":
            d = ev.ts - ev.calltime
            indent = " " * (ev.depth * TRACE_GRAPH_INDENT)
            matched = enter_funcs.pop(ev.depth, None) == ev.func
            close = "}" if matched else f"}} /* {ev.func} */"
            line += f"{trace_find_mark(d)} {trace_print_graph_duration(d)}|  {indent}{close}\n"
            depth = ev.depth - 1
        else:  # print_graph_comment()
            indent = " " * ((depth + 1) * TRACE_GRAPH_INDENT) if depth > 0 else ""
            line += f"{fill_full}{indent}/* {ev.text.removesuffix(chr(10))} */\n"
        out.append(line)
        i += 1
    return "".join(out)


def context_text(tracer: str, events: list[ft.Event], cpu: int = 0) -> str:
    """nop's and function's trace: trace.c's print_func_help_header_irq(), then each entry
    after trace_print_context(): function's calls (trace_fn_trace: `func <-parent`, names as
    kallsyms_lookup() gives them, no module) and trace_printk's lines (trace_bprint_print)."""
    shown = [e for e in events if e.kind in ("fn", "print")]
    out = [f"# tracer: {tracer}\n#\n",
           f"# entries-in-buffer/entries-written: {len(shown)}/{len(shown)}   #P:{NR_CPUS}\n#\n",
           "#                                _-----=> irqs-off/BH-disabled\n",
           "#                               / _----=> need-resched\n",
           "#                              | / _---=> hardirq/softirq\n",
           "#                              || / _--=> preempt-depth\n",
           "#                              ||| / _-=> migrate-disable\n",
           "#                              |||| /     delay\n",
           "#           TASK-PID     CPU#  |||||  TIMESTAMP  FUNCTION\n",
           "#              | |         |   |||||     |         |\n"]
    for e in shown:
        secs, ns = divmod(e.ts, 1_000_000_000)
        name = e.func.split(" [")[0]
        head = f"{e.comm:>16}-{e.pid:<7} [{cpu:03d}] ..... {secs:5d}.{ns // 1000:06d}: {name}"
        if e.kind == "fn":
            out.append(f"{head} <-{e.text.split(' [')[0]}\n")
        else:
            out.append(f"{head}: {e.text}{'' if e.text.endswith(chr(10)) else chr(10)}")
    return "".join(out)


def _store(fn, strip: bool = True):
    def store(data: bytes) -> int:
        text = data.decode("utf-8", "replace")
        fn(text.strip() if strip else text)
        return len(data)

    return store


def tracing_dir(kernel: Kernel, boot: float | None = None) -> Dir:
    tr = ft.tracing(kernel)

    def trace(reader: Reader) -> bytes:
        events, _ = tr.snapshot()
        if tr.tracer == "function_graph":
            return graph_text(events).encode()
        return context_text(tr.tracer, events).encode()

    def set_tracing_on(text: str) -> None:
        try:
            tr.tracing_on = int(text, 0) != 0
        except ValueError:
            raise OSError(errno.EINVAL, text) from None

    def set_tracer(text: str) -> None:
        tr.set_tracer(text or "nop")

    def set_clock(text: str) -> None:
        tr.set_clock(text)

    def show_filter(reader: Reader) -> bytes:
        if not tr.filters:
            return b"#### all functions enabled ####\n"
        return "".join(f + "\n" for f in tr.functions(tr.filters)).encode()

    def clock(reader: Reader) -> bytes:
        return (" ".join(f"[{c}]" if c == tr.clock else c for c in ft.CLOCKS) + "\n").encode()

    def ignore(text: str) -> None:
        pass

    files = {
        "available_tracers": lambda: File(lambda r: (" ".join(tr.available()) + "\n").encode(), TRACE_MODE_READ, 0,
                                          mtime=boot),
        "current_tracer": lambda: File(lambda r: (tr.tracer + "\n").encode(), TRACE_MODE_WRITE, 0,
                                       _store(set_tracer), mtime=boot),
        "set_ftrace_filter": lambda: File(show_filter, TRACE_MODE_WRITE, 0, _store(tr.filter_write, False),
                                          mtime=boot, truncate=lambda length: tr.filter_reset()),
        "trace": lambda: File(trace, TRACE_MODE_WRITE, 0, _store(ignore), mtime=boot, truncate=lambda length: tr.clear()),
        "trace_clock": lambda: File(clock, TRACE_MODE_WRITE, 0, _store(set_clock), mtime=boot),
        "tracing_on": lambda: File(lambda r: b"1\n" if tr.tracing_on else b"0\n", TRACE_MODE_WRITE, 0,
                                   _store(set_tracing_on), mtime=boot),
    }
    return StaticDir(files, 0o700, boot).as_dir()
