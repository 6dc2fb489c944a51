"""Personal data protection: authenticated encryption at rest, keyed-hash look-ups, masking.

Ciphertexts name their key and algorithm: ``<kid>.<base64(nonce || ciphertext || tag)>`` is
AES-256-GCM (the original form, kept as it is), ``<kid>.sm4-gcm.<base64(...)>`` is SM4-GCM
(GB/T 32907-2016 in GCM mode, GB/T 17964-2021; RFC 8998). Both bind the column's context as
associated data, so a value copied into another column does not decrypt. The first key of the
suite's cipher (``CRYPTO_SUITE``) encrypts, every key of the ring decrypts, and
``needs_rotation`` tells which rows to re-encrypt: switching suite is a key rotation whose new key
is of the other cipher (docs/cryptography.md).

The look-up hash is HMAC-SHA256, or HMAC-SM3 when ``PII_HASH_KEY`` is ``sm3:<secret>``, under a
key of its own, so the database alone does not let anyone test guesses of ID numbers.
"""

from __future__ import annotations

import base64
import os
import re
import traceback

from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from flask import current_app

from .config import parse_hash_key, parse_key_ring
from .crypto.primitives import Sm4Gcm, mac
from .crypto.suite import Suite, algorithms

# The algorithm tag written between key id and data; AES-256-GCM values have none (their form
# predates the tag).
_TAGS = {"SM4-GCM": "sm4-gcm"}
_ALGORITHM_OF_TAG = {tag: name for name, tag in _TAGS.items()}


class PiiError(RuntimeError):
    pass


class PiiCipher:
    def __init__(self, key_ring_spec: str, hash_key: str, suite: Suite | str = Suite.INTERNATIONAL) -> None:
        ring = parse_key_ring(key_ring_spec)
        self.algorithm = algorithms(suite).pii_cipher
        active = [kid for kid, algorithm, _ in ring if algorithm == self.algorithm]
        if not active:
            raise PiiError(f"no {self.algorithm} key in PII_ENCRYPTION_KEYS")
        self.active_kid = active[0]
        self.key_ids = tuple(kid for kid, _, _ in ring)
        self._algorithms = {kid: algorithm for kid, algorithm, _ in ring}
        self._keys = {kid: Sm4Gcm(key) if algorithm == "SM4-GCM" else AESGCM(key) for kid, algorithm, key in ring}
        self.lookup_mac, self._hash_key = parse_hash_key(hash_key)

    def encrypt(self, plaintext: str, context: str) -> str:
        """Encrypt; ``context`` (e.g. "subject.id_number") is bound as associated data."""
        nonce = os.urandom(12)
        ct = self._keys[self.active_kid].encrypt(nonce, plaintext.encode(), context.encode())
        tag = _TAGS.get(self.algorithm)
        prefix = f"{self.active_kid}.{tag}." if tag else f"{self.active_kid}."
        return prefix + base64.b64encode(nonce + ct).decode()

    def decrypt(self, token: str, context: str) -> str:
        kid, algorithm, b64 = _parse(token)
        if kid not in self._keys:
            raise PiiError(f"unknown PII key id {kid!r}")
        if algorithm != self._algorithms[kid]:  # a value claiming another cipher than its key's
            raise PiiError(f"PII key {kid!r} is {self._algorithms[kid]}, the value says {algorithm}")
        raw = base64.b64decode(b64)
        return self._keys[kid].decrypt(raw[:12], raw[12:], context.encode()).decode()

    def needs_rotation(self, token: str) -> bool:
        return key_id_of(token) != self.active_kid

    def reencrypt(self, token: str, context: str) -> str:
        """The same value under the active key (the context must be the one it was sealed with)."""
        return self.encrypt(self.decrypt(token, context), context)

    def lookup_hash(self, value: str, purpose: str) -> str:
        msg = f"{purpose}\x00{value}".encode()
        return mac(self.lookup_mac, self._hash_key, msg).hex()


def _parse(token: str) -> tuple[str, str, str]:
    kid, _, rest = token.partition(".")
    tag, dot, b64 = rest.partition(".")
    if not dot:
        return kid, "AES-256-GCM", rest
    if tag not in _ALGORITHM_OF_TAG:
        raise PiiError(f"unknown cipher tag {tag[:20]!r}")
    return kid, _ALGORITHM_OF_TAG[tag], b64


def algorithm_of(token: str) -> str:
    """The cipher a stored value was sealed with."""
    return _parse(token)[1]


def key_id_of(token: str) -> str:
    """The id of the key a ciphertext was sealed with."""
    return token.partition(".")[0]


def cipher() -> PiiCipher:
    return current_app.extensions["pii"]


def mask_name(name: str | None) -> str:
    """张三明 -> 张*明, 张三 -> 张*, 欧阳小明 -> 欧**明."""
    if not name:
        return ""
    if len(name) == 1:
        return "*"
    if len(name) == 2:
        return name[0] + "*"
    return name[0] + "*" * (len(name) - 2) + name[-1]


def mask_id_number(number: str | None) -> str:
    """620302199003072516 -> 6203**********2516."""
    if not number:
        return ""
    if len(number) <= 8:
        return "*" * len(number)
    return number[:4] + "*" * (len(number) - 8) + number[-4:]


# An 18-character ID number anywhere in a text (15-digit first-generation numbers too).
_ID_NUMBER_IN_TEXT = re.compile(r"(?<![0-9A-Za-z])(\d{17}[\dXx]|\d{15})(?![0-9A-Za-z])")


def redact_id_numbers(text: str) -> str:
    """``text`` with every ID-number-shaped run of digits masked (for logs)."""
    return _ID_NUMBER_IN_TEXT.sub(lambda m: mask_id_number(m.group(1)), text)


def redacted_traceback(exc: BaseException) -> str:
    """The exception's traceback for the log, with ID numbers masked: an exception's message may
    quote the input that caused it."""
    return redact_id_numbers("".join(traceback.format_exception(exc)).rstrip())
