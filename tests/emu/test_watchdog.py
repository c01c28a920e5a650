"""The watchdog (emu/watchdog.py) stops code that never returns: spin.ko's init ends with the
budget after many short calls (the thread is woken only for a deadline earlier than the one it
waits for), and in a child forked after the thread ran (the corpus forks its workers from a
parent that used it: the thread does not exist in the child, so the child must start its own)."""

from __future__ import annotations

import os
import time

import pytest
from realref import PREBUILT

from pseudokernel.module import LoadError


def spin_reason(profile) -> str:
    from pseudokernel.kernel import Kernel

    k = Kernel(profile, budget=0.3, seed=1)
    try:
        for _ in range(20):  # short calls first: the thread is left waiting for their deadlines
            k.finit_module((PREBUILT / "hello.ko").read_bytes())
            k.delete_module("hello")
        with pytest.raises(LoadError) as e:
            k.finit_module((PREBUILT / "spin.ko").read_bytes())
        return e.value.reason
    finally:
        k.close()


def test_an_endless_init_ends_with_the_budget(profile):
    t0 = time.monotonic()
    assert spin_reason(profile) == "budget"
    assert time.monotonic() - t0 < 30


def test_an_endless_init_ends_in_a_forked_child(profile):
    assert spin_reason(profile) == "budget"  # the parent's thread runs
    pid = os.fork()
    if pid == 0:
        try:
            os._exit(0 if spin_reason(profile) == "budget" else 1)
        except BaseException:
            os._exit(2)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            assert os.waitstatus_to_exitcode(status) == 0
            return
        time.sleep(0.05)
    os.kill(pid, 9)
    os.waitpid(pid, 0)
    pytest.fail("the child's spinning init was never stopped")
