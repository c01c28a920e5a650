"""An ioctl's argument as the number it is, from the seal to the daemon.

The host's FUSE serves an ioctl on the mount as a restricted one: for a command whose _IOC
size is not 0 it copies that many bytes from the argument before the daemon is asked, and
fails with EFAULT when the argument is not a pointer to them. Modules pass numbers there all
the same (LKMPG's chardev2.c: IOCTL_GET_NTH_BYTE is _IOWR(.., int) and its argument the
index), and the real kernel hands the module the number. In the sealed machine the launcher
sees such a call first (bridge.py: the argument is not readable memory of the caller) and
makes it itself on its own copy of the caller's file, as this command, whose data is the
caller's command and argument: the daemon runs the module's ioctl with them (fs/mount.py).
"""

from __future__ import annotations

import struct

# what the daemon reads: a mark (so that a module's own command of the same number is still
# the module's), the caller's command and its argument
REQUEST = struct.Struct("=8sIxxxxQ")
MARK = b"pkrawioc"
RAW_IOCTL = (1 << 30) | (REQUEST.size << 16) | (ord("p") << 8) | 0xE1  # _IOW('p', 0xE1, REQUEST)


def pack(cmd: int, arg: int) -> bytes:
    return REQUEST.pack(MARK, cmd & 0xFFFFFFFF, arg)


def unpack(data: bytes) -> tuple[int, int] | None:
    """(command, argument), or None when data is not a raw ioctl request."""
    if len(data) != REQUEST.size:
        return None
    mark, cmd, arg = REQUEST.unpack(data)
    return (cmd, arg) if mark == MARK else None
