"""The platform's report keys: the signing keys of QR tokens and of the registered file (Ed25519
or SM2, with key ids, for rotation) and the PAdES certificate for the PDF signature.

``REPORT_SIGNING_KEYS`` may list keys of both algorithms: all of them verify and are published;
the first key of the suite's algorithm (``CRYPTO_SUITE``: Ed25519, or SM2 for 国密) signs. A
city switching suite puts an SM2 key in the list and changes the setting: reports issued before
keep verifying with their Ed25519 kid.

Production reads configured files (config refuses to start without them). Development generates
throw-away ones into the instance folder once and keeps them there, so reports issued yesterday
still verify today. Everything is loaded once per process and cached on the app.
"""

from __future__ import annotations

import base64
import logging
import os
import threading
from dataclasses import dataclass, field
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from flask import current_app
from pyhanko.sign import signers

from backend.crypto.suite import algorithms
from backend.instance_lock import instance_lock
from reports import render, signing, sm2, tokens

log = logging.getLogger(__name__)

EXTENSION_KEY = "report_keys"
DEV_KID = "dev1"  # Ed25519
DEV_SM2_KID = "devsm1"
DEV_DIR = "report-keys"
_lock = threading.Lock()
_warmed = False
# Genuine tokens whose signature check is remembered, per process (see ReportKeys.check_token).
CHECKED_TOKENS_MAX = 4_096  # about 1.5 MB of a worker's memory when full


@dataclass(frozen=True)
class FileSignature:
    """A signature over a registered report file, naming its algorithm and key."""

    algorithm: str  # Ed25519 | SM2-SM3
    kid: str
    value: str  # base64 of the 64 signature bytes (SM2: r || s)


@dataclass(frozen=True)
class ReportKeys:
    kid: str  # the key that signs new tokens and registered files
    private_key: Ed25519PrivateKey  # or an SM2 key (reports.sm2)
    public_keys: dict[str, Ed25519PublicKey]  # every key still accepted, of both algorithms
    pdf_key_path: str
    pdf_cert_path: str
    pdf_chain_paths: tuple[str, ...]
    pdf_passphrase: str | None
    _checked: dict[str, tokens.TokenPayload] = field(default_factory=dict, compare=False, repr=False)

    def check_token(self, token: str) -> tokens.TokenPayload:
        """``tokens.verify_token`` against these keys; raises ``tokens.TokenError``.

        What a genuine token says is remembered (up to CHECKED_TOKENS_MAX, then all forgotten
        and remembered anew): it is a pure function of the token and this key set, which a
        process never changes, and Ed25519 is about a sixth of a verification request. Only
        genuine tokens are kept, so a client sending made-up tokens cannot fill the memory; each
        of them is checked in full.
        """
        payload = self._checked.get(token)
        if payload is None:
            payload = tokens.verify_token(token, self.public_keys)
            if len(self._checked) >= CHECKED_TOKENS_MAX:
                self._checked.clear()
            self._checked[token] = payload
        return payload

    @property
    def algorithm(self) -> str:
        return tokens.algorithm_of(self.private_key)

    def sign_file(self, data: bytes) -> FileSignature:
        """The active key's signature over a report file as registered (the signed PDF's bytes)."""
        raw = sm2.sign(self.private_key, data) if self.algorithm == tokens.SM2 else self.private_key.sign(data)
        return FileSignature(self.algorithm, self.kid, base64.b64encode(raw).decode())

    def check_file_signature(self, data: bytes, signature: FileSignature) -> bool:
        """Does ``signature`` hold over ``data`` with the published key it names?"""
        key = self.public_keys.get(signature.kid)
        if key is None or tokens.algorithm_of(key) != signature.algorithm:
            return False
        try:
            raw = base64.b64decode(signature.value, validate=True)
            if signature.algorithm == tokens.SM2:
                sm2.verify(key, raw, data)
            else:
                key.verify(raw, data)
        except (InvalidSignature, ValueError):
            return False
        return True

    def signer(self) -> signers.SimpleSigner:
        # cached_signer reloads only when a file changes (a renewed certificate).
        return signing.cached_signer(self.pdf_key_path, self.pdf_cert_path, self.pdf_chain_paths, self.pdf_passphrase)

    @property
    def trust_roots(self) -> list[str]:
        # A self-signed development certificate is its own root; in production the chain ends in it.
        return [self.pdf_cert_path, *self.pdf_chain_paths]


