"""The kiosk channel's own operations: devices, heartbeats, citizen sessions and print jobs.
Flush, never commit.

Business rules of reports, objections and repairs are not here: the views call
``issue_report``, ``file_objection``, ``file_repair`` and ``sign_commitment`` with the actor built
by ``kiosk_actor``. Its label carries the device code, so every audit row those operations write
says which kiosk it came from.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import re
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from flask import current_app

from backend.actors import Actor, CitizenIdentity
from backend.audit.operations import record_event
from backend.citizens import own
from backend.citizens.bindings import represented_subject_ids
from backend.citizens.identity import verified_person
from backend.citizens.own import get_own_case, list_own_cases, unattached_materials  # noqa: F401
from backend.citizens.tickets import consume_kiosk_login, create_kiosk_login_ticket
from backend.errors import ApiError, Conflict, Forbidden, NotFound, Unauthorized
from backend.extensions import db
from backend.identifiers import IdentifierError, validate_id_number
from backend.issued_reports.models import IssuedReport
from backend.issued_reports.operations import Issued, issue_report, read_report_pdf
from backend.pii import mask_id_number
from backend.records.models import CreditRecord
from backend.subjects.models import NameSource, Subject
from backend.types import LOCAL_TZ, local_date, utcnow
from backend.workflows.cases import Applicant, local_time_text
from reports.letters import Letter, render_letter

from . import messages as msg
from .agent import signing
from .models import (
    KioskDevice,
    KioskSession,
    PrintDocument,
    PrinterState,
    PrintJob,
    PrintJobState,
    SigninChallenge,
    SignInMethod,
)

CODE_RE = re.compile(r"^[A-Z0-9-]{3,32}$")
AUTH_SCHEME = "Kiosk"
FACE_RESULTS = ("pass", "fail", "not_done")


def settings() -> Any:
    return current_app.extensions["settings"]


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def _new_secret() -> str:
    return secrets.token_urlsafe(32)


# --- devices -------------------------------------------------------------------------------


def register_device(actor: Actor, code: str, hall: str, location: str) -> tuple[KioskDevice, str]:
    """Register a kiosk; returns the device and its credential (``code:secret``), shown once."""
    code = (code or "").strip().upper()
    if not CODE_RE.match(code):
        raise ApiError(msg.DEVICE_CODE_INVALID, code="device_code_invalid")
    hall, location = (hall or "").strip(), (location or "").strip()
    for value, field in ((hall, "服务大厅"), (location, "摆放位置")):
        if not value:
            raise ApiError(msg.DEVICE_FIELD_REQUIRED.format(field=field), code="device_field_required")
    if db.session.scalar(sa.select(KioskDevice.id).where(KioskDevice.code == code)) is not None:
        raise Conflict(msg.DEVICE_CODE_TAKEN.format(code=code), code="device_code_taken")
    secret = _new_secret()
    device = KioskDevice(code=code, hall=hall[:100], location=location[:200], credential_hash=_hash(secret))
    db.session.add(device)
    db.session.flush()
    record_event(actor, "kiosk.device.register", target=device, details={"device": code, "hall": device.hall})
    return device, f"{code}:{secret}"


def reissue_credential(actor: Actor, device: KioskDevice) -> str:
    """A new credential; the old one stops working at once (a stolen or lost kiosk PC)."""
    secret = _new_secret()
    device.credential_hash = _hash(secret)
    # The PC's key goes with its credential: the agent enrols a key again with the new one.
    device.public_key = None
    device.public_key_at = None
    db.session.flush()
    record_event(actor, "kiosk.device.credential", target=device, details={"device": device.code})
    return f"{device.code}:{secret}"


def set_device_enabled(actor: Actor, device: KioskDevice, enabled: bool, reason: str | None = None) -> KioskDevice:
    reason = (reason or "").strip()
    if not enabled and not reason:
        raise ApiError(msg.DEVICE_REASON_REQUIRED, code="reason_required")
    device.enabled = enabled
    device.disabled_reason = None if enabled else reason[:200]
    if not enabled:
        # Whoever is signed in at a kiosk being taken out of service is signed out with it.
        _end_open_sessions(device, "disabled", utcnow())
    db.session.flush()
    record_event(
        actor,
        "kiosk.device.enable" if enabled else "kiosk.device.disable",
        target=device,
        reason=reason or None,
        details={"device": device.code},
    )
    return device


def authenticate_device(header: str | None) -> KioskDevice:
    """The device behind ``Authorization: Kiosk <code>:<secret>``; Unauthorized otherwise."""
    scheme, _, value = (header or "").partition(" ")
    if scheme != AUTH_SCHEME or not value.strip():
        raise Unauthorized(msg.DEVICE_CREDENTIAL_MISSING, code="device_credential_missing")
    code, _, secret = value.strip().partition(":")
    device = db.session.scalar(sa.select(KioskDevice).where(KioskDevice.code == code.upper()))
    if device is None or not secret or not hmac.compare_digest(device.credential_hash, _hash(secret)):
        raise Unauthorized(msg.DEVICE_CREDENTIAL_INVALID, code="device_credential_invalid")
    return device


def record_heartbeat(
    device: KioskDevice,
    *,
    agent_version: str | None,
    printer_queue: str | None,
    printer_state: str | None,
    printer_message: str | None = None,
    paper_counter: int | None = None,
    now: dt.datetime | None = None,
) -> KioskDevice:
    """What the agent says about itself; no audit row (every 30 s per kiosk would drown the log)."""
    device.last_heartbeat_at = now or utcnow()
    device.agent_version = (agent_version or "")[:40] or None
    device.printer_queue = (printer_queue or "")[:100] or None
    device.printer_state = parse_printer_state(printer_state)
    device.printer_message = (printer_message or "")[:200] or None
    if paper_counter is not None and paper_counter >= 0:
        device.paper_counter = int(paper_counter)
    db.session.flush()
    return device


def parse_printer_state(value: str | None) -> PrinterState:
    try:
        return PrinterState(value or "unknown")
    except ValueError:
        return PrinterState.UNKNOWN


@dataclass(frozen=True)
class FleetRow:
    device: KioskDevice
    online: bool
    prints_today: int
    failed_today: int
    faults: list[str]


def fleet(now: dt.datetime | None = None) -> list[FleetRow]:
    """Every kiosk with what the fleet page shows: online, prints and failures today, faults."""
    now = now or utcnow()
    start, end = _local_day_bounds(local_date(now))
    counts: dict[tuple[int, PrintJobState], int] = {
        (device_id, state): count
        for device_id, state, count in db.session.execute(
            sa.select(PrintJob.device_id, PrintJob.state, sa.func.count())
            .where(PrintJob.created_at >= start, PrintJob.created_at < end)
            .group_by(PrintJob.device_id, PrintJob.state)
        )
    }
    offline_after = dt.timedelta(seconds=int(settings().KIOSK_OFFLINE_AFTER_SECONDS))
    rows = []
    for device in db.session.scalars(sa.select(KioskDevice).order_by(KioskDevice.hall, KioskDevice.code)):
        online = device.last_heartbeat_at is not None and now - device.last_heartbeat_at <= offline_after
        faults = []
        if not device.enabled:
            faults.append("已停用")
        if device.last_heartbeat_at is not None and not online:
            faults.append("离线")
        if device.public_key is None:
            faults.append(msg.DEVICE_KEY_NOT_ENROLLED)
        if device.printer_state not in (PrinterState.READY, PrinterState.UNKNOWN):
            faults.append(msg.PRINTER_STATES[device.printer_state.value])
        rows.append(
            FleetRow(
                device,
                online,
                counts.get((device.id, PrintJobState.DONE), 0),
                counts.get((device.id, PrintJobState.FAILED), 0),
                faults,
            )
        )
    return rows


def _local_day_bounds(day: dt.date) -> tuple[dt.datetime, dt.datetime]:
    """The naive-UTC interval of one Jinchang calendar day."""
    start = dt.datetime.combine(day, dt.time(), tzinfo=LOCAL_TZ).astimezone(dt.UTC).replace(tzinfo=None)
    return start, start + dt.timedelta(days=1)


# --- citizen sessions ----------------------------------------------------------------------


def kiosk_actor(device: KioskDevice, session: KioskSession | None, ip: str | None = None) -> Actor:
    """The operations' actor. A signed-in citizen is the same applicant as on WeChat (account =
    subject id), and the label names the kiosk, so every audit row tells the device."""
    if session is None:
        return Actor("public", None, f"kiosk@{device.code}", "kiosk", ip)
    ident = CitizenIdentity(session.subject_id, frozenset(int(s) for s in session.represents or ()))
    account = str(session.subject_id)
    return Actor("citizen", account, f"citizen-{account}@{device.code}", "kiosk", ip, ident)


@dataclass(frozen=True)
class CardReading:
    """A reading the agent signed (fields of ``kiosk.agent.signing.FIELDS``), checked."""

    id_number: str
    name: str
    face_result: str  # pass | fail | not_done: the vendor's face comparison (人证比对)
    face_score: float | None = None
    valid_until: dt.date | None = None  # the card's 有效期限 end; None = 长期
    reader: str = ""


def check_card(card: CardReading, today: dt.date) -> tuple[str, str]:
    name = (card.name or "").strip()
    if not name or len(name) > 50:
        raise ApiError(msg.CARD_NAME_INVALID, code="card_name_invalid", status=422)
    try:
        number = validate_id_number(card.id_number)
    except IdentifierError as exc:
        raise ApiError(
            msg.CARD_NUMBER_INVALID.format(reason=exc.message), code="card_number_invalid", status=422
        ) from exc
    if card.valid_until is not None and card.valid_until < today:
        raise ApiError(msg.CARD_EXPIRED, code="card_expired", status=403)
    return name, number


def _open_session(
    device: KioskDevice, subject: Subject, method: SignInMethod, face: str | None, now: dt.datetime, ip: str | None
) -> tuple[str, KioskSession]:
    # One citizen at a time per kiosk: whoever did not press 结束 is signed out now.
    _end_open_sessions(device, "replaced", now)
    token = secrets.token_urlsafe(32)
    session = KioskSession(
        token_hash=_hash(token),
        device_id=device.id,
        subject_id=subject.id,
        method=method,
        face_result=face,
        represents=represented_subject_ids(person_subject_id=subject.id),
        started_at=now,
        last_seen_at=now,
    )
    db.session.add(session)
    db.session.flush()
    record_event(
        kiosk_actor(device, session, ip),
        "kiosk.signin",
        target=session,
        subject_id=subject.id,
        reason="自助终端登录",
        details={"device": device.code, "method": method.value, "face": face},
    )
    return token, session


# --- device keys and signed readings -------------------------------------------------------

# Refusals of a signed reading that are kept (audit row, consumed challenge, discrepancy mark)
# although the request fails: the view commits them.
KEPT_REFUSALS = frozenset(
    {
        "reading_signature_invalid",
        "challenge_invalid",
        "challenge_expired",
        "challenge_used",
        "face_not_passed",
        "card_name_mismatch",
        "card_expired",
        "card_number_invalid",
        "card_name_invalid",
        "reading_invalid",
    }
)


def enrol_device_key(
    device: KioskDevice, public_key: str, *, ip: str | None = None, now: dt.datetime | None = None
) -> KioskDevice:
    """The agent's public key, accepted once per credential: after registration or 重新签发凭据.
    The same key again is a no-op (an enrolment retried); another key is refused, so whoever
    took the credential cannot replace the kiosk's key unnoticed."""
    try:
        public_key = signing.normalised_public_key((public_key or "").strip())
    except ValueError as exc:
        raise ApiError(msg.DEVICE_KEY_INVALID, code="device_key_invalid", status=422) from exc
    # Compare-and-set: of two enrolments at once, one key wins and the other is told.
    claimed = db.session.execute(
        sa.update(KioskDevice)
        .where(KioskDevice.id == device.id, KioskDevice.public_key.is_(None))
        .values(public_key=public_key, public_key_at=now or utcnow())
        .execution_options(synchronize_session=False)
    ).rowcount
    db.session.refresh(device)
    if claimed != 1:
        if device.public_key is not None and hmac.compare_digest(device.public_key, public_key):
            return device
        raise Conflict(msg.DEVICE_KEY_ENROLLED, code="device_key_enrolled")
    record_event(
        Actor("kiosk", device.code, f"kiosk@{device.code}", "kiosk", ip),
        "kiosk.device.key",
        target=device,
        details={"device": device.code, "fingerprint": signing.fingerprint(public_key)},
    )
    return device


