"""A fast reader for raw BTF, the kernel's own type information (include/uapi/linux/btf.h).

Why: the emulator needs to know what a kernel function takes and returns (`kmalloc_trace` returns a
pointer, `_printk` an int) and where a field sits in a kernel structure (`struct module`'s `name`,
`struct task_struct`'s `comm`). vmlinux's `.BTF` section has exactly that, for the kernel being
emulated, in about 4 MB.

How it stays fast: one pass over the type section records, for every type id, where its record
starts (an `array('I')`) and, for named types, the id under its name's *string offset*. No names are
decoded up front: a lookup by name first finds the name's offset in the string section
(`b"\\0name\\0"`), and only the types asked about are ever turned into Python objects.
"""

from __future__ import annotations

import struct
from array import array
from dataclasses import dataclass, field
from typing import NamedTuple

BTF_MAGIC = 0xEB9F

KIND_INT = 1
KIND_PTR = 2
KIND_ARRAY = 3
KIND_STRUCT = 4
KIND_UNION = 5
KIND_ENUM = 6
KIND_FWD = 7
KIND_TYPEDEF = 8
KIND_VOLATILE = 9
KIND_CONST = 10
KIND_RESTRICT = 11
KIND_FUNC = 12
KIND_FUNC_PROTO = 13
KIND_VAR = 14
KIND_DATASEC = 15
KIND_FLOAT = 16
KIND_DECL_TAG = 17
KIND_TYPE_TAG = 18
KIND_ENUM64 = 19

INT_SIGNED = 1 << 0
INT_CHAR = 1 << 1
INT_BOOL = 1 << 2

POINTER_SIZE = 8  # x86_64; BTF does not record the size of a pointer

# Bytes that follow the 12-byte btf_type record: (fixed, per vlen entry).
_TRAILER = {
    KIND_INT: (4, 0),
    KIND_ARRAY: (12, 0),
    KIND_STRUCT: (0, 12),
    KIND_UNION: (0, 12),
    KIND_ENUM: (0, 8),
    KIND_FUNC_PROTO: (0, 8),
    KIND_VAR: (4, 0),
    KIND_DATASEC: (0, 12),
    KIND_DECL_TAG: (4, 0),
    KIND_ENUM64: (0, 12),
}
_QUALIFIERS = {KIND_TYPEDEF, KIND_VOLATILE, KIND_CONST, KIND_RESTRICT, KIND_TYPE_TAG}
_QUALIFIER_WORDS = {KIND_CONST: "const", KIND_VOLATILE: "volatile", KIND_RESTRICT: "restrict"}
# How BTF (that is, gcc's DWARF) spells the C integer types that C lets one write several ways.
_INT_ALIASES = {
    "unsigned": "unsigned int",
    "signed": "int",
    "signed int": "int",
    "short": "short int",
    "signed short": "short int",
    "unsigned short": "short unsigned int",
    "unsigned short int": "short unsigned int",
    "long": "long int",
    "signed long": "long int",
    "unsigned long": "long unsigned int",
    "unsigned long int": "long unsigned int",
    "long long": "long long int",
    "signed long long": "long long int",
    "unsigned long long": "long long unsigned int",
    "unsigned long long int": "long long unsigned int",
}


@dataclass(frozen=True)
class CType:
    """A type as a caller sees it, after typedefs and qualifiers are resolved.

    kind: "void", "int", "bool", "pointer", "struct", "union", "enum", "array", "float", "func".
    size: bytes (0 for void and func; 0 for a struct only declared, never defined).
    signed: for "int" and "enum".
    name: the resolved type's own name ("unsigned int", "module" for struct module; "" when
        anonymous).
    spelling: the type as declared, in C ("size_t", "const char *", "struct module *").
    target: what a pointer points to, or an array's element type.
    count: an array's element count.
    """

    kind: str
    size: int
    signed: bool = False
    name: str = ""
    spelling: str = ""
    target: CType | None = None
    count: int = 0

    @property
    def is_pointer(self) -> bool:
        return self.kind == "pointer"

    @property
    def pointee_struct(self) -> str | None:
        """For a pointer to a struct or union: that struct's name (e.g. "module")."""
        if self.kind == "pointer" and self.target and self.target.kind in ("struct", "union"):
            return self.target.name
        return None


class Param(NamedTuple):
    name: str
    type: CType


@dataclass(frozen=True)
class FuncProto:
    """A function's prototype: what it returns and what it takes."""

    name: str
    ret: CType
    params: list[Param]
    variadic: bool = False


class Member(NamedTuple):
    """A struct member: byte offset, bit offset within that byte, bitfield width (0: not a
    bitfield), and its type."""

    offset: int
    bit_offset: int
    bit_size: int
    type: CType


