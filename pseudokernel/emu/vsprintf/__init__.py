"""The kernel's printf: a port of lib/vsprintf.c (Linux 6.1) for x86_64.

Emulated module code calls _printk, sprintf, snprintf, scnprintf, vsnprintf, kasprintf, dev_info
and friends; their text must be the bytes the real kernel would produce. This is a line-by-line
port of the kernel's formatter, not a mapping onto Python's or C's printf: the kernel differs from
ISO C in many places (``%p`` hashing and its extensions, ``"(null)"`` for NULL strings, ``%#x`` of 0
printing ``0x0``, ``%.0d`` of 0 printing ``0``, a negative ``*`` precision printing nothing, no
``%n``/``%j``/``%q``/floating point, stopping at the first unsupported conversion).

The functions carry the kernel's names (format_decode, number, string, pointer,
symbol_string, ip4_addr_string, ...) so that a kernel developer can map them one to one. Each
returns the bytes it would have written; vsnprintf() returns the full, untruncated output and
snprintf_result() / scnprintf_result() apply the kernel's buffer-size rules. (Truncation in the
kernel only ever cuts a prefix of the untruncated output, so this split is exact.)

The machine (LP64): long and pointers are 64 bits, int 32 bits, phys_addr_t and dma_addr_t 64 bits,
little endian. The Debian 6.1.0-56-amd64 configuration decides the optional parts: KALLSYMS=y,
SYMBOLIC_ERRNAME=y, BLOCK=y, COMMON_CLK=y, OF=n, RUST=n, STACKTRACE_BUILD_ID=n. Structure offsets
used by %pd %pD %pg are that kernel's, measured by compiling against its headers
(linux-headers-6.1.0-56-amd64) with the kernel's asm-offsets technique.

Pointers the kernel would dereference are read through ``Memory``. The real kernel only rejects
NULL, pointers below PAGE_SIZE and ERR_PTR values (check_pointer_msg); any other bad pointer
oopses. By default an unmapped address (``MemoryFault``) prints ``"(efault)"`` for that
conversion instead; pass ``fault_as_efault=False`` to let the fault propagate so the caller can
report the oops the real kernel would have had.

The package, one concern a module (lib/vsprintf.c itself is one file):
- va_list.py: what a call reads besides the format, the arguments and the memory (MemoryFault);
- printf_spec.py: struct printf_spec, number(), string() and the checks every conversion shares;
- core.py: format_decode(), vsnprintf() and pointer(), the %p dispatcher with %p %px %pK %pe %pV;
- buffers.py, net.py, objects.py: the other %p extensions, by what they read: bytes and
  numbers, network addresses, kernel objects laid out as the profile says.
"""

from __future__ import annotations

from ..kallsyms import Symbols
from .core import BOOT_HASH_KEY, scnprintf_result, snprintf_result, vsnprintf
from .objects import UNSUPPORTED
from .va_list import Args, ListArgs, Memory, MemoryFault, VaListArgs

__all__ = [
    "BOOT_HASH_KEY",
    "UNSUPPORTED",
    "Args",
    "ListArgs",
    "Memory",
    "MemoryFault",
    "Symbols",
    "VaListArgs",
    "scnprintf_result",
    "snprintf_result",
    "vsnprintf",
]