def new_signin_challenge(device: KioskDevice, *, now: dt.datetime | None = None) -> tuple[str, int]:
    """A one-time challenge for the agent to sign with the next reading (and the seconds it
    lives). Expired challenges of this kiosk are dropped here: the table stays small."""
    now = now or utcnow()
    if device.public_key is None:
        raise Forbidden(msg.DEVICE_KEY_MISSING, code="device_key_missing")
    seconds = int(settings().KIOSK_SIGNIN_CHALLENGE_SECONDS)
    db.session.execute(
        sa.delete(SigninChallenge)
        .where(SigninChallenge.device_id == device.id, SigninChallenge.expires_at < now - dt.timedelta(hours=1))
        .execution_options(synchronize_session=False)
    )
    challenge = secrets.token_urlsafe(32)
    db.session.add(
        SigninChallenge(
            device_id=device.id,
            challenge_hash=_hash(challenge),
            created_at=now,
            expires_at=now + dt.timedelta(seconds=seconds),
        )
    )
    db.session.flush()
    return challenge, seconds


def _refuse(device: KioskDevice, ip: str | None, reason: str, error: ApiError, **details: Any) -> ApiError:
    """The refusal's audit row (no personal data but a masked number), and the error to raise."""
    record_event(
        kiosk_actor(device, None, ip),
        "kiosk.signin.refused",
        reason=reason,
        details={"device": device.code, "code": error.code, **details},
    )
    return error


