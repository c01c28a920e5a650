"""SipHash-2-4 (lib/siphash.c): what %p hashes pointers with (ptr_to_id()), and siphash() for modules."""

from __future__ import annotations

from ..bits import MASK64 as U64

_SIP_C0, _SIP_C1 = 0x736F6D6570736575, 0x646F72616E646F6D
_SIP_C2, _SIP_C3 = 0x6C7967656E657261, 0x7465646279746573


def _sipround(v0: int, v1: int, v2: int, v3: int) -> tuple[int, int, int, int]:
    """SIPHASH_PERMUTATION."""
    v0 = (v0 + v1) & U64
    v1 = ((v1 << 13) | (v1 >> 51)) & U64
    v1 ^= v0
    v0 = ((v0 << 32) | (v0 >> 32)) & U64
    v2 = (v2 + v3) & U64
    v3 = ((v3 << 16) | (v3 >> 48)) & U64
    v3 ^= v2
    v0 = (v0 + v3) & U64
    v3 = ((v3 << 21) | (v3 >> 43)) & U64
    v3 ^= v0
    v2 = (v2 + v1) & U64
    v1 = ((v1 << 17) | (v1 >> 47)) & U64
    v1 ^= v2
    v2 = ((v2 << 32) | (v2 >> 32)) & U64
    return v0, v1, v2, v3


def _siphash_words(words: list[int], b: int, k0: int, k1: int) -> int:
    """SipHash-2-4 over 64-bit message words, b the last word with the length in its top byte
    (PREAMBLE, the word loop, POSTAMBLE)."""
    v0, v1, v2, v3 = _SIP_C0 ^ k0, _SIP_C1 ^ k1, _SIP_C2 ^ k0, _SIP_C3 ^ k1
    for m in [*words, b]:
        v3 ^= m
        v0, v1, v2, v3 = _sipround(v0, v1, v2, v3)
        v0, v1, v2, v3 = _sipround(v0, v1, v2, v3)
        v0 ^= m
    v2 ^= 0xFF
    for _ in range(4):
        v0, v1, v2, v3 = _sipround(v0, v1, v2, v3)
    return v0 ^ v1 ^ v2 ^ v3


def _key_words(key: bytes) -> tuple[int, int]:
    """siphash_key_t {u64 key[2]} as the 16 random bytes fill it on a little-endian machine."""
    if len(key) != 16:
        raise ValueError("a siphash key is 16 bytes")
    return int.from_bytes(key[:8], "little"), int.from_bytes(key[8:], "little")


def siphash(data: bytes, key: bytes) -> int:
    """SipHash-2-4 of data (the kernel's siphash(), __siphash_aligned/unaligned)."""
    k0, k1 = _key_words(key)
    n = len(data) - len(data) % 8
    words = [int.from_bytes(data[i:i + 8], "little") for i in range(0, n, 8)]
    b = (len(data) & 0xFF) << 56 | int.from_bytes(data[n:], "little")
    return _siphash_words(words, b, k0, k1)


def siphash_1u64(first: int, key: bytes) -> int:
    """siphash_1u64(): the hash of one u64, as __ptr_to_hashval() uses it."""
    k0, k1 = _key_words(key)
    return _siphash_words([first & U64], 8 << 56, k0, k1)
