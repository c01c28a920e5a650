"""Locks (kernel/locking/). One CPU, and a task gives it away only when it sleeps, so a
spinlock is a state to track (its holder cannot sleep). A mutex or a semaphore can be held
by a task that sleeps (a kthread in msleep, a reader waiting in the module): another task that
wants it blocks until it is released (sched.py's block()). Locks record who took them so that
one still held when a module unloads can be reported."""

from __future__ import annotations

from errno import EINTR

from ...bits import MASK64
from . import KernelApi, kapi
from .sched import block


def _held(k: KernelApi) -> dict[int, int]:
    return k.kernel.held_locks


def _wait_handoff(k: KernelApi, lock: int, interruptible: bool) -> bool | None:
    """Queue for lock and block until a release hands it over (first come, first served, as
    the kernel's handoff makes it for a waiter the releaser would otherwise beat to it: a
    kthread that unlocks and locks again in its loop). True: handed over; False: a signal;
    None: the wait was given up (the daemon stopping, or nothing left that could release it)."""
    me = [k.caller, False]
    queue = k.state.setdefault("lock_waiters", {}).setdefault(lock, [])
    queue.append(me)
    ok = block(k, lambda: me[1], interruptible)
    if me[1]:
        return True
    queue.remove(me)
    return False if interruptible and not ok else None


def _handoff(k: KernelApi, lock: int) -> bool:
    """A release with a task queued: lock goes to the first, who is woken."""
    queues = k.state.get("lock_waiters", {})
    queue = queues.get(lock)
    if not queue:
        return False
    first = queue.pop(0)
    if not queue:
        del queues[lock]
    _held(k)[lock] = first[0]
    first[1] = True
    k.kernel.wake_up()
    return True


def _take(k: KernelApi, lock: int, interruptible: bool) -> int:
    """Hold lock, blocking while another task does: 0, or -EINTR for a signal meanwhile."""
    held = _held(k)
    if lock in held:
        got = _wait_handoff(k, lock, interruptible)
        if got:
            return 0
        if got is False:
            return -EINTR & MASK64
    held[lock] = k.caller
    return 0


def _release(k: KernelApi, lock: int) -> None:
    if _held(k).pop(lock, None) is not None:
        _handoff(k, lock)


@kapi("__mutex_init")
def __mutex_init(k: KernelApi, lock: int, name: int, key: int) -> None:
    k.m.write(lock, bytes(8))  # owner = NULL: unlocked


@kapi("mutex_lock", "mutex_lock_nested", "mutex_lock_io")
def mutex_lock(k: KernelApi, lock: int) -> None:
    _take(k, lock, False)


@kapi("mutex_lock_interruptible", "mutex_lock_killable", "mutex_lock_interruptible_nested")
def mutex_lock_interruptible(k: KernelApi, lock: int) -> int:
    return _take(k, lock, True)


@kapi("mutex_trylock")
def mutex_trylock(k: KernelApi, lock: int) -> int:
    if lock in _held(k):
        return 0
    _held(k)[lock] = k.caller
    return 1


@kapi("mutex_unlock")
def mutex_unlock(k: KernelApi, lock: int) -> None:
    _release(k, lock)


@kapi("mutex_is_locked")
def mutex_is_locked(k: KernelApi, lock: int) -> int:
    return int(lock in _held(k))


@kapi("_raw_spin_lock", "_raw_spin_lock_bh", "_raw_spin_lock_irq", "_raw_read_lock", "_raw_write_lock")
def _raw_spin_lock(k: KernelApi, lock: int) -> None:
    _held(k)[lock] = k.caller


@kapi("_raw_spin_unlock", "_raw_spin_unlock_bh", "_raw_spin_unlock_irq", "_raw_read_unlock", "_raw_write_unlock")
def _raw_spin_unlock(k: KernelApi, lock: int) -> None:
    _held(k).pop(lock, None)


@kapi("_raw_spin_lock_irqsave", "_raw_read_lock_irqsave", "_raw_write_lock_irqsave")
def _raw_spin_lock_irqsave(k: KernelApi, lock: int) -> int:
    _held(k)[lock] = k.caller
    return 0x246  # the saved EFLAGS: interrupts were on


@kapi("_raw_spin_unlock_irqrestore", "_raw_read_unlock_irqrestore", "_raw_write_unlock_irqrestore")
def _raw_spin_unlock_irqrestore(k: KernelApi, lock: int, flags: int) -> None:
    _held(k).pop(lock, None)


@kapi("_raw_spin_trylock")
def _raw_spin_trylock(k: KernelApi, lock: int) -> int:
    if lock in _held(k):
        return 0
    _held(k)[lock] = k.caller
    return 1


@kapi("__init_rwsem", "__raw_spin_lock_init")
def init_lock(k: KernelApi, lock: int, name: int, key: int) -> None:
    return None


