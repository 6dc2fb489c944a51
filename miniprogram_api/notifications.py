"""The WeChat channel of the outbox: subscribe messages (订阅消息) to the citizen concerned.

Three purposes, each with its own template: "case_progress" (objection and repair state
changes, to the citizen who filed), "report_ready" (a report issued in the mini-program, to the
user who issued it: ``report.issued``) and "deadline" (the validity of such a report is about
to end, to the citizen who issued it: ``report.expiring``; why this is the applicant-side
deadline is told in ``operations.queue_report_expiry_reminders``; or it ended early because the
report was revoked: ``report.revoked``, the date being the day of the revocation).

A handler runs after the commit that queued the event, outside any request (the outbox worker
is its boundary). Rules:

* the recipient is looked up when sending (payloads carry ids, never personal data): the
  verified WeChat user whose natural-person subject filed the case or issued the report;
* a purpose whose template id is not configured is recorded as SKIPPED and sends nothing;
* 43101 (the user has no subscription left) is recorded and not retried; transient errors
  (timeouts, -1, 45009 rate limit, a token that stays invalid) are recorded and raised, so the
  outbox retries with backoff; other errors (a wrong template id) are raised too and end as a
  FAILED event for an operator after the outbox's last attempt;
* every attempt is a ``wechat_message_attempt`` row (for the console), written in its own
  short transaction, and a message already SENT for an event's idempotency key is never sent
  again (a crash between sending and marking the event delivered).

Template ids, the keywords of each template (as the WeChat console shows them for the
template picked there) and the pages a message opens are settings
(``WECHAT_TEMPLATE_*``, ``WECHAT_TEMPLATE_FIELDS_*``, ``WECHAT_PAGE_*``, checked at start by
backend/config.py). Each value is cut to the limits of its keyword's type before sending
(``shape_value``): a value WeChat would refuse is 47003 and no retry can help.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
from collections.abc import Callable
from typing import Any

import sqlalchemy as sa
from flask import current_app

from backend.citizens.models import BindingStatus, EnterpriseBinding, WeChatUser
from backend.citizens.suspension import SUSPENDED_TOPIC
from backend.config import parse_template_fields
from backend.extensions import db
from backend.issued_reports import messages as report_msg
from backend.issued_reports.models import IssuedReport, ReportStatus
from backend.outbox.worker import OutboxDelivery, RetryAt
from backend.types import LOCAL_TZ, local_date, utcnow
from backend.workflows.cases import local_time_text
from backend.workflows.kinds import CASE_KINDS

from . import messages as msg
from .client import DAILY_QUOTA, NOT_SUBSCRIBED, WeChatError, mp_api
from .models import MessageAttempt, MessageAttemptStatus, MpSubscription
from .operations import REPORT_EXPIRING_TOPIC, REPORT_READY_TOPIC, queue_report_expiry_reminders

log = logging.getLogger(__name__)

CASE_ACTIONS = ("accept", "return", "decide", "extend", "deliver")
CASE_TOPICS = tuple(f"{case_type}.{action}" for case_type in CASE_KINDS for action in CASE_ACTIONS)
CASE_MODELS = {case_type: kind.model for case_type, kind in CASE_KINDS.items()}

# The query each purpose's page gets (the page itself is a setting).
PAGE_SETTINGS = {
    "case_progress": ("WECHAT_PAGE_CASE_DETAIL", "type={case_type}&number={number}"),
    "report_ready": ("WECHAT_PAGE_REPORT_DETAIL", "number={number}"),
    "deadline": ("WECHAT_PAGE_REPORT_DETAIL", "number={number}"),
    "binding": ("WECHAT_PAGE_BINDINGS", ""),
}
REPORT_REVOKED_TOPIC = "report.revoked"  # queued by backend/issued_reports/operations.py
# Which purpose (template) each topic uses: the console filters message attempts by it.
TOPIC_PURPOSES = {
    **dict.fromkeys(CASE_TOPICS, "case_progress"),
    REPORT_READY_TOPIC: "report_ready",
    REPORT_EXPIRING_TOPIC: "deadline",
    REPORT_REVOKED_TOPIC: "deadline",
    # A suspended enterprise binding is progress of the holder's own application: its template.
    SUSPENDED_TOPIC: "case_progress",
}
JOB_UNITS_KEY = "job_units"


def register(app) -> None:
    """Add the WeChat handlers to the app's outbox handlers (backend/outbox/worker.py)."""
    handlers = app.extensions.setdefault("outbox_handlers", {})
    for topic in CASE_TOPICS:
        handlers[topic] = handle_case_event
    handlers[REPORT_READY_TOPIC] = handle_report_ready
    handlers[REPORT_EXPIRING_TOPIC] = handle_report_expiring
    handlers[REPORT_REVOKED_TOPIC] = handle_report_revoked
    handlers[SUSPENDED_TOPIC] = handle_binding_suspended
    # The jobs pass (backend/jobs.py) runs this each time, before it delivers the outbox.
    app.extensions.setdefault(JOB_UNITS_KEY, {})["wechat-report-expiry"] = queue_report_expiry_reminders


