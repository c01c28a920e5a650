"""tools/modinfo.c with kmod_module_get_info() (libkmod-module.c) and libkmod-signature.c:
what `modinfo FILE` prints, to the byte.

The order is kmod's, which is not sorted: the .modinfo strings in section order (the linker
lays them out in reverse source order, so `version` often comes before `license`), then the
signature keys. parm/parmtype pairs are held back and printed last, one `parm:` line per
parameter, in the reverse of the order in which their names first appeared (kmod prepends to a
linked list). A key longer than 15 bytes gets |15 - len| spaces, because printf's `%-*s` takes a
negative width as a positive one.

The signature fields are what kmod 30 built with OpenSSL (Debian's) shows: sig_id from the
trailer, signer = the issuer's commonName (or, when the issuer has no CN, its last attribute),
sig_key = the signer's serial number, sig_hashalgo, and signature = the encrypted digest; keys
and signature as `%02X` joined by ':' with "\\n\\t\\t" after every 20 bytes. A PKCS#7 that OpenSSL
cannot read as issuer-and-serial signer info (a subjectKeyIdentifier signer) gives no signature
fields at all.

Strings are bytes in the module; the output is decoded as UTF-8 with surrogateescape, so
encoding it the same way gives back kmod's bytes.
"""

from __future__ import annotations

import os
import struct
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from errno import ENOENT

from ..module import signing
from . import FEATURES
from .compress import kmod_file_open, path_ends_with_kmod_ext
from .elf import KmodElf
from .log import KMOD_VERSION, LOG_ERR, KmodError, ToolOutput, strerror, tool_log
from .module import path_to_modname
from .opt import getopt_long

SIG_MAGIC = b"~Module signature appended~\n"
MODULE_SIGNATURE = struct.Struct(">BBBBB3sI")
PKEY_ALGO = ("DSA", "RSA")
PKEY_HASH_ALGO = ("md4", "md5", "sha1", "rmd160", "sha256", "sha384", "sha512", "sha224", "sm3")
PKEY_ID_TYPE = ("PGP", "X509", "PKCS#7")
PKEY_ID_PKCS7 = 2

# obj_to_hash_algo(): the digest OIDs kmod names
HASH_OID_NAMES = {
    "1.2.840.113549.2.4": "md4",
    "1.2.840.113549.2.5": "md5",
    "1.3.14.3.2.26": "sha1",
    "1.3.36.3.2.1": "rmd160",
    "2.16.840.1.101.3.4.2.1": "sha256",
    "2.16.840.1.101.3.4.2.2": "sha384",
    "2.16.840.1.101.3.4.2.3": "sha512",
    "2.16.840.1.101.3.4.2.4": "sha224",
    "1.2.156.10197.1.401": "sm3",
}
OID_COMMON_NAME = "2.5.4.3"


@dataclass
class SignatureInfo:
    """struct kmod_signature_info, as bytes."""

    id_type: str
    signer: bytes
    key_id: bytes
    hash_algo: str
    sig: bytes


def kmod_module_hex_to_str(data: bytes) -> str:
    """`01:AB:...`, a newline and two tabs after every 20 bytes but the last."""
    out = []
    for i, b in enumerate(data):
        out.append(f"{b:02X}")
        if i < len(data) - 1:
            out.append(":")
            if (i + 1) % 20 == 0:
                out.append("\n\t\t")
    return "".join(out)


def _digest_oid(der: bytes) -> str | None:
    """The first signer's digestAlgorithm OID (parse_pkcs7 names only the SHA family)."""
    try:
        top = signing.read_tlv(der, 0)
        sd = signing.children(der, signing.children(der, signing.children(der, top)[1])[0])
        sis = [t for t in sd if t.tag == 0x31][-1]
        si = signing.children(der, signing.children(der, sis)[0])
        return signing.oid(der, signing.children(der, si[2])[0])
    except (signing.Asn1Error, IndexError):
        return None


def _x509_name_to_str(der: bytes) -> bytes | None:
    """libkmod-signature.c x509_name_to_str(): the first commonName of an X.509 Name; with no CN,
    the last attribute's value (the loop leaves `e` on it); None for an empty Name."""
    top = signing.read_tlv(der, 0)
    entries = []
    for rdn in signing.children(der, top):
        for atv in signing.children(der, rdn):
            parts = signing.children(der, atv)
            entries.append((signing.oid(der, parts[0]), parts[1].contents(der)))
    if not entries:
        return None
    for oid, value in entries:
        if oid == OID_COMMON_NAME:
            return value
    return entries[-1][1]


