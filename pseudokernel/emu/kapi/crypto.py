"""The crypto API's registration side (crypto/algapi.c, skcipher.c, shash.c, ahash.c, aead.c,
akcipher.c, kpp.c, rng.c, scompress.c): every algorithm a module registers is recorded with its
cra_name, cra_driver_name and priority. The kernel's self-tests (cryptomgr) are not run.
"""

from __future__ import annotations

import hashlib
from errno import EEXIST, ENOENT

from ...bits import MASK64
from . import KernelApi, kapi
from . import neg_errno as _err


def _base_offset(k: KernelApi, struct: str) -> int:
    if struct == "crypto_alg":
        return 0
    if struct == "ahash_alg":
        return k.S.ahash_alg.halg + k.S.hash_alg_common.base
    return k.S[struct].get("base", 0)


def _alg_name(k: KernelApi, alg: int) -> tuple[str, str, int]:
    name = k.m.read(alg + k.S.crypto_alg.cra_name, 128).split(b"\0", 1)[0].decode("utf-8", "replace")
    drv = k.m.read(alg + k.S.crypto_alg.cra_driver_name, 128).split(b"\0", 1)[0]
    prio = k.m.read_u32(alg + k.S.crypto_alg.cra_priority)
    return name, drv.decode("utf-8", "replace") or name, prio


def register_alg(k: KernelApi, alg: int, kind: str) -> int:
    name, drv, prio = _alg_name(k, alg)
    reg = k.registry
    if any(r.info.get("driver") == drv for r in reg.of_kind("crypto_alg")):
        return -EEXIST & MASK64
    reg.add("crypto_alg", name, alg, k.caller_module_name(), driver=drv, priority=prio, type=kind)
    return 0


def _one(struct: str, kind: str):
    def handler(k: KernelApi, alg: int) -> int:
        return register_alg(k, alg + _base_offset(k, struct), kind)

    return handler


def _unone(struct: str):
    def handler(k: KernelApi, alg: int) -> None:
        k.registry.remove("crypto_alg", alg + _base_offset(k, struct))

    return handler


def _many(struct: str, kind: str):
    def handler(k: KernelApi, algs: int, count: int) -> int:
        size = k.S[struct].get("sizeof", 448)
        for i in range(count & 0xFFFFFFFF):
            ret = register_alg(k, algs + i * size + _base_offset(k, struct), kind)
            if ret:
                for j in range(i):
                    k.registry.remove("crypto_alg", algs + j * size + _base_offset(k, struct))
                return ret
        return 0

    return handler


def _unmany(struct: str):
    def handler(k: KernelApi, algs: int, count: int) -> None:
        size = k.S[struct].get("sizeof", 448)
        for i in range(count & 0xFFFFFFFF):
            k.registry.remove("crypto_alg", algs + i * size + _base_offset(k, struct))

    return handler


for _kind, _struct in (("alg", "crypto_alg"), ("skcipher", "skcipher_alg"), ("shash", "shash_alg"),
                       ("ahash", "ahash_alg"), ("aead", "aead_alg"), ("akcipher", "akcipher_alg"),
                       ("kpp", "kpp_alg"), ("rng", "rng_alg"), ("scomp", "scomp_alg"), ("acomp", "acomp_alg")):
    kapi(f"crypto_register_{_kind}")(_one(_struct, _kind))
    kapi(f"crypto_unregister_{_kind}")(_unone(_struct))
    plural = {"alg": "algs", "skcipher": "skciphers", "shash": "shashes", "ahash": "ahashes", "aead": "aeads",
              "rng": "rngs", "scomp": "scomps", "acomp": "acomps", "kpp": "kpps", "akcipher": "akciphers"}[_kind]
    kapi(f"crypto_register_{plural}")(_many(_struct, _kind))
    kapi(f"crypto_unregister_{plural}")(_unmany(_struct))


@kapi("crypto_register_template")
def crypto_register_template(k: KernelApi, tmpl: int) -> int:
    name = k.m.read(tmpl + k.S.crypto_template.name, 128).split(b"\0", 1)[0].decode("utf-8", "replace")
    k.registry.add("crypto_template", name, tmpl, k.caller_module_name())
    return 0


@kapi("crypto_register_templates")
def crypto_register_templates(k: KernelApi, tmpls: int, count: int) -> int:
    for i in range(count & 0xFFFFFFFF):
        crypto_register_template(k, tmpls + i * k.S.crypto_template.sizeof)
    return 0


@kapi("crypto_unregister_template")
def crypto_unregister_template(k: KernelApi, tmpl: int) -> None:
    k.registry.remove("crypto_template", tmpl)


@kapi("crypto_unregister_templates")
def crypto_unregister_templates(k: KernelApi, tmpls: int, count: int) -> None:
    for i in range(count & 0xFFFFFFFF):
        crypto_unregister_template(k, tmpls + i * k.S.crypto_template.sizeof)