QUOTA_RESET_MARGIN = dt.timedelta(minutes=5)  # WeChat's clock and ours need not agree to the second


def quota_reset_after(now: dt.datetime) -> dt.datetime:
    """The next midnight in Beijing (when WeChat's daily quotas reset), plus a margin, as naive UTC."""
    tomorrow = local_date(now) + dt.timedelta(days=1)
    midnight = dt.datetime.combine(tomorrow, dt.time(), tzinfo=LOCAL_TZ)
    return midnight.astimezone(dt.UTC).replace(tzinfo=None) + QUOTA_RESET_MARGIN


def _thing(text: str, limit: int = 20) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _day(value: Any) -> str:
    if not value:
        return ""
    day = dt.date.fromisoformat(str(value)[:10])
    return f"{day.year}年{day.month}月{day.day}日"


def case_values(payload: dict[str, Any], action: str, now: dt.datetime) -> dict[str, str]:
    """What a case notification says, by name (mapped onto template keys by ``fields_for``)."""
    outcome = payload.get("outcome")
    if action == "decide" and outcome:
        note = msg.OUTCOME_NOTES.get(outcome, msg.NOTE_DEFAULT)
    elif action == "accept" and payload.get("deadline"):
        note = msg.NOTE_ACCEPT.format(deadline=_day(payload["deadline"]))
    elif action == "extend" and payload.get("deadline"):
        note = msg.NOTE_EXTEND.format(deadline=_day(payload["deadline"]))
    elif action == "return":
        note = msg.NOTE_RETURN
    elif action == "deliver":
        note = msg.NOTE_DELIVER
    else:
        note = msg.NOTE_DEFAULT
    return {
        "number": str(payload["number"]),
        "case_type": CASE_KINDS[payload["case_type"]].label,
        "progress": msg.ACTION_PHRASES[action],
        "note": _thing(note),
        "time": local_time_text(now),
    }


def fields_for(purpose: str) -> dict[str, str]:
    """The template's keywords -> the value names that fill them (checked at start)."""
    return parse_template_fields(purpose.upper(), getattr(_settings(), f"WECHAT_TEMPLATE_FIELDS_{purpose.upper()}"))


def page_for(purpose: str, **query: str) -> str:
    setting, pattern = PAGE_SETTINGS[purpose]
    page = getattr(_settings(), setting)
    return f"{page}?{pattern.format(**query)}" if pattern else page


_HAN = re.compile(r"[\u4e00-\u9fff]")
_ISO_MOMENT = re.compile(r"(\d{4})-(\d{2})-(\d{2})(?: (\d{2}:\d{2}))?")


def shape_value(keyword: str, value: str) -> str:
    """``value`` within the limits of ``keyword``'s type (subscribeMessage.send, "参数值内容限制
    说明"): thing 20 characters, character_string 32 printable ASCII characters, phrase 5 Chinese
    characters, name 10 (Chinese) or 20 characters, time and date as 2026年1月2日 15:01."""
    kind = re.sub(r"\d+$", "", keyword)
    value = (value or "").strip() or "-"
    if kind in ("thing", "name"):
        limit = 20 if kind == "thing" or not _HAN.search(value) else 10
        return _thing(value, limit)
    if kind == "character_string":
        kept = "".join(ch for ch in value if "!" <= ch <= "~")
        return (kept or "-")[:32]
    if kind == "phrase":
        return "".join(_HAN.findall(value))[:5] or "无"
    if kind in ("time", "date"):
        match = _ISO_MOMENT.fullmatch(value)
        if match:
            year, month, day, clock = match.groups()
            text = f"{int(year)}年{int(month)}月{int(day)}日"
            return f"{text} {clock}" if clock else text
        return value
    if kind in ("number", "letter", "phone_number", "amount"):
        return value[:32] if kind != "phone_number" else value[:17]
    return value


def recipient_for(applicant_key: str) -> WeChatUser | None:
    """The verified WeChat user of the citizen who filed (``citizen:<subject id>``); the one who
    signed in last when a person uses several WeChat accounts."""
    kind, _, account = (applicant_key or "").partition(":")
    if kind != "citizen" or not account.isdigit():
        return None  # filed at the counter, or by an account that is not a verified person
    return db.session.scalar(
        sa.select(WeChatUser)
        .where(WeChatUser.subject_id == int(account), WeChatUser.appid == _settings().WECHAT_MP_APPID)
        .order_by(WeChatUser.last_login_at.desc(), WeChatUser.id.desc())
        .limit(1)
    )


