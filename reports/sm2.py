"""SM2 signatures (GB/T 32918.2-2016, GM/T 0003.2-2012) with SM3, on Tongsuo (``tongsuopy``).

Why Tongsuo: it is the OpenAtom Foundation's OpenSSL fork for the national algorithms, in C
with constant-time scalar multiplication, so a signing key does not leak through timing; the
pure-Python SM2 packages (``snowland-smx``, ``gmssl``) are not constant-time and sign 25 times
slower. The tests cross-check every signature against ``snowland-smx`` (an independent
implementation) both ways, and against the example of GB/T 32918.5-2017 / GM/T 0003.5-2012.

The signer's identity ID_A enters the digest (e = SM3(Z_A || M), GB/T 32918.2-2016 §6.1). We
use the default of GM/T 0009-2012 §10 (GB/T 35276-2017 §11), ``1234567812345678``, which
Tongsuo applies when none is set: the tests prove it by verifying the standard's example,
computed with that ID. Verifiers elsewhere must use the same ID (published with the key).

Signatures are carried raw as ``r || s`` (32 + 32 bytes, big-endian), like Ed25519's 64 bytes,
so a QR token keeps its length; GM/T 0009 §7.2's DER ``SM2Signature`` is converted at the edge.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature, encode_dss_signature
from tongsuopy.crypto import hashes as _hashes
from tongsuopy.crypto import serialization as _ser
from tongsuopy.crypto.asymciphers import ec as _ec
from tongsuopy.crypto.exceptions import InvalidSignature as _TongsuoInvalidSignature

ALGORITHM = "SM2-SM3"
# GM/T 0009-2012 §10 (GB/T 35276-2017 §11): the default user ID, 0x31..38 ("1234567812345678").
DEFAULT_USER_ID = b"1234567812345678"
SIGNATURE_LEN = 64
PUBLIC_POINT_LEN = 65  # 04 || x || y (uncompressed, GB/T 32918.1-2016 §4.2.9)
# GB/T 32918.5-2017 §3 (GM/T 0003.5-2012): the order n of the recommended curve's base point.
CURVE_ORDER = int("FFFFFFFEFFFFFFFFFFFFFFFFFFFFFFFF7203DF6B21C6052B53BBF40939D54123", 16)

Sm2PrivateKey = _ec.EllipticCurvePrivateKey
Sm2PublicKey = _ec.EllipticCurvePublicKey
_ALG = _ec.ECDSA(_hashes.SM3())  # tongsuopy's name for "sign with this curve's scheme, SM3"


def is_private_key(key: Any) -> bool:
    return isinstance(key, _ec.EllipticCurvePrivateKey) and key.curve.name == "SM2"


def is_public_key(key: Any) -> bool:
    return isinstance(key, _ec.EllipticCurvePublicKey) and key.curve.name == "SM2"


def generate_key() -> Sm2PrivateKey:
    return _ec.generate_private_key(_ec.SM2())


def private_key_from_int(d: int) -> Sm2PrivateKey:
    """A key from its private scalar (for the standards' examples)."""
    return _ec.derive_private_key(d, _ec.SM2())


def private_key_to_pem(key: Sm2PrivateKey, passphrase: bytes | None = None) -> bytes:
    encryption = _ser.BestAvailableEncryption(passphrase) if passphrase else _ser.NoEncryption()
    return key.private_bytes(_ser.Encoding.PEM, _ser.PrivateFormat.PKCS8, encryption)


def load_private_key(data: bytes, passphrase: bytes | None = None) -> Sm2PrivateKey:
    key = _ser.load_pem_private_key(data, password=passphrase)
    if not is_private_key(key):
        raise ValueError("not an SM2 private key")
    return key


def public_key_to_pem(key: Sm2PublicKey) -> bytes:
    return key.public_bytes(_ser.Encoding.PEM, _ser.PublicFormat.SubjectPublicKeyInfo)


def public_point(key: Sm2PublicKey | Sm2PrivateKey) -> bytes:
    """``04 || x || y``: the form GM/T 0009 and other SM2 libraries exchange public keys in."""
    if is_private_key(key):
        key = key.public_key()
    return key.public_bytes(_ser.Encoding.X962, _ser.PublicFormat.UncompressedPoint)


def public_key_from_point(point: bytes) -> Sm2PublicKey:
    if len(point) != PUBLIC_POINT_LEN or point[0] != 4:
        raise ValueError("an SM2 public key is 65 bytes: 04 || x || y")
    return _ec.EllipticCurvePublicKey.from_encoded_point(_ec.SM2(), point)


def save_private_key(key: Sm2PrivateKey, path: str | Path, passphrase: bytes | None = None) -> None:
    """Written owner-only from the first byte (the file is created 0600, then filled)."""
    import os

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(private_key_to_pem(key, passphrase))


def sign(key: Sm2PrivateKey, data: bytes) -> bytes:
    """SM2 signature of ``data`` (Z_A with the default ID), as ``r || s``."""
    r, s = decode_dss_signature(key.sign(data, _ALG))
    return r.to_bytes(32, "big") + s.to_bytes(32, "big")


def verify(key: Sm2PublicKey, signature: bytes, data: bytes) -> None:
    """Raise ``cryptography.exceptions.InvalidSignature`` unless ``signature`` (``r || s``) holds."""
    if len(signature) != SIGNATURE_LEN:
        raise InvalidSignature("an SM2 signature is 64 bytes (r || s)")
    r, s = int.from_bytes(signature[:32], "big"), int.from_bytes(signature[32:], "big")
    # GB/T 32918.2-2016 §7.1 B1-B2: r and s in [1, n-1]; checked here, not left to the library.
    if not (0 < r < CURVE_ORDER and 0 < s < CURVE_ORDER):
        raise InvalidSignature("SM2 signature out of range")
    try:
        key.verify(encode_dss_signature(r, s), data, _ALG)
    except _TongsuoInvalidSignature as exc:
        raise InvalidSignature("SM2 signature does not verify") from exc
