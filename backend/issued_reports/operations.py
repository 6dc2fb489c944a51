"""Issuing, revoking and expiring credit reports: one set of operations for every channel.

``issue_report`` is the only way a report comes into being (counter, CLI, and later the
mini-program and the kiosk): it decides who may get which report, builds the content from the
database, signs the QR token and the PDF, stores the file and registers it. Operations flush,
never commit.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
import secrets
from dataclasses import dataclass, replace

import sqlalchemy as sa
from flask import current_app

from reports import render, signing, tokens
from reports.content import CHINA_TZ, ReportKind

from ..actors import Actor, CitizenIdentity
from ..audit.operations import record_event
from ..errors import ApiError, Conflict, Forbidden, NotFound
from ..extensions import db
from ..outbox.operations import enqueue_event
from ..pii import cipher
from ..staff.models import StaffRole
from ..storage import StorageError, get_storage, put_for_transaction
from ..subjects.models import Subject
from ..types import utcnow
from . import messages as msg
from .content import ReportOptions, build_content, normalise_options
from .keys import report_keys, warm_up
from .models import IssuedReport, IssuedReportRecord, ReportStatus

# Crockford-style base32 without I, L, O, U: unambiguous when read aloud or typed from paper.
ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
NUMBER_RANDOM_CHARS = 10  # 50 random bits: numbers cannot be guessed
CODE_CHARS = 8  # 40 random bits, printed as XXXX-XXXX
REVOKE_REASON_MAX = 500
_PREFIX_RE = re.compile(r"^[A-Z0-9]{1,8}$")
STORAGE_PREFIX = "reports"


@dataclass(frozen=True)
class Issued:
    report: IssuedReport
    pdf: bytes
    verification_url: str  # what the QR code holds (channels may show it beside the PDF)


def china_now(now: dt.datetime | None = None) -> dt.datetime:
    """A naive-UTC timestamp as an aware China time (reports print and date in China time)."""
    return (now or utcnow()).replace(tzinfo=dt.UTC).astimezone(CHINA_TZ)


def _settings():
    return current_app.extensions["settings"]


def new_report_number(day: dt.date) -> str:
    prefix = _settings().REPORT_NUMBER_PREFIX
    if not _PREFIX_RE.match(prefix):
        raise ValueError("REPORT_NUMBER_PREFIX must be 1-8 characters of A-Z and 0-9")
    tail = "".join(secrets.choice(ALPHABET) for _ in range(NUMBER_RANDOM_CHARS))
    return f"{prefix}-{day:%Y%m%d}-{tail}"


def new_verification_code() -> str:
    raw = "".join(secrets.choice(ALPHABET) for _ in range(CODE_CHARS))
    return f"{raw[:4]}-{raw[4:]}"


def normalise_number(raw: str | None) -> str:
    return (raw or "").strip().upper()


def normalise_code(raw: str | None) -> str:
    return "".join(ch for ch in (raw or "").upper() if ch.isalnum())


def code_hash(number: str, code: str) -> str:
    # Keyed (the PII look-up key): the database alone does not let anyone try the 2**40 codes.
    return cipher().lookup_hash(normalise_code(code), f"report-code:{number}")


# --- who may get which report --------------------------------------------------------------


def _staff_role(actor: Actor) -> StaffRole | None:
    if actor.type != "staff" or actor.obj is None or not getattr(actor.obj, "is_active", False):
        return None
    return actor.obj.role


def is_counter_staff(actor: Actor) -> bool:
    """Staff who serve the credit counter (信用服务窗口): platform admins."""
    return _staff_role(actor) is StaffRole.PLATFORM_ADMIN


def is_cli_operator(actor: Actor) -> bool:
    return actor.type == "system" and actor.channel == "cli"


def is_owner(actor: Actor, subject: Subject) -> bool:
    """The natural person themself, real-name verified by the channel."""
    ident = actor.obj
    return (
        actor.type == "citizen"
        and isinstance(ident, CitizenIdentity)
        and subject.is_natural
        and ident.subject_id == subject.id
    )


def is_representative(actor: Actor, subject: Subject) -> bool:
    """Legal representative or authorised agent of a legal subject (binding set by the channel)."""
    ident = actor.obj
    return (
        actor.type == "citizen"
        and isinstance(ident, CitizenIdentity)
        and not subject.is_natural
        and subject.id in ident.represents
    )


def can_issue(actor: Actor, subject: Subject, kind: ReportKind, identity_check: str | None = None) -> bool:
    if kind is ReportKind.ENTERPRISE:
        return True  # public records only: anyone
    if is_cli_operator(actor):
        return True
    if is_counter_staff(actor):
        return bool((identity_check or "").strip())
    if kind is ReportKind.PERSONAL:
        return is_owner(actor, subject)
    return is_owner(actor, subject) or is_representative(actor, subject)


def can_read_pdf(actor: Actor, report: IssuedReport) -> bool:
    """The file goes to whoever the report is about (or acts for them) and to the counter."""
    if is_cli_operator(actor) or is_counter_staff(actor):
        return True
    return is_owner(actor, report.subject) or is_representative(actor, report.subject)


def can_revoke(actor: Actor) -> bool:
    return is_counter_staff(actor) or is_cli_operator(actor) or (actor.type == "system" and actor.channel == "job")


# --- issuing -------------------------------------------------------------------------------


def _check_kind(subject: Subject, kind: ReportKind) -> None:
    if kind is ReportKind.ENTERPRISE and subject.is_natural:
        raise ApiError(
            msg.KIND_NOT_FOR_SUBJECT.format(kind=msg.KIND_LABELS[kind], who="法人和非法人组织"),
            code="kind_not_for_subject",
        )
    if kind is ReportKind.PERSONAL and not subject.is_natural:
        raise ApiError(
            msg.KIND_NOT_FOR_SUBJECT.format(kind=msg.KIND_LABELS[kind], who="自然人"), code="kind_not_for_subject"
        )


def issue_report(
    actor: Actor,
    subject: Subject,
    kind: ReportKind | str,
    options: ReportOptions | None = None,
    channel: str | None = None,
    *,
    identity_check: str | None = None,
    now: dt.datetime | None = None,
) -> Issued:
    """Issue, sign, store and register one report. ``identity_check`` is the counter clerk's note
    that the person presented their ID card (required for staff issuing personal or special
    reports); ``channel`` defaults to the actor's."""
    try:
        kind = ReportKind(kind)
    except ValueError as exc:
        raise ApiError(msg.KIND_INVALID, code="kind_invalid") from exc
    _check_kind(subject, kind)
    if not can_issue(actor, subject, kind, identity_check):
        if is_counter_staff(actor):
            raise ApiError(msg.IDENTITY_CHECK_REQUIRED, code="identity_check_required")
        raise Forbidden(msg.NOT_ALLOWED_PERSONAL if kind is ReportKind.PERSONAL else msg.NOT_ALLOWED_SPECIAL)
    options = normalise_options(kind, options)
    settings = _settings()
    now = now or utcnow()
    issued_at = china_now(now).replace(microsecond=0)
    today = issued_at.date()
    valid_until = today + dt.timedelta(days=settings.REPORT_VALIDITY_DAYS)
    number = new_report_number(today)
    while db.session.scalar(sa.select(IssuedReport.id).where(IssuedReport.number == number)) is not None:
        number = new_report_number(today)  # 50 random bits: practically never

    built = build_content(subject, kind, options, number=number, issued_at=issued_at, valid_until=valid_until)
    keys = report_keys()
    warm_up()
    token = tokens.sign_token(
        keys.private_key,
        keys.kid,
        number=number,
        kind=kind,
        issued_on=today,
        content_hash=built.content.content_hash,
    )
    code = new_verification_code()
    base = settings.PUBLIC_BASE_URL.rstrip("/")
    content = replace(
        built.content,
        verification_url=tokens.token_url(base, token),
        verification_code=code,
        verify_page_url=f"{base}/verify",
    )
    try:
        pdf = signing.sign_pdf(render.render_pdf(content), keys.signer())
    except signing.SigningError as exc:
        raise ApiError(msg.SIGNING_FAILED, code="signing_failed", status=503) from exc
    # Stored before the row is committed (never a row pointing at nothing), and deleted again
    # if the transaction does not commit.
    pdf_key = put_for_transaction(pdf, prefix=STORAGE_PREFIX, extension="pdf")
    file_signature = keys.sign_file(pdf)  # SM2 under the 国密 suite: checked by /verify
    natural = subject.is_natural
    report = IssuedReport(
        number=number,
        kind=kind,
        subject_id=subject.id,
        options=options.as_json()
        | ({"period": [content.period.start.isoformat(), content.period.end.isoformat()]} if content.period else {}),
        content_hash=content.content_hash,
        pdf_hash=hashlib.sha256(pdf).hexdigest(),
        pdf_key=pdf_key,
        pdf_size=len(pdf),
        token_kid=keys.kid,
        file_signature_alg=file_signature.algorithm,
        file_signature_kid=file_signature.kid,
        file_signature=file_signature.value,
        verification_code_hash=code_hash(number, code),
        channel=(channel or actor.channel)[:20],
        issued_by_type=actor.type,
        issued_by_id=actor.id,
        issued_by_label=actor.label[:100],
        issued_at=now,
        issued_on=today,
        valid_until=valid_until,
        status=ReportStatus.VALID,
        subject_natural=natural,
        subject_display_name=subject.display_name,
        subject_display_code=subject.display_code,
        summary=[{"title": line.title, "count": line.count, "repaired": line.repaired} for line in content.overview()],
    )
    report.shown_records = [IssuedReportRecord(record_id=record_id) for record_id in built.record_ids]
    db.session.add(report)
    db.session.flush()
    record_event(
        actor,
        "report.issue",
        target=report,
        subject_id=subject.id,
        reason=(identity_check or "").strip()[:200] or None,
        details={
            "number": number,
            "kind": kind.value,
            "channel": report.channel,
            "options": report.options,
            "records": len(built.record_ids),
            "natural_person": natural,
        },
    )
    return Issued(report, pdf, content.verification_url)