def _consume_challenge(device: KioskDevice, challenge: str, now: dt.datetime, ip: str | None) -> None:
    digest = _hash(challenge)
    taken = db.session.execute(
        sa.update(SigninChallenge)
        .where(
            SigninChallenge.challenge_hash == digest,
            SigninChallenge.device_id == device.id,
            SigninChallenge.used_at.is_(None),
            SigninChallenge.expires_at > now,
        )
        .values(used_at=now)
        .execution_options(synchronize_session=False)
    ).rowcount
    if taken == 1:
        return
    row = db.session.scalar(sa.select(SigninChallenge).where(SigninChallenge.challenge_hash == digest))
    if row is None or row.device_id != device.id:
        raise _refuse(device, ip, "挑战码无效", Unauthorized(msg.CHALLENGE_INVALID, code="challenge_invalid"))
    if row.used_at is not None:
        raise _refuse(device, ip, "挑战码已使用", Unauthorized(msg.CHALLENGE_INVALID, code="challenge_used"))
    raise _refuse(device, ip, "挑战码已过期", Unauthorized(msg.CHALLENGE_EXPIRED, code="challenge_expired"))


def parse_signed_reading(device: KioskDevice, payload: str, signature: str, ip: str | None) -> dict[str, Any]:
    """The reading behind a valid signature of this kiosk's key, in canonical form, naming this
    kiosk; refused otherwise (401 for the signature, 400 for the form)."""
    if device.public_key is None:
        raise Forbidden(msg.DEVICE_KEY_MISSING, code="device_key_missing")
    if not isinstance(payload, str) or not isinstance(signature, str):
        raise ApiError(msg.READING_INVALID, code="reading_invalid")
    message = payload.encode("utf-8", errors="replace")
    if len(message) > signing.MAX_PAYLOAD_BYTES or len(signature) > signing.MAX_SIGNATURE_CHARS:
        raise ApiError(msg.READING_INVALID, code="reading_invalid")
    if not signing.verify(device.public_key, message, signature):
        raise _refuse(
            device, ip, "读卡签名无效", Unauthorized(msg.READING_SIGNATURE_INVALID, code="reading_signature_invalid")
        )
    try:
        data = json.loads(payload)
    except ValueError:
        data = None
    if (
        not isinstance(data, dict)
        or set(data) != signing.FIELDS
        or data["type"] != signing.PAYLOAD_TYPE
        or signing.canonical(data) != message
        or not isinstance(data["challenge"], str)
        or data["device"] != device.code
    ):
        raise ApiError(msg.READING_INVALID, code="reading_invalid")
    return data