def parse_signing_keys(spec: str) -> list[tuple[str, str]]:
    """``kid:path[,kid:path...]`` -> [(kid, path)], first one active."""
    out = []
    for part in spec.split(","):
        part = part.strip()
        if not part:
            continue
        kid, sep, path = part.partition(":")
        if not sep or not kid or not path:
            raise ValueError("REPORT_SIGNING_KEYS: each entry must be 'kid:path'")
        out.append((kid.strip(), path.strip()))
    return out


def _load(settings, instance_path: str) -> ReportKeys:
    if settings.is_production:
        return _load_unlocked(settings, instance_path)
    # Development generates keys on first use: workers starting at once must share one set.
    with instance_lock(Path(instance_path) / DEV_DIR, "generate"):
        return _load_unlocked(settings, instance_path)


def _load_unlocked(settings, instance_path: str) -> ReportKeys:
    entries = parse_signing_keys(settings.REPORT_SIGNING_KEYS)
    if not entries:
        if settings.is_production:  # config refuses this already; never generate in production
            raise RuntimeError("REPORT_SIGNING_KEYS is not set")
        # One key of each algorithm, so development can switch CRYPTO_SUITE like a city does.
        entries = []
        for kid, generate, save in (
            (DEV_KID, tokens.generate_key, tokens.save_private_key),
            (DEV_SM2_KID, sm2.generate_key, sm2.save_private_key),
        ):
            path = Path(instance_path) / DEV_DIR / f"{kid}.pem"
            if not path.exists():
                save(generate(), path)
                if settings.ENV != "testing":
                    log.warning("development mode: generated a throw-away report token key at %s", path)
            entries.append((kid, str(path)))
    private = {kid: tokens.load_private_key(path) for kid, path in entries}
    active_kid = _active_kid(settings, private)

    key_path, cert_path = settings.REPORT_PDF_KEY_PATH, settings.REPORT_PDF_CERT_PATH
    if not (key_path and cert_path):
        if settings.is_production:
            raise RuntimeError("REPORT_PDF_KEY_PATH / REPORT_PDF_CERT_PATH are not set")
        folder = Path(instance_path) / DEV_DIR
        key_file, cert_file = folder / "report-signing-key.pem", folder / "report-signing-cert.pem"
        if not (key_file.exists() and cert_file.exists()):
            key_file, cert_file = signing.generate_self_signed(directory=folder)
            if settings.ENV != "testing":
                log.warning("development mode: generated a self-signed report certificate at %s", cert_file)
        key_path, cert_path = str(key_file), str(cert_file)
    return ReportKeys(
        kid=active_kid,
        private_key=private[active_kid],
        public_keys=tokens.trust_keys(private.items()),
        pdf_key_path=key_path,
        pdf_cert_path=cert_path,
        pdf_chain_paths=tuple(settings.REPORT_PDF_CHAIN_PATHS),
        pdf_passphrase=settings.REPORT_PDF_KEY_PASSPHRASE or None,
    )


def _active_kid(settings, private: dict) -> str:
    """The first listed key of the suite's signature algorithm."""
    wanted = algorithms(settings.CRYPTO_SUITE).signature
    for kid, key in private.items():
        if tokens.algorithm_of(key) == wanted:
            return kid
    raise SigningMaterialError(
        f"REPORT_SIGNING_KEYS has no {wanted} key, which CRYPTO_SUITE={settings.CRYPTO_SUITE} signs with"
    )


# --- Checking the configured signing material before the first report --------------------------
# A PDF key the service user cannot read used to surface only at the first report (422 "报告签章
# 失败") while start-up and /readyz were green. Production start-up (config._check_report_keys)
# and /readyz run this check, which reads and parses every file as the signing does.


class SigningMaterialError(Exception):
    """What is wrong with which file, in words an operator can act on."""


def _read(setting: str, path: str) -> bytes:
    try:
        return Path(path).read_bytes()
    except FileNotFoundError:
        raise SigningMaterialError(f"{setting}: {path} does not exist") from None
    except IsADirectoryError:
        raise SigningMaterialError(f"{setting}: {path} is a directory, not a file") from None
    except PermissionError:
        raise SigningMaterialError(
            f"{setting}: {path} cannot be read by this process (user id {os.geteuid()}): "
            "give the service user read access (chgrp credit, chmod 640)"
        ) from None
    except OSError as exc:
        raise SigningMaterialError(f"{setting}: {path} cannot be read ({exc.strerror})") from None


def _public_der(key) -> bytes:
    return key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)


