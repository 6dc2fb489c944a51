"""The WeChat channel's own operations: sessions, identity and enterprise bindings, kiosk
sign-in tickets, subscriptions, and what a citizen may see. Flush, never commit.

Business rules of objections, repairs, commitments, materials and reports are not here: the
views call the workflow and report operations with the actor built in ``auth.actor_for``.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from flask import current_app

from backend.actors import Actor, CitizenIdentity
from backend.audit.operations import record_event
from backend.errors import ApiError, Conflict, Forbidden, NotFound
from backend.extensions import db
from backend.identifiers import IdentifierError, validate_id_number, validate_uscc
from backend.issued_reports.content import OWNER_STATUSES
from backend.issued_reports.models import IssuedReport, ReportStatus
from backend.outbox.models import OutboxEvent
from backend.outbox.operations import enqueue_event
from backend.pii import cipher, mask_id_number
from backend.records.models import CreditRecord
from backend.records.operations import find_natural_subject, new_natural_subject_row
from backend.subjects.models import NameSource, Subject, SubjectKind
from backend.subjects.names import record_verified_name
from backend.types import utcnow
from backend.workflows.cases import Applicant, ApplicantKind, actor_key
from backend.workflows.materials.models import Material, MaterialPurpose
from backend.workflows.materials.operations import check_materials, stored_bytes

from . import messages as msg
from .auth import hash_token, new_token, session_hours
from .face import CERT_TYPE_ID_CARD, VERIFY_PASSED, cert_hash
from .models import (
    BindingMethod,
    BindingStatus,
    EnterpriseBinding,
    FaceVerification,
    FaceVerificationOutcome,
    FaceVerifySession,
    KioskLoginTicket,
    MpSession,
    MpSubscription,
    WeChatUser,
)

SUBSCRIPTION_ANSWERS = ("accept", "reject", "ban", "filter")


# --- sessions ------------------------------------------------------------------------------


def open_session(
    appid: str,
    openid: str,
    *,
    unionid: str | None = None,
    session_key: str | None = None,
    ip: str | None = None,
    now: dt.datetime | None = None,
) -> tuple[str, MpSession]:
    """After code2session: find or create the user and issue a bearer token (returned once)."""
    now = now or utcnow()
    user = db.session.scalar(sa.select(WeChatUser).where(WeChatUser.appid == appid, WeChatUser.openid == openid))
    if user is None:
        user = WeChatUser(appid=appid, openid=openid, created_at=now)
        db.session.add(user)
    user.unionid = unionid or user.unionid
    user.last_login_at = now
    if session_key:
        user.session_key_encrypted = cipher().encrypt(session_key, f"wechat.session_key:{openid}")
    db.session.flush()
    token = new_token()
    session = MpSession(
        token_hash=hash_token(token),
        user_id=user.id,
        created_at=now,
        expires_at=now + dt.timedelta(hours=session_hours()),
        ip=(ip or "")[:45] or None,
    )
    db.session.add(session)
    db.session.flush()
    return token, session


def revoke_session(session: MpSession, now: dt.datetime | None = None) -> None:
    session.revoked_at = session.revoked_at or now or utcnow()
    db.session.flush()


# --- identity (face verification) ----------------------------------------------------------


OUT_SEQ_NO_PREFIX = "cjface"  # + 24 hex characters: 30 of getverifyid's 5-32 [0-9A-Za-z_-]


def verify_id_hash(verify_id: str) -> str:
    return hashlib.sha256(verify_id.encode("utf-8")).hexdigest()


def new_out_seq_no() -> str:
    """A fresh ``out_seq_no`` for getverifyid (unique per AppID, WeChat's rule): random, so it
    says nothing about the user and never repeats across processes."""
    return OUT_SEQ_NO_PREFIX + secrets.token_hex(12)


def check_claim(name: str, id_number: str) -> tuple[str, str]:
    name = (name or "").strip()
    if not name or len(name) > 50:
        raise ApiError(msg.NAME_INVALID, code="name_invalid", status=422)
    try:
        number = validate_id_number(id_number)
    except IdentifierError as exc:
        raise ApiError(msg.ID_NUMBER_INVALID.format(reason=exc.message), code="id_number_invalid", status=422) from exc
    return name, number


def check_can_bind(user: WeChatUser, id_number: str) -> None:
    """An account verified as one person cannot become another (asked before any face scan)."""
    if user.subject_id is None:
        return
    subject = find_natural_subject(id_number)
    if subject is None or subject.id != user.subject_id:
        raise Conflict(msg.ALREADY_BOUND_OTHER, code="already_bound_other")


def _claim_context(out_seq_no: str) -> str:
    return f"wechat.face_claim:{out_seq_no}"


def start_face_verification(
    user: WeChatUser,
    name: str,
    id_number: str,
    out_seq_no: str,
    verify_id: str,
    expires_in: int,
    *,
    now: dt.datetime | None = None,
) -> FaceVerifySession:
    """Keep the session getverifyid opened for this user: the verify_id hashed, the claimed
    name and number encrypted (queryverifyinfo needs their cert_hash; a pass binds them)."""
    now = now or utcnow()
    name, number = check_claim(name, id_number)
    claim = json.dumps({"name": name, "id_number": number}, ensure_ascii=False)
    session = FaceVerifySession(
        user_id=user.id,
        verify_id_hash=verify_id_hash(verify_id),
        out_seq_no=out_seq_no,
        claim_encrypted=cipher().encrypt(claim, _claim_context(out_seq_no)),
        # WeChat's validity, capped at its documented 3600 s.
        expires_at=now + dt.timedelta(seconds=max(0, min(int(expires_in or 3600), 3600))),
        created_at=now,
    )
    db.session.add(session)
    db.session.flush()
    return session


def find_face_session(user: WeChatUser, verify_id: str, *, now: dt.datetime | None = None) -> FaceVerifySession:
    """The user's own, unused, unexpired session of this verify_id; another user's is unknown."""
    now = now or utcnow()
    session = db.session.scalar(
        sa.select(FaceVerifySession).where(FaceVerifySession.verify_id_hash == verify_id_hash(verify_id))
    )
    if session is None or session.user_id != user.id:
        raise ApiError(msg.FACE_RESULT_INVALID, code="face_result_invalid", status=422)
    if session.used_at is not None:
        raise Conflict(msg.FACE_RESULT_USED, code="face_result_used")
    if session.expires_at <= now:
        raise ApiError(msg.FACE_RESULT_INVALID, code="face_result_invalid", status=422)
    return session


def face_session_claim(session: FaceVerifySession) -> tuple[str, str]:
    """The claimed (name, ID number) of a session; never logged."""
    data = json.loads(cipher().decrypt(session.claim_encrypted, _claim_context(session.out_seq_no)))
    return data["name"], data["id_number"]


def face_cert_hash(session: FaceVerifySession) -> str:
    name, number = face_session_claim(session)
    return cert_hash(CERT_TYPE_ID_CARD, name, number)


def verify_identity(
    actor: Actor,
    user: WeChatUser,
    session: FaceVerifySession,
    answer: Mapping[str, Any],
    *,
    now: dt.datetime | None = None,
) -> FaceVerification:
    """Record queryverifyinfo's answer for this session and, on a pass (errcode 0 and
    verify_ret 10000), bind the claimed natural person to the user.

    The verify_id is spent whatever the outcome (the session's ``used_at`` and the unique hash of
    the attempt); every attempt is audited with the claimed number masked. The caller commits and
    then refuses anything but PASSED, so a failed scan is kept even though refused.
    """
    now = now or utcnow()
    if session.used_at is not None:
        raise Conflict(msg.FACE_RESULT_USED, code="face_result_used")
    name, number = face_session_claim(session)
    verify_ret = _int(answer.get("verify_ret"))
    passed = _int(answer.get("errcode") or 0) == 0 and verify_ret == VERIFY_PASSED
    outcome = FaceVerificationOutcome.PASSED if passed else FaceVerificationOutcome.FAILED
    subject: Subject | None = None
    if passed:
        check_can_bind(user, number)
        # WeChat compared this face with this name and number (cert_hash): a verified source.
        subject = ensure_natural_subject(number, name, actor=actor, now=now)
    session.used_at = now
    attempt = FaceVerification(
        user_id=user.id,
        verify_result_hash=session.verify_id_hash,
        outcome=outcome,
        identify_ret=verify_ret,
        identify_time=None,
        subject_id=subject.id if subject else None,
        created_at=now,
    )
    db.session.add(attempt)
    if subject is not None:
        user.subject_id = subject.id
        user.verified_at = now
    db.session.flush()
    record_event(
        actor,
        "mp.identity.verify",
        target=attempt,
        subject_id=subject.id if subject else None,
        reason="人脸核身",
        details={
            "outcome": outcome.value,
            "verify_ret": verify_ret,
            # A refused claim may be someone else's identity: only its masked form is kept.
            "claimed_id_number": mask_id_number(number),
            "user": user.id,
        },
    )
    return attempt


def ensure_natural_subject(
    id_number: str, name: str, *, actor: Actor | None = None, now: dt.datetime | None = None
) -> Subject:
    """The natural-person subject of this ID number, created when the person has no records yet
    (a verified person may still ask for their, empty, personal report).

    With ``actor`` the name is the one WeChat face verification confirmed: a verified source,
    which replaces an unverified name (a department's, or one written before sources were kept)
    and never a verified one (a disagreement is flagged for staff: backend/subjects/names.py)."""
    now = now or utcnow()
    subject = find_natural_subject(id_number)
    if subject is None:
        db.session.execute(sa.insert(Subject), [new_natural_subject_row(id_number, name)])
        subject = find_natural_subject(id_number)
        assert subject is not None
        if actor is not None:
            subject.name_source = NameSource.WECHAT_FACE
            subject.name_verified_at = now
            db.session.flush()
        return subject
    if actor is not None:
        record_verified_name(actor, subject, name, NameSource.WECHAT_FACE, now=now)
    return subject


def _int(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


# --- enterprise bindings -------------------------------------------------------------------


def find_enterprise(uscc: str) -> Subject:
    try:
        code = validate_uscc(uscc, current_app.extensions["settings"].USCC_LEGACY_ALLOWLIST).code
    except IdentifierError as exc:
        raise ApiError(exc.message, code="invalid_uscc", details=exc.as_details()) from exc
    subject = db.session.scalar(sa.select(Subject).where(Subject.uscc == code, Subject.kind == SubjectKind.LEGAL))
    if subject is None:
        raise NotFound(msg.ENTERPRISE_NOT_FOUND, code="subject_not_found")
    return subject


def bind_enterprise(
    actor: Actor,
    user: WeChatUser,
    uscc: str,
    method: BindingMethod,
    *,
    material_id: int | None = None,
    now: dt.datetime | None = None,
) -> EnterpriseBinding:
    """A verified person binds an enterprise: at once when their own ID number is the registered
    法定代表人证件号码 (compared by keyed hash; a name proves nothing, two people share it), or
    after staff review of an uploaded authorisation letter. An enterprise whose registering
    department has not sent the representative's number can be bound by letter only."""
    assert user.subject_id is not None and user.subject is not None
    now = now or utcnow()
    enterprise = find_enterprise(uscc)
    live = db.session.scalar(
        sa.select(EnterpriseBinding.id).where(
            EnterpriseBinding.user_id == user.id,
            EnterpriseBinding.subject_id == enterprise.id,
            EnterpriseBinding.status.in_((BindingStatus.ACTIVE, BindingStatus.PENDING_REVIEW)),
        )
    )
    if live is not None:
        raise Conflict(msg.BINDING_EXISTS, code="binding_exists")
    if method is BindingMethod.LEGAL_REPRESENTATIVE:
        registered = enterprise.legal_representative_id_number_hash
        verified = user.subject.id_number_hash or ""
        refusal = None
        if not registered:
            refusal = ("no_registered_id", msg.REPRESENTATIVE_ID_UNKNOWN, "representative_id_unknown")
        elif not hmac.compare_digest(registered.encode(), verified.encode()):
            refusal = ("id_mismatch", msg.NOT_LEGAL_REPRESENTATIVE, "not_legal_representative")
        if refusal is not None:
            record_event(
                actor,
                "mp.enterprise.bind_refused",
                target=enterprise,
                subject_id=user.subject_id,
                details={"uscc": enterprise.uscc, "method": method.value, "reason": refusal[0]},
            )
            raise Forbidden(refusal[1], code=refusal[2])
        status = BindingStatus.ACTIVE
    else:
        if material_id is None:
            raise ApiError(msg.LETTER_REQUIRED, code="letter_required")
        (material,) = check_materials(actor, [material_id])
        if material.purpose is not MaterialPurpose.AUTHORISATION:
            raise ApiError(msg.LETTER_NOT_AUTHORISATION, code="letter_required")
        status = BindingStatus.PENDING_REVIEW
    binding = EnterpriseBinding(
        user_id=user.id,
        person_subject_id=user.subject_id,
        subject_id=enterprise.id,
        method=method,
        status=status,
        material_id=material_id if method is BindingMethod.AUTHORISATION_LETTER else None,
        created_at=now,
    )
    db.session.add(binding)
    db.session.flush()
    record_event(
        actor,
        "mp.enterprise.bind",
        target=binding,
        subject_id=user.subject_id,
        details={"uscc": enterprise.uscc, "method": method.value, "status": status.value},
    )
    return binding


REVIEWABLE_STATUSES = (BindingStatus.PENDING_REVIEW, BindingStatus.SUSPENDED)


def review_enterprise_binding(
    actor: Actor,
    binding: EnterpriseBinding,
    approve: bool,
    reason: str | None = None,
    *,
    now: dt.datetime | None = None,
) -> EnterpriseBinding:
    """Platform staff decide on an authorisation letter, or on a suspended legal-representative
    binding after checking the representative offline (console: miniprogram_api/console_views.py);
    a rejection needs a reason, which the applicant's binding keeps."""
    from backend.workflows.cases import is_platform_staff

    if not is_platform_staff(actor):
        raise Forbidden("只有平台管理员可以审核企业授权", code="forbidden")
    if binding.status not in REVIEWABLE_STATUSES:
        raise Conflict(msg.BINDING_REVIEWED, code="binding_reviewed")
    text = (reason or "").strip()
    if not approve and not text:
        raise ApiError("驳回须填写理由", code="reason_required")
    was = binding.status
    if approve and was is BindingStatus.SUSPENDED:
        # The holder may have bound again meanwhile: one live binding per user and enterprise.
        live = db.session.scalar(
            sa.select(EnterpriseBinding.id).where(
                EnterpriseBinding.user_id == binding.user_id,
                EnterpriseBinding.subject_id == binding.subject_id,
                EnterpriseBinding.id != binding.id,
                EnterpriseBinding.status.in_((BindingStatus.ACTIVE, BindingStatus.PENDING_REVIEW)),
            )
        )
        if live is not None:
            raise Conflict(msg.BINDING_EXISTS, code="binding_exists")
    binding.status = BindingStatus.ACTIVE if approve else BindingStatus.REJECTED
    binding.reviewed_at = now or utcnow()
    binding.reviewed_by_label = actor.label[:100]
    binding.review_reason = text[:500] or None
    db.session.flush()
    record_event(
        actor,
        "mp.enterprise.review",
        target=binding,
        subject_id=binding.person_subject_id,
        reason=text[:200] or None,
        details={"approved": approve, "enterprise": binding.subject_id, "was": was.value},
    )
    return binding


def revoke_enterprise_binding(actor: Actor, user: WeChatUser, binding_id: int) -> EnterpriseBinding:
    binding = db.session.get(EnterpriseBinding, binding_id)
    if binding is None or binding.user_id != user.id:
        raise NotFound(msg.BINDING_NOT_FOUND, code="binding_not_found")
    if binding.status in (BindingStatus.ACTIVE, BindingStatus.PENDING_REVIEW):
        binding.status = BindingStatus.REVOKED
        db.session.flush()
        record_event(actor, "mp.enterprise.unbind", target=binding, subject_id=binding.person_subject_id)
    return binding


def list_bindings(user: WeChatUser) -> list[EnterpriseBinding]:
    return list(
        db.session.scalars(
            sa.select(EnterpriseBinding).where(EnterpriseBinding.user_id == user.id).order_by(EnterpriseBinding.id)
        )
    )


# --- what a citizen may see and act on -----------------------------------------------------


def identity_of(actor: Actor) -> CitizenIdentity:
    ident = actor.obj
    if not isinstance(ident, CitizenIdentity):
        raise Forbidden(msg.IDENTITY_REQUIRED, code="identity_required")
    return ident


def own_subject_ids(actor: Actor) -> set[int]:
    ident = identity_of(actor)
    return {ident.subject_id, *ident.represents}


def list_own_records(actor: Actor, subject_id: int) -> list[CreditRecord]:
    """A subject's records as its owner sees them (published or not); every read is audited."""
    if subject_id not in own_subject_ids(actor):
        raise NotFound(msg.ENTERPRISE_NOT_FOUND, code="subject_not_found")
    records = list(
        db.session.scalars(
            sa.select(CreditRecord)
            .where(CreditRecord.subject_id == subject_id, CreditRecord.status.in_(OWNER_STATUSES))
            .order_by(CreditRecord.decision_date.desc(), CreditRecord.id.desc())
        )
    )
    record_event(
        actor,
        "mp.records.view",
        target_type="subject",
        target_id=subject_id,
        subject_id=subject_id,
        reason="本人查询" if subject_id == identity_of(actor).subject_id else "企业代办查询",
        details={"count": len(records)},
    )
    return records


def get_actionable_record(actor: Actor, record_id: int) -> CreditRecord:
    """A record of the citizen or of an enterprise they act for; 404 for anything else (the
    answer does not tell whether someone else's record exists)."""
    record = db.session.get(CreditRecord, record_id)
    if record is None or record.subject_id not in own_subject_ids(actor):
        raise NotFound(msg.RECORD_NOT_FOUND, code="record_not_found")
    return record


def applicant_for(actor: Actor, user: WeChatUser, record: CreditRecord) -> Applicant:
    """Who files, from the verified identity (never from what the client says)."""
    ident = identity_of(actor)
    person = user.subject
    assert person is not None
    name, number = person.reveal_name(), person.reveal_id_number()
    if record.subject_id == ident.subject_id:
        return Applicant(ApplicantKind.SELF, name, number)
    method = db.session.scalar(
        sa.select(EnterpriseBinding.method).where(
            EnterpriseBinding.user_id == user.id,
            EnterpriseBinding.subject_id == record.subject_id,
            EnterpriseBinding.status == BindingStatus.ACTIVE,
        )
    )
    if method is None:
        raise Forbidden(msg.NOT_REPRESENTATIVE, code="not_representative")
    kind = ApplicantKind.LEGAL_REPRESENTATIVE if method is BindingMethod.LEGAL_REPRESENTATIVE else ApplicantKind.AGENT
    return Applicant(kind, name, number)


def list_cases(model: type, actor: Actor) -> list[Any]:
    return list(
        db.session.scalars(
            sa.select(model).where(model.applicant_key == actor_key(actor)).order_by(model.filed_at.desc(), model.id)
        )
    )


def get_case_for(actor: Actor, getter: Any, number: str) -> Any:
    """The case behind a query code, if this citizen filed it; 404 otherwise (not 403: a valid
    code of someone else's case is not confirmed)."""
    try:
        case = getter(number)
    except NotFound:
        raise NotFound(msg.CASE_NOT_FOUND, code="case_not_found") from None
    if not case.is_applicant(actor):
        raise NotFound(msg.CASE_NOT_FOUND, code="case_not_found")
    return case


def audit_case_view(actor: Actor, case: Any) -> None:
    record_event(
        actor,
        f"mp.{case.CASE_TYPE}.view",
        target=case,
        subject_id=case.subject_id,
        reason="申请人查询",
        details={"number": case.number},
    )


def list_reports(actor: Actor) -> list[IssuedReport]:
    subjects = own_subject_ids(actor)
    reports = list(
        db.session.scalars(
            sa.select(IssuedReport)
            .where(IssuedReport.subject_id.in_(subjects))
            .order_by(IssuedReport.issued_at.desc(), IssuedReport.id.desc())
            .limit(200)
        )
    )
    record_event(
        actor,
        "mp.reports.list",
        target_type="subject",
        target_id=identity_of(actor).subject_id,
        subject_id=identity_of(actor).subject_id,
        details={"count": len(reports)},
    )
    return reports


def get_own_report(actor: Actor, number: str) -> IssuedReport:
    report = db.session.scalar(sa.select(IssuedReport).where(IssuedReport.number == (number or "").strip().upper()))
    if report is None or report.subject_id not in own_subject_ids(actor):
        raise NotFound(msg.REPORT_NOT_FOUND, code="report_not_found")
    return report


# --- kiosk sign-in -------------------------------------------------------------------------


def _ticket_hash(ticket: str) -> str:
    return hashlib.sha256(("kiosk-login\x00" + (ticket or "")).encode()).hexdigest()


def create_kiosk_login_ticket(device_ref: str, *, now: dt.datetime | None = None) -> tuple[str, KioskLoginTicket]:
    """For the kiosk side: a new ticket to show as a QR code (the clear ticket is returned once)."""
    now = now or utcnow()
    ticket = secrets.token_urlsafe(24)
    seconds = int(current_app.extensions["settings"].MP_KIOSK_TICKET_SECONDS)
    row = KioskLoginTicket(
        ticket_hash=_ticket_hash(ticket),
        device_ref=device_ref[:64],
        created_at=now,
        expires_at=now + dt.timedelta(seconds=seconds),
    )
    db.session.add(row)
    db.session.flush()
    return ticket, row


def _live_ticket(ticket: str, now: dt.datetime) -> KioskLoginTicket:
    row = db.session.scalar(
        sa.select(KioskLoginTicket).where(KioskLoginTicket.ticket_hash == _ticket_hash(ticket)).with_for_update()
    )
    if row is None or row.expires_at <= now:
        raise NotFound(msg.TICKET_INVALID, code="ticket_invalid")
    return row


def confirm_kiosk_login(
    actor: Actor, user: WeChatUser, ticket: str, *, now: dt.datetime | None = None
) -> KioskLoginTicket:
    """The verified person confirms the sign-in shown on the kiosk (once, before it expires)."""
    now = now or utcnow()
    ident = identity_of(actor)
    row = _live_ticket(ticket, now)
    # Compare-and-set: of two confirmations of one ticket exactly one passes.
    claimed = db.session.execute(
        sa.update(KioskLoginTicket)
        .where(KioskLoginTicket.id == row.id, KioskLoginTicket.confirmed_at.is_(None))
        .values(confirmed_at=now, confirmed_by_user_id=user.id, subject_id=ident.subject_id)
        .execution_options(synchronize_session=False)
    ).rowcount
    if claimed != 1:
        raise Conflict(msg.TICKET_USED, code="ticket_used")
    db.session.refresh(row)
    record_event(
        actor,
        "mp.kiosk_login.confirm",
        target=row,
        subject_id=ident.subject_id,
        details={"device": row.device_ref},
    )
    return row


def consume_kiosk_login(ticket: str, device_ref: str, *, now: dt.datetime | None = None) -> int | None:
    """For the kiosk side's polling: the confirmed person's subject id, once; None while not
    confirmed yet. A ticket is only good on the device that showed it."""
    now = now or utcnow()
    row = _live_ticket(ticket, now)
    if row.device_ref != device_ref:
        raise NotFound(msg.TICKET_INVALID, code="ticket_invalid")
    if row.consumed_at is not None:
        raise Conflict(msg.TICKET_USED, code="ticket_used")
    if row.confirmed_at is None:
        return None
    taken = db.session.execute(
        sa.update(KioskLoginTicket)
        .where(KioskLoginTicket.id == row.id, KioskLoginTicket.consumed_at.is_(None))
        .values(consumed_at=now)
        .execution_options(synchronize_session=False)
    ).rowcount
    if taken != 1:
        raise Conflict(msg.TICKET_USED, code="ticket_used")
    return row.subject_id


# --- subscribe-message answers -------------------------------------------------------------


def is_acceptance(answer: str) -> bool:
    """WeChat documents "accept"; clients also return variants of it ("acceptWithAudio" when the
    user turned on the voice reminder of a long-term template, "acceptWithAlert",
    "acceptWithForcePush"), reported on developers.weixin.qq.com/community. All are consent."""
    return answer.startswith("accept")


def configured_template_ids() -> set[str]:
    settings = current_app.extensions["settings"]
    return {
        template_id
        for template_id in (
            settings.WECHAT_TEMPLATE_CASE_PROGRESS,
            settings.WECHAT_TEMPLATE_DEADLINE,
            settings.WECHAT_TEMPLATE_REPORT_READY,
        )
        if template_id
    }


@dataclass
class SubscriptionCapture:
    rows: list[MpSubscription]
    ignored: list[dict[str, str]]  # {template_id, answer, reason}: reported, not stored


def record_subscription_answers(
    user: WeChatUser, answers: Mapping[str, Any], *, counts: bool | None = None
) -> SubscriptionCapture:
    """Store what ``wx.requestSubscribeMessage`` returned, as the client returns it: the
    ``errMsg`` entry is skipped, answers for templates this platform does not use and answers
    WeChat does not document are reported back instead of refusing the whole batch.

    Each acceptance is one message grant (one-time subscriptions); with long-term
    subscriptions it stands until the user turns the template off. ``counts`` False records the
    answer without a grant: when the mini-program message push is configured, WeChat's own
    ``subscribe_msg_popup_event`` counts the grant (messages_push.py), not the client's report.
    """
    settings = current_app.extensions["settings"]
    if counts is None:
        counts = not settings.WECHAT_MP_PUSH_TOKEN
    known = configured_template_ids()
    rows: list[MpSubscription] = []
    ignored: list[dict[str, str]] = []
    for template_id, raw in answers.items():
        if template_id == "errMsg":
            continue
        answer = raw if isinstance(raw, str) else str(raw)
        if template_id not in known:
            ignored.append({"template_id": template_id[:64], "answer": answer[:40], "reason": "unknown_template"})
            continue
        if not (is_acceptance(answer) or answer in SUBSCRIPTION_ANSWERS):
            ignored.append({"template_id": template_id, "answer": answer[:40], "reason": "unknown_answer"})
            continue
        rows.append(apply_subscription_answer(user, template_id, answer, grant=counts))
    db.session.flush()
    return SubscriptionCapture(rows, ignored)


def apply_subscription_answer(user: WeChatUser, template_id: str, answer: str, *, grant: bool) -> MpSubscription:
    """One template's answer: an acceptance adds a grant (``grant``), or sets the long-term
    subscription on; any other answer ends a long-term subscription (the user turned it off)."""
    long_term = bool(current_app.extensions["settings"].WECHAT_LONG_TERM_SUBSCRIPTIONS)
    row = db.session.scalar(
        sa.select(MpSubscription).where(MpSubscription.user_id == user.id, MpSubscription.template_id == template_id)
    )
    if row is None:
        row = MpSubscription(user_id=user.id, template_id=template_id[:64], accepted_count=0, last_answer=answer[:20])
        db.session.add(row)
    row.last_answer = answer[:20]
    if is_acceptance(answer):
        if long_term:
            row.accepted_count = max(row.accepted_count or 0, 1)
        elif grant:
            row.accepted_count = (row.accepted_count or 0) + 1
    elif long_term:
        row.accepted_count = 0
    return row


def list_subscriptions(user: WeChatUser) -> list[MpSubscription]:
    return list(
        db.session.scalars(
            sa.select(MpSubscription).where(MpSubscription.user_id == user.id).order_by(MpSubscription.template_id)
        )
    )


# --- subscribe messages queued with the change (sent by notifications.py after commit) ------

REPORT_READY_TOPIC = "report.issued"
REPORT_EXPIRING_TOPIC = "report.expiring"


def queue_report_ready(user: WeChatUser, report: IssuedReport) -> OutboxEvent:
    """Queue the "report ready" message for a report the user just issued in the mini-program,
    in the caller's transaction (no report, no message; no message without the report).

    Only reports issued *in the mini-program* are announced, to the WeChat user who asked for
    them. Reports issued at the counter, the kiosk or by the CLI were handed over on the spot,
    and a person whose subject merely has a bound WeChat user did not ask for them; an enterprise
    report can be issued by anyone, so messaging the enterprise's representatives for each one
    would be noise that tells them who takes an interest. The payload carries ids only.
    """
    return enqueue_event(
        REPORT_READY_TOPIC,
        {"report_id": report.id, "user_id": user.id},
        dedupe_key=f"{REPORT_READY_TOPIC}:{report.id}",
    )


def queue_report_expiry_reminders(today: dt.date) -> int:
    """Queue the "deadline" message for mini-program reports whose validity ends within
    ``WECHAT_REPORT_EXPIRY_REMINDER_DAYS`` days; returns how many were queued now.

    Why this is the applicant-side deadline: no step of an objection or a repair gives the
    applicant a time limit. A returned case (RETURNED) has no deadline at all (DOMAIN.md names
    none; ``workflows.cases.DEADLINE_STATES`` leaves it out: "a returned case waits for the
    applicant"), and the running deadlines (accept, decide, deliver) bind the platform and the
    department, so reminding the applicant of them asks nothing of them; the return itself is
    already announced by the "case_progress" message (需补正). The one date a citizen must act
    before is the end of a report's validity: a report they took in the mini-program (for a
    tender, a loan, a job) stops being accepted after ``valid_until``, and a new one must be
    issued in time. The recipient is the citizen who issued it (looked up when sending).

    Once per report: the event's dedupe key is the report id, so a second run of the job, or a
    second worker, finds the event queued already (the unique key decides a race: the losing
    unit fails and finds the event on its next pass). No column is needed.
    """
    days = int(current_app.extensions["settings"].WECHAT_REPORT_EXPIRY_REMINDER_DAYS)
    reports = db.session.scalars(
        sa.select(IssuedReport)
        .where(
            IssuedReport.status == ReportStatus.VALID,
            IssuedReport.channel == "mp",
            IssuedReport.issued_by_type == "citizen",
            IssuedReport.valid_until >= today,
            IssuedReport.valid_until <= today + dt.timedelta(days=days),
        )
        .order_by(IssuedReport.valid_until, IssuedReport.id)
    ).all()
    queued = 0
    for report in reports:
        key = f"{REPORT_EXPIRING_TOPIC}:{report.id}"
        if db.session.scalar(sa.select(OutboxEvent.id).where(OutboxEvent.dedupe_key == key)) is not None:
            continue
        enqueue_event(
            REPORT_EXPIRING_TOPIC,
            {"report_id": report.id, "valid_until": report.valid_until},
            dedupe_key=key,
        )
        queued += 1
    return queued


# --- staff review of enterprise bindings (the console) -------------------------------------


def get_binding(binding_id: int) -> EnterpriseBinding:
    binding = db.session.get(EnterpriseBinding, binding_id)
    if binding is None:
        raise NotFound(msg.BINDING_NOT_FOUND, code="binding_not_found")
    return binding


def can_read_binding_letter(actor: Actor) -> bool:
    """The authorisation letter names the agent: platform staff (who review it) and auditors."""
    from backend.workflows.cases import is_auditor, is_platform_staff

    return is_platform_staff(actor) or is_auditor(actor)


def read_binding_letter(actor: Actor, binding: EnterpriseBinding) -> tuple[Material, bytes]:
    """The uploaded authorisation letter of a binding, for staff review; every view is audited.

    ``materials.read_material`` serves files attached to a case only: a letter belongs to a
    binding, so it is read here, with the same hash check (never show a file other than the
    one uploaded)."""
    if not can_read_binding_letter(actor):
        raise Forbidden(msg.LETTER_FORBIDDEN, code="forbidden")
    material = db.session.get(Material, binding.material_id) if binding.material_id else None
    if material is None:
        raise NotFound(msg.LETTER_MISSING, code="material_not_found")
    data = stored_bytes(material, msg.LETTER_MISSING)
    record_event(
        actor,
        "mp.enterprise.letter_view",
        target=material,
        subject_id=binding.person_subject_id,
        reason="企业授权审核",
        details={"binding": binding.id, "enterprise": binding.subject_id, "sha256": material.sha256},
    )
    return material, data
