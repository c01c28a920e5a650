"""The views: what the mount shows (proc/, sys/, dev/, dmesg), each a pure function of the
kernel's state; fs/mount.py serves them through FUSE."""
from __future__ import annotations

import time
from typing import TYPE_CHECKING

from . import devtmpfs, kmsg, procfs, sysfs
from .tree import Dir, StaticDir

if TYPE_CHECKING:
    from ..kernel import Kernel


def build_root(kernel: Kernel, boot_time: float | None = None) -> Dir:
    """The whole mount: proc/, sys/, dev/ and dmesg."""
    boot = boot_time or time.time()
    top = StaticDir(
        {
            "proc": lambda: procfs.proc_dir(kernel, boot),
            "sys": lambda: sysfs.sys_dir(kernel, boot),
            "dev": lambda: devtmpfs.dev_dir(kernel, boot),
            "dmesg": lambda: kmsg.dmesg_file(kernel),
        },
        0o755,
        boot,
    )
    return top.as_dir()
