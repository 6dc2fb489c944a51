"""Where signing keys live: an interface a hardware security module or a cloud KMS can
implement, and the local-file implementation the platform ships.

``SigningKey`` is all the platform asks of a key: its id, its algorithm, its public key, and
``sign(data)``. The private key never has to leave its store: an HSM implementation (a 服务器
密码机 through the GM/T 0018-2012 SDF interface, ``SDF_InternalSign_ECC`` with an internal key
index) or a cloud KMS (an ``AsymmetricSign`` call with the key's id) returns the signature and
keeps the key. docs/cryptography.md, "Keys", describes how to plug one in.

``LocalFileKeyStore`` keeps PEM files named ``<kid>.pem`` in a folder of its own: the folder is
created 0700 and each key 0600 from its first byte, a key file that others may read is refused
(as OpenSSH refuses such an identity file), and nothing here ever logs key material.
"""

from __future__ import annotations

import os
import re
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from reports import sm2

ED25519 = "Ed25519"
SM2 = sm2.ALGORITHM
KID_RE = re.compile(r"^[A-Za-z0-9._-]{1,16}$")


class KeyStoreError(RuntimeError):
    """What is wrong with a key, naming the key id and the file but never its content."""


class SigningKey(Protocol):
    kid: str
    algorithm: str

    def sign(self, data: bytes) -> bytes: ...

    def public_key(self) -> Any: ...


class KeyStore(Protocol):
    def signing_key(self, kid: str) -> SigningKey: ...

    def generate(self, kid: str, algorithm: str) -> SigningKey: ...


@dataclass(frozen=True)
class LocalSigningKey:
    kid: str
    algorithm: str
    private_key: Any = None  # Ed25519PrivateKey or an SM2 private key

    def sign(self, data: bytes) -> bytes:
        if self.algorithm == SM2:
            return sm2.sign(self.private_key, data)
        return self.private_key.sign(data)

    def public_key(self) -> Any:
        return self.private_key.public_key()

    def __repr__(self) -> str:  # never the key itself, should one end up in a log line
        return f"LocalSigningKey(kid={self.kid!r}, algorithm={self.algorithm!r})"


def algorithm_of(private_key: Any) -> str:
    if isinstance(private_key, Ed25519PrivateKey):
        return ED25519
    if sm2.is_private_key(private_key):
        return SM2
    raise KeyStoreError("a signing key must be Ed25519 or SM2")


def load_private_key_pem(data: bytes, passphrase: bytes | None = None) -> Any:
    """An Ed25519 (``cryptography``) or SM2 (Tongsuo) private key from PKCS#8 PEM."""
    try:
        key = serialization.load_pem_private_key(data, password=passphrase)
    except Exception:  # cryptography does not know the SM2 curve: UnsupportedAlgorithm
        try:
            return sm2.load_private_key(data, passphrase)
        except Exception:
            raise ValueError("not an Ed25519 or SM2 private key in PEM") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise ValueError("not an Ed25519 or SM2 private key in PEM")
    return key


def generate_private_key(algorithm: str) -> Any:
    if algorithm == ED25519:
        return Ed25519PrivateKey.generate()
    if algorithm == SM2:
        return sm2.generate_key()
    raise KeyStoreError(f"unknown signature algorithm {algorithm!r}")


def private_key_to_pem(key: Any, passphrase: bytes | None = None) -> bytes:
    if sm2.is_private_key(key):
        return sm2.private_key_to_pem(key, passphrase)
    encryption = serialization.BestAvailableEncryption(passphrase) if passphrase else serialization.NoEncryption()
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption)


def write_private_key(path: str | Path, key: Any, passphrase: bytes | None = None) -> None:
    """Write a key file owner-only from its first byte (created 0600, then filled)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(private_key_to_pem(key, passphrase))


def check_key_file_mode(path: str | Path) -> None:
    """Refuse a key file anyone but its owner and group may read (the service user reads it
    through its group in production: docs/deployment.md)."""
    mode = os.stat(path).st_mode
    if mode & (stat.S_IROTH | stat.S_IWOTH):
        raise KeyStoreError(f"{path}: a private key must not be readable by others (chmod 600 or 640)")


class LocalFileKeyStore:
    """Keys as ``<directory>/<kid>.pem``; see the module docstring."""

    def __init__(self, directory: str | Path, passphrase: bytes | None = None) -> None:
        self.directory = Path(directory)
        self._passphrase = passphrase

    def path(self, kid: str) -> Path:
        if not KID_RE.match(kid):
            raise KeyStoreError("a key id is 1-16 characters of A-Z a-z 0-9 . _ -")
        return self.directory / f"{kid}.pem"

    def generate(self, kid: str, algorithm: str) -> LocalSigningKey:
        path = self.path(kid)
        if path.exists():
            raise KeyStoreError(f"key {kid!r} exists already ({path}): a key id is never reused")
        self.directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        key = generate_private_key(algorithm)
        write_private_key(path, key, self._passphrase)
        return LocalSigningKey(kid, algorithm, key)

    def signing_key(self, kid: str) -> LocalSigningKey:
        return load_signing_key(kid, self.path(kid), self._passphrase)

    def kids(self) -> list[str]:
        return sorted(p.stem for p in self.directory.glob("*.pem")) if self.directory.is_dir() else []


def load_signing_key(kid: str, path: str | Path, passphrase: bytes | None = None) -> LocalSigningKey:
    check_key_file_mode(path)
    try:
        key = load_private_key_pem(Path(path).read_bytes(), passphrase)
    except ValueError:
        raise KeyStoreError(f"key {kid!r}: {path} is not an Ed25519 or SM2 private key in PEM") from None
    return LocalSigningKey(kid, algorithm_of(key), key)
