"""Notifier chains (kernel/notifier.c): the blocking, atomic, raw and SRCU chains modules
register on, called in priority order as the kernel does."""

from __future__ import annotations

from errno import EEXIST

from ...bits import s32 as _s32
from . import KernelApi, kapi
from . import neg_errno as _err


def _chain_head(k: KernelApi, nh: int, struct: str) -> int:
    return nh + k.S[struct].get("head", 0)


def _chain_register(k: KernelApi, head: int, n: int) -> int:
    """notifier_chain_register(): by priority, equal priorities in registration order."""
    prio = _s32(k.m.read_u32(n + 16))
    link = head
    for _ in range(10000):
        cur = k.m.read_u64(link)
        if not cur:
            break
        if cur == n:
            k.log.printk(b"\x014notifier callback already registered\n")
            return _err(EEXIST)
        if prio > _s32(k.m.read_u32(cur + 16)):
            break
        link = cur + 8
    k.m.write_u64(n + 8, k.m.read_u64(link))
    k.m.write_u64(link, n)
    return 0


def _chain_unregister(k: KernelApi, head: int, n: int) -> int:
    link = head
    for _ in range(10000):
        cur = k.m.read_u64(link)
        if not cur:
            return _err(2)  # -ENOENT
        if cur == n:
            k.m.write_u64(link, k.m.read_u64(n + 8))
            return 0
        link = cur + 8
    return _err(2)


def _chain_call(k: KernelApi, head: int, val: int, v: int) -> int:
    ret = 0
    nb = k.m.read_u64(head)
    for _ in range(10000):
        if not nb:
            break
        nxt = k.m.read_u64(nb + 8)
        fn = k.m.read_u64(nb)
        if fn:
            ret = k.m.call(fn, nb, val, v) & 0xFFFFFFFF
            if ret & 0x8000:  # NOTIFY_STOP_MASK
                break
        nb = nxt
    return ret


def _chain_handlers(struct: str):
    def reg(k: KernelApi, nh: int, n: int) -> int:
        return _chain_register(k, _chain_head(k, nh, struct), n)

    def unreg(k: KernelApi, nh: int, n: int) -> int:
        return _chain_unregister(k, _chain_head(k, nh, struct), n)

    def call(k: KernelApi, nh: int, val: int, v: int) -> int:
        return _chain_call(k, _chain_head(k, nh, struct), val, v)

    return reg, unreg, call


for _kind, _struct in (("blocking", "blocking_notifier_head"), ("atomic", "atomic_notifier_head"),
                       ("raw", "raw_notifier_head"), ("srcu", "srcu_notifier_head")):
    _r, _u, _c = _chain_handlers(_struct)
    kapi(f"{_kind}_notifier_chain_register")(_r)
    kapi(f"{_kind}_notifier_chain_unregister")(_u)
    kapi(f"{_kind}_notifier_call_chain")(_c)


@kapi("register_reboot_notifier", "register_die_notifier", "register_oom_notifier", "register_pm_notifier",
      "register_module_notifier", "register_keyboard_notifier", "register_vt_notifier", "register_acpi_notifier",
      "register_blocking_lsm_notifier", "cpu_pm_register_notifier", "register_memory_notifier",
      "register_inetaddr_validator_notifier", "register_netevent_notifier", "fb_register_client",
      "register_restart_handler", "register_sys_off_handler", "usb_register_notify", "register_dcbevent_notifier")
def register_notifier(k: KernelApi, nb: int) -> int:
    k.registry.add("notifier", k.stub.name if k.stub else "notifier", nb, k.caller_module_name())
    return 0


@kapi("unregister_reboot_notifier", "unregister_die_notifier", "unregister_oom_notifier", "unregister_pm_notifier",
      "unregister_module_notifier", "unregister_keyboard_notifier", "unregister_vt_notifier",
      "unregister_acpi_notifier", "cpu_pm_unregister_notifier", "unregister_memory_notifier",
      "fb_unregister_client", "unregister_restart_handler", "usb_unregister_notify", "unregister_dcbevent_notifier")
def unregister_notifier(k: KernelApi, nb: int) -> int:
    k.registry.remove("notifier", nb)
    return 0
