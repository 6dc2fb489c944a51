"""Personal data protection: AES-256-GCM encryption at rest, keyed-hash look-ups, masking.

Ciphertexts are stored as ``<kid>.<base64(nonce || ciphertext)>`` so a key can be rotated: the
first key of the ring encrypts, every key decrypts, and ``needs_rotation`` tells which rows to
re-encrypt. The look-up hash is HMAC-SHA256 under a separate key, so the database alone does not
let anyone test guesses of ID numbers.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import re
import traceback

from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from flask import current_app

from .config import parse_key_ring


class PiiError(RuntimeError):
    pass


class PiiCipher:
    def __init__(self, key_ring_spec: str, hash_key: str) -> None:
        ring = parse_key_ring(key_ring_spec)
        self.active_kid = ring[0][0]
        self.key_ids = tuple(kid for kid, _ in ring)
        self._keys = {kid: AESGCM(key) for kid, key in ring}
        self._hash_key = hash_key.encode()

    def encrypt(self, plaintext: str, context: str) -> str:
        """Encrypt; ``context`` (e.g. "subject.id_number") is bound as associated data."""
        nonce = os.urandom(12)
        ct = self._keys[self.active_kid].encrypt(nonce, plaintext.encode(), context.encode())
        return f"{self.active_kid}.{base64.b64encode(nonce + ct).decode()}"

    def decrypt(self, token: str, context: str) -> str:
        kid, _, b64 = token.partition(".")
        if kid not in self._keys:
            raise PiiError(f"unknown PII key id {kid!r}")
        raw = base64.b64decode(b64)
        return self._keys[kid].decrypt(raw[:12], raw[12:], context.encode()).decode()

    def needs_rotation(self, token: str) -> bool:
        return key_id_of(token) != self.active_kid

    def reencrypt(self, token: str, context: str) -> str:
        """The same value under the active key (the context must be the one it was sealed with)."""
        return self.encrypt(self.decrypt(token, context), context)

    def lookup_hash(self, value: str, purpose: str) -> str:
        msg = f"{purpose}\x00{value}".encode()
        return hmac.new(self._hash_key, msg, hashlib.sha256).hexdigest()


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
