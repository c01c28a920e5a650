"""The module area as one mapping with a page table of ours (emu/address_space.py, Window):
permissions enforced with the exact faulting address, code of freed memory never run again,
the aliases' own addresses leading nowhere, and the memory given back at close."""

from __future__ import annotations

import pytest
from unicorn import UC_PROT_EXEC, UC_PROT_READ, UC_PROT_WRITE

from pseudokernel.emu.machine import Machine
from pseudokernel.emu.traps import Fault
from pseudokernel.profile import KernelProfile

RX, RO, RW = UC_PROT_READ | UC_PROT_EXEC, UC_PROT_READ, UC_PROT_READ | UC_PROT_WRITE
RET_1, RET_2 = bytes.fromhex("48c7c001000000c3"), bytes.fromhex("48c7c002000000c3")  # mov rax, N; ret


@pytest.fixture
def m():
    machine = Machine(KernelProfile.load(), seed=7)
    yield machine
    machine.close()


def code(m: Machine, body: bytes) -> int:
    addr = m.module_alloc(4096)
    m.write(addr, body)
    m.protect(addr, 4096, RX)
    return addr


def fault(m: Machine, fn: int, arg: int) -> tuple[str, int]:
    with pytest.raises(Fault) as e:
        m.call(fn, arg)
    return e.value.access, e.value.address


def test_permissions_fault_at_the_exact_address(m):
    fn = code(m, bytes.fromhex("488b07c3" "488937c3" "ffe7"))  # +0 read [rdi]; +4 write [rdi]; +8 jmp rdi
    data = m.module_alloc(2 * 4096)
    m.protect(data, 4096, RO)
    m.protect(data + 4096, 4096, RW)
    assert fault(m, fn + 4, data + 0x10) == ("write-prot", data + 0x10)
    m.call(fn + 4, data + 4096 + 0x10, 0x1234)
    assert m.read_u64(data + 4096 + 0x10) == 0x1234
    assert fault(m, fn + 4, fn + 2) == ("write-prot", fn + 2)  # its own text
    assert fault(m, fn + 8, data + 4096) == ("fetch-prot", data + 4096)
    assert fault(m, fn, data + 2 * 4096 + 8) == ("read", data + 2 * 4096 + 8)  # the guard page: not present
    # an alias's own address as a pointer reaches nothing, as before the aliases existed
    alias = (3 << 60) + (fn - m._windows[0].lo)
    assert fault(m, fn + 4, alias) == ("write", alias)
    assert m.read(fn, 4) == bytes.fromhex("488b07c3")


def test_freed_code_never_runs_again_in_any_context(m):
    """A module loaded where a freed one was runs its own code: in the running call (a free
    and a load nested in a handler) and in another CPU context (a kthread's) that ran the old
    code and was switched out meanwhile."""
    kthread = m.new_cpu()
    a = code(m, RET_1)
    m.switch_cpu(kthread)
    assert m.call(a) == 1
    m.switch_cpu(m.main_cpu)
    m.module_memfree(a)
    m.switch_cpu(kthread)
    m.switch_cpu(m.main_cpu)
    b = code(m, RET_2)
    assert b == a
    assert m.call(b) == 2
    m.switch_cpu(kthread)
    assert m.call(b) == 2
    m.switch_cpu(m.main_cpu)

    hook = m.add_function("pk_test_hook", None)
    outer = code(m, b"\x48\xb8" + hook.to_bytes(8, "little") + b"\xff\xd0\xc3")  # call hook; ret
    seen = {}

    def dispatch(stub):
        m.module_memfree(b)
        c = code(m, RET_1)
        seen["same"], seen["ran"] = c == b, m.call(c)

    m.dispatch = dispatch
    m.call(outer)
    assert seen == {"same": True, "ran": 1}


def test_close_gives_the_window_back(m):
    w = m._windows[0]
    m.close()
    assert w.mem.closed