def _card_of(data: dict[str, Any]) -> CardReading:
    valid_until = data["valid_until"]
    try:
        until = None if valid_until in (None, "", "长期") else dt.date.fromisoformat(str(valid_until))
    except ValueError as exc:
        raise ApiError(msg.READING_INVALID, code="reading_invalid") from exc
    score = data["face_score"]
    return CardReading(
        id_number=str(data["id_number"] or ""),
        name=str(data["name"] or ""),
        face_result=data["face_result"] if data["face_result"] in FACE_RESULTS else "not_done",
        face_score=float(score) if isinstance(score, int | float) and not isinstance(score, bool) else None,
        valid_until=until,
        reader=str(data["reader"] or "")[:100],
    )


def sign_in_with_signed_reading(
    device: KioskDevice, payload: str, signature: str, *, ip: str | None = None, now: dt.datetime | None = None
) -> tuple[str, KioskSession]:
    """Sign in whoever an ID-card reading names, when the agent of this kiosk signed it over a
    challenge the platform gave this kiosk, the face comparison passed (KIOSK_FACE_MATCH_REQUIRED)
    and the chip's name agrees with the person's verified name, if any."""
    now = now or utcnow()
    data = parse_signed_reading(device, payload, signature, ip)
    _consume_challenge(device, data["challenge"], now, ip)
    card = _card_of(data)
    try:
        name, number = check_card(card, local_date(now))
    except ApiError as exc:
        if exc.code == "card_expired":
            raise _refuse(device, ip, "证件过期", exc) from None
        raise
    face = card.face_result
    if settings().KIOSK_FACE_MATCH_REQUIRED and face != "pass":
        # The refusal is logged (masked number only: the card may not be the holder's).
        raise _refuse(
            device,
            ip,
            "人脸比对未通过",
            Forbidden(msg.FACE_NOT_PASSED, code="face_not_passed"),
            face=face,
            id_number=mask_id_number(number),
        )
    # The chip's name, read by an enrolled kiosk and signed, is a verified source.
    subject = verified_person(kiosk_actor(device, None, ip), number, name, NameSource.KIOSK_CARD, now=now)
    if subject is None:
        raise _refuse(
            device,
            ip,
            "姓名与已核验姓名不一致",
            Forbidden(msg.CARD_NAME_MISMATCH, code="card_name_mismatch"),
            id_number=mask_id_number(number),
        )
    return _open_session(device, subject, SignInMethod.ID_CARD, face, now, ip)


