"""The platform's report keys: Ed25519 keys for QR tokens (with key ids, for rotation) and the
PAdES certificate for the PDF signature.

Production reads configured files (config refuses to start without them). Development generates
throw-away ones into the instance folder once and keeps them there, so reports issued yesterday
still verify today. Everything is loaded once per process and cached on the app.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from flask import current_app
from pyhanko.sign import signers

from backend.instance_lock import instance_lock
from reports import render, signing, tokens

log = logging.getLogger(__name__)

EXTENSION_KEY = "report_keys"
DEV_KID = "dev1"
DEV_DIR = "report-keys"
_lock = threading.Lock()
_warmed = False
# Genuine tokens whose signature check is remembered, per process (see ReportKeys.check_token).
CHECKED_TOKENS_MAX = 4_096  # about 1.5 MB of a worker's memory when full


@dataclass(frozen=True)
class ReportKeys:
    kid: str  # the key that signs new tokens
    private_key: Ed25519PrivateKey
    public_keys: dict[str, Ed25519PublicKey]  # every key still accepted
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
        path = Path(instance_path) / DEV_DIR / f"{DEV_KID}.pem"
        if not path.exists():
            tokens.save_private_key(tokens.generate_key(), path)
            if settings.ENV != "testing":
                log.warning("development mode: generated a throw-away report token key at %s", path)
        entries = [(DEV_KID, str(path))]
    private = {kid: tokens.load_private_key(path) for kid, path in entries}
    active_kid = entries[0][0]

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