def _settings():
    return current_app.extensions["settings"]


def _already_sent(delivery: OutboxDelivery) -> bool:
    return (
        db.session.scalar(
            sa.select(MessageAttempt.id).where(
                MessageAttempt.idempotency_key == delivery.idempotency_key,
                MessageAttempt.status == MessageAttemptStatus.SENT,
            )
        )
        is not None
    )


def _record(
    delivery: OutboxDelivery,
    status: MessageAttemptStatus,
    *,
    user: WeChatUser | None = None,
    template_id: str | None = None,
    error: WeChatError | str | None = None,
) -> None:
    errcode = error.errcode if isinstance(error, WeChatError) else None
    text = error.message if isinstance(error, WeChatError) else error
    with db.engine.begin() as conn:
        conn.execute(
            sa.insert(MessageAttempt).values(
                outbox_event_id=delivery.id,
                idempotency_key=delivery.idempotency_key,
                attempt=delivery.attempt,
                topic=delivery.topic,
                user_id=user.id if user else None,
                template_id=template_id,
                status=status,
                errcode=errcode,
                error=(text or "")[:300] or None,
                created_at=utcnow(),
            )
        )
        # A long-term subscription (WECHAT_LONG_TERM_SUBSCRIPTIONS) is not used up by a send.
        if status is MessageAttemptStatus.SENT and user is not None and template_id and not _long_term():
            conn.execute(
                sa.update(MpSubscription)
                .where(
                    MpSubscription.user_id == user.id,
                    MpSubscription.template_id == template_id,
                    MpSubscription.accepted_count > 0,
                )
                .values(accepted_count=MpSubscription.accepted_count - 1)
            )


def _long_term() -> bool:
    return bool(current_app.extensions["settings"].WECHAT_LONG_TERM_SUBSCRIPTIONS)


def _send(
    delivery: OutboxDelivery,
    user: WeChatUser | None,
    purpose: str,
    template_id: str,
    values: dict[str, str],
    page: str | None,
) -> None:
    if user is None:
        _record(delivery, MessageAttemptStatus.SKIPPED, error=msg.SKIP_NO_USER)
        return
    if not template_id:
        _record(
            delivery,
            MessageAttemptStatus.SKIPPED,
            user=user,
            error=msg.SKIP_NO_TEMPLATE.format(title=msg.TEMPLATE_TITLES[purpose]),
        )
        return
    data = {key: shape_value(key, values[name]) for key, name in fields_for(purpose).items()}
    try:
        mp_api().send_subscribe_message(
            user.openid, template_id, data, page=page, state=_settings().WECHAT_MINIPROGRAM_STATE
        )
    except WeChatError as exc:
        if exc.errcode == NOT_SUBSCRIBED:
            _record(delivery, MessageAttemptStatus.NOT_SUBSCRIBED, user=user, template_id=template_id, error=exc)
            return  # retrying cannot help until the user subscribes again
        _record(delivery, MessageAttemptStatus.FAILED, user=user, template_id=template_id, error=exc)
        if exc.errcode == DAILY_QUOTA:
            # The day's quota is spent: no retry can succeed before it resets at midnight
            # (Beijing time), and the outbox's backoff would give up long before.
            raise RetryAt(quota_reset_after(utcnow()), exc.message) from exc
        raise
    _record(delivery, MessageAttemptStatus.SENT, user=user, template_id=template_id)


def _handler(work: Callable[[OutboxDelivery], None]) -> Callable[[OutboxDelivery], None]:
    def run(delivery: OutboxDelivery) -> None:
        try:
            if _already_sent(delivery):
                return
            work(delivery)
        finally:
            db.session.remove()  # reads only: end the transaction the look-ups opened

    run.__name__ = work.__name__
    return run


@_handler
def handle_case_event(delivery: OutboxDelivery) -> None:
    """Objection and repair progress: accepted, returned, decided, extended, closed."""
    payload = delivery.payload
    case_type = payload.get("case_type")
    action = delivery.topic.rpartition(".")[2]
    model = CASE_MODELS.get(case_type)
    case = db.session.get(model, int(payload["case_id"])) if model else None
    if case is None:
        _record(delivery, MessageAttemptStatus.SKIPPED, error=msg.SKIP_CASE_NOT_FOUND)
        return
    user = recipient_for(case.applicant_key)
    page = page_for("case_progress", case_type=case_type, number=case.number)
    values = case_values(payload, action, utcnow())
    _send(delivery, user, "case_progress", _settings().WECHAT_TEMPLATE_CASE_PROGRESS, values, page)


