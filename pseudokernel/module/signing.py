"""Appended module signatures: module_sig_check() (kernel/module/signing.c), mod_check_sig()
(kernel/module_signature.c) and the PKCS#7 verification the kernel does against its builtin
trusted keys (crypto/asymmetric_keys/pkcs7_verify.c), for the modules sign-file produces.

A module file ends in `<PKCS#7 DER><struct module_signature>~Module signature appended~\\n`.
"""

from __future__ import annotations

import hashlib
import struct
from dataclasses import dataclass
from errno import EBADMSG, EKEYREJECTED, ENODATA, ENOKEY, ENOPKG
from typing import TYPE_CHECKING

from .internal import MODULE_INIT_IGNORE_MODVERSIONS, MODULE_INIT_IGNORE_VERMAGIC, LoadError

if TYPE_CHECKING:
    from ..state import KernelState
    from .elf import LoadInfo

MODULE_SIG_STRING = b"~Module signature appended~\n"
MODULE_SIGNATURE = struct.Struct(">BBBBB3sI")  # algo hash id_type signer_len key_id_len pad sig_len
PKEY_ID_PKCS7 = 2

OID_SIGNED_DATA = "1.2.840.113549.1.7.2"
OID_MESSAGE_DIGEST = "1.2.840.113549.1.9.4"
HASH_OIDS = {
    "1.3.14.3.2.26": "sha1",
    "2.16.840.1.101.3.4.2.4": "sha224",
    "2.16.840.1.101.3.4.2.1": "sha256",
    "2.16.840.1.101.3.4.2.2": "sha384",
    "2.16.840.1.101.3.4.2.3": "sha512",
}


# -- a minimal DER reader --------------------------------------------------------------------


class Asn1Error(ValueError):
    pass


@dataclass
class Tlv:
    tag: int
    start: int  # of the whole TLV
    body: int  # of the contents
    end: int

    def raw(self, data: bytes) -> bytes:
        return data[self.start : self.end]

    def contents(self, data: bytes) -> bytes:
        return data[self.body : self.end]


def read_tlv(data: bytes, pos: int, end: int | None = None) -> Tlv:
    end = len(data) if end is None else end
    if pos + 2 > end:
        raise Asn1Error("truncated")
    tag = data[pos]
    n = data[pos + 1]
    p = pos + 2
    if n & 0x80:
        k = n & 0x7F
        if k == 0 or k > 4 or p + k > end:
            raise Asn1Error("bad length")
        n = int.from_bytes(data[p : p + k], "big")
        p += k
    if p + n > end:
        raise Asn1Error("overrun")
    return Tlv(tag, pos, p, p + n)


def children(data: bytes, tlv: Tlv) -> list[Tlv]:
    out = []
    pos = tlv.body
    while pos < tlv.end:
        t = read_tlv(data, pos, tlv.end)
        out.append(t)
        pos = t.end
    return out


