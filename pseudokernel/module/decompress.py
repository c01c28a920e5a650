"""kernel/module/decompress.c: finit_module(MODULE_INIT_COMPRESSED_FILE) inflates the file in
the kernel, with the one decompressor the kernel was built with (CONFIG_MODULE_COMPRESS_GZIP,
_XZ or _ZSTD; Debian's 6.12: xz), and says which in /sys/module/compression. Without
CONFIG_MODULE_DECOMPRESS (Debian's 6.1) the flag gets EOPNOTSUPP and kmod inflates instead.
"""

from __future__ import annotations

import lzma
import zlib
from errno import EINVAL, EOPNOTSUPP
from typing import TYPE_CHECKING

from .internal import LoadError

if TYPE_CHECKING:
    from ..state import KernelState

# enum xz_ret (include/linux/xz.h): what "decompression failed with status %d" shows
XZ_OK, XZ_FORMAT_ERROR, XZ_OPTIONS_ERROR, XZ_DATA_ERROR = 0, 5, 6, 7
XZ_MAGIC = b"\xfd7zXZ\0"
GZIP_MAGIC = b"\x1f\x8b\x08"


def module_compression(kernel: KernelState) -> str | None:
    """What /sys/module/compression shows (None: no such file)."""
    if not kernel.profile.enabled("MODULE_DECOMPRESS"):
        return None
    for kind in ("gzip", "xz", "zstd"):
        if kernel.profile.enabled(f"MODULE_COMPRESS_{kind.upper()}"):
            return kind
    return None


def module_decompress(kernel: KernelState, data: bytes) -> bytes:
    kind = module_compression(kernel)
    if kind is None:
        raise LoadError(EOPNOTSUPP, "in-kernel decompression")
    if kind == "xz":
        return _xz(kernel, data)
    if kind == "gzip":
        return _gzip(kernel, data)
    raise LoadError(EOPNOTSUPP, f"{kind} decompression")


def _fail(kernel: KernelState, msg: str) -> LoadError:
    kernel.log.err(msg + "\n")
    return LoadError(EINVAL, msg)


def _xz(kernel: KernelState, data: bytes) -> bytes:
    """module_xz_decompress(): one stream (what follows its end is ignored); a stream cut
    short ends with the decoder still wanting input, XZ_OK."""
    if len(data) < len(XZ_MAGIC) or not data.startswith(XZ_MAGIC):
        raise _fail(kernel, "not an xz compressed module")
    dec = lzma.LZMADecompressor(lzma.FORMAT_XZ)
    try:
        out = dec.decompress(data)
    except lzma.LZMAError as e:
        status = XZ_OPTIONS_ERROR if "not supported" in str(e).lower() else XZ_DATA_ERROR
        raise _fail(kernel, f"decompression failed with status {status}") from None
    if not dec.eof:
        raise _fail(kernel, f"decompression failed with status {XZ_OK}")
    return out


def _gzip(kernel: KernelState, data: bytes) -> bytes:
    """module_gzip_decompress(): zlib's inflate after the gzip header (Z_STREAM_END = 1)."""
    if len(data) < len(GZIP_MAGIC) or not data.startswith(GZIP_MAGIC):
        raise _fail(kernel, "not a gzip compressed module")
    dec = zlib.decompressobj(16 + zlib.MAX_WBITS)
    try:
        out = dec.decompress(data)
    except zlib.error:
        raise _fail(kernel, "decompression failed with status -3") from None  # Z_DATA_ERROR
    if not dec.eof:
        raise _fail(kernel, "decompression failed with status 0")  # Z_OK: wants more input
    return out
