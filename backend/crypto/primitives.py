"""Hashes, MACs and the SM4-GCM AEAD, by algorithm name; SM2 lives in ``reports.sm2``.

SM3 (GB/T 32905-2016) and SM4 (GB/T 32907-2016) come from ``cryptography`` (OpenSSL). SM4 in
GCM mode (GB/T 17964-2021 §8; RFC 8998 §3.1) is used through ``Cipher`` because ``cryptography``
has no ready-made SM4 AEAD class; ``Sm4Gcm`` gives it the ``AESGCM`` interface and is checked
against RFC 8998's example (tests/crypto/test_vectors.py).
"""

from __future__ import annotations

import hashlib
import hmac as std_hmac

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives import hmac as c_hmac
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

SM4_KEY_LEN = 16
GCM_NONCE_LEN = 12
GCM_TAG_LEN = 16


def sm3(data: bytes) -> bytes:
    h = hashes.Hash(hashes.SM3())
    h.update(data)
    return h.finalize()


def digest(name: str, data: bytes) -> bytes:
    """``sha256`` or ``sm3`` of ``data``."""
    if name == "sha256":
        return hashlib.sha256(data).digest()
    if name == "sm3":
        return sm3(data)
    raise ValueError(f"unknown hash {name!r}")


def hmac_sm3(key: bytes, message: bytes) -> bytes:
    """HMAC (GB/T 15852.2-2012 MAC algorithm 2, i.e. RFC 2104) with SM3 as the hash."""
    mac = c_hmac.HMAC(key, hashes.SM3())
    mac.update(message)
    return mac.finalize()


def mac(name: str, key: bytes, message: bytes) -> bytes:
    """``HMAC-SHA256`` or ``HMAC-SM3``."""
    if name == "HMAC-SHA256":
        return std_hmac.new(key, message, hashlib.sha256).digest()
    if name == "HMAC-SM3":
        return hmac_sm3(key, message)
    raise ValueError(f"unknown MAC {name!r}")


class Sm4Gcm:
    """SM4 in GCM mode with a 12-byte nonce and a 16-byte tag, shaped like ``AESGCM``:
    ``encrypt`` returns ciphertext || tag, ``decrypt`` raises ``InvalidTag`` on any change."""

    def __init__(self, key: bytes) -> None:
        if len(key) != SM4_KEY_LEN:
            raise ValueError("an SM4 key is 16 bytes")
        self._key = key

    def encrypt(self, nonce: bytes, data: bytes, associated_data: bytes | None) -> bytes:
        if len(nonce) != GCM_NONCE_LEN:
            raise ValueError("nonce must be 12 bytes")
        enc = Cipher(algorithms.SM4(self._key), modes.GCM(nonce)).encryptor()
        if associated_data:
            enc.authenticate_additional_data(associated_data)
        ct = enc.update(data) + enc.finalize()
        return ct + enc.tag

    def decrypt(self, nonce: bytes, data: bytes, associated_data: bytes | None) -> bytes:
        if len(nonce) != GCM_NONCE_LEN or len(data) < GCM_TAG_LEN:
            raise InvalidTag()
        ct, tag = data[:-GCM_TAG_LEN], data[-GCM_TAG_LEN:]
        dec = Cipher(algorithms.SM4(self._key), modes.GCM(nonce, tag)).decryptor()
        if associated_data:
            dec.authenticate_additional_data(associated_data)
        return dec.update(ct) + dec.finalize()
