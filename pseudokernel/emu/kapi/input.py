"""Input devices (drivers/input/input.c): a device gets its number when allocated
(input_allocate_device() names it inputN), its capability bitmaps from input_set_capability()
or the module's own __set_bit()s, and at registration EV_SYN, the handlers that match it
(the built-in ones: kbd for a device with keyboard keys, sysrq for one with Alt and SysRq, leds
for one with LEDs; evdev and mousedev are modules on the reference machine, so no event node),
and the "input: NAME as PATH" line. /proc/bus/input/devices lists them after the reference
machine's keyboard (fs/procfs.py)."""

from __future__ import annotations

from . import KernelApi, kapi
from .device import device_path, free_kernel_object, set_dev_name

EV_SYN, EV_KEY, EV_REL, EV_ABS, EV_MSC, EV_SW, EV_LED, EV_SND, EV_REP, EV_FF = 0, 1, 2, 3, 4, 5, 0x11, 0x12, 0x14, 0x15
BITMAPS = {EV_KEY: "keybit", EV_REL: "relbit", EV_ABS: "absbit", EV_MSC: "mscbit", EV_SW: "swbit",
           EV_LED: "ledbit", EV_SND: "sndbit", EV_FF: "ffbit"}
KEY_LEFTALT, KEY_SYSRQ, BTN_MISC = 56, 99, 0x100


def _bit(k: KernelApi, base: int, n: int) -> bool:
    return bool(k.m.read_u8(base + n // 8) >> (n % 8) & 1)


def _set_bit(k: KernelApi, base: int, n: int) -> None:
    k.m.write_u8(base + n // 8, k.m.read_u8(base + n // 8) | 1 << (n % 8))


def bitmap(k: KernelApi, dev: int, member: str, longs: int) -> list[int]:
    base = dev + k.S.input_dev[member]
    return [k.m.read_u64(base + 8 * i) for i in range(longs)]


@kapi("input_allocate_device", "devm_input_allocate_device")
def input_allocate_device(k: KernelApi) -> int:
    dev = k.m.kmalloc(k.S.input_dev.sizeof, k.caller_module_name(), k.caller, kind="input_dev")
    # what the reference machine numbered at boot: input0 its i8042 keyboard, input1 taken by
    # a probe that failed (profile.machine)
    n = k.state.get("input_no", k.kernel.profile.machine["input_devices"])
    k.state["input_no"] = n + 1
    k.state.setdefault("input_names", {})[dev] = f"input{n}"
    set_dev_name(k, dev + k.S.input_dev.dev, f"input{n}")  # dev_set_name(&dev->dev, "input%lu", ...)
    return dev


@kapi("input_set_capability")
def input_set_capability(k: KernelApi, dev: int, typ: int, code: int) -> None:
    typ, code = typ & 0xFFFFFFFF, code & 0xFFFFFFFF
    if typ in BITMAPS:
        _set_bit(k, dev + k.S.input_dev[BITMAPS[typ]], code)
    _set_bit(k, dev + k.S.input_dev.evbit, typ)


def handlers(k: KernelApi, dev: int) -> list[str]:
    """The built-in handlers that attach (their connect order on the reference machine)."""
    out = []
    ev, keys = dev + k.S.input_dev.evbit, dev + k.S.input_dev.keybit
    if _bit(k, ev, EV_KEY) and _bit(k, keys, KEY_LEFTALT) and _bit(k, keys, KEY_SYSRQ):
        out.append("sysrq")
    if _bit(k, ev, EV_SND) or _bit(k, ev, EV_KEY) and any(_bit(k, keys, i) for i in range(1, BTN_MISC)):
        out.append("kbd")
    if _bit(k, ev, EV_LED):
        out.append("leds")
    return out


@kapi("input_register_device")
def input_register_device(k: KernelApi, dev: int) -> int:
    _set_bit(k, dev + k.S.input_dev.evbit, EV_SYN)
    keys = dev + k.S.input_dev.keybit
    k.m.write_u8(keys, k.m.read_u8(keys) & ~1)  # KEY_RESERVED is never reported
    name = k.cname(k.m.read_u64(dev + k.S.input_dev.name))
    number = k.state.get("input_names", {}).get(dev, "input0")
    rec = k.registry.add("input", name, dev, k.caller_module_name(), number=number, handlers=handlers(k, dev))
    rec.info["path"] = device_path(k, dev + k.S.input_dev.dev)
    k.log.printk(f"\x016input: {name} as {rec.info['path']}\n".encode())
    return 0


@kapi("input_unregister_device")
def input_unregister_device(k: KernelApi, dev: int) -> None:
    k.registry.remove("input", dev)
    input_free_device(k, dev)  # the last reference goes with it (input_dev_release)


@kapi("input_free_device")
def input_free_device(k: KernelApi, dev: int) -> None:
    if dev and k.registry.find("input", dev) is None:
        k.state.get("input_names", {}).pop(dev, None)
        free_kernel_object(k, k.m.read_u64(dev + k.S.input_dev.dev + k.S.device.kobj + k.S.kobject.name),
                           "kobject-name")
        k.kfree(dev)


@kapi("input_event", "input_inject_event")
def input_event(k: KernelApi, dev: int, typ: int, code: int, value: int) -> None:
    """The event goes to the attached handlers: the console keyboard, which no one reads here."""
    return None



