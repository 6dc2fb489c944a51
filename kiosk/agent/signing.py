"""The device key and the signed ID-card reading, shared by the agent (signs) and the platform
(verifies): one definition of the payload, so the two cannot drift apart.

* The key is Ed25519 (RFC 8032), created by the agent at enrolment (``python -m kiosk.agent
  enrol``) in ``KIOSK_STATE_DIR/device-key.pem`` (PKCS#8 PEM, mode 0600, owner kiosk-agent);
  the platform stores its public key (raw 32 bytes, base64) and nothing else.
* A reading is a JSON object with exactly ``FIELDS``; its canonical form (sorted keys, no
  spaces, UTF-8, no NaN) is what is signed and what is sent, as a string, beside the base64
  signature. The platform verifies the signature over the bytes it received, then parses them
  and refuses anything that is not the canonical form of what it parsed (duplicate keys, extra
  spaces): exactly one byte string stands for one reading.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import os
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

PAYLOAD_TYPE = "jcxy.kiosk.card-reading.v1"
FIELDS = frozenset(
    {
        "type",  # PAYLOAD_TYPE: a signature over a reading is not a signature over anything else
        "challenge",  # the one-time challenge from POST /kiosk/api/signin/challenge
        "device",  # the kiosk's code (JC-ZWDT-01)
        "id_number",  # 公民身份号码 from the chip, 18 characters
        "name",  # 姓名 from the chip, as the SDK decodes it (UCS-2 on the chip → UTF-8)
        "valid_until",  # 有效期限 end, ISO date; null for 长期
        "face_result",  # pass | fail | not_done: the vendor's 人证比对 on the kiosk PC
        "face_score",  # the vendor's similarity normalised to 0..1, or null
        "read_at",  # when the chip was read, UTC, ISO 8601 with "Z"
        "reader",  # vendor / model / SAM serial, for the audit log
    }
)
KEY_FILE = "device-key.pem"
MAX_PAYLOAD_BYTES = 4096
MAX_SIGNATURE_CHARS = 128  # base64 of 64 bytes is 88 characters


def canonical(payload: dict[str, Any]) -> bytes:
    return json.dumps(payload, ensure_ascii=False, sort_keys=True, separators=(",", ":"), allow_nan=False).encode(
        "utf-8"
    )


def fingerprint(public_key_b64: str) -> str:
    """What the agent prints at enrolment and the console's fleet page shows, to compare."""
    raw = base64.b64decode(public_key_b64)
    digest = hashlib.sha256(raw).hexdigest()[:32]
    return ":".join(digest[i : i + 4] for i in range(0, len(digest), 4))


def public_key_from_b64(value: str) -> Ed25519PublicKey:
    """ValueError for anything but 32 raw bytes in base64."""
    try:
        raw = base64.b64decode(value.encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError) as exc:
        raise ValueError("not base64") from exc
    if len(raw) != 32:
        raise ValueError("an Ed25519 public key has 32 bytes")
    return Ed25519PublicKey.from_public_bytes(raw)


def normalised_public_key(value: str) -> str:
    """The canonical base64 of a valid public key (ValueError otherwise)."""
    key = public_key_from_b64(value)
    raw = key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return base64.b64encode(raw).decode("ascii")


def verify(public_key_b64: str, message: bytes, signature_b64: str) -> bool:
    try:
        key = public_key_from_b64(public_key_b64)
        signature = base64.b64decode(signature_b64.encode("ascii"), validate=True)
        key.verify(signature, message)
    except (ValueError, binascii.Error, UnicodeEncodeError, InvalidSignature):
        return False
    return True


class DeviceKey:
    """The agent's private key in ``state_dir/device-key.pem``."""

    def __init__(self, private_key: Ed25519PrivateKey, path: Path | None = None) -> None:
        self._key = private_key
        self.path = path

    @classmethod
    def generate(cls) -> DeviceKey:
        return cls(Ed25519PrivateKey.generate())

    @classmethod
    def load(cls, state_dir: str | os.PathLike[str]) -> DeviceKey:
        path = Path(state_dir) / KEY_FILE
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
        if not isinstance(key, Ed25519PrivateKey):
            raise ValueError(f"{path} is not an Ed25519 key")
        return cls(key, path)

    @classmethod
    def create(cls, state_dir: str | os.PathLike[str]) -> DeviceKey:
        """A new key written with mode 0600 (replacing an earlier one atomically)."""
        folder = Path(state_dir)
        folder.mkdir(parents=True, exist_ok=True)
        key = Ed25519PrivateKey.generate()
        pem = key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        temporary = folder / (KEY_FILE + ".new")
        temporary.unlink(missing_ok=True)
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as handle:
            handle.write(pem)
        os.replace(temporary, folder / KEY_FILE)
        return cls(key, folder / KEY_FILE)

    def public_key_b64(self) -> str:
        raw = self._key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        return base64.b64encode(raw).decode("ascii")

    def sign_reading(self, payload: dict[str, Any]) -> tuple[str, str]:
        """(the canonical payload as text, the base64 signature over its UTF-8 bytes)."""
        assert set(payload) == FIELDS and payload["type"] == PAYLOAD_TYPE
        message = canonical(payload)
        return message.decode("utf-8"), base64.b64encode(self._key.sign(message)).decode("ascii")
