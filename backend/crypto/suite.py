"""The crypto suite setting and what each suite uses, per purpose.

Suite names are the values of ``CRYPTO_SUITE``; algorithm names are the ones written into
artefacts (ciphertext prefixes, audit rows, signatures) and published with keys.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass


class Suite(enum.StrEnum):
    INTERNATIONAL = "international"
    SM = "sm"  # 国密: GB/T 32918 (SM2), GB/T 32905 (SM3), GB/T 32907 (SM4)


@dataclass(frozen=True)
class Algorithms:
    pii_cipher: str  # personal data at rest (AEAD, the column as associated data)
    lookup_mac: str  # keyed look-up hashes of personal data
    signature: str  # QR tokens and the signature over a registered report file
    audit_hash: str  # the audit log's chain hashes
    dept_api_mac: str  # department API request signatures (both are accepted; see dept_api/auth)


ALGORITHMS = {
    Suite.INTERNATIONAL: Algorithms("AES-256-GCM", "HMAC-SHA256", "Ed25519", "sha256", "HMAC-SHA256"),
    Suite.SM: Algorithms("SM4-GCM", "HMAC-SM3", "SM2-SM3", "sm3", "HMAC-SM3"),
}


def parse_suite(value: str) -> Suite:
    try:
        return Suite(value.strip().lower())
    except ValueError:
        raise ValueError(f"CRYPTO_SUITE must be 'international' or 'sm', not {value!r}") from None


def algorithms(suite: Suite | str) -> Algorithms:
    return ALGORITHMS[parse_suite(suite) if isinstance(suite, str) else suite]


def current_suite() -> Suite:
    """The app's suite (``CRYPTO_SUITE``)."""
    from flask import current_app

    return parse_suite(current_app.extensions["settings"].CRYPTO_SUITE)