@kapi("down_read")
def down_read(k: KernelApi, sem: int) -> None:
    """Readers share an rw_semaphore: recorded, never waited for."""
    _held(k)[sem] = k.caller


@kapi("down_write")
def down_write(k: KernelApi, sem: int) -> None:
    """A writer waits until no reader or writer holds it (a holder that sleeps)."""
    _take(k, sem, False)


@kapi("up_read", "up_write")
def up(k: KernelApi, sem: int) -> None:
    _release(k, sem)


@kapi("rtnl_lock", "rtnl_lock_killable")
def rtnl_lock(k: KernelApi) -> int:
    k.state["rtnl"] = k.state.get("rtnl", 0) + 1
    return 0


@kapi("rtnl_unlock")
def rtnl_unlock(k: KernelApi) -> None:
    k.state["rtnl"] = max(k.state.get("rtnl", 0) - 1, 0)


@kapi("rtnl_trylock")
def rtnl_trylock(k: KernelApi) -> int:
    if k.state.get("rtnl", 0):
        return 0
    k.state["rtnl"] = 1
    return 1


@kapi("rtnl_is_locked", "lockdep_rtnl_is_held")
def rtnl_is_locked(k: KernelApi) -> int:
    return int(k.state.get("rtnl", 0) > 0)


@kapi("_raw_spin_lock_nested", "_raw_spin_lock_bh_nested", "_raw_write_lock_irq", "_raw_read_lock_irq",
      "_raw_read_lock_bh", "_raw_write_lock_bh", "_raw_write_lock_nested")
def _raw_lock_more(k: KernelApi, lock: int) -> None:
    _held(k)[lock] = k.caller


@kapi("_raw_write_unlock_irq", "_raw_read_unlock_irq", "_raw_read_unlock_bh", "_raw_write_unlock_bh")
def _raw_unlock_more(k: KernelApi, lock: int) -> None:
    _held(k).pop(lock, None)


@kapi("_raw_spin_trylock_bh", "_raw_read_trylock", "_raw_write_trylock")
def _raw_trylock_more(k: KernelApi, lock: int) -> int:
    if lock in _held(k):
        return 0
    _held(k)[lock] = k.caller
    return 1


# struct semaphore { raw_spinlock_t lock; unsigned int count; struct list_head wait_list; }:
# sema_init() is inline, so the count is in the module's memory, where down() and up() look
SEM_COUNT = 4


def _down(k: KernelApi, sem: int, interruptible: bool) -> int:
    """down(): take one of the count, or block until up() hands one over; -EINTR for a
    signal meanwhile."""
    count = k.m.read_u32(sem + SEM_COUNT)
    if count:
        k.m.write_u32(sem + SEM_COUNT, count - 1)
    else:
        got = _wait_handoff(k, sem, interruptible)
        if got is False:
            return -EINTR & MASK64
    _held(k)[sem] = k.caller  # for the unload report: a semaphore still down
    return 0


@kapi("down_interruptible", "down_killable", "down_timeout")
def down_interruptible(k: KernelApi, sem: int) -> int:
    return _down(k, sem, True)


@kapi("down_read_killable", "down_write_killable", "down_read_interruptible")
def down_rw_interruptible(k: KernelApi, sem: int) -> int:
    return _take(k, sem, True)


@kapi("down_trylock")
def down_trylock(k: KernelApi, sem: int) -> int:
    """Returns 0 when the semaphore was taken (the inverse of mutex_trylock)."""
    count = k.m.read_u32(sem + SEM_COUNT)
    if not count:
        return 1
    k.m.write_u32(sem + SEM_COUNT, count - 1)
    _held(k)[sem] = k.caller
    return 0


@kapi("down_read_trylock", "down_write_trylock")
def down_read_trylock(k: KernelApi, sem: int) -> int:
    if sem in _held(k):
        return 0
    _held(k)[sem] = k.caller
    return 1


@kapi("down")
def down_plain(k: KernelApi, sem: int) -> None:
    _down(k, sem, False)


@kapi("down_read_nested", "down_write_nested")
def down_rw_nested(k: KernelApi, sem: int) -> None:
    _take(k, sem, False)


@kapi("up")
def up_plain(k: KernelApi, sem: int) -> None:
    _held(k).pop(sem, None)
    if not _handoff(k, sem):
        k.m.write_u32(sem + SEM_COUNT, k.m.read_u32(sem + SEM_COUNT) + 1)


@kapi("up_read_non_owner", "downgrade_write")
def up_rw(k: KernelApi, sem: int) -> None:
    _release(k, sem)


@kapi("sema_init")
def sema_init(k: KernelApi, sem: int, val: int) -> None:
    """Inline in the kernel's headers (a module's own copy does this); here for a caller
    that reaches it as a function."""
    k.m.write_u32(sem, 0)
    k.m.write_u32(sem + SEM_COUNT, val & 0xFFFFFFFF)
    k.m.write_u64(sem + 8, sem + 8)
    k.m.write_u64(sem + 16, sem + 8)