def oid(data: bytes, tlv: Tlv) -> str:
    b = tlv.contents(data)
    if tlv.tag != 0x06 or not b:
        raise Asn1Error("not an OID")
    parts = [b[0] // 40, b[0] % 40]
    v = 0
    for c in b[1:]:
        v = (v << 7) | (c & 0x7F)
        if not c & 0x80:
            parts.append(v)
            v = 0
    return ".".join(map(str, parts))


# -- the signature ---------------------------------------------------------------------------


@dataclass
class Pkcs7Signature:
    """What the kernel (and kmod's modinfo) learn from a module's PKCS#7 message."""

    hash_algo: str
    issuer_der: bytes
    serial: int
    signature: bytes
    signed_attrs: bytes | None  # DER of the authenticated attributes, re-tagged as a SET
    message_digest: bytes | None
    key_id: bytes | None = None


def parse_pkcs7(der: bytes) -> Pkcs7Signature:
    top = read_tlv(der, 0)
    ci = children(der, top)
    if len(ci) < 2 or oid(der, ci[0]) != OID_SIGNED_DATA:
        raise Asn1Error("not PKCS#7 signedData")
    sd = children(der, children(der, ci[1])[0])
    signer_infos = [t for t in sd if t.tag == 0x31][-1]
    si = children(der, children(der, signer_infos)[0])
    sid = si[1]
    key_id = None
    if sid.tag == 0x30:
        ias = children(der, sid)
        issuer, serial = ias[0].raw(der), int.from_bytes(ias[1].contents(der), "big", signed=True)
    else:
        issuer, serial, key_id = b"", 0, sid.contents(der)
    hash_algo = HASH_OIDS.get(oid(der, children(der, si[2])[0]), "unknown")
    idx = 3
    signed_attrs = message_digest = None
    if si[idx].tag == 0xA0:
        raw = si[idx].raw(der)
        signed_attrs = b"\x31" + raw[1:]
        for attr in children(der, si[idx]):
            a = children(der, attr)
            if oid(der, a[0]) == OID_MESSAGE_DIGEST:
                message_digest = children(der, a[1])[0].contents(der)
        idx += 1
    signature = si[idx + 1].contents(der)
    return Pkcs7Signature(hash_algo, issuer, serial, signature, signed_attrs, message_digest, key_id)


def mod_check_sig(body: bytes) -> tuple[bytes, bytes | None, int]:
    """Split `body` (the file without the marker) into (module, PKCS#7 DER) and check the
    struct module_signature trailer: (module, der, 0) or (body, None, errno)."""
    if len(body) <= MODULE_SIGNATURE.size:
        return body, None, EBADMSG
    algo, hash_, id_type, signer_len, key_id_len, pad, sig_len = MODULE_SIGNATURE.unpack_from(
        body, len(body) - MODULE_SIGNATURE.size
    )
    if sig_len >= len(body) - MODULE_SIGNATURE.size:
        return body, None, EBADMSG
    if id_type != PKEY_ID_PKCS7:
        return body, None, ENOPKG
    if algo or hash_ or signer_len or key_id_len or any(pad):
        return body, None, EBADMSG
    modlen = len(body) - MODULE_SIGNATURE.size - sig_len
    return body[:modlen], body[modlen : modlen + sig_len], 0


def split_signature(data: bytes) -> tuple[bytes, bytes | None]:
    """(module bytes, PKCS#7 DER) of a file, or (data, None) when it carries no valid trailer."""
    if not data.endswith(MODULE_SIG_STRING):
        return data, None
    content, der, err = mod_check_sig(data[: -len(MODULE_SIG_STRING)])
    return (content, der) if not err else (data, None)


def _cert_matches(cert, sig: Pkcs7Signature) -> bool:
    from cryptography import x509

    if sig.key_id is not None:
        try:
            ski = cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value.digest
        except x509.ExtensionNotFound:
            return False
        return ski == sig.key_id
    return cert.serial_number == sig.serial and cert.issuer.public_bytes() == sig.issuer_der


_VERIFIED: dict[tuple[bytes, bytes, tuple[bytes, ...]], int] = {}


def verify_pkcs7(content: bytes, der: bytes, trusted: list[bytes]) -> int:
    """0, or the errno pkcs7_verify() + the keyring lookup give. The answer depends on the
    content, the signature and the keys alone, so it is kept for the next load of the same
    file (the corpus loads a dependency again in each batch that needs it; the certificate's
    parse and the RSA check were most of the time the check took)."""
    key = (hashlib.sha256(content).digest(), der, tuple(trusted))
    err = _VERIFIED.get(key)
    if err is None:
        if len(_VERIFIED) >= 4096:
            _VERIFIED.clear()
        err = _VERIFIED[key] = _verify_pkcs7(content, der, trusted)
    return err


def _verify_pkcs7(content: bytes, der: bytes, trusted: list[bytes]) -> int:
    try:
        sig = parse_pkcs7(der)
    except (Asn1Error, IndexError):
        return EBADMSG
    if sig.hash_algo == "unknown":
        return ENOPKG
    digest = hashlib.new(sig.hash_algo, content).digest()
    if sig.signed_attrs is not None and sig.message_digest != digest:
        return EKEYREJECTED
    try:
        from cryptography import x509
        from cryptography.exceptions import InvalidSignature
        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
    except ImportError:
        return ENOPKG
    for der_cert in trusted:
        try:
            cert = x509.load_der_x509_certificate(der_cert)
        except ValueError:
            continue
        if not _cert_matches(cert, sig):
            continue
        key = cert.public_key()
        algo = getattr(hashes, sig.hash_algo.upper())()
        signed = sig.signed_attrs if sig.signed_attrs is not None else content
        try:
            if isinstance(key, rsa.RSAPublicKey):
                key.verify(sig.signature, signed, padding.PKCS1v15(), algo)
            elif isinstance(key, ec.EllipticCurvePublicKey):
                key.verify(sig.signature, signed, ec.ECDSA(algo))
            else:
                return ENOPKG
        except InvalidSignature:
            return EKEYREJECTED
        return 0
    return ENOKEY


def module_sig_check(kernel: KernelState, info: LoadInfo, flags: int) -> None:
    """Strip and check the appended signature; sets info.sig_ok and info.len."""
    err = ENODATA
    mangled = flags & (MODULE_INIT_IGNORE_MODVERSIONS | MODULE_INIT_IGNORE_VERMAGIC)
    if not mangled and len(info.data) > len(MODULE_SIG_STRING) and info.data.endswith(MODULE_SIG_STRING):
        info.data = info.data[: -len(MODULE_SIG_STRING)]
        info.len = len(info.data)
        content, der, err = mod_check_sig(info.data)
        if err == ENOPKG:
            kernel.log.err("module: not signed with expected PKCS#7 message\n")
        if not err:
            info.data = content
            info.len = len(content)
            err = verify_pkcs7(content, der, kernel.trusted_keys())
            if not err:
                info.sig_ok = True
                return
    reason = {ENODATA: "unsigned module", ENOPKG: "module with unsupported crypto", ENOKEY: "module with unavailable key"}
    if err not in reason:
        raise LoadError(err, "signature")
    if kernel.sig_enforce:
        kernel.log.notice(f"Loading of {reason[err]} is rejected\n")
        raise LoadError(EKEYREJECTED, reason[err])
