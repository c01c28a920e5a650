"""Locks (kernel/locking/): one CPU and no preemption inside the emulator, so a lock is a
state to track, not something to wait for. Mutexes record their owner so that a lock still
held when a module unloads can be reported."""

from __future__ import annotations

from . import KernelApi, kapi


def _held(k: KernelApi) -> dict[int, int]:
    return k.kernel.held_locks


@kapi("__mutex_init")
def __mutex_init(k: KernelApi, lock: int, name: int, key: int) -> None:
    k.m.write(lock, bytes(8))  # owner = NULL: unlocked


@kapi("mutex_lock", "mutex_lock_nested", "mutex_lock_io")
def mutex_lock(k: KernelApi, lock: int) -> None:
    _held(k)[lock] = k.caller


@kapi("mutex_lock_interruptible", "mutex_lock_killable", "mutex_lock_interruptible_nested")
def mutex_lock_interruptible(k: KernelApi, lock: int) -> int:
    _held(k)[lock] = k.caller
    return 0


@kapi("mutex_trylock")
def mutex_trylock(k: KernelApi, lock: int) -> int:
    if lock in _held(k):
        return 0
    _held(k)[lock] = k.caller
    return 1


@kapi("mutex_unlock")
def mutex_unlock(k: KernelApi, lock: int) -> None:
    _held(k).pop(lock, None)


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


@kapi("down_read", "down_write")
def down(k: KernelApi, sem: int) -> None:
    _held(k)[sem] = k.caller


@kapi("up_read", "up_write")
def up(k: KernelApi, sem: int) -> None:
    _held(k).pop(sem, None)


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


@kapi("down_interruptible", "down_killable", "down_timeout", "down_read_killable", "down_write_killable",
      "down_read_interruptible")
def down_interruptible(k: KernelApi, sem: int) -> int:
    _held(k)[sem] = k.caller
    return 0


@kapi("down_trylock")
def down_trylock(k: KernelApi, sem: int) -> int:
    """Returns 0 when the semaphore was taken (the inverse of mutex_trylock)."""
    if sem in _held(k):
        return 1
    _held(k)[sem] = k.caller
    return 0


@kapi("down_read_trylock", "down_write_trylock")
def down_read_trylock(k: KernelApi, sem: int) -> int:
    if sem in _held(k):
        return 0
    _held(k)[sem] = k.caller
    return 1


@kapi("down", "down_read_nested", "down_write_nested")
def down_plain(k: KernelApi, sem: int) -> None:
    _held(k)[sem] = k.caller


@kapi("up", "up_read_non_owner", "downgrade_write")
def up_plain(k: KernelApi, sem: int) -> None:
    _held(k).pop(sem, None)


@kapi("sema_init")
def sema_init(k: KernelApi, sem: int, val: int) -> None:
    return None
