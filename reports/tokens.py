"""Signed verification tokens for the report's QR code: Ed25519, or SM2 with SM3 (国密).

A token is a small binary record, signed, then written as a decimal number::

    header  1 byte   format version (high nibble) | report kind code (low nibble); the version
                     names the signature algorithm: 1 = Ed25519 (RFC 8032), 2 = SM2 with SM3
                     (GB/T 32918.2-2016, user ID of GM/T 0009-2012 §10, ``reports.sm2``)
    date    2 bytes  issue date, days since 2020-01-01 (China time)
    kid     1+n      key id, ASCII, n <= 16
    number  1+n      report number; high bit of the length byte set = packed 3 chars in 2 bytes
    hash    16 bytes first 16 bytes of the content SHA-256
    sig     64 bytes signature over everything above (Ed25519, or SM2 as r || s)

Why decimal and not base64url: the URL ``<base>/v/<token>`` goes into a QR code, and a QR code
stores a run of digits in numeric mode at 3.33 bits per digit, against 8 bits per character for
base64url text in byte mode. The same 110-byte token needs about 920 bits as digits and about
1180 as base64url, which is the difference between QR version 8 and version 10 at level M. Digits
are also immune to the case folding some scanners apply. Both signatures are 64 bytes, so an SM2
token is exactly as long as an Ed25519 one: the QR version does not change (measured in
tests/reports/test_report_tokens_sm2.py, and decoded back from the printed page).
"""

from __future__ import annotations

import base64
import json
import re
import struct
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from . import sm2
from .content import ReportKind

TOKEN_VERSION = 1  # Ed25519
TOKEN_VERSION_SM2 = 2  # SM2 with SM3
ED25519 = "Ed25519"
SM2 = sm2.ALGORITHM
_ALGORITHM_OF_VERSION = {TOKEN_VERSION: ED25519, TOKEN_VERSION_SM2: SM2}
HASH_PREFIX_LEN = 16
SIGNATURE_LEN = 64
EPOCH = date(2020, 1, 1)
MAX_TOKEN_DIGITS = 600  # far above any real token; bounds the int parse of hostile input
_KID_RE = re.compile(r"^[A-Za-z0-9._-]{1,16}$")
# Report numbers made of these characters are packed three to two bytes (40**3 < 2**16).
_PACK_ALPHABET = "\x000123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ-_"
_PACKABLE = re.compile(r"^[0-9A-Z_-]+$")


class TokenError(ValueError):
    """Raised for a token that must not be trusted; ``reason`` tells why, for distinct answers."""

    MALFORMED = "malformed"
    UNKNOWN_KEY = "unknown_key"
    BAD_SIGNATURE = "bad_signature"

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


@dataclass(frozen=True)
class TokenPayload:
    kid: str
    number: str
    kind: ReportKind
    issued_on: date
    content_hash_prefix: bytes  # first 16 bytes of the content SHA-256
    algorithm: str = ED25519  # the token's signature algorithm (its version)

    def matches_hash(self, content_hash: str | bytes) -> bool:
        digest = bytes.fromhex(content_hash) if isinstance(content_hash, str) else content_hash
        return digest[:HASH_PREFIX_LEN] == self.content_hash_prefix


# --- keys -------------------------------------------------------------------------------------


def generate_key() -> Ed25519PrivateKey:
    return Ed25519PrivateKey.generate()


def private_key_to_pem(key: Ed25519PrivateKey, passphrase: bytes | None = None) -> bytes:
    if sm2.is_private_key(key):
        return sm2.private_key_to_pem(key, passphrase)
    encryption = serialization.BestAvailableEncryption(passphrase) if passphrase else serialization.NoEncryption()
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption)


def save_private_key(key: Ed25519PrivateKey, path: str | Path, passphrase: bytes | None = None) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.touch(mode=0o600, exist_ok=True)
    path.write_bytes(private_key_to_pem(key, passphrase))


def load_private_key(data_or_path: bytes | str | Path, passphrase: bytes | None = None):
    """An Ed25519 or SM2 private key from PKCS#8 PEM (bytes or a file)."""
    data = data_or_path if isinstance(data_or_path, bytes) else Path(data_or_path).read_bytes()
    try:
        key = serialization.load_pem_private_key(data, password=passphrase)
    except Exception:  # cryptography does not know the SM2 curve (UnsupportedAlgorithm)
        try:
            return sm2.load_private_key(data, passphrase)
        except Exception:
            raise ValueError("the report signing key must be an Ed25519 or SM2 key") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise ValueError("the report signing key must be an Ed25519 or SM2 key")
    return key


def algorithm_of(key) -> str:
    """``Ed25519`` or ``SM2-SM3`` for a private or public key of either kind."""
    if isinstance(key, Ed25519PrivateKey | Ed25519PublicKey):
        return ED25519
    if sm2.is_private_key(key) or sm2.is_public_key(key):
        return SM2
    raise ValueError("not an Ed25519 or SM2 key")


def public_key_to_pem(key: Ed25519PublicKey) -> bytes:
    if sm2.is_public_key(key):
        return sm2.public_key_to_pem(key)
    return key.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)


