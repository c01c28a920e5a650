"""The machine's widths every layer shares (include/linux/bits.h, limits.h, asm/page.h): one
definition, so a register, a C int and a page mean the same thing to the loader, the CPU and
the kernel functions."""

MASK64 = (1 << 64) - 1
PAGE_SIZE = 4096


def s32(v: int) -> int:
    """A register's low 32 bits as the C int they hold."""
    v &= 0xFFFFFFFF
    return v - (1 << 32) if v >> 31 else v


def s64(v: int) -> int:
    """A register as the signed long it holds."""
    v &= MASK64
    return v - (1 << 64) if v >> 63 else v
