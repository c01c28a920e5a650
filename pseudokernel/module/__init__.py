"""The module loader, mirroring the kernel's kernel/module/ directory file by file."""

from .internal import LoadError

__all__ = ["LoadError"]
