"""libkmod-file.c: open a module file, recognise its compression by magic, decompress it.

kmod_file_open() reads the first 6 bytes (the longest magic it knows, xz's): a file shorter than
that fails with EINVAL before anything else, which is why `insmod empty.ko` says "Invalid
parameters". zstd is tried first, then xz, then gzip (only in a kmod built with zlib: Debian's
kmod 30 is not, so there a gzip file is read as a plain file and fails the ELF check with
ENOEXEC). Decompression errors are EINVAL and print nothing: libkmod logs them through
file->ctx, which kmod 30 only sets after the load, so the ERR() goes nowhere. A truncated zstd
stream is not an error at all (kmod stops at end of input and keeps what it got), a truncated xz
stream is (LZMA_BUF_ERROR).

zstd needs the `zstandard` PyPI package; without it a zstd module fails with a KmodError that
says so (kmod without zstd support would read it as plain data and fail with ENOEXEC instead).
"""

from __future__ import annotations

from errno import EINVAL, ENOPKG

from . import FEATURES
from .log import KmodError

TYPE_CHECKING = False  # typing.TYPE_CHECKING, without importing typing on every CLI call

if TYPE_CHECKING:
    from collections.abc import Iterable

MAGIC_ZSTD = b"\x28\xb5\x2f\xfd"
MAGIC_XZ = b"\xfd7zXZ\x00"
MAGIC_GZIP = b"\x1f\x8b"

# comp_types[] order of libkmod-file.c
_COMP_TYPES = (("zstd", MAGIC_ZSTD), ("xz", MAGIC_XZ), ("gzip", MAGIC_GZIP))

#: tools' path_ends_with_kmod_ext(): which file names are modules, per compression built in
KMOD_EXTENSIONS = {None: ".ko", "gzip": ".ko.gz", "xz": ".ko.xz", "zstd": ".ko.zst"}


def kmod_extensions(features: Iterable[str] = FEATURES) -> tuple[str, ...]:
    """The extensions kmod recognises, in shared/util.c kmod_exts[] order."""
    feats = set(features)
    return tuple(ext for comp, ext in KMOD_EXTENSIONS.items() if comp is None or comp in feats)


def path_ends_with_kmod_ext(path: str, features: Iterable[str] = FEATURES) -> bool:
    """True for `x.ko` and, per features, `x.ko.xz`/`x.ko.zst`/`x.ko.gz` (but not a bare `.ko`)."""
    return any(len(path) > len(ext) and path.endswith(ext) for ext in kmod_extensions(features))


def detect_compression(data: bytes, features: Iterable[str] = FEATURES) -> str | None:
    """'zstd', 'xz', 'gzip' or None (a plain file), by magic, among the compressions built in."""
    feats = set(features)
    for name, magic in _COMP_TYPES:
        if name in feats and data.startswith(magic):
            return name
    return None


class KmodFile:
    """struct kmod_file: the decompressed contents, the compression it had, and whether it can
    go to finit_module() as is (`direct`, an uncompressed file)."""

    def __init__(self, contents: bytes, compression: str | None) -> None:
        self.contents = contents
        self.compression = compression

    @property
    def direct(self) -> bool:
        return self.compression is None


def kmod_file_open(data: bytes, features: Iterable[str] = FEATURES) -> KmodFile:
    """kmod_file_open() over the file's bytes: KmodFile, or KmodError(EINVAL) for a file shorter
    than the magic or a corrupt xz/gzip/zstd stream."""
    feats = set(features)
    if feats:
        magic_size_max = max(len(m) for n, m in _COMP_TYPES if n in feats)
        if len(data) < magic_size_max:
            raise KmodError(EINVAL)
    comp = detect_compression(data, feats)
    if comp is None:
        return KmodFile(bytes(data), None)
    return KmodFile(decompress(data, comp), comp)


def decompress(data: bytes, compression: str) -> bytes:
    """The module image inside `data`, as libkmod's load_zstd/load_xz/load_zlib produce it."""
    if compression == "xz":
        return _load_xz(data)
    if compression == "zstd":
        return _load_zstd(data)
    if compression == "gzip":
        return _load_zlib(data)
    raise ValueError(compression)


def _load_xz(data: bytes) -> bytes:
    """lzma_stream_decoder(LZMA_CONCATENATED): one or more .xz streams, zero padding between
    them allowed; any error or a missing end of stream is EINVAL."""
    import lzma

    out = []
    rest = bytes(data)
    while True:
        dec = lzma.LZMADecompressor(format=lzma.FORMAT_XZ)
        try:
            out.append(dec.decompress(rest))
        except lzma.LZMAError as e:
            raise KmodError(EINVAL, f"xz: {e}") from None
        if not dec.eof:
            raise KmodError(EINVAL, "xz: Unexpected end of input")
        rest = dec.unused_data.lstrip(b"\0")
        if not rest:
            return b"".join(out)


def _load_zstd(data: bytes) -> bytes:
    """ZSTD_decompressStream until end of input: frames one after the other; a truncated last
    frame yields what was decoded so far, a corrupt one is EINVAL."""
    try:
        import zstandard
    except ImportError:
        raise KmodError(ENOPKG, "zstd: the zstandard Python package is needed to read .ko.zst modules "
                                "(pip install zstandard)") from None
    out = []
    rest = bytes(data)
    while rest:
        dobj = zstandard.ZstdDecompressor().decompressobj()
        try:
            out.append(dobj.decompress(rest))
        except zstandard.ZstdError as e:
            raise KmodError(EINVAL, f"zstd: {e}") from None
        if not dobj.eof:
            break
        rest = dobj.unused_data
    return b"".join(out)


def _load_zlib(data: bytes) -> bytes:
    """gzread(): concatenated gzip members; a truncated or corrupt member is EINVAL."""
    import zlib

    out = []
    rest = bytes(data)
    while rest:
        dobj = zlib.decompressobj(16 + zlib.MAX_WBITS)
        try:
            out.append(dobj.decompress(rest))
        except zlib.error as e:
            raise KmodError(EINVAL, f"gzip: {e}") from None
        if not dobj.eof:
            raise KmodError(EINVAL, "gzip: unexpected end of file")
        rest = dobj.unused_data
    return b"".join(out)
