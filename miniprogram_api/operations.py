"""The WeChat channel's own operations: sessions, face verification 2.0's protocol side,
subscriptions and subscribe messages. Flush, never commit.

Who the citizen is, the enterprises they act for, kiosk sign-in tickets and the owner's view of
records, cases and reports belong to the citizens domain (backend/citizens/), which the kiosk
uses too; the functions below that take a ``WeChatUser`` adapt it to this channel.

Business rules of objections, repairs, commitments, materials and reports are not here: the
views call the workflow and report operations with the actor built in ``auth.actor_for``.
"""

from __future__ import annotations

import datetime as dt
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from flask import current_app

from backend.actors import Actor
from backend.citizens import own

# The citizens domain's operations the views call through this module (one import for the
# channel's views; the rules live in backend/citizens/).
from backend.citizens.bindings import (  # noqa: F401
    REVIEWABLE_STATUSES,
    bind_enterprise,
    find_enterprise,
    get_binding,
    list_bindings,
    read_binding_letter,
    review_enterprise_binding,
    revoke_enterprise_binding,
)
from backend.citizens.identity import (  # noqa: F401
    check_can_bind,
    check_claim,
    face_session_claim,
    find_face_session,
    identity_of,
    own_subject_ids,
    record_face_verification,
    start_face_verification,
)
from backend.citizens.models import FaceVerification, FaceVerifySession, WeChatUser
from backend.citizens.own import audit_case_view, get_own_report  # noqa: F401
from backend.citizens.tickets import confirm_kiosk_login  # noqa: F401
from backend.errors import NotFound
from backend.extensions import db
from backend.issued_reports.models import IssuedReport, ReportStatus
from backend.outbox.models import OutboxEvent
from backend.outbox.operations import enqueue_event
from backend.pii import cipher
from backend.records.models import CreditRecord
from backend.types import utcnow
from backend.workflows.cases import Applicant

from . import messages as msg
from .auth import hash_token, new_token, session_hours
from .face import CERT_TYPE_ID_CARD, VERIFY_PASSED, cert_hash
from .models import MpSession, MpSubscription

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


# --- identity (face verification 2.0: WeChat's protocol; the outcome is the domain's) -------


OUT_SEQ_NO_PREFIX = "cjface"  # + 24 hex characters: 30 of getverifyid's 5-32 [0-9A-Za-z_-]


def new_out_seq_no() -> str:
    """A fresh ``out_seq_no`` for getverifyid (unique per AppID, WeChat's rule): random, so it
    says nothing about the user and never repeats across processes."""
    return OUT_SEQ_NO_PREFIX + secrets.token_hex(12)


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
    """Record queryverifyinfo's answer for this session: a pass is errcode 0 and verify_ret 10000
    (api_queryverifyinfo), which binds the claimed natural person to the user
    (backend/citizens/identity.py). The caller commits and then refuses anything but PASSED."""
    verify_ret = _int(answer.get("verify_ret"))
    passed = _int(answer.get("errcode") or 0) == 0 and verify_ret == VERIFY_PASSED
    return record_face_verification(actor, user, session, passed=passed, verify_ret=verify_ret, now=now)


def _int(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


# --- what a citizen may see and act on (the owner's view: backend/citizens/own.py) ----------


def list_own_records(actor: Actor, subject_id: int) -> list[CreditRecord]:
    """A subject's records as its owner sees them (published or not); every read is audited."""
    return own.list_own_records(actor, [subject_id])[subject_id]


def get_actionable_record(actor: Actor, record_id: int) -> CreditRecord:
    """A record of the citizen or of an enterprise they act for, whatever its status; 404 for
    anything else (the answer does not tell whether someone else's record exists)."""
    return own.get_own_record(actor, record_id, owner_statuses_only=False)


def applicant_for(actor: Actor, user: WeChatUser, record: CreditRecord) -> Applicant:
    """Who files, from the verified identity and this WeChat account's bindings."""
    return own.applicant_for(actor, record, user_id=user.id)


def list_cases(model: type, actor: Actor) -> list[Any]:
    return own.list_own_cases(actor, (model,))


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


def list_reports(actor: Actor) -> list[IssuedReport]:
    return own.list_own_reports(actor)


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
