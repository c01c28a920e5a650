"""/sys/class/input (drivers/input/input.c's device attributes): each input device's name,
phys, uniq, id/, capabilities/, properties, inhibited, modalias and uevent, read from the
module's struct input_dev; the reference machine's own keyboard (under i8042) and mousedev's
`mice` beside them (tests/expected/real/inputnet.txt)."""

from __future__ import annotations

import posixpath
from collections.abc import Callable
from typing import TYPE_CHECKING

from .. import vfs
from ..emu.kapi.input import bitmap
from .tree import Dir, File, Link, Node, StaticDir, attr_file, power_dir

if TYPE_CHECKING:
    from ..kernel import Kernel

KEY_MIN_INTERESTING = 113  # KEY_MUTE: the first key code a modalias lists
# name, struct member, longs, event type (None: always), modalias letter, first bit listed
CAPS = (("ev", "evbit", 1, None, "e", 0), ("key", "keybit", 12, 1, "k", KEY_MIN_INTERESTING),
        ("rel", "relbit", 1, 2, "r", 0), ("abs", "absbit", 1, 3, "a", 0), ("msc", "mscbit", 1, 4, "m", 0),
        ("led", "ledbit", 1, 0x11, "l", 0), ("snd", "sndbit", 1, 0x12, "s", 0), ("ff", "ffbit", 2, 0x15, "f", 0),
        ("sw", "swbit", 1, 5, "w", 0))


def words(w: list[int]) -> str:
    """input_print_bitmap(): the words from the highest non-zero one, "0" if none."""
    out, skip = [], True
    for i in range(len(w) - 1, -1, -1):
        if w[i] or not skip:
            out.append(f"{w[i]:x}" if skip else f"{w[i]:016x}")
            skip = False
    return " ".join(out) if out else "0"


class InputState:
    """What a view shows of one input_dev, read at once from emulated memory."""

    name: str
    phys: str
    uniq: str
    id: list[int]
    bits: dict[str, list[int]]
    prop: list[int]

    def __init__(self, api, rec) -> None:
        m, d, dev = api.m, api.S.input_dev, rec.obj
        self.name = rec.name
        self.phys = api.cname(m.read_u64(dev + d.phys))
        self.uniq = api.cname(m.read_u64(dev + d.uniq))
        self.id = [m.read_u16(dev + d.id + 2 * i) for i in range(4)]
        self.bits = {name: bitmap(api, dev, member, longs) for name, member, longs, *_ in CAPS}
        self.prop = bitmap(api, dev, "propbit", 1)

    def modalias(self) -> str:
        b, v, p, e = self.id
        out = f"input:b{b:04X}v{v:04X}p{p:04X}e{e:04X}-"
        for name, _member, longs, _ev, letter, first in CAPS:
            w = self.bits[name]
            out += letter + "".join(f"{i:X}," for i in range(first, 64 * longs) if w[i // 64] >> (i % 64) & 1)
        return out

    def uevent(self) -> str:
        b, v, p, e = self.id
        out = f'PRODUCT={b:x}/{v:x}/{p:x}/{e:x}\nNAME="{self.name}"\nPHYS="{self.phys}"\n'
        if self.uniq:
            out += f'UNIQ="{self.uniq}"\n'
        out += f"PROP={words(self.prop)}\nEV={words(self.bits['ev'])}\n"
        ev = self.bits["ev"][0]
        for name, _m, _l, evtype, *_ in CAPS[1:]:
            if ev >> evtype & 1:
                out += f"{name.upper()}={words(self.bits[name])}\n"
        return out + f"MODALIAS={self.modalias()}\n"


def keyboard() -> InputState:
    """The reference machine's i8042 keyboard, input0 (tests/expected/real/machine.txt)."""
    kbd = InputState.__new__(InputState)
    kbd.name, kbd.phys, kbd.uniq, kbd.id = "AT Translated Set 2 keyboard", "isa0060/serio0/input0", "", [
        0x11, 1, 1, 0xAB41]
    kbd.bits = {name: [0] * longs for name, _m, longs, *_ in CAPS}
    kbd.bits["ev"] = [0x120013]
    kbd.bits["key"][:4] = [0xFFFFFFFFFFFFFFFE, 0xFEFFFFDFFFEFFFFF, 0x3803078F800D001, 0x402000002]
    kbd.bits["msc"], kbd.bits["led"] = [0x10], [0x7]
    kbd.prop = [0]
    return kbd


def input_dir(kernel: Kernel, rec=None, path: str = "/devices/platform/i8042/serio0/input/input0") -> Dir:
    """A module's input device (rec) at path (under /sys), or the keyboard (None)."""
    def state() -> InputState:
        return vfs.peek(kernel, lambda api: InputState(api, rec)) if rec is not None else keyboard()

    def text(fn: Callable[[InputState], str]) -> Callable[[], File]:
        return lambda: attr_file(lambda r: (fn(state()) + "\n").encode())

    ids = StaticDir({n: text(lambda s, i=i: f"{s.id[i]:04x}") for i, n in enumerate(
        ("bustype", "vendor", "product", "version"))}, 0o755).as_dir
    caps = StaticDir({name: text(lambda s, name=name: words(s.bits[name])) for name, *_ in CAPS}, 0o755).as_dir
    entries: dict[str, Callable[[], Node]] = {
        "capabilities": caps, "id": ids, "inhibited": text(lambda s: "0"), "modalias": text(InputState.modalias),
        "name": text(lambda s: s.name), "phys": text(lambda s: s.phys), "power": power_dir,
        "properties": text(lambda s: words(s.prop)), "subsystem": lambda: Link(posixpath.relpath("/class/input", path)),
        "uevent": lambda: attr_file(lambda r: state().uevent().encode(), 0o644, store=len),
        "uniq": text(lambda s: s.uniq),
    }
    return StaticDir(entries, 0o755).as_dir()
