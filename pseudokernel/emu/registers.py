"""The CPU's 64-bit registers (general purpose, RIP, EFLAGS), read and written through the C
library's uc_reg_read/uc_reg_write directly.

unicorn's Python reg_read() chooses a register class for every call (a generator over six id
ranges: MSRs, FP, XMM ...) before the one ctypes call; with a kernel call reading its arguments
and writing its result, that choice was about a sixth of the corpus's time under the profiler.
The registers used here are all plain 64-bit ones, so the class is known. Any other register
(segment bases, control registers at boot, MSRs) goes through unicorn's own API.
"""

from __future__ import annotations

import ctypes

from unicorn import Uc, UcError


class Registers:
    def __init__(self, uc: Uc) -> None:
        from unicorn.unicorn_py3.unicorn import uclib  # the binding's loaded library (unicorn 2)

        self._handle = uc._uch
        self._read = uclib.uc_reg_read
        self._write = uclib.uc_reg_write

    def read(self, reg_id: int) -> int:
        value = ctypes.c_uint64()  # one per call: readers on other threads share the CPU
        status = self._read(self._handle, reg_id, ctypes.byref(value))
        if status:
            raise UcError(status, reg_id)
        return value.value

    def write(self, reg_id: int, value: int) -> None:
        status = self._write(self._handle, reg_id, ctypes.byref(ctypes.c_uint64(value)))
        if status:
            raise UcError(status, reg_id)