def load_public_key(data: bytes) -> Ed25519PublicKey:
    key = serialization.load_pem_public_key(data)
    if not isinstance(key, Ed25519PublicKey):
        raise ValueError("not an Ed25519 public key")
    return key


def public_jwk(key, kid: str) -> dict[str, str]:
    """The key as published in ``/.well-known/credit-report-keys.json``: Ed25519 as an RFC 8037
    OKP key; SM2 (which has no registered JOSE name) as an EC key with ``crv`` "SM2", ``alg``
    "SM2-SM3" and the user ID its signatures use (``sm2_uid``), coordinates base64url as in
    RFC 7518 §6.2.1."""
    if isinstance(key, Ed25519PrivateKey) or sm2.is_private_key(key):
        key = key.public_key()
    if sm2.is_public_key(key):
        point = sm2.public_point(key)
        return {
            "kty": "EC",
            "crv": "SM2",
            "x": _b64url(point[1:33]),
            "y": _b64url(point[33:]),
            "kid": kid,
            "use": "sig",
            "alg": SM2,
            "sm2_uid": sm2.DEFAULT_USER_ID.decode(),
        }
    raw = key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return {"kty": "OKP", "crv": "Ed25519", "x": _b64url(raw), "kid": kid, "use": "sig", "alg": "EdDSA"}


def public_key_from_jwk(jwk: Mapping[str, str]):
    if jwk.get("kty") == "EC" and jwk.get("crv") == "SM2":
        if jwk.get("sm2_uid", sm2.DEFAULT_USER_ID.decode()) != sm2.DEFAULT_USER_ID.decode():
            raise ValueError("SM2 keys with another user ID than GM/T 0009's default are not supported")
        x, y = (_b64url_decode(jwk[c]) for c in ("x", "y"))
        if len(x) != 32 or len(y) != 32:
            raise ValueError("SM2 coordinates are 32 bytes")
        return sm2.public_key_from_point(b"\x04" + x + y)
    if jwk.get("kty") != "OKP" or jwk.get("crv") != "Ed25519":
        raise ValueError("not an Ed25519 OKP key or an SM2 EC key")
    return Ed25519PublicKey.from_public_bytes(_b64url_decode(jwk["x"]))


def public_keys_document(keys: Mapping[str, Ed25519PublicKey | Ed25519PrivateKey]) -> dict:
    """``{"keys": [jwk, ...]}``: every key still accepted, so old reports keep verifying after rotation."""
    return {"keys": [public_jwk(key, kid) for kid, key in keys.items()]}


def public_keys_json(keys: Mapping[str, Ed25519PublicKey | Ed25519PrivateKey]) -> str:
    return json.dumps(public_keys_document(keys), ensure_ascii=False, sort_keys=True)


# --- tokens -----------------------------------------------------------------------------------


def sign_token(
    private_key: Ed25519PrivateKey,
    kid: str,
    *,
    number: str,
    kind: ReportKind | str,
    issued_on: date,
    content_hash: str | bytes,
) -> str:
    """The token, signed with ``private_key`` (Ed25519 or SM2: its kind sets the version)."""
    if not _KID_RE.match(kid):
        raise ValueError("key id must be 1-16 characters of A-Z a-z 0-9 . _ -")
    digest = bytes.fromhex(content_hash) if isinstance(content_hash, str) else content_hash
    if len(digest) < HASH_PREFIX_LEN:
        raise ValueError("content hash is too short")
    days = (issued_on - EPOCH).days
    if not 0 <= days < 2**16:
        raise ValueError("issue date out of range")
    version = TOKEN_VERSION_SM2 if sm2.is_private_key(private_key) else TOKEN_VERSION
    body = (
        bytes([(version << 4) | ReportKind(kind).code])
        + struct.pack(">H", days)
        + _pack_str(kid.encode("ascii"))
        + _pack_number(number)
        + digest[:HASH_PREFIX_LEN]
    )
    signature = sm2.sign(private_key, body) if version == TOKEN_VERSION_SM2 else private_key.sign(body)
    raw = body + signature
    # The header byte is never zero, so the integer keeps every leading byte on the way back.
    return str(int.from_bytes(raw, "big"))