# --- reading, revoking, expiring -----------------------------------------------------------


def get_report(number: str) -> IssuedReport:
    report = db.session.scalar(sa.select(IssuedReport).where(IssuedReport.number == normalise_number(number)))
    if report is None:
        raise NotFound(msg.REPORT_NOT_FOUND, code="report_not_found")
    return report


def read_report_pdf(actor: Actor, report: IssuedReport, reason: str | None = None) -> bytes:
    """The registered PDF, for the report's owner and the counter; each read is audited."""
    if not can_read_pdf(actor, report):
        raise Forbidden(msg.NOT_ALLOWED_DOWNLOAD, code="report_forbidden")
    try:
        data = get_storage().get(report.pdf_key)
    except StorageError as exc:
        raise ApiError(msg.STORED_FILE_MISSING, code="report_file_missing", status=503) from exc
    if hashlib.sha256(data).hexdigest() != report.pdf_hash:
        # The stored copy was altered: never hand out a file that no longer matches the registry.
        raise ApiError(msg.STORED_FILE_MISSING, code="report_file_changed", status=503)
    record_event(
        actor,
        "report.download",
        target=report,
        subject_id=report.subject_id,
        reason=(reason or "").strip()[:200] or None,
        details={"number": report.number, "kind": report.kind.value},
    )
    return data


