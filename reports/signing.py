"""PAdES signature over the whole report PDF (pyHanko), and its validation.

The platform signs each report with its certificate, so any PDF reader can show whether the file
was changed. Development uses a self-signed certificate (``generate_self_signed``); production
configures a certificate and key issued for the platform.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import functools
import io
import logging
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.pdf_utils.misc import PdfError
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign import signers
from pyhanko.sign.fields import SigSeedSubFilter
from pyhanko.sign.general import SigningError as PyHankoSigningError
from pyhanko.sign.general import load_cert_from_pemder
from pyhanko.sign.validation import validate_pdf_signature as pyhanko_validate
from pyhanko.sign.validation.status import SignatureCoverageLevel
from pyhanko_certvalidator import ValidationContext

FIELD_NAME = "PlatformSignature"
DEFAULT_REASON = "信用金昌平台签章：本报告由金昌市信用信息中心出具，签章后任何改动均会使签名失效"
DEFAULT_LOCATION = "甘肃省金昌市"
DEV_COMMON_NAME = "信用金昌 开发环境签章"
# Room for the CMS blob; a fixed size spares pyHanko a trial signature to measure it.
SIGNATURE_BYTES_RESERVED = 8192

logger = logging.getLogger(__name__)


class SigningError(RuntimeError):
    pass


@dataclass(frozen=True)
class SignatureCheck:
    """Outcome of ``validate_pdf_signature``.

    ``intact`` False means the bytes were changed after signing; ``intact`` True with ``trusted``
    False means the file is unchanged but signed by a certificate we do not trust. ``valid``
    is the overall answer: intact, cryptographically sound, trusted and covering the whole file.
    """

    intact: bool
    valid: bool
    signer: str
    reason: str  # machine code: ok / changed / untrusted / not_whole_file / no_signature / unreadable
    message: str  # Chinese explanation for the verification page
    trusted: bool = False
    signed_at: datetime | None = None


_MESSAGES = {
    "ok": "文件签名有效：文件自签章后未被改动，签章证书可信。",
    "changed": "文件签名无效：文件在签章后被改动过。",
    "untrusted": "文件自签章后未被改动，但签章证书不是本平台的可信证书。",
    "not_whole_file": "签名未覆盖整个文件：签章后文件被追加了内容。",
    "no_signature": "文件中没有平台签章。",
    "unreadable": "无法读取该 PDF 文件，文件可能已损坏或被改动。",
}


# --- certificates -----------------------------------------------------------------------------


def generate_self_signed(
    common_name: str = DEV_COMMON_NAME, directory: str | Path = "instance", *, days: int = 3650
) -> tuple[Path, Path]:
    """ECDSA P-256 key and self-signed certificate for development: (key_path, cert_path)."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name(
        [
            x509.NameAttribute(NameOID.COUNTRY_NAME, "CN"),
            x509.NameAttribute(NameOID.STATE_OR_PROVINCE_NAME, "甘肃省"),
            x509.NameAttribute(NameOID.LOCALITY_NAME, "金昌市"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "金昌市信用信息中心"),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ]
    )
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=True,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=False,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    key_path = directory / "report-signing-key.pem"
    cert_path = directory / "report-signing-cert.pem"
    # Create the key file private from the start rather than chmod after writing it.
    fd = os.open(key_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(
            key.private_bytes(
                serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
            )
        )
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return key_path, cert_path


def load_certificate(path: str | Path) -> asn1_x509.Certificate:
    """A certificate (PEM or DER) in the form pyHanko's validator takes as a trust root."""
    return load_cert_from_pemder(str(path))


def load_signer(
    key_path: str | Path,
    cert_path: str | Path,
    chain_paths: Sequence[str | Path] = (),
    passphrase: bytes | str | None = None,
) -> signers.SimpleSigner:
    if isinstance(passphrase, str):
        passphrase = passphrase.encode()
    signer = signers.SimpleSigner.load(
        str(key_path),
        str(cert_path),
        ca_chain_files=[str(p) for p in chain_paths] or None,
        key_passphrase=passphrase,
    )
    if signer is None:  # pyHanko logs the cause and returns None
        raise SigningError(f"cannot load the report signing key or certificate ({key_path}, {cert_path})")
    return signer


def cached_signer(
    key_path: str | Path,
    cert_path: str | Path,
    chain_paths: Sequence[str | Path] = (),
    passphrase: bytes | str | None = None,
) -> signers.SimpleSigner:
    """``load_signer`` once per process and per file version (parsing keys costs milliseconds)."""
    paths = (str(key_path), str(cert_path), *map(str, chain_paths))
    stamp = tuple(os.stat(p).st_mtime_ns for p in paths)
    return _cached_signer(paths, stamp, passphrase)


@functools.lru_cache(maxsize=8)
def _cached_signer(paths: tuple[str, ...], _stamp: tuple[int, ...], passphrase) -> signers.SimpleSigner:
    return load_signer(paths[0], paths[1], paths[2:], passphrase)


# --- signing ----------------------------------------------------------------------------------


def sign_pdf(
    pdf_bytes: bytes,
    signer: signers.Signer,
    *,
    reason: str = DEFAULT_REASON,
    location: str = DEFAULT_LOCATION,
) -> bytes:
    """``pdf_bytes`` with a PAdES (ETSI.CAdES.detached) signature covering the whole file."""
    meta = signers.PdfSignatureMetadata(
        field_name=FIELD_NAME,
        subfilter=SigSeedSubFilter.PADES,
        md_algorithm="sha256",
        reason=reason,
        location=location,
    )
    try:
        writer = IncrementalPdfFileWriter(io.BytesIO(pdf_bytes))
        out = _outside_event_loop(
            signers.sign_pdf, writer, meta, signer=signer, bytes_reserved=SIGNATURE_BYTES_RESERVED
        )
    except (PdfError, PyHankoSigningError) as exc:
        raise SigningError(f"could not sign the report PDF: {exc}") from exc
    return out.getvalue()


def _outside_event_loop(function, *args, **kwargs):
    """Call one of pyHanko's synchronous entry points, which run their own event loop with
    asyncio.run(): from a thread that already runs a loop (an async server, a browser driver in
    tests) that would fail, so the call then goes to a short-lived worker thread."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return function(*args, **kwargs)
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(function, *args, **kwargs).result()


# --- validation -------------------------------------------------------------------------------


def validate_pdf_signature(
    pdf_bytes: bytes, trust_roots: Iterable[asn1_x509.Certificate | str | Path]
) -> SignatureCheck:
    """Check the platform signature of ``pdf_bytes`` against ``trust_roots`` (certificates or paths)."""
    roots = [r if isinstance(r, asn1_x509.Certificate) else load_certificate(r) for r in trust_roots]
    try:
        reader = PdfFileReader(io.BytesIO(pdf_bytes), strict=False)
        sigs = [s for s in reader.embedded_signatures if s.field_name == FIELD_NAME] or list(reader.embedded_signatures)
    except Exception as exc:  # hostile uploads can break the parser in many ways; never a 500
        logger.info("unreadable PDF submitted for signature check: %s", type(exc).__name__)
        return _check("unreadable")
    if not sigs:
        return _check("no_signature")
    sig = sigs[-1]
    context = ValidationContext(trust_roots=roots, allow_fetching=False)
    try:
        status = _outside_event_loop(pyhanko_validate, sig, signer_validation_context=context)
    except RuntimeError:
        raise  # our environment, not the file: never report it as "changed"
    except Exception as exc:
        # pyHanko raises instead of returning a status when the byte ranges or CMS are broken,
        # which is what a change inside the signed region usually causes (SignatureValidationError,
        # PdfError, asn1crypto's ValueError and others on crafted input).
        logger.info("PDF signature could not be validated: %s", type(exc).__name__)
        return _check("changed")
    signer = _signer_name(status.signing_cert)
    signed_at = getattr(status, "signer_reported_dt", None)
    if not (status.intact and status.valid):
        return _check("changed", intact=status.intact, signer=signer, signed_at=signed_at)
    if status.coverage != SignatureCoverageLevel.ENTIRE_FILE:
        return _check("not_whole_file", intact=True, signer=signer, signed_at=signed_at, trusted=status.trusted)
    if not status.trusted:
        return _check("untrusted", intact=True, signer=signer, signed_at=signed_at)
    return _check("ok", intact=True, valid=True, trusted=True, signer=signer, signed_at=signed_at)


def _check(
    reason: str,
    *,
    intact: bool = False,
    valid: bool = False,
    trusted: bool = False,
    signer: str = "",
    signed_at: datetime | None = None,
) -> SignatureCheck:
    return SignatureCheck(intact, valid, signer, reason, _MESSAGES[reason], trusted, signed_at)


def _signer_name(cert: asn1_x509.Certificate) -> str:
    try:
        return cert.subject.native.get("common_name") or cert.subject.human_friendly
    except (AttributeError, ValueError):
        return ""