# -- transforms: a tfm bound to the registered algorithm, or to the kernel's built-in one ---------

TFM_TYPES = {  # alloc function -> (struct of the handle, struct of the algorithm)
    "crypto_alloc_shash": ("crypto_shash", "shash_alg"), "crypto_alloc_ahash": ("crypto_ahash", "ahash_alg"),
    "crypto_alloc_skcipher": ("crypto_skcipher", "skcipher_alg"),
    "crypto_alloc_sync_skcipher": ("crypto_skcipher", "skcipher_alg"),
    "crypto_alloc_aead": ("crypto_aead", "aead_alg"), "crypto_alloc_akcipher": ("crypto_akcipher", "akcipher_alg"),
    "crypto_alloc_kpp": ("crypto_kpp", "kpp_alg"), "crypto_alloc_rng": ("crypto_rng", "rng_alg"),
    "crypto_alloc_acomp": ("crypto_acomp", "acomp_alg"), "crypto_alloc_base": ("crypto_tfm", "crypto_alg"),
}


def _find_alg(k: KernelApi, name: str) -> int:
    best, prio = 0, -1
    for r in k.registry.of_kind("crypto_alg"):
        if (r.name == name or r.info.get("driver") == name) and r.info.get("priority", 0) > prio:
            best, prio = r.obj, r.info.get("priority", 0)
    return best


def _builtin_alg(k: KernelApi, name: str, alg_struct: str) -> int:
    """The algorithm of a built-in implementation: its crypto_alg inside its type's struct."""
    algs = k.state.setdefault("builtin_algs", {})
    key = (name, alg_struct)
    if key not in algs:
        size = k.S[alg_struct].get("sizeof", 512) + 64
        whole = k.m.kmalloc(size, "", 0, kind="crypto_alg")
        base = whole + _base_offset(k, alg_struct)
        k.m.write(base + k.S.crypto_alg.cra_name, name.encode()[:127] + b"\0")
        k.m.write(base + k.S.crypto_alg.cra_driver_name, (name + "-generic").encode()[:127] + b"\0")
        k.m.write_u32(base + k.S.crypto_alg.cra_priority, 100)
        k.m.write_u32(base + k.S.crypto_alg.cra_blocksize, 1)
        if alg_struct in ("shash_alg", "ahash_alg"):
            halg = whole if alg_struct == "shash_alg" else whole + k.S.ahash_alg.halg
            ds = {"md5": 16, "sha1": 20, "sha224": 28, "sha256": 32, "sha384": 48, "sha512": 64, "crc32c": 4,
                  "crc32": 4, "sha3-256": 32, "sha3-512": 64, "ghash": 16, "crct10dif": 2}.get(name, 32)
            off = k.S.shash_alg.digestsize if alg_struct == "shash_alg" else \
                k.S.hash_alg_common.digestsize
            k.m.write_u32(halg + off, ds)
        algs[key] = base
    return algs[key]


# the hashes built into the reference kernel (=y in its config), computed here; any other
# algorithm exists only once a module registers it (a modular one is not there: -ENOENT)
BUILTIN_HASHES = {"sha1": ("CRYPTO_SHA1", "sha1"), "sha224": ("CRYPTO_SHA256", "sha224"),
                  "sha256": ("CRYPTO_SHA256", "sha256"), "md5": ("CRYPTO_MD5", "md5"),
                  "sha384": ("CRYPTO_SHA512", "sha384"), "sha512": ("CRYPTO_SHA512", "sha512")}


def _builtin_hash(k: KernelApi, name: str) -> str | None:
    entry = BUILTIN_HASHES.get(name.removesuffix("-generic"))
    return entry[1] if entry and k.profile.config.get("CONFIG_" + entry[0]) == "y" else None


def _alloc_tfm(k: KernelApi, name_p: int, typ: int, mask: int) -> int:
    fn = k.stub.name if k.stub else "crypto_alloc_base"
    handle, alg_struct = TFM_TYPES.get(fn, ("crypto_tfm", "crypto_alg"))
    name = k.cstr(name_p, 128).decode("utf-8", "replace")
    alg = _find_alg(k, name)
    if not alg and handle in ("crypto_shash", "crypto_ahash") and not _builtin_hash(k, name):
        return _err(ENOENT)  # crypto_alg_mod_lookup(): no such algorithm, and no module to ask
    alg = alg or _builtin_alg(k, name, alg_struct)
    base_off = 0 if handle == "crypto_tfm" else k.S[handle].get("base", 0)
    ctx = k.m.read_u32(alg + k.S.crypto_alg.cra_ctxsize)
    h = k.m.kmalloc(k.S[handle].get("sizeof", 32) + 64 + min(ctx, 1 << 16), k.caller_module_name(), k.caller, kind="crypto_tfm")
    tfm = h + base_off
    k.m.write_u32(tfm + k.S.crypto_tfm.refcnt, 1)
    k.m.write_u64(tfm + k.S.crypto_tfm.__crt_alg, alg)
    if handle == "crypto_shash":
        whole = alg - _base_offset(k, "shash_alg")
        k.m.write_u32(h, k.m.read_u32(whole + k.S.shash_alg.descsize))
    if handle == "crypto_ahash":
        nop = k.function("__pk_crypto_nop")
        has = k.btf_struct("crypto_ahash")
        for member in ("init", "update", "final", "finup", "digest", "export", "import", "setkey"):
            if has is None or member in has.members:  # 6.12's crypto_ahash has no ops of its own
                k.m.write_u64(h + k.S.crypto_ahash[member], nop)
    return h


