"""Kernel threads as tasks of their own (sched.py, kthread.py, idle.py): they run when the
task holding the CPU gives it away, live on between system calls, and end at kthread_stop()."""

from __future__ import annotations

import subprocess
import sys
import threading
import time

from realref import ROOT, ko

from pseudokernel.emu.kapi.task import tasks


def lines(kernel, since: int = 0) -> list[str]:
    return [r.text.decode() for r in kernel.log.records(since)]


def kthreads() -> list[str]:
    return sorted(t.name for t in threading.enumerate() if t.name.startswith(("kthread:", "pseudokernel-idle")))


def test_kthread_init_waits_for_runs_in_its_wait_and_lives_until_stopped(kernel):
    seq = kernel.log.next_seq
    kernel.finit_module(ko("outcomes"), "case=kthread")
    assert [x for x in lines(kernel, seq) if x.startswith("outcomes: ")][-4:] == [
        "outcomes: case kthread", "outcomes: init waits", "outcomes: thread runs", "outcomes: init resumes"]
    # its loop (msleep until kthread_stop) goes on: the thread is alive, asleep
    (task,) = tasks(kernel.api).tasks.values()
    assert task.state == "sleeping" and task.thread.is_alive()
    seq = kernel.log.next_seq
    kernel.delete_module("outcomes")
    assert lines(kernel, seq) == ["outcomes: thread stops", "outcomes: kthread_stop = 7", "outcomes: exit"]
    assert kthreads() == [] or kthreads() == ["pseudokernel-idle"]


def test_work_falls_due_while_no_system_call_runs(kernel):
    """The delayed work item (200 ms) runs with no system call after insmod: the idle task
    runs it on time; the ticker kthread and the timer tick meanwhile."""
    kernel.finit_module(ko("ktask"), "period_ms=10")
    seq = kernel.log.next_seq
    ticker = next(t for t in tasks(kernel.api).tasks.values() if t.name == "pk-ticker")

    def wake_at() -> int:
        with kernel.machine.lock:  # not while it runs (its sleep time is cleared then)
            return ticker.wake_at

    first = wake_at()
    end = time.monotonic() + 10
    while "ktask: delayed work runs in a task" not in lines(kernel, seq) and time.monotonic() < end:
        time.sleep(0.05)
    assert "ktask: delayed work runs in a task" in lines(kernel, seq)
    assert wake_at() > first  # it woke and slept again, with no system call
    kernel.delete_module("ktask")
    assert lines(kernel, seq)[-8:] == [
        "ktask: exit", "ktask: pk-waiter stops", "ktask: kthread_stop(waiter) = 6",
        "ktask: pk-ticker stops", "ktask: kthread_stop(ticker) = 5",
        # only kthread_stop() ends the third's wait: its TIF_NOTIFY_SIGNAL (6.1: one jiffy more)
        "ktask: pk-sleeper: wait_event_interruptible = -512, signal_pending = 1",
        "ktask: pk-sleeper: msleep_interruptible(10000) left 10004 ms", "ktask: kthread_stop(sleeper) = 9"]
    assert tasks(kernel.api).tasks == {}


def test_close_ends_sleeping_kthreads(profile):
    from pseudokernel.kernel import Kernel

    k = Kernel(profile, seed=1)
    k.finit_module(ko("ktask"), "period_ms=5")
    time.sleep(0.05)
    assert any(n.startswith("kthread:") for n in kthreads())
    k.close()
    assert not any(n.startswith("kthread:") for n in kthreads())


def test_a_kernel_never_closed_exits_cleanly():
    """Unicorn frees its instances at exit: the threads suspended in them end first."""
    code = (
        "import time\n"
        "from pseudokernel.kernel import Kernel\n"
        "from realref import ko\n"
        "k = Kernel()\n"
        "k.finit_module(ko('ktask'), 'period_ms=5')\n"
        "time.sleep(0.1)\n"
        "print('ok')\n"
    )
    r = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120,
                       env={"PYTHONPATH": f"{ROOT}:{ROOT / 'tests'}", "PATH": "/usr/bin:/bin"})
    assert (r.returncode, r.stdout) == (0, "ok\n"), r.stderr