def new_login_ticket(device: KioskDevice, *, now: dt.datetime | None = None) -> tuple[str, int]:
    """A one-time sign-in ticket for the QR code (backend/citizens/tickets.py)."""
    ticket, row = create_kiosk_login_ticket(device.code, now=now)
    return ticket, int((row.expires_at - row.created_at).total_seconds())


def sign_in_with_ticket(
    device: KioskDevice, ticket: str, *, ip: str | None = None, now: dt.datetime | None = None
) -> tuple[str, KioskSession] | None:
    """None while the ticket is not confirmed in the mini-program yet; NotFound (expired,
    unknown, another kiosk's) or Conflict (already used) refuse it."""
    now = now or utcnow()
    if not ticket or len(ticket) > 200:
        raise NotFound(msg.TICKET_WRONG, code="ticket_invalid")
    subject_id = consume_kiosk_login(ticket, device.code, now=now)
    if subject_id is None:
        return None
    subject = db.session.get(Subject, subject_id)
    assert subject is not None
    return _open_session(device, subject, SignInMethod.MP_SCAN, None, now, ip)


def current_session(device: KioskDevice, token: str | None, *, now: dt.datetime | None = None) -> KioskSession | None:
    """The live session of this cookie at this device, or None. A session past its idle timeout
    or hard cap is ended here, so the server never relies on the page's countdown alone."""
    if not token or len(token) > 200:
        return None
    now = now or utcnow()
    session = db.session.scalar(sa.select(KioskSession).where(KioskSession.token_hash == _hash(token)))
    if session is None or session.ended_at is not None or session.device_id != device.id:
        return None
    idle = dt.timedelta(seconds=int(settings().KIOSK_IDLE_TIMEOUT_SECONDS))
    cap = dt.timedelta(minutes=int(settings().KIOSK_SESSION_MAX_MINUTES))
    if now - session.last_seen_at > idle:
        end_session(device, session, "idle", now=now)
        return None
    if now - session.started_at > cap:
        end_session(device, session, "max", now=now)
        return None
    return session