def verify_token(token: str, public_keys: Mapping[str, Ed25519PublicKey]) -> TokenPayload:
    """Check the signature and return what the token says; raise ``TokenError`` otherwise.

    The key named by the token's kid must be of the algorithm its version names: an SM2 token
    is never checked with an Ed25519 key of the same kid, nor the other way round."""
    raw = _token_bytes(token)
    try:
        header = raw[0]
        algorithm = _ALGORITHM_OF_VERSION.get(header >> 4)
        if algorithm is None:
            raise TokenError(TokenError.MALFORMED, "unsupported token version")
        kind = ReportKind.from_code(header & 0x0F)
        (days,) = struct.unpack_from(">H", raw, 1)
        pos = 3
        kid_bytes, pos = _unpack_str(raw, pos)
        number, pos = _unpack_number(raw, pos)
        hash_prefix = raw[pos : pos + HASH_PREFIX_LEN]
        pos += HASH_PREFIX_LEN
        body, signature = raw[:pos], raw[pos:]
        kid = kid_bytes.decode("ascii")
    except TokenError:
        raise
    except (IndexError, ValueError, struct.error, UnicodeDecodeError) as exc:
        raise TokenError(TokenError.MALFORMED, "token cannot be parsed") from exc
    if len(hash_prefix) != HASH_PREFIX_LEN or len(signature) != SIGNATURE_LEN:
        raise TokenError(TokenError.MALFORMED, "token has the wrong length")
    key = public_keys.get(kid)
    if key is None:
        raise TokenError(TokenError.UNKNOWN_KEY, f"token signed with unknown key id {kid!r}")
    if algorithm_of(key) != algorithm:
        raise TokenError(TokenError.BAD_SIGNATURE, f"token says {algorithm}, key {kid!r} is not")
    try:
        if algorithm == SM2:
            sm2.verify(key, signature, body)
        else:
            key.verify(signature, body)
    except InvalidSignature as exc:
        raise TokenError(TokenError.BAD_SIGNATURE, "token signature does not verify") from exc
    return TokenPayload(kid, number, kind, EPOCH + timedelta(days=days), hash_prefix, algorithm)


def token_url(base_url: str, token: str) -> str:
    return f"{base_url.rstrip('/')}/v/{token}"


def token_from_url(text: str) -> str:
    """The token of a scanned QR text (full URL or bare token); whitespace around it is ignored."""
    text = text.strip()
    marker = "/v/"
    if marker in text:
        text = text.rsplit(marker, 1)[1]
    return text.split("?", 1)[0].split("#", 1)[0].rstrip("/")


def qr_version(url: str, error_correction: str = "M") -> int:
    """QR version (1-40) the ``qrcode`` library needs for ``url`` with optimal segment modes."""
    import qrcode  # imported here: only the measurement needs it, not the renderer
    import qrcode.constants

    levels = {
        "L": qrcode.constants.ERROR_CORRECT_L,
        "M": qrcode.constants.ERROR_CORRECT_M,
        "Q": qrcode.constants.ERROR_CORRECT_Q,
        "H": qrcode.constants.ERROR_CORRECT_H,
    }
    qr = qrcode.QRCode(version=None, error_correction=levels[error_correction], border=4)
    qr.add_data(url, optimize=4)
    qr.make(fit=True)
    return qr.version


def trust_keys(items: Iterable[tuple[str, Ed25519PublicKey | Ed25519PrivateKey]]) -> dict[str, Ed25519PublicKey]:
    """Key ring for ``verify_token`` from (kid, key) pairs; private keys are reduced to public ones."""
    return {kid: k.public_key() if isinstance(k, Ed25519PrivateKey) or sm2.is_private_key(k) else k for kid, k in items}


def _token_bytes(token: str) -> bytes:
    token = token.strip()
    if not token.isascii() or not token.isdigit() or len(token) > MAX_TOKEN_DIGITS or token[0] == "0":
        raise TokenError(TokenError.MALFORMED, "token is not a well-formed number")
    value = int(token)
    return value.to_bytes((value.bit_length() + 7) // 8, "big")


def _pack_str(data: bytes) -> bytes:
    if len(data) > 0x7F:
        raise ValueError("field too long for a token")
    return bytes([len(data)]) + data


def _unpack_str(raw: bytes, pos: int) -> tuple[bytes, int]:
    n = raw[pos]
    if n & 0x80:
        raise ValueError("unexpected packed field")
    data = raw[pos + 1 : pos + 1 + n]
    if len(data) != n:
        raise ValueError("truncated field")
    return data, pos + 1 + n


def _pack_number(number: str) -> bytes:
    if not number:
        raise ValueError("report number is empty")
    if not _PACKABLE.match(number) or len(number) > 0x7F:
        return _pack_str(number.encode("utf-8"))
    out = bytearray([0x80 | len(number)])
    for i in range(0, len(number), 3):
        chunk = number[i : i + 3].ljust(3, "\x00")
        value = 0
        for ch in chunk:
            value = value * 40 + _PACK_ALPHABET.index(ch)
        out += struct.pack(">H", value)
    return bytes(out)


def _unpack_number(raw: bytes, pos: int) -> tuple[str, int]:
    n = raw[pos]
    if not n & 0x80:
        data, pos = _unpack_str(raw, pos)
        return data.decode("utf-8"), pos
    length = n & 0x7F
    pos += 1
    chars: list[str] = []
    for _ in range((length + 2) // 3):
        (value,) = struct.unpack_from(">H", raw, pos)
        pos += 2
        if value >= 40**3:
            raise ValueError("bad packed number")
        chars.extend(_PACK_ALPHABET[value // 1600] + _PACK_ALPHABET[value // 40 % 40] + _PACK_ALPHABET[value % 40])
    number = "".join(chars)[:length]
    if "\x00" in number or not number:
        raise ValueError("bad packed number")
    return number, pos


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