def kmod_module_signature_info(contents: bytes) -> SignatureInfo | None:
    """libkmod-signature.c: the appended signature's description, or None when the file has no
    (readable) signature, in which case modinfo prints no sig_* lines."""
    if not contents.endswith(SIG_MAGIC):
        return None
    size = len(contents) - len(SIG_MAGIC)
    if size < MODULE_SIGNATURE.size:
        return None
    size -= MODULE_SIGNATURE.size
    algo, hash_, id_type, signer_len, key_id_len, _pad, sig_len = MODULE_SIGNATURE.unpack_from(contents, size)
    if algo >= len(PKEY_ALGO) or hash_ >= len(PKEY_HASH_ALGO) or id_type >= len(PKEY_ID_TYPE):
        return None
    if sig_len == 0 or size < signer_len + key_id_len + sig_len:
        return None
    if id_type != PKEY_ID_PKCS7:
        # fill_default(): [signer][key id][signature] before the trailer
        sig_start = size - sig_len
        key_start = sig_start - key_id_len
        signer_start = key_start - signer_len
        return SignatureInfo(PKEY_ID_TYPE[id_type], contents[signer_start:key_start], contents[key_start:sig_start],
                             PKEY_HASH_ALGO[hash_], contents[sig_start:size])
    der = contents[size - sig_len:size]
    try:
        p7 = signing.parse_pkcs7(der)
        if p7.key_id is not None:
            return None  # no issuerAndSerialNumber: OpenSSL's d2i_PKCS7 rejects it
        signer = _x509_name_to_str(p7.issuer_der)
    except (signing.Asn1Error, IndexError):
        return None
    if signer is not None:
        signer = signer.split(b"\0", 1)[0]  # strlen()
    serial = abs(p7.serial)
    key_id = serial.to_bytes((serial.bit_length() + 7) // 8, "big")
    hash_algo = HASH_OID_NAMES.get(_digest_oid(der) or "", p7.hash_algo)
    return SignatureInfo(PKEY_ID_TYPE[id_type], signer or b"", key_id, hash_algo, p7.signature)


def kmod_module_get_info(contents: bytes) -> list[tuple[bytes, bytes]]:
    """(key, value) of every .modinfo string in section order, then sig_id, signer, sig_key,
    sig_hashalgo, signature for a signed module. Raises KmodError (ENOEXEC/EINVAL for a bad
    ELF, ENOENT without .modinfo)."""
    elf = KmodElf(contents)
    info = []
    for s in elf.get_strings(".modinfo"):
        key, eq, value = s.partition(b"=")
        info.append((key, value))
    sig = kmod_module_signature_info(contents)
    if sig is not None:
        info += [
            (b"sig_id", sig.id_type.encode()),
            (b"signer", sig.signer),
            (b"sig_key", kmod_module_hex_to_str(sig.key_id).encode()),
            (b"sig_hashalgo", sig.hash_algo.encode()),
            (b"signature", kmod_module_hex_to_str(sig.sig).encode()),
        ]
    return info


def builtin_modinfo(modules_builtin_modinfo: bytes, modname: str) -> list[tuple[bytes, bytes]] | None:
    """kmod_builtin_get_modinfo(): the `modname.key=value` strings of modules.builtin.modinfo
    for one builtin module (its first contiguous run), or None when it is not there."""
    prefix = modname.encode() + b"."
    out: list[tuple[bytes, bytes]] = []
    for s in modules_builtin_modinfo.split(b"\0"):
        if s.startswith(prefix):
            key, _, value = s[len(prefix):].partition(b"=")
            out.append((key, value))
        elif out:
            break
    return out or None


def get_current_dir_name() -> str:
    """glibc get_current_dir_name(): $PWD when it names the current directory, else getcwd()."""
    pwd = os.environ.get("PWD")
    try:
        if pwd and os.path.isabs(pwd) and os.path.samestat(os.stat(pwd), os.stat(".")):
            return pwd
    except OSError:
        pass
    return os.getcwd()


def path_make_absolute_cwd(path: str, cwd: str | None = None) -> str:
    """shared/util.c: an absolute path as is, else cwd + '/' + path, with no normalization
    (`./x.ko` stays `/dir/./x.ko`)."""
    if path.startswith("/"):
        return path
    return (cwd if cwd is not None else get_current_dir_name()) + "/" + path


def _process_parm(key: bytes, value: bytes, params: list[list]) -> str:
    """modinfo.c process_parm()/add_param(): params is kept newest-first, like kmod's list."""
    name, colon, rest = value.partition(b":")
    if not colon:
        return tool_log("modinfo", LOG_ERR, f'Found invalid "{_s(key)}={_s(value)}": missing \':\'\n')
    for p in params:
        if p[0] == name:
            break
    else:
        p = [name, None, None]
        params.insert(0, p)
    if key == b"parm":
        p[1] = rest
    else:
        p[2] = rest
    return ""


def _s(b: bytes) -> str:
    return b.decode("utf-8", "surrogateescape")


def modinfo_do(filename: str | None, name: str, info: list[tuple[bytes, bytes]] | KmodError, *,
               field: str | None = None, null: bool = False, prog: str = "modinfo") -> ToolOutput:
    """tools/modinfo.c modinfo_do() for one module: `filename` None means builtin; `info` is
    kmod_module_get_info()'s result or its error."""
    sep = b"\0" if null else b"\n"
    out = bytearray()
    err_text = ""
    fieldb = field.encode("utf-8", "surrogateescape") if field is not None else None
    if filename is None:
        if field is None:
            out += b"%-16s%s%s" % (b"name:", name.encode(), sep)
        elif field == "name":
            out += name.encode() + sep
        filename = "(builtin)"
    fname = os.fsencode(filename)
    if field == "filename":
        return ToolOutput(_s(bytes(out + fname + sep)), "", 0)
    if field is None:
        out += b"%-16s%s%s" % (b"filename:", fname, sep)
    if isinstance(info, KmodError):
        if filename == "(builtin)" and info.errno == ENOENT:
            return ToolOutput(_s(bytes(out)), "", 0)
        err_text = tool_log(prog, LOG_ERR, f"could not get modinfo from '{name}': {strerror(info.errno)}\n")
        return ToolOutput(_s(bytes(out)), err_text, 1)
    params: list[list] = []
    if field == "parm":
        for key, value in info:
            if key in (b"parm", b"parmtype"):
                err_text += _process_parm(key, value, params)
        for pname, desc, ptype in params:
            if desc is None:
                out += b"%s: (%s)%s" % (pname, ptype, sep)
            elif ptype is not None:
                out += b"%s:%s (%s)%s" % (pname, desc, ptype, sep)
            else:
                out += b"%s:%s%s" % (pname, desc, sep)
        return ToolOutput(_s(bytes(out)), err_text, 0)
    for key, value in info:
        if fieldb is not None:
            if key == fieldb:
                out += value + sep
            continue
        if key in (b"parm", b"parmtype"):
            err_text += _process_parm(key, value, params)
            continue
        if null:
            out += key + b"=" + value + sep
            continue
        out += key + b":" + b" " * abs(15 - len(key)) + value + sep
    if fieldb is None:
        for pname, desc, ptype in params:
            if desc is None:
                out += b"%-16s%s:%s%s" % (b"parm:", pname, ptype, sep)
            elif ptype is not None:
                out += b"%-16s%s:%s (%s)%s" % (b"parm:", pname, desc, ptype, sep)
            else:
                out += b"%-16s%s:%s%s" % (b"parm:", pname, desc, sep)
    return ToolOutput(_s(bytes(out)), err_text, 0)


def file_info(data, features) -> list[tuple[bytes, bytes]] | KmodError:
    """kmod_module_get_info() of a module file's contents, or the error reading or parsing it."""
    if isinstance(data, KmodError):
        return data
    try:
        return kmod_module_get_info(kmod_file_open(data, features).contents)
    except KmodError as e:
        return e


def modinfo_file(path: str, data: bytes | KmodError, *, field: str | None = None, null: bool = False,
                 cwd: str | None = None, features: Iterable[str] = FEATURES, prog: str = "modinfo") -> ToolOutput:
    """modinfo_path_do(): `modinfo PATH` for a file whose bytes are `data` (or the error that
    reading it gave). The filename line shows the path made absolute against `cwd` (default:
    the process's, as get_current_dir_name() sees it)."""
    abspath = path_make_absolute_cwd(path, cwd)
    name = path_to_modname(path)
    info: list[tuple[bytes, bytes]] | KmodError
    if field == "filename":
        info = []
    else:
        info = file_info(data, features)
    return modinfo_do(abspath, name, info, field=field, null=null, prog=prog)


def modinfo_lines(path: str, data: bytes, *, field: str | None = None, null: bool = False, cwd: str | None = None,
                  features: Iterable[str] = FEATURES) -> str:
    """What `modinfo [-F field] [-0] PATH` prints on stdout for a readable module; raises
    KmodError when modinfo would fail (use modinfo_file() for its stderr and exit status)."""
    r = modinfo_file(path, data, field=field, null=null, cwd=cwd, features=features)
    if r.status:
        raise KmodError(1, r.stderr)
    return r.stdout


MODINFO_HELP = (
    "Usage:\n"
    "\t{prog} [options] <modulename|filename> [args]\n"
    "Options:\n"
    "\t-a, --author                Print only 'author'\n"
    "\t-d, --description           Print only 'description'\n"
    "\t-l, --license               Print only 'license'\n"
    "\t-p, --parameters            Print only 'parm'\n"
    "\t-n, --filename              Print only 'filename'\n"
    "\t-0, --null                  Use \\0 instead of \\n\n"
    "\t-m, --modname               Handle argument as module name instead of alias or filename\n"
    "\t-F, --field=FIELD           Print only provided FIELD\n"
    "\t-k, --set-version=VERSION   Use VERSION instead of `uname -r`\n"
    "\t-b, --basedir=DIR           Use DIR as filesystem root for /lib/modules\n"
    "\t-V, --version               Show version\n"
    "\t-h, --help                  Show this help\n"
)
MODINFO_LONGOPTS = {
    "author": (0, "a"), "description": (0, "d"), "license": (0, "l"), "parameters": (0, "p"),
    "filename": (0, "n"), "null": (0, "0"), "modname": (0, "m"), "field": (1, "F"),
    "set-version": (1, "k"), "basedir": (1, "b"), "version": (0, "V"), "help": (0, "h"),
}


def _read(path: str) -> bytes | KmodError:
    try:
        with open(path, "rb") as f:
            return f.read()
    except OSError as e:
        return KmodError(e.errno or ENOENT)


def _is_regular(path: str) -> bool:
    return os.path.isfile(path)


def modinfo_main(argv: list[str], *, index_for: Callable[[str | None, str | None], object] | None = None,
                 cwd: str | None = None, read: Callable[[str], bytes | KmodError] = _read,
                 is_regular: Callable[[str], bool] = _is_regular, features: Iterable[str] = FEATURES,
                 prog: str = "modinfo") -> ToolOutput:
    """tools/modinfo.c do_modinfo(): option parsing, then each argument as a file (an existing
    regular file with a module extension), a module name (-m) or an alias looked up in a
    modules directory. `index_for(basedir, kversion)` returns a modprobe.ModuleIndex (or None
    when there is none); without it every non-file argument is "not found"."""
    opts, args, err = getopt_long(prog, argv, "adlpn0mF:k:b:Vh", MODINFO_LONGOPTS)
    if err:
        return ToolOutput("", err, 1)
    field: str | None = None
    null = arg_is_modname = False
    kversion = root = None
    for key, val in opts:
        if key in "adlpn":
            field = {"a": "author", "d": "description", "l": "license", "p": "parm", "n": "filename"}[key]
        elif key == "0":
            null = True
        elif key == "m":
            arg_is_modname = True
        elif key == "F":
            field = val
        elif key == "k":
            kversion = val
        elif key == "b":
            root = val
        elif key == "h":
            return ToolOutput(MODINFO_HELP.format(prog=prog), "", 0)
        elif key == "V":
            return ToolOutput(KMOD_VERSION, "", 0)
    if not args:
        return ToolOutput("", tool_log(prog, LOG_ERR, "missing module or filename.\n"), 1)
    index = index_for(root, kversion) if index_for is not None else None
    total = ToolOutput()
    failed = False

    def add(r: ToolOutput) -> None:
        nonlocal failed
        total.stdout += r.stdout
        total.stderr += r.stderr
        failed = failed or r.status != 0

    for name in args:
        if arg_is_modname:
            mods = index.lookup_name(name) if index is not None else []
            if not mods:
                add(ToolOutput("", tool_log(prog, LOG_ERR, f"Module name {name} not found.\n"), 1))
                continue
        elif is_regular(name) and path_ends_with_kmod_ext(name, features):
            add(modinfo_file(name, read(name), field=field, null=null, cwd=cwd, features=features, prog=prog))
            continue
        else:
            mods = index.lookup(name) if index is not None else []
            if not mods:
                add(ToolOutput("", tool_log(prog, LOG_ERR, f"Module {name} not found.\n"), 1))
                continue
        for mod in mods:
            path = index.module_path(mod)
            if path is None:
                info: list[tuple[bytes, bytes]] | KmodError = index.builtin_info(mod)
            else:
                info = file_info(read(path), features)
            add(modinfo_do(path, mod, info, field=field, null=null, prog=prog))
    total.status = 1 if failed else 0
    return total