def touch_session(session: KioskSession, now: dt.datetime | None = None) -> None:
    session.last_seen_at = now or utcnow()
    db.session.flush()


def end_session(
    device: KioskDevice,
    session: KioskSession,
    reason: str,
    *,
    ip: str | None = None,
    now: dt.datetime | None = None,
) -> None:
    if session.ended_at is not None:
        return
    session.ended_at = now or utcnow()
    session.end_reason = reason[:20]
    db.session.flush()
    record_event(
        kiosk_actor(device, session, ip),
        "kiosk.signout",
        target=session,
        subject_id=session.subject_id,
        details={"device": device.code, "reason": reason},
    )


def _end_open_sessions(device: KioskDevice, reason: str, now: dt.datetime) -> None:
    for session in db.session.scalars(
        sa.select(KioskSession).where(KioskSession.device_id == device.id, KioskSession.ended_at.is_(None))
    ):
        end_session(device, session, reason, now=now)


# --- what a signed-in citizen sees (the owner's view: backend/citizens/own.py) -------------


def own_subject_ids(session: KioskSession) -> list[int]:
    return [session.subject_id, *[int(s) for s in session.represents or ()]]


def _owner(session: KioskSession) -> Actor:
    """The session's citizen, for ownership checks (audited operations get ``kiosk_actor``)."""
    ident = CitizenIdentity(session.subject_id, frozenset(int(s) for s in session.represents or ()))
    return Actor("citizen", str(session.subject_id), f"citizen-{session.subject_id}", "kiosk", None, ident)


def list_own_records(actor: Actor, device: KioskDevice, session: KioskSession) -> dict[int, list[CreditRecord]]:
    """The citizen's records and those of the enterprises they act for; the read is audited."""
    return own.list_own_records(actor, details={"device": device.code, "subjects": own_subject_ids(session)})


def get_own_record(session: KioskSession, record_id: int) -> CreditRecord:
    """A record of the citizen or an enterprise they act for; 404 for anything else."""
    return own.get_own_record(_owner(session), record_id)


def applicant_for(session: KioskSession, record: CreditRecord) -> Applicant:
    """Who files, from the verified identity only; a record of an enterprise the citizen no
    longer acts for is not found (the kiosk lists only their own)."""
    try:
        return own.applicant_for(_owner(session), record)
    except Forbidden:
        raise NotFound(msg.RECORD_NOT_FOUND, code="record_not_found") from None


# --- printing ------------------------------------------------------------------------------


def prints_today(subject_id: int, now: dt.datetime | None = None) -> int:
    """Reports counted against this person's free prints today, at any kiosk: every job created
    today whose document was handed out, or may still be (pending, not stale). What the agent
    says after the hand-out does not matter: a report that left the platform may have printed."""
    now = now or utcnow()
    start, end = _local_day_bounds(local_date(now))
    stale = now - dt.timedelta(minutes=int(settings().KIOSK_PRINT_JOB_MINUTES))
    return int(
        db.session.scalar(
            sa.select(sa.func.count())
            .select_from(PrintJob)
            .where(
                PrintJob.subject_id == subject_id,
                PrintJob.document == PrintDocument.REPORT,
                PrintJob.created_at >= start,
                PrintJob.created_at < end,
                sa.or_(
                    PrintJob.sent_at.is_not(None),
                    sa.and_(PrintJob.state == PrintJobState.PENDING, PrintJob.created_at > stale),
                ),
            )
        )
        or 0
    )


