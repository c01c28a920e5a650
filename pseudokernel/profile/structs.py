"""The layouts of the kernel structs a module shares with the kernel, declared once.

A module reads and writes kernel structs by offset (file->private_data, timer->function,
dev->kobj.name ...), and the kernel functions answered in Python must use the same offsets.
They come from the profile's BTF when it has the struct and member; the table below gives each
struct the members the handlers use with Debian 6.1's offsets (6.1.0-56-amd64), what a profile
built from headers alone falls back to. A member not in the table is an error, not a silent 0:
declare it here, with its 6.1 offset.

    S = profile.structs
    k.m.read_u64(file + S.file.private_data)
    size = S.kmem_cache.sizeof
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .layouts import LAYOUTS

if TYPE_CHECKING:
    from .btf import Btf
    from .btf import Struct as BtfStruct


class Layout:
    """One struct: each declared member's offset as an attribute, and `sizeof`."""

    def __init__(self, struct: str, offsets: dict[str, int]) -> None:
        self.__dict__.update(offsets)
        self._struct = struct

    def __getattr__(self, member: str) -> int:
        raise AttributeError(f"struct {self._struct} has no member {member!r} in profile/layouts.py")

    def __getitem__(self, member: str) -> int:
        """A member named at run time (a helper reading one of several members)."""
        return getattr(self, member)

    def get(self, member: str, default: int) -> int:
        """For a struct named at run time (crypto's algorithm types, notifier heads), which
        the table may not declare: the BTF's offset, else the caller's default."""
        return self.__dict__.get(member, default)


class Structs:
    """Every declared struct, resolved against the BTF on first use and kept (a profile's
    layouts never change)."""

    def __init__(self, btf: Btf | None) -> None:
        self._btf = btf
        self._raw: dict[str, BtfStruct | None] = {}

    def btf(self, struct: str) -> BtfStruct | None:
        """The struct as the BTF describes it, every member (a handler filling a task_struct or
        pv_ops member by member), or None without BTF."""
        if struct not in self._raw:
            self._raw[struct] = self._btf.struct(struct) if self._btf is not None else None
        return self._raw[struct]

    def __getattr__(self, struct: str) -> Layout:
        if struct.startswith("_"):
            raise AttributeError(struct)
        layout = self[struct]
        setattr(self, struct, layout)
        return layout

    def __getitem__(self, struct: str) -> Layout:
        """By name, for a struct the caller learns at run time (crypto's alg structs)."""
        cached = self.__dict__.get(struct)
        if cached is not None:
            return cached
        found = self.btf(struct)
        fallback = LAYOUTS.get(struct)
        if fallback is None:  # undeclared: only get() with a default makes sense
            fallback = dict.fromkeys(found.members, 0) if found is not None else {}
        offsets = dict(fallback)
        if found is not None:
            for member in fallback:
                if member in found.members:
                    offsets[member] = found.members[member].offset
            if found.size:
                offsets["sizeof"] = found.size
        layout = Layout(struct, offsets)
        self.__dict__[struct] = layout
        return layout