def _revoke(actor: Actor, report: IssuedReport, reason: str, now: dt.datetime, cause: str) -> None:
    report.status = ReportStatus.REVOKED
    report.revoked_at = now
    report.revoked_reason = reason
    report.revoked_by_label = actor.label[:100]
    db.session.flush()
    record_event(
        actor,
        "report.revoke",
        target=report,
        subject_id=report.subject_id,
        reason=reason[:200],
        details={"number": report.number, "cause": cause},
    )
    enqueue_event(
        "report.revoked",
        {"report_id": report.id, "number": report.number, "subject_id": report.subject_id, "cause": cause},
        dedupe_key=f"report.revoked:{report.id}",
    )


def revoke_report(actor: Actor, report: IssuedReport, reason: str, *, now: dt.datetime | None = None) -> IssuedReport:
    if not can_revoke(actor):
        raise Forbidden(msg.NOT_ALLOWED_REVOKE, code="report_forbidden")
    text = (reason or "").strip()
    if not text:
        raise ApiError(msg.REVOKE_REASON_REQUIRED, code="reason_required")
    if len(text) > REVOKE_REASON_MAX:
        raise ApiError(msg.REVOKE_REASON_TOO_LONG.format(limit=REVOKE_REASON_MAX), code="reason_too_long")
    # Re-read under a row lock so two clerks revoking at once give one revocation, one conflict.
    db.session.execute(sa.select(IssuedReport.id).where(IssuedReport.id == report.id).with_for_update())
    db.session.refresh(report)
    if report.status is ReportStatus.REVOKED:
        raise Conflict(msg.ALREADY_REVOKED, code="already_revoked")
    _revoke(actor, report, text, now or utcnow(), "staff")
    return report