def job_counted(job: PrintJob) -> bool:
    """Whether this job counts against the free prints: its document left the platform."""
    return job.document is PrintDocument.REPORT and job.sent_at is not None


def start_report_print(
    actor: Actor,
    device: KioskDevice,
    session: KioskSession,
    subject: Subject,
    kind: str,
    *,
    now: dt.datetime | None = None,
) -> tuple[PrintJob, Issued]:
    """Issue a report through the one ``issue_report`` and queue it for this kiosk's printer."""
    now = now or utcnow()
    if subject.id not in own_subject_ids(session):
        raise Forbidden(msg.REPORT_NOT_ALLOWED, code="report_forbidden")
    limit = int(settings().KIOSK_FREE_PRINTS_PER_DAY)
    # Serialise one person's print requests (row lock on PostgreSQL) so two taps cannot both
    # pass the daily limit.
    db.session.execute(sa.select(Subject.id).where(Subject.id == session.subject_id).with_for_update())
    if prints_today(session.subject_id, now) >= limit:
        raise ApiError(msg.FREE_PRINTS_USED.format(limit=limit), code="free_prints_used", status=429)
    issued = issue_report(actor, subject, kind, channel="kiosk", now=now)
    job = PrintJob(
        device_id=device.id,
        session_id=session.id,
        subject_id=session.subject_id,
        document=PrintDocument.REPORT,
        report_id=issued.report.id,
        state=PrintJobState.PENDING,
        created_at=now,
    )
    db.session.add(job)
    db.session.flush()
    record_event(
        actor,
        "kiosk.print.start",
        target=job,
        subject_id=subject.id,
        details={"device": device.code, "document": "report", "number": issued.report.number, "kind": kind},
    )
    return job, issued


def start_receipt_print(
    actor: Actor, device: KioskDevice, session: KioskSession, case: Any, *, now: dt.datetime | None = None
) -> PrintJob:
    job = PrintJob(
        device_id=device.id,
        session_id=session.id,
        subject_id=session.subject_id,
        document=PrintDocument.RECEIPT,
        case_number=case.number,
        state=PrintJobState.PENDING,
        created_at=now or utcnow(),
    )
    db.session.add(job)
    db.session.flush()
    record_event(
        actor,
        "kiosk.print.start",
        target=job,
        subject_id=case.subject_id,
        details={"device": device.code, "document": "receipt", "number": case.number},
    )
    return job


def get_device_job(device: KioskDevice, job_id: int) -> PrintJob:
    job = db.session.get(PrintJob, job_id)
    if job is None or job.device_id != device.id:
        raise NotFound(msg.PRINT_JOB_NOT_FOUND, code="print_job_not_found")
    return job


def take_print_document(
    actor: Actor, device: KioskDevice, session: KioskSession, job: PrintJob, *, now: dt.datetime | None = None
) -> bytes:
    """The file of a pending job, once, for the session that asked for it (the agent fetches it
    with the citizen's cookie and prints it)."""
    if job.session_id != session.id:
        raise NotFound(msg.PRINT_JOB_NOT_FOUND, code="print_job_not_found")
    now = now or utcnow()
    # A job left pending past KIOSK_PRINT_JOB_MINUTES stopped counting: its document is not
    # handed out any more (it would print a report the free-print limit no longer sees).
    stale = now - dt.timedelta(minutes=int(settings().KIOSK_PRINT_JOB_MINUTES))
    claimed = db.session.execute(
        sa.update(PrintJob)
        .where(PrintJob.id == job.id, PrintJob.state == PrintJobState.PENDING, PrintJob.created_at > stale)
        .values(state=PrintJobState.SENT, sent_at=now)
        .execution_options(synchronize_session=False)
    ).rowcount
    if claimed != 1:
        raise Conflict(msg.PRINT_JOB_TAKEN, code="print_job_taken")
    db.session.refresh(job)
    if job.document is PrintDocument.REPORT:
        report = db.session.get(IssuedReport, job.report_id)
        assert report is not None
        return read_report_pdf(actor, report, reason="自助终端打印")
    return receipt_pdf(device, get_own_case(actor, job.case_number or ""))


