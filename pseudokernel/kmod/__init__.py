"""What stays of kmod 30 in Python, for what the real tools cannot do for us (docs/design.md):
the drop folder inflates a compressed module inside the daemon, with no process to run kmod in
(compress.py, libkmod-file.c); the corpus resolves the probe lists of 4,023 modules in one
process (depmod.py, libkmod.py, config.py, module.py, elf.py: depmod.c, libkmod.c with the probe
half of libkmod-module.c, libkmod-config.c, libkmod-elf.c), which a real modprobe would do at
the cost of a sealed process per module. The tools users run (`pseudokernel insmod` ...) are
the real kmod's, sealed (tools.py).

Debian builds kmod 30 with `+ZSTD +XZ -ZLIB +LIBCRYPTO`: FEATURES below is that, and every
function that depends on it takes the features as a parameter.
"""

from .log import KmodError

#: `kmod --version` of Debian 12: which compressions libkmod understands.
FEATURES = frozenset({"zstd", "xz"})
#: The same with gzip, for kmod builds configured --with-zlib.
FEATURES_WITH_ZLIB = frozenset({"zstd", "xz", "gzip"})

__all__ = ["FEATURES", "FEATURES_WITH_ZLIB", "KmodError"]