def expire_reports(today: dt.date) -> int:
    """Mark valid reports past their last day as expired (verification does not wait for this)."""
    return db.session.execute(
        sa.update(IssuedReport)
        .where(IssuedReport.status == ReportStatus.VALID, IssuedReport.valid_until < today)
        .values(status=ReportStatus.EXPIRED)
        .execution_options(synchronize_session=False)
    ).rowcount


def revoke_reports_showing_record(
    actor: Actor, record_id: int, change: str, *, now: dt.datetime | None = None
) -> list[IssuedReport]:
    """A record a report showed was corrected, deleted or repaired: the report no longer tells
    the truth, so every still-valid report that showed it is revoked (idempotent)."""
    reports = db.session.scalars(
        sa.select(IssuedReport)
        .join(IssuedReportRecord, IssuedReportRecord.report_id == IssuedReport.id)
        .where(IssuedReportRecord.record_id == record_id, IssuedReport.status == ReportStatus.VALID)
        .order_by(IssuedReport.id)
        .with_for_update(of=IssuedReport)
    ).all()
    reason = msg.RECORD_CHANGED_REASON.get(change, msg.RECORD_CHANGED_DEFAULT)
    moment = now or utcnow()
    for report in reports:
        _revoke(actor, report, reason, moment, f"record.{change}")
    return list(reports)


def find_subject(identifier: str) -> Subject:
    """The subject with this USCC or 居民身份证号码 (both are 18 characters; an all-digit USCC
    exists, so both readings are tried)."""
    from ..identifiers import IdentifierError, validate_id_number, validate_uscc
    from ..records.operations import find_natural_subject
    from ..subjects.models import SubjectKind

    text = (identifier or "").strip().upper()
    problems = []
    try:
        code = validate_uscc(text, _settings().USCC_LEGACY_ALLOWLIST).code
    except IdentifierError as exc:
        problems.append(exc.message)
    else:
        subject = db.session.scalar(sa.select(Subject).where(Subject.uscc == code, Subject.kind == SubjectKind.LEGAL))
        if subject is not None:
            return subject
    try:
        number = validate_id_number(text)
    except IdentifierError as exc:
        problems.append(exc.message)
    else:
        subject = find_natural_subject(number)
        if subject is not None:
            return subject
    if len(problems) == 2:
        raise ApiError("；".join(problems), code="invalid_identifier")
    raise NotFound(msg.SUBJECT_NOT_FOUND, code="subject_not_found")
