"""pseudokernel: a user-space Linux kernel that loads real kernel modules."""

__version__ = "0.1.0"