def report_values(report: IssuedReport) -> dict[str, str]:
    """What the report messages say (the subject as public surfaces show it: masked for a
    natural person, the full name of an enterprise)."""
    return {
        "number": report.number,
        "kind": _thing(report_msg.KIND_LABELS[report.kind]),
        "subject": _thing(report.subject_display_name),
        "issued_at": local_time_text(report.issued_at),
        "valid_until": _day(report.valid_until),
        "item": msg.REPORT_EXPIRY_ITEM,
        "deadline": _day(report.valid_until),
        "note": msg.REPORT_EXPIRY_NOTE,
    }


def _report(delivery: OutboxDelivery) -> IssuedReport | None:
    report = db.session.get(IssuedReport, int(delivery.payload["report_id"]))
    if report is None:
        _record(delivery, MessageAttemptStatus.SKIPPED, error=msg.SKIP_REPORT_NOT_FOUND)
    return report


@_handler
def handle_report_ready(delivery: OutboxDelivery) -> None:
    """A report issued in the mini-program: to the WeChat user who issued it."""
    report = _report(delivery)
    if report is None:
        return
    user = db.session.get(WeChatUser, int(delivery.payload.get("user_id") or 0))
    if user is not None and (user.appid != _settings().WECHAT_MP_APPID or user.subject_id is None):
        user = None  # another mini-program's user, or no longer a verified person
    page = page_for("report_ready", number=report.number)
    _send(delivery, user, "report_ready", _settings().WECHAT_TEMPLATE_REPORT_READY, report_values(report), page)


@_handler
def handle_report_expiring(delivery: OutboxDelivery) -> None:
    """The validity of a mini-program report ends soon: to the citizen who issued it. A report
    revoked or expired in the meantime needs no reminder (recorded as skipped)."""
    report = _report(delivery)
    if report is None:
        return
    if report.status_on(local_date()) is not ReportStatus.VALID:
        status = report.status_on(local_date())
        _record(
            delivery,
            MessageAttemptStatus.SKIPPED,
            error=msg.SKIP_REPORT_NOT_VALID.format(status=report_msg.STATUS_LABELS[status]),
        )
        return
    user = recipient_for(f"citizen:{report.issued_by_id}") if report.issued_by_type == "citizen" else None
    page = page_for("deadline", number=report.number)
    _send(delivery, user, "deadline", _settings().WECHAT_TEMPLATE_DEADLINE, report_values(report), page)


@_handler
def handle_report_revoked(delivery: OutboxDelivery) -> None:
    """A revoked report: its holder must not hand it in any more. Only a report issued in the
    mini-program has a holder the platform can reach (the citizen who issued it); one issued at
    the counter, a kiosk or by the CLI was handed over on paper and is recorded as skipped."""
    report = _report(delivery)
    if report is None:
        return
    if report.channel != "mp" or report.issued_by_type != "citizen":
        _record(delivery, MessageAttemptStatus.SKIPPED, error=msg.SKIP_REPORT_NOT_MP)
        return
    values = report_values(report)
    values.update(
        item=msg.REPORT_REVOKED_ITEM,
        deadline=_day(local_date(report.revoked_at or delivery.created_at).isoformat()),
        note=msg.REPORT_REVOKED_NOTE,
    )
    user = recipient_for(f"citizen:{report.issued_by_id}")
    page = page_for("deadline", number=report.number)
    _send(delivery, user, "deadline", _settings().WECHAT_TEMPLATE_DEADLINE, values, page)


def handle_binding_suspended(delivery: OutboxDelivery) -> None:
    """An enterprise binding was suspended (backend/citizens/suspension.py): to the WeChat user who holds
    it. The message names the enterprise by its USCC (public) and says what to do; the reason in
    full is in the bindings list."""
    binding = db.session.get(EnterpriseBinding, int(delivery.payload.get("binding_id") or 0))
    if binding is None:
        _record(delivery, MessageAttemptStatus.SKIPPED, error=msg.SKIP_BINDING_NOT_FOUND)
        return
    if binding.status is not BindingStatus.SUSPENDED:
        _record(delivery, MessageAttemptStatus.SKIPPED, error=msg.SKIP_BINDING_NOT_SUSPENDED)
        return
    user = db.session.get(WeChatUser, binding.user_id)
    if user is not None and user.appid != _settings().WECHAT_MP_APPID:
        user = None
    values = {
        "number": binding.subject.uscc or "",
        "case_type": msg.BINDING_TYPE_LABEL,
        "progress": msg.BINDING_SUSPENDED_PHRASE,
        "note": _thing(msg.BINDING_SUSPENDED_NOTE),
        "time": local_time_text(binding.suspended_at or utcnow()),
    }
    _send(delivery, user, "case_progress", _settings().WECHAT_TEMPLATE_CASE_PROGRESS, values, page_for("binding"))