def receipt_pdf(device: KioskDevice, case: Any) -> bytes:
    kind = case.CASE_TYPE
    letter = Letter(
        title=msg.RECEIPT_TITLES[kind],
        body=msg.RECEIPT_BODY.format(kind=msg.KIND_LABELS[kind], number=case.number),
        facts=(
            ("申请编号（查询码）", case.number),
            ("申请事项", msg.KIND_LABELS[kind]),
            ("信用主体", case.record.subject.display_name),
            ("申请人", case.applicant_name_masked),
            ("提交时间", local_time_text(case.filed_at)),
            ("提交渠道", msg.CHANNEL_KIOSK.format(code=device.code, hall=device.hall)),
        ),
        facts_title="申请信息",
        reference=case.number,
        issuer=msg.RECEIPT_ISSUER,
    )
    return render_letter(letter)


def finish_print_job(
    device: KioskDevice,
    job: PrintJob,
    *,
    ok: bool,
    printer_queue: str | None,
    cups_job_id: str | None,
    pages: int | None,
    error: str | None,
    printer_state: str | None,
    now: dt.datetime | None = None,
) -> PrintJob:
    """The agent's report on a job. A failure names the printer state, which the fleet page shows
    at once (not only after the next heartbeat). A failure reported before the document was
    fetched cancels the job (it is not counted: nothing left the platform); after the hand-out
    it is recorded as the agent says, and the job stays counted. The paper counter comes with the
    heartbeat: the agent is the one that counts sheets."""
    if job.state not in (PrintJobState.SENT, PrintJobState.PENDING):
        raise Conflict(msg.PRINT_JOB_FINISHED, code="print_job_finished")
    if ok and job.state is PrintJobState.PENDING:
        raise Conflict(msg.PRINT_JOB_NOT_SENT, code="print_job_not_sent")
    now = now or utcnow()
    job.state = PrintJobState.DONE if ok else PrintJobState.FAILED
    job.printer_queue = (printer_queue or "")[:100] or None
    job.cups_job_id = (cups_job_id or "")[:100] or None
    job.pages = pages if pages is None or pages >= 0 else None
    job.error = None if ok else (error or "")[:300] or None
    job.finished_at = now
    state = parse_printer_state(printer_state) if printer_state else None
    if state is not None:
        device.printer_state = state
        device.printer_message = None if state is PrinterState.READY else job.error
    if printer_queue:
        device.printer_queue = printer_queue[:100]
    db.session.flush()
    record_event(
        Actor("kiosk", device.code, f"kiosk@{device.code}", "kiosk"),
        "kiosk.print.done" if ok else "kiosk.print.failed",
        target=job,
        subject_id=job.subject_id,
        details={
            "device": device.code,
            "document": job.document.value,
            "printer": job.printer_queue,
            "cups_job": job.cups_job_id,
            "pages": job.pages,
            "printer_state": state.value if state else None,
            "error": job.error,
        },
    )
    return job


def citizen_failure_message(printer_state: str | None, counted: bool = False) -> str:
    texts = msg.PRINT_FAILED_AFTER_SENT if counted else msg.PRINT_FAILED_FOR_CITIZEN
    return texts.get(printer_state or "unknown", texts["unknown"])


def subjects_by_id(ids: Iterable[int]) -> dict[int, Subject]:
    ids = list(ids)
    if not ids:
        return {}
    return {s.id: s for s in db.session.scalars(sa.select(Subject).where(Subject.id.in_(ids)))}
