"""Dynamic debug (issue 11 item 4): a module's pr_debug sites are listed in
<debugfs>/dynamic_debug/control, off until a query turns them on: the `dyndbg=` parameter at
load (tests/expected/real/outcomes.txt records the real kernel printing the line then) or a
write of a query to the control file, which patches the site's static branch."""

from __future__ import annotations

from realref import ko

from pseudokernel.fs import build_root
from pseudokernel.fs.tree import Reader, lookup

CONTROL = "/sys/kernel/debug/dynamic_debug/control"


def _control(kernel) -> str:
    return lookup(build_root(kernel), CONTROL).read(Reader()).decode()


def _site(kernel) -> str:
    return next(line for line in _control(kernel).splitlines() if "[outcomes]" in line and "debug line" in line)


def test_dyndbg_parameter_turns_the_modules_sites_on(kernel):
    start = kernel.log.next_seq
    kernel.finit_module(ko("outcomes"), "case=dyndbg dyndbg=+pmf")
    records = kernel.log.records(start)
    # dynamic_emit_prefix(): module and function names before the message, at KERN_DEBUG
    debug = [r for r in records if r.text.endswith(b"debug line 1")]
    assert [(r.level, r.text) for r in debug] == [(7, b"outcomes:case_dyndbg: outcomes: debug line 1")]
    assert "=pmf " in _site(kernel)
    kernel.delete_module("outcomes")


def test_a_query_written_to_control_turns_a_site_on_and_off(kernel):
    kernel.finit_module(ko("outcomes"), "case=dyndbg")
    assert _control(kernel).startswith("# filename:lineno [module]function flags format\n")
    site = _site(kernel)
    assert " =_ " in site and site.endswith('"debug line %d\\n"')
    node = lookup(build_root(kernel), CONTROL)
    assert node.write(b"module outcomes +p\n") == len(b"module outcomes +p\n")
    assert " =p " in _site(kernel)
    node.write(b"module outcomes -p")
    assert " =_ " in _site(kernel)
    try:
        node.write(b"module outcomes ?p")
    except OSError as e:
        assert e.errno == 22
    else:
        raise AssertionError("a query that does not parse is EINVAL")
    kernel.delete_module("outcomes")
