"""The module loader, mirroring the kernel's kernel/module/ directory file by file."""

import errno as _errno
import os


class LoadError(Exception):
    """A load_module() step failed: the errno finit_module(2) returns (positive, like errno)."""

    def __init__(self, err: int, reason: str = "") -> None:
        super().__init__(reason or os.strerror(err))
        self.errno = err
        self.reason = reason
        self.unknown_symbols: list[str] = []  # for ENOENT/EINVAL: the symbols that did not resolve

    @property
    def name(self) -> str:
        return _errno.errorcode.get(self.errno, str(self.errno))
