"""The machine's per-boot randomness (what KASLR, the %p hash key and get_random_bytes() draw
from): seeded once, so a run with --seed repeats byte for byte."""

from __future__ import annotations

from ..bits import MASK64


class Rand:
    """A small deterministic PRNG (splitmix64) for per-boot randomness (KASLR, hash keys)."""

    def __init__(self, seed: int) -> None:
        self.state = seed & MASK64

    def next(self) -> int:
        self.state = (self.state + 0x9E3779B97F4A7C15) & MASK64
        z = self.state
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK64
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK64
        return z ^ (z >> 31)

    def below(self, n: int) -> int:
        return self.next() % n

    def bytes(self, n: int) -> bytes:
        out = b""
        while len(out) < n:
            out += self.next().to_bytes(8, "little")
        return out[:n]
