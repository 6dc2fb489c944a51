"""Verification of a report: by its QR token, by number + verification code, by the PDF file.

Every answer tells the truth from the registry: revoked and expired come from the row (expiry
from ``valid_until``, not from whether the job has run), and each way a report can fail (forged
token, unknown key, changed file, unknown number) has its own reason code and Chinese text.

Who learns what: the report's facts (kind, dates, the subject as registered, the counts of its
records) only to whoever shows the verification code, the signed QR token or the registered
file itself (byte for byte). A report number alone (typed, or found in a file that is not the
registered one) tells only whether it is registered and its status: the numbers are printed on
every page and pass through many hands, so they are no proof of holding the report.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa

from reports import signing, tokens
from reports.content import ReportKind

from ..extensions import on_primary
from ..fast_select import FastSelect
from ..types import local_date
from . import messages as msg
from .keys import FileSignature, report_keys
from .models import IssuedReport, ReportStatus, status_on
from .operations import code_hash, normalise_code, normalise_number

KEYS_PATH = "/.well-known/credit-report-keys.json"
# Report numbers as issue_report makes them; found in the PDF's metadata even when the file was
# changed, so the answer can name the report the file claims to be. The scan is linear in the
# file's size: a match is at most 29 bytes long and its only choice (the prefix's length) is
# settled by the first "-", so each position costs a bounded number of steps, whatever the bytes.
_NUMBER_IN_PDF = re.compile(rb"\b([A-Z0-9]{1,8}-\d{8}-[0-9A-Z]{10})\b")
CLAIM_SCAN_BYTES = 4_000_000
# A file's claim is looked up among its first distinct number-shaped strings, in one statement.
# A report the platform issued holds exactly one (its own number, in the metadata and on every
# page); 8 leaves room for a few others an edited copy may carry before it, while a file stuffed
# with numbers costs the same single look-up of 8 as any other (issue 14: 150,000 look-ups).
MAX_CLAIMED_NUMBERS = 8

# The ``alg`` of a signature as published with its key (/.well-known/credit-report-keys.json).
_JWK_ALG = {tokens.ED25519: "EdDSA", tokens.SM2: tokens.SM2}

_TOKEN_REASONS = {
    tokens.TokenError.MALFORMED: ("token_malformed", msg.VERIFY_TOKEN_MALFORMED),
    tokens.TokenError.BAD_SIGNATURE: ("token_bad_signature", msg.VERIFY_TOKEN_BAD_SIGNATURE),
    tokens.TokenError.UNKNOWN_KEY: ("token_unknown_key", msg.VERIFY_TOKEN_UNKNOWN_KEY),
}


@dataclass(frozen=True)
class FileCheck:
    identical: bool  # byte-identical to the registered PDF
    signature_intact: bool
    signature_valid: bool
    signature_reason: str  # reports.signing reason code
    signature_message: str
    signer: str = ""
    # The platform's signature over the registered file (Ed25519 or SM2), checked against this
    # file: None when the file is not the registered one or the report predates such signatures.
    registered_signature_valid: bool | None = None


@dataclass(frozen=True)
class RegisteredReport:
    """What verification reads of a registry row (``IssuedReport``): the columns every answer
    needs, public-safe (the subject as registered: masked for natural persons). Read with one
    Core statement, not as an ORM entity: verification is a hot public path."""

    __tablename__ = IssuedReport.__tablename__  # an audit event's target type

    id: int
    number: str
    kind: ReportKind
    subject_id: int
    content_hash: str
    verification_code_hash: str
    issued_at: dt.datetime
    issued_on: dt.date
    valid_until: dt.date
    status: ReportStatus
    revoked_at: dt.datetime | None
    revoked_reason: str | None
    subject_natural: bool
    subject_display_name: str
    subject_display_code: str
    summary: list[dict[str, Any]]
    file_signature_alg: str | None
    file_signature_kid: str | None
    file_signature: str | None

    def status_on(self, today: dt.date) -> ReportStatus:
        return status_on(self.status, self.valid_until, today)


_REGISTERED = sa.select(*(IssuedReport.__table__.c[name] for name in RegisteredReport.__dataclass_fields__))
# Built once: building and caching-keying a select per call cost more than running it.
# Run on the driver's cursor (backend/fast_select.py): verification is a hot public path.
_BY_NUMBER = FastSelect(_REGISTERED.where(IssuedReport.number == sa.bindparam("number")))
_BY_PDF_HASH = FastSelect(_REGISTERED.where(IssuedReport.pdf_hash == sa.bindparam("digest")).limit(1))
# What a number alone may tell: no subject column is even read.
_NUMBER_STATUS = sa.select(IssuedReport.number, IssuedReport.status, IssuedReport.valid_until)


def _registered(statement: FastSelect, params: dict[str, str]) -> RegisteredReport | None:
    """The registry row, always from the primary (the truth, never a lagging replica)."""
    rows = on_primary(lambda connection: statement.rows(connection, params), autocommit=True)
    return RegisteredReport(*rows[0]) if rows else None


@dataclass(frozen=True)
class NumberStatus:
    """All a report number alone tells anyone (the "number only" audience): that it is
    registered, and its status today. Nothing about the subject, the kind or the content."""

    number: str
    status: ReportStatus


def numbers_status(numbers: Sequence[str], today: dt.date | None = None) -> dict[str, NumberStatus]:
    """The registered ones among ``numbers``, by number: one statement (an IN list), from the
    primary. Callers bound ``numbers`` (MAX_CLAIMED_NUMBERS for a file, one for a typed number)."""
    if not numbers:
        return {}
    today = today or local_date()
    statement = _NUMBER_STATUS.where(IssuedReport.number.in_(list(numbers)))
    rows = on_primary(lambda connection: connection.execute(statement).all(), autocommit=True)
    return {number: NumberStatus(number, status_on(status, until, today)) for number, status, until in rows}


def number_status(number: str, today: dt.date | None = None) -> NumberStatus | None:
    """A typed report number's registration and status (e.g. the official account's 核验)."""
    number = normalise_number(number)[:40]
    return numbers_status([number], today).get(number) if number else None


@dataclass
class Verdict:
    genuine: bool
    status: str  # valid | expired | revoked | unknown
    code: str  # machine reason: valid, expired, revoked, token_*, unknown_number, code_mismatch, file_*
    reason: str  # Chinese
    # The registry's facts: only for whoever showed the code, the signed token or the registered file.
    report: RegisteredReport | None = None
    signature: dict[str, Any] = field(default_factory=dict)
    file: FileCheck | None = None
    # A file that is not the registered one: the registered number it claims, status only.
    claimed: NumberStatus | None = None

    @property
    def status_label(self) -> str:
        if self.status == "unknown":
            return "无法确认"
        return msg.STATUS_LABELS[ReportStatus(self.status)]


def _by_number(number: str) -> RegisteredReport | None:
    return _registered(_BY_NUMBER, {"number": number})


def _status_verdict(report: RegisteredReport, today: dt.date, **extra: Any) -> Verdict:
    status = report.status_on(today)
    if status is ReportStatus.REVOKED:
        revoked_on = report.revoked_at.date().isoformat() if report.revoked_at else ""
        reason = msg.VERIFY_REVOKED.format(date=revoked_on, reason=report.revoked_reason or "")
    elif status is ReportStatus.EXPIRED:
        reason = msg.VERIFY_EXPIRED.format(date=report.valid_until.isoformat())
    else:
        reason = msg.VERIFY_VALID
    return Verdict(True, status.value, status.value, reason, report, **extra)


def verify_token_text(text: str, today: dt.date | None = None) -> Verdict:
    """``text`` is what a scanner read: the full URL or the bare token."""
    today = today or local_date()
    token = tokens.token_from_url(text or "")
    keys = report_keys()
    signature: dict[str, Any] = {"alg": _JWK_ALG[keys.algorithm], "keys_url": KEYS_PATH, "token": token[:700]}
    try:
        payload = keys.check_token(token)
    except tokens.TokenError as exc:
        code, reason = _TOKEN_REASONS.get(exc.reason, _TOKEN_REASONS[tokens.TokenError.MALFORMED])
        return Verdict(False, "unknown", code, reason, signature={**signature, "valid": False})
    signature.update(
        valid=True,
        alg=_JWK_ALG[payload.algorithm],
        kid=payload.kid,
        payload={
            "number": payload.number,
            "kind": payload.kind.value,
            "issued_on": payload.issued_on.isoformat(),
            "content_hash_prefix": payload.content_hash_prefix.hex(),
        },
    )
    report = _by_number(payload.number)
    if report is None:
        return Verdict(False, "unknown", "unknown_number", msg.VERIFY_UNKNOWN_NUMBER, signature=signature)
    if (
        payload.kind is not report.kind
        or payload.issued_on != report.issued_on
        or not payload.matches_hash(report.content_hash)
    ):
        return Verdict(False, "unknown", "token_mismatch", msg.VERIFY_TOKEN_MISMATCH, signature=signature)
    return _status_verdict(report, today, signature=signature)


def verify_number_code(number: str, code: str, today: dt.date | None = None) -> Verdict:
    today = today or local_date()
    number = normalise_number(number)
    report = _by_number(number) if number else None
    if report is None:
        return Verdict(False, "unknown", "unknown_number", msg.VERIFY_UNKNOWN_NUMBER)
    if not hmac.compare_digest(code_hash(number, normalise_code(code)), report.verification_code_hash):
        return Verdict(False, "unknown", "code_mismatch", msg.VERIFY_CODE_MISMATCH)
    return _status_verdict(report, today)


def verify_pdf(data: bytes, today: dt.date | None = None) -> Verdict:
    """Is this the registered file (byte for byte), is its signature intact, which report is it?"""
    today = today or local_date()
    keys = report_keys()
    digest = hashlib.sha256(data).hexdigest()
    report = _registered(_BY_PDF_HASH, {"digest": digest})
    check = signing.validate_pdf_signature(data, keys.trust_roots)
    signature: dict[str, Any] = {
        "pdf": {"intact": check.intact, "valid": check.valid, "reason": check.reason, "signer": check.signer}
    }
    registered_valid = None
    if report is not None and report.file_signature:
        file_signature = FileSignature(
            report.file_signature_alg or "", report.file_signature_kid or "", report.file_signature
        )
        registered_valid = keys.check_file_signature(data, file_signature)
        signature["file"] = {
            "alg": _JWK_ALG.get(file_signature.algorithm, file_signature.algorithm),
            "kid": file_signature.kid,
            "value": file_signature.value,
            "valid": registered_valid,
            "keys_url": KEYS_PATH,
        }
    file_check = FileCheck(
        identical=report is not None,
        signature_intact=check.intact,
        signature_valid=check.valid,
        signature_reason=check.reason,
        signature_message=check.message,
        signer=check.signer,
        registered_signature_valid=registered_valid,
    )
    if registered_valid is False:
        # The registry's hash names this file, but the platform never signed it: the row was
        # changed to vouch for another file. Nothing of the row is shown.
        return Verdict(
            False, "unknown", "file_signature_invalid", msg.VERIFY_FILE_SIGNATURE_INVALID,
            signature=signature, file=file_check,
        )  # fmt: skip
    if report is not None:
        verdict = _status_verdict(report, today, signature=signature, file=file_check)
        if not check.valid:  # registered bytes whose signature fails: the trust roots changed
            verdict.reason = f"{msg.VERIFY_FILE_IDENTICAL}{check.message}{verdict.reason}"
        else:
            verdict.reason = f"{msg.VERIFY_FILE_IDENTICAL}{verdict.reason}"
        return verdict
    claimed = _claimed(data, today)
    if check.reason in ("changed", "not_whole_file"):
        return Verdict(
            False, "unknown", "file_changed", msg.VERIFY_FILE_CHANGED,
            signature=signature, file=file_check, claimed=claimed,
        )  # fmt: skip
    if claimed is not None:
        return Verdict(
            False, "unknown", "file_changed", msg.VERIFY_FILE_CHANGED_UNSIGNED,
            signature=signature, file=file_check, claimed=claimed,
        )  # fmt: skip
    if check.reason == "unreadable":
        return Verdict(False, "unknown", "file_unreadable", msg.VERIFY_FILE_UNREADABLE, None, signature, file_check)
    return Verdict(False, "unknown", "file_unknown", msg.VERIFY_FILE_UNKNOWN, None, signature, file_check)


def claimed_numbers(data: bytes) -> list[str]:
    """The first MAX_CLAIMED_NUMBERS distinct report numbers in the file, in file order; the scan
    stops there (and at CLAIM_SCAN_BYTES)."""
    found: dict[str, None] = {}
    for match in _NUMBER_IN_PDF.finditer(data, 0, CLAIM_SCAN_BYTES):
        found.setdefault(match.group(1).decode("ascii"))
        if len(found) == MAX_CLAIMED_NUMBERS:
            break
    return list(found)


def _claimed(data: bytes, today: dt.date) -> NumberStatus | None:
    """The registered report the file claims to be (its first registered number), status only."""
    candidates = claimed_numbers(data)
    registered = numbers_status(candidates, today)
    return next((registered[number] for number in candidates if number in registered), None)