for _fn in TFM_TYPES:
    kapi(_fn)(_alloc_tfm)


@kapi("__pk_crypto_nop")
def __pk_crypto_nop(k: KernelApi) -> int:
    """The operations of a built-in algorithm's transform: nothing is computed."""
    return 0


@kapi("crypto_destroy_tfm")
def crypto_destroy_tfm(k: KernelApi, mem: int, tfm: int) -> None:
    if mem and mem < MASK64 - 4096:
        k.kfree(mem)


@kapi("crypto_has_alg", "crypto_has_ahash", "crypto_has_skcipher", "crypto_has_aead", "crypto_has_shash",
      "crypto_has_kpp")
def crypto_has_alg(k: KernelApi, name: int, typ: int, mask: int) -> int:
    return 1


# -- synchronous hashes: the built-in ones computed here, a module's through its own ops --------

def _shash_alg(k: KernelApi, tfm: int) -> tuple[int, str, str | None]:
    """(struct shash_alg, its cra_name, the hashlib name if built in)."""
    alg = k.m.read_u64(tfm + k.S.crypto_shash.base + k.S.crypto_tfm.__crt_alg)
    whole = alg - _base_offset(k, "shash_alg")
    name = k.m.read(alg + k.S.crypto_alg.cra_name, 128).split(b"\0", 1)[0].decode("utf-8", "replace")
    builtin = _builtin_hash(k, name) if not any(r.obj == alg for r in k.registry.of_kind("crypto_alg")) else None
    return whole, name, builtin


def _states(k: KernelApi) -> dict:
    return k.state.setdefault("shash_states", {})


@kapi("crypto_shash_tfm_digest")
def crypto_shash_tfm_digest(k: KernelApi, tfm: int, data: int, length: int, out: int) -> int:
    whole, _name, builtin = _shash_alg(k, tfm)
    if builtin:
        k.m.write(out, hashlib.new(builtin, k.m.read(data, length)).digest())
        return 0
    desc = k.m.kmalloc(8 + k.m.read_u32(tfm + k.S.crypto_shash.descsize), "", 0, kind="shash_desc")
    try:
        k.m.write_u64(desc, tfm)
        return crypto_shash_digest(k, desc, data, length, out)
    finally:
        k.kfree(desc)


def _op(k: KernelApi, whole: int, member: str) -> int:
    return k.m.read_u64(whole + k.S.shash_alg[member])


@kapi("crypto_shash_init")
def crypto_shash_init(k: KernelApi, desc: int) -> int:
    whole, _name, builtin = _shash_alg(k, k.m.read_u64(desc))
    if builtin:
        _states(k)[desc] = hashlib.new(builtin)
        return 0
    return k.m.call(_op(k, whole, "init"), desc) & 0xFFFFFFFF


@kapi("crypto_shash_update")
def crypto_shash_update(k: KernelApi, desc: int, data: int, length: int) -> int:
    whole, _name, builtin = _shash_alg(k, k.m.read_u64(desc))
    if builtin:
        _states(k).setdefault(desc, hashlib.new(builtin)).update(k.m.read(data, length))
        return 0
    return k.m.call(_op(k, whole, "update"), desc, data, length) & 0xFFFFFFFF


@kapi("crypto_shash_final")
def crypto_shash_final(k: KernelApi, desc: int, out: int) -> int:
    whole, _name, builtin = _shash_alg(k, k.m.read_u64(desc))
    if builtin:
        k.m.write(out, _states(k).pop(desc, hashlib.new(builtin)).digest())
        return 0
    return k.m.call(_op(k, whole, "final"), desc, out) & 0xFFFFFFFF


@kapi("crypto_shash_finup")
def crypto_shash_finup(k: KernelApi, desc: int, data: int, length: int, out: int) -> int:
    ret = crypto_shash_update(k, desc, data, length)
    return ret or crypto_shash_final(k, desc, out)


@kapi("crypto_shash_digest")
def crypto_shash_digest(k: KernelApi, desc: int, data: int, length: int, out: int) -> int:
    whole, _name, builtin = _shash_alg(k, k.m.read_u64(desc))
    if not builtin and _op(k, whole, "digest"):
        return k.m.call(_op(k, whole, "digest"), desc, data, length, out) & 0xFFFFFFFF
    return crypto_shash_init(k, desc) or crypto_shash_finup(k, desc, data, length, out)