@dataclass
class Struct:
    """A struct or union with its members by name; members of anonymous nested structs and
    unions are reachable by their own names, as in C."""

    name: str
    kind: str  # "struct" or "union"
    size: int
    members: dict[str, Member] = field(default_factory=dict)


class BtfError(ValueError):
    pass


class Btf:
    """Raw BTF (a vmlinux `.BTF` section or /sys/kernel/btf/vmlinux), indexed for lookups."""

    def __init__(self, data: bytes) -> None:
        if len(data) < 24:
            raise BtfError("BTF too short")
        magic, version, _flags, hdr_len = struct.unpack_from("<HBBI", data, 0)
        if magic != BTF_MAGIC:
            raise BtfError(f"bad BTF magic {magic:#x}")
        if version != 1:
            raise BtfError(f"unsupported BTF version {version}")
        type_off, type_len, str_off, str_len = struct.unpack_from("<IIII", data, 8)
        self._data = bytes(data)
        self._types_start = hdr_len + type_off
        self._strings = self._data[hdr_len + str_off:hdr_len + str_off + str_len]
        self._offsets = array("I", [0])  # type id -> record offset in _data; id 0 is void
        self._by_name: dict[int, list[int]] = {}
        self._index(self._types_start, self._types_start + type_len)
        self._name_offsets: dict[str, list[int]] = {}
        self._structs: dict[str, Struct | None] = {}

    # --- indexing -------------------------------------------------------------------------

    def _index(self, pos: int, end: int) -> None:
        data, offsets, by_name = self._data, self._offsets, self._by_name
        unpack = struct.Struct("<II").unpack_from
        trailer = _TRAILER
        type_id = 0
        while pos < end:
            name_off, info = unpack(data, pos)
            type_id += 1
            offsets.append(pos)
            if name_off:
                ids = by_name.get(name_off)
                if ids is None:
                    by_name[name_off] = [type_id]
                else:
                    ids.append(type_id)
            kind = (info >> 24) & 0x1F
            extra = trailer.get(kind)
            pos += 12
            if extra:
                pos += extra[0] + extra[1] * (info & 0xFFFF)
        if pos != end:
            raise BtfError("BTF type section ends inside a type")

    @property
    def type_count(self) -> int:
        """Number of types, void excluded."""
        return len(self._offsets) - 1

    def _string(self, off: int) -> str:
        end = self._strings.index(b"\0", off)
        return self._strings[off:end].decode("utf-8", "replace")

    def _header(self, type_id: int) -> tuple[int, int, int, int, int]:
        """(name_off, kind, vlen, kind_flag, size_or_type) of a type id."""
        name_off, info, size_or_type = struct.unpack_from("<III", self._data,
                                                          self._offsets[type_id])
        return name_off, (info >> 24) & 0x1F, info & 0xFFFF, info >> 31, size_or_type

    def _ids_named(self, name: str) -> list[int]:
        """All type ids whose name is `name` (found through the string section, not a dict of
        every name)."""
        offs = self._name_offsets.get(name)
        if offs is None:
            needle = b"\0" + name.encode() + b"\0"
            offs = []
            start = self._strings.find(needle)
            while start >= 0:
                offs.append(start + 1)
                start = self._strings.find(needle, start + 1)
            self._name_offsets[name] = offs
        ids: list[int] = []
        for off in offs:
            ids.extend(self._by_name.get(off, ()))
        return sorted(ids)

    def _find(self, name: str, kinds: tuple[int, ...]) -> int | None:
        """The first type id of one of `kinds` named `name`, preferring kinds in the given order."""
        ids = self._ids_named(name)
        for kind in kinds:
            for type_id in ids:
                if self._header(type_id)[1] == kind:
                    return type_id
        return None

    # --- type resolution ------------------------------------------------------------------

    def _strip(self, type_id: int) -> int:
        """Follow typedefs and qualifiers down to the underlying type."""
        while type_id:
            _, kind, _, _, ref = self._header(type_id)
            if kind not in _QUALIFIERS:
                break
            type_id = ref
        return type_id

    def _type_size(self, type_id: int) -> int:
        type_id = self._strip(type_id)
        if not type_id:
            return 0
        name_off, kind, _, kind_flag, size = self._header(type_id)
        if kind == KIND_PTR:
            return POINTER_SIZE
        if kind == KIND_ARRAY:
            elem, _, nelems = struct.unpack_from("<III", self._data, self._offsets[type_id] + 12)
            return nelems * self._type_size(elem)
        if kind == KIND_FWD:
            full = self._find(self._string(name_off), (KIND_UNION if kind_flag else KIND_STRUCT,))
            return self._header(full)[4] if full else 0
        if kind in (KIND_INT, KIND_STRUCT, KIND_UNION, KIND_ENUM, KIND_ENUM64, KIND_FLOAT,
                    KIND_DATASEC):
            return size
        return 0

    def _spell(self, type_id: int, depth: int = 0) -> str:
        """The C spelling of a type as declared (keeps typedef names and qualifiers)."""
        if not type_id:
            return "void"
        if depth > 16:
            return "..."
        name_off, kind, _, kind_flag, ref = self._header(type_id)
        name = self._string(name_off) if name_off else ""
        if kind in (KIND_INT, KIND_TYPEDEF, KIND_FLOAT):
            return name
        if kind in (KIND_STRUCT, KIND_UNION, KIND_ENUM, KIND_ENUM64, KIND_FWD):
            word = {KIND_STRUCT: "struct", KIND_UNION: "union", KIND_FWD:
                    "union" if kind_flag else "struct"}.get(kind, "enum")
            return f"{word} {name or '(anon)'}"
        if kind in _QUALIFIER_WORDS:
            word, inner = _QUALIFIER_WORDS[kind], self._spell(ref, depth + 1)
            if ref and self._header(ref)[1] == KIND_PTR:
                return f"{inner} {word}"  # a const pointer: "char * const"
            return f"{word} {inner}"
        if kind == KIND_TYPE_TAG:
            return self._spell(ref, depth + 1)
        if kind == KIND_PTR:
            target = self._strip(ref)
            if target and self._header(target)[1] == KIND_FUNC_PROTO:
                proto = self._spell(target, depth + 1)
                ret, _, args = proto.partition(" (")
                return f"{ret} (*)({args}"
            return f"{self._spell(ref, depth + 1)} *"
        if kind == KIND_ARRAY:
            elem, _, nelems = struct.unpack_from("<III", self._data, self._offsets[type_id] + 12)
            return f"{self._spell(elem, depth + 1)}[{nelems}]"
        if kind == KIND_FUNC_PROTO:
            params = [self._spell(t, depth + 1) if t else "..." for _, t in self._params(type_id)]
            return f"{self._spell(ref, depth + 1)} ({', '.join(params) or 'void'})"
        return name or f"<kind {kind}>"

    def ctype(self, type_id: int, _depth: int = 0) -> CType:
        """Classify a type id: what a caller needs to pass or read a value of this type."""
        spelling = self._spell(type_id)
        base = self._strip(type_id)
        if not base:
            return CType("void", 0, spelling=spelling)
        name_off, kind, _, kind_flag, size = self._header(base)
        name = self._string(name_off) if name_off else ""
        if kind == KIND_INT:
            (enc,) = struct.unpack_from("<I", self._data, self._offsets[base] + 12)
            encoding = (enc >> 24) & 0x0F
            if encoding & INT_BOOL:
                return CType("bool", size, name=name, spelling=spelling)
            return CType("int", size, bool(encoding & INT_SIGNED), name, spelling)
        if kind == KIND_PTR:
            target = self.ctype(size, _depth + 1) if _depth < 4 else None
            return CType("pointer", POINTER_SIZE, name=name, spelling=spelling, target=target)
        if kind == KIND_ARRAY:
            elem, _, nelems = struct.unpack_from("<III", self._data, self._offsets[base] + 12)
            elem_type = self.ctype(elem, _depth + 1)
            return CType("array", elem_type.size * nelems, name=name, spelling=spelling,
                         target=elem_type, count=nelems)
        if kind in (KIND_STRUCT, KIND_UNION):
            return CType("struct" if kind == KIND_STRUCT else "union", size, name=name,
                         spelling=spelling)
        if kind == KIND_FWD:
            return CType("union" if kind_flag else "struct", self._type_size(base), name=name,
                         spelling=spelling)
        if kind in (KIND_ENUM, KIND_ENUM64):
            return CType("enum", size, bool(kind_flag), name, spelling)
        if kind == KIND_FLOAT:
            return CType("float", size, True, name, spelling)
        if kind == KIND_FUNC_PROTO:
            return CType("func", 0, name=name, spelling=spelling)
        return CType(f"kind{kind}", size, name=name, spelling=spelling)

    def _params(self, proto_id: int) -> list[tuple[int, int]]:
        _, _, vlen, _, _ = self._header(proto_id)
        start = self._offsets[proto_id] + 12
        return [struct.unpack_from("<II", self._data, start + 8 * i) for i in range(vlen)]

    # --- public lookups -------------------------------------------------------------------

    def func_proto(self, name: str) -> FuncProto | None:
        """The prototype of the kernel function `name` (a BTF FUNC), or None if BTF lacks it."""
        func_id = self._find(name, (KIND_FUNC,))
        if func_id is None:
            return None
        proto_id = self._header(func_id)[4]
        _, kind, _, _, ret = self._header(proto_id)
        if kind != KIND_FUNC_PROTO:
            return None
        params: list[Param] = []
        variadic = False
        for param_name_off, param_type in self._params(proto_id):
            if not param_type and not param_name_off:
                variadic = True  # a trailing (0, 0) entry means "..."
                continue
            param_name = self._string(param_name_off) if param_name_off else ""
            params.append(Param(param_name, self.ctype(param_type)))
        return FuncProto(name, self.ctype(ret), params, variadic)

    def struct(self, name: str) -> Struct | None:
        """A struct or union by name ("module", "struct module", "union foo", or a typedef
        name that stands for one), with members flattened through anonymous members."""
        if name in self._structs:
            return self._structs[name]
        type_id = self._struct_id(name)
        result = self._build_struct(type_id) if type_id else None
        self._structs[name] = result
        return result

    def _struct_id(self, name: str) -> int | None:
        name = name.strip()
        if name.startswith("struct "):
            return self._find(name[7:].strip(), (KIND_STRUCT,))
        if name.startswith("union "):
            return self._find(name[6:].strip(), (KIND_UNION,))
        found = self._find(name, (KIND_STRUCT, KIND_UNION))
        if found is None:
            typedef = self._find(name, (KIND_TYPEDEF,))
            if typedef is not None:
                base = self._strip(typedef)
                if base and self._header(base)[1] in (KIND_STRUCT, KIND_UNION):
                    found = base
        return found

    def _build_struct(self, type_id: int) -> Struct:
        name_off, kind, _, _, size = self._header(type_id)
        result = Struct(self._string(name_off) if name_off else "",
                        "struct" if kind == KIND_STRUCT else "union", size)
        self._add_members(result.members, type_id, 0)
        return result

    def _add_members(self, members: dict[str, Member], type_id: int, base_bits: int) -> None:
        _, _, vlen, kind_flag, _ = self._header(type_id)
        start = self._offsets[type_id] + 12
        for i in range(vlen):
            name_off, member_type, offset = struct.unpack_from("<III", self._data, start + 12 * i)
            if kind_flag:
                bit_size, bits = offset >> 24, offset & 0xFFFFFF
            else:
                bit_size, bits = 0, offset
            bits += base_bits
            if not name_off:
                inner = self._strip(member_type)
                if inner and self._header(inner)[1] in (KIND_STRUCT, KIND_UNION):
                    self._add_members(members, inner, bits)
                continue
            member_name = self._string(name_off)
            if member_name not in members:
                members[member_name] = Member(bits // 8, bits % 8, bit_size,
                                              self.ctype(member_type))

    def sizeof(self, type_name: str) -> int | None:
        """sizeof(type_name) for a C type name: "struct module", "module", "unsigned long",
        "gfp_t", "char *"; None if BTF has no such type."""
        type_name = " ".join(type_name.split())
        type_name = _INT_ALIASES.get(type_name, type_name)
        if type_name.endswith("*"):
            return POINTER_SIZE
        for word, kinds in (("struct ", (KIND_STRUCT,)), ("union ", (KIND_UNION,)),
                            ("enum ", (KIND_ENUM, KIND_ENUM64))):
            if type_name.startswith(word):
                found = self._find(type_name[len(word):], kinds)
                return self._type_size(found) if found is not None else None
        found = self._find(type_name, (KIND_INT, KIND_TYPEDEF, KIND_FLOAT, KIND_STRUCT,
                                       KIND_UNION, KIND_ENUM, KIND_ENUM64))
        return self._type_size(found) if found is not None else None

    def enum(self, name: str) -> dict[str, int] | None:
        """The enumerators of `enum name` (or of an enum typedef'd as `name`)."""
        type_id = self._find(name.removeprefix("enum ").strip(), (KIND_ENUM, KIND_ENUM64))
        if type_id is None:
            typedef = self._find(name, (KIND_TYPEDEF,))
            type_id = self._strip(typedef) if typedef is not None else None
            if not type_id or self._header(type_id)[1] not in (KIND_ENUM, KIND_ENUM64):
                return None
        _, kind, vlen, kind_flag, _ = self._header(type_id)
        start = self._offsets[type_id] + 12
        values: dict[str, int] = {}
        for i in range(vlen):
            if kind == KIND_ENUM:
                # 6.1's uapi declares btf_enum.val as __s32, whatever kind_flag says.
                name_off, value = struct.unpack_from("<Ii", self._data, start + 8 * i)
            else:
                name_off, lo, hi = struct.unpack_from("<III", self._data, start + 12 * i)
                value = (hi << 32) | lo
                if kind_flag and value >> 63:
                    value -= 1 << 64
            values[self._string(name_off)] = value
        return values
