"""kmod 30 (Debian 12's `kmod 30+20221128-1`) as a library: what insmod, rmmod, lsmod, modinfo,
modprobe and depmod print and decide, reproduced to the byte, over bytes and a sysfs reader instead
of the real /sys, /proc and /lib/modules.

One file per piece of kmod, named after it: insmod.py, rmmod.py, lsmod.py, modprobe.py and
depmod.py are tools/<name>.c, modinfo.py tools/modinfo.c with kmod_module_get_info() and
libkmod-signature.c, log.py tools/log.c with libkmod's log_filep(), opt.py getopt_long();
libkmod.py is libkmod.c's context (lookups, module pool) with the probe half of libkmod-module.c,
module.py its sysfs reads and struct kmod_module, config.py libkmod-config.c, compress.py
libkmod-file.c, elf.py libkmod-elf.c. Nothing here mounts, loads or talks to the daemon: the CLI
wires these to the Kernel.

Debian builds kmod 30 with `+ZSTD +XZ -ZLIB +LIBCRYPTO` and with --enable-debug (hence
`../libkmod/libkmod-module.c:856 kmod_module_remove_module()` in rmmod's messages): FEATURES
below is that, and every function that depends on it takes the features as a parameter.
"""

from .log import KmodError

#: `kmod --version` of Debian 12: which compressions libkmod understands.
FEATURES = frozenset({"zstd", "xz"})
#: The same with gzip, for kmod builds configured --with-zlib.
FEATURES_WITH_ZLIB = frozenset({"zstd", "xz", "gzip"})

__all__ = ["FEATURES", "FEATURES_WITH_ZLIB", "KmodError"]