def _load_certificate(setting: str, path: str) -> x509.Certificate:
    data = _read(setting, path)
    try:
        if b"-----BEGIN" in data:
            return x509.load_pem_x509_certificate(data)
        return x509.load_der_x509_certificate(data)
    except ValueError:
        raise SigningMaterialError(f"{setting}: {path} is not an X.509 certificate (PEM or DER)") from None


def check_signing_material(settings) -> None:
    """Read and parse every configured signing file, and check that the PDF key is the key of its
    certificate; raises ``SigningMaterialError`` naming the setting, the file and the problem.

    Only configured files are checked: development keys generated into the instance folder are
    created by this process and readable by it.
    """
    private = {}
    for kid, path in parse_signing_keys(settings.REPORT_SIGNING_KEYS):
        data = _read(f"REPORT_SIGNING_KEYS ({kid})", path)
        try:
            private[kid] = tokens.load_private_key(data)
        except (ValueError, TypeError):
            raise SigningMaterialError(
                f"REPORT_SIGNING_KEYS ({kid}): {path} is not an unencrypted Ed25519 or SM2 private key in PEM"
            ) from None
    if private:
        _active_kid(settings, private)
    key_path, cert_path = settings.REPORT_PDF_KEY_PATH, settings.REPORT_PDF_CERT_PATH
    if key_path or cert_path:
        if not (key_path and cert_path):
            raise SigningMaterialError("REPORT_PDF_KEY_PATH and REPORT_PDF_CERT_PATH must be set together")
        data = _read("REPORT_PDF_KEY_PATH", key_path)
        passphrase = (settings.REPORT_PDF_KEY_PASSPHRASE or "").encode() or None
        try:
            if b"-----BEGIN" in data:
                key = serialization.load_pem_private_key(data, password=passphrase)
            else:
                key = serialization.load_der_private_key(data, password=passphrase)
        except (ValueError, TypeError):
            raise SigningMaterialError(
                f"REPORT_PDF_KEY_PATH: {key_path} is not a private key, or REPORT_PDF_KEY_PASSPHRASE does not open it"
            ) from None
        cert = _load_certificate("REPORT_PDF_CERT_PATH", cert_path)
        if _public_der(key.public_key()) != _public_der(cert.public_key()):
            raise SigningMaterialError(
                f"REPORT_PDF_KEY_PATH: {key_path} is not the key of the certificate {cert_path} "
                f"({cert.subject.rfc4514_string()}): install the key the certificate was requested with"
            )
    for path in settings.REPORT_PDF_CHAIN_PATHS:
        _load_certificate("REPORT_PDF_CHAIN_PATHS", path)


_material_checked: dict[tuple, str | None] = {}


def signing_material_problem(settings) -> str | None:
    """``check_signing_material``'s message, or None when all is well: for /readyz, which a load
    balancer calls every few seconds. The answer is remembered per version of the files (size,
    times, owner and mode, so a ``chmod`` or a renewed certificate is seen at the next probe)."""
    paths = [path for _, path in parse_signing_keys(settings.REPORT_SIGNING_KEYS)]
    paths += [settings.REPORT_PDF_KEY_PATH, settings.REPORT_PDF_CERT_PATH, *settings.REPORT_PDF_CHAIN_PATHS]
    stamp: list[tuple] = []
    for path in filter(None, paths):
        try:
            st = os.stat(path)
            stamp.append((path, st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_mode, st.st_uid, st.st_gid))
        except OSError:
            stamp.append((path, None))
    key = (tuple(stamp), settings.REPORT_PDF_KEY_PASSPHRASE, os.geteuid())
    if key not in _material_checked:
        try:
            check_signing_material(settings)
            problem = None
        except SigningMaterialError as exc:
            problem = str(exc)
        if len(_material_checked) > 16:
            _material_checked.clear()
        _material_checked[key] = problem
    return _material_checked[key]


def report_keys() -> ReportKeys:
    """The app's keys, loaded (or, in development, generated) on first use."""
    keys = current_app.extensions.get(EXTENSION_KEY)
    if keys is None:
        with _lock:
            keys = current_app.extensions.get(EXTENSION_KEY)
            if keys is None:
                keys = _load(current_app.extensions["settings"], current_app.instance_path)
                current_app.extensions[EXTENSION_KEY] = keys
    return keys


def warm_up() -> None:
    """Parse the font once per process, lazily: the first report pays 0.1 s, not app start."""
    global _warmed
    if not _warmed:
        render.warm_up()
        _warmed = True
