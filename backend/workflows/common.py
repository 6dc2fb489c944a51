"""What objections and repairs share: settings, states, applicants, case numbers, history,
deadlines, guarded transitions with optimistic locking, reminders and escalation.

Every time limit is a configurable default (DOMAIN.md) defined once, as a typed field of
``backend/config.py``, and read through ``workflow_setting``.
"""

from __future__ import annotations

import datetime as dt
import enum
import secrets
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from flask import current_app
from sqlalchemy.orm import Mapped, declared_attr, mapped_column
from sqlalchemy.orm.attributes import set_committed_value

from ..actors import Actor
from ..audit.operations import record_event
from ..errors import ApiError, Conflict, Forbidden, NotFound
from ..extensions import db
from ..identifiers import IdentifierError, validate_id_number
from ..outbox.operations import enqueue_event
from ..pii import cipher, mask_id_number, mask_name
from ..staff.models import StaffRole
from ..types import LOCAL_TZ, enum_column, local_date, utcnow
from ..workdays.service import WorkdayCalendar, load_calendar
from . import messages as msg


def workflow_setting(name: str) -> Any:
    """A workflow setting (time limits, outbox, materials): typed fields of backend/config.py."""
    return getattr(current_app.extensions["settings"], name)


def local_time_text(moment: dt.datetime) -> str:
    return moment.replace(tzinfo=dt.UTC).astimezone(LOCAL_TZ).strftime("%Y-%m-%d %H:%M")


class CaseState(enum.Enum):
    """The states both workflows go through (Chinese labels in messages.STATE_LABELS)."""

    SUBMITTED = "submitted"  # 待受理: waiting for the platform's completeness check
    RETURNED = "returned"  # 退回补正: the applicant must supplement what is listed
    UNDER_REVIEW = "under_review"  # 部门核查中: accepted and routed to the deciding department
    DECIDED = "decided"  # 已作出决定: the result must still reach the applicant
    CLOSED = "closed"  # 已办结
    WITHDRAWN = "withdrawn"  # 已撤回

    @property
    def label(self) -> str:
        return msg.STATE_LABELS[self.value]


OPEN_STATES = (CaseState.SUBMITTED, CaseState.RETURNED, CaseState.UNDER_REVIEW, CaseState.DECIDED)
# Only these have a running deadline; a returned case waits for the applicant.
DEADLINE_STATES = (CaseState.SUBMITTED, CaseState.UNDER_REVIEW, CaseState.DECIDED)
# How far a case has progressed: a guard failure on a case that has moved past the requested
# step means someone else handled it already.
_RANK = {
    CaseState.SUBMITTED: 0,
    CaseState.RETURNED: 0,
    CaseState.UNDER_REVIEW: 1,
    CaseState.DECIDED: 2,
    CaseState.CLOSED: 3,
    CaseState.WITHDRAWN: 3,
}


def open_states_sql() -> str:
    return "state IN (" + ", ".join(f"'{s.value}'" for s in OPEN_STATES) + ")"


class ApplicantKind(enum.Enum):
    SELF = "self"  # 本人
    LEGAL_REPRESENTATIVE = "legal_representative"  # 法定代表人
    AGENT = "agent"  # 委托代理人 (with an authorisation document)


@dataclass(frozen=True)
class Applicant:
    """Who files: the subject itself, its legal representative, or an authorised agent."""

    kind: ApplicantKind
    name: str
    id_number: str | None = None  # a natural person's 居民身份证号码, when known (verified)

    def validated(self) -> Applicant:
        name = (self.name or "").strip()
        if not name:
            raise ApiError(msg.NAME_REQUIRED, code="applicant_invalid")
        if len(name) > 100:
            raise ApiError(msg.NAME_TOO_LONG, code="applicant_invalid")
        number = None
        if self.id_number:
            try:
                number = validate_id_number(self.id_number)
            except IdentifierError as exc:
                raise ApiError(msg.ID_NUMBER_INVALID.format(reason=exc.message), code="applicant_invalid") from exc
        return Applicant(self.kind, name, number)


def applicant_columns(applicant: Applicant, actor: Actor) -> dict[str, Any]:
    """The applicant's stored form: names and ID numbers encrypted, masked copies in clear."""
    pii = cipher()
    values: dict[str, Any] = {
        "applicant_kind": applicant.kind,
        "applicant_name_encrypted": pii.encrypt(applicant.name, "case.applicant_name"),
        "applicant_name_masked": mask_name(applicant.name),
        "applicant_key": actor_key(actor),
        "channel": actor.channel,
    }
    if applicant.id_number:
        values.update(
            applicant_id_number_encrypted=pii.encrypt(applicant.id_number, "case.applicant_id_number"),
            applicant_id_number_masked=mask_id_number(applicant.id_number),
            applicant_id_number_hash=pii.lookup_hash(applicant.id_number, "id_number"),
        )
    return values


def actor_key(actor: Actor) -> str:
    return f"{actor.type}:{actor.id or actor.label}"


# Base32 without the look-alikes I, L, O, U: readable over the phone and on a printed slip.
_CODE_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
CODE_RANDOM_CHARS = 10  # 50 random bits


def new_case_number(prefix: str, day: dt.date) -> str:
    """Application number = progress query code (查询码): prefix, date, 50 random bits."""
    tail = "".join(secrets.choice(_CODE_ALPHABET) for _ in range(CODE_RANDOM_CHARS))
    return f"{prefix}{day:%Y%m%d}{tail}"


def normalise_case_number(raw: str) -> str:
    return "".join(ch for ch in (raw or "").upper() if ch.isalnum())


class CaseMixin:
    """Columns every case (objection, repair application) has."""

    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[str] = mapped_column(sa.String(24), unique=True)  # 查询码
    record_id: Mapped[int] = mapped_column(sa.ForeignKey("credit_record.id"), index=True)
    subject_id: Mapped[int] = mapped_column(sa.ForeignKey("subject.id"), index=True)
    # The deciding department (认定单位, "谁认定、谁修复"), copied from the record at filing.
    department_id: Mapped[int] = mapped_column(sa.ForeignKey("department.id"), index=True)
    commitment_id: Mapped[int] = mapped_column(sa.ForeignKey("credit_commitment.id"), unique=True)

    applicant_kind: Mapped[ApplicantKind] = mapped_column(enum_column(ApplicantKind, "applicant_kind"))
    applicant_name_encrypted: Mapped[str] = mapped_column(sa.Text)
    applicant_name_masked: Mapped[str] = mapped_column(sa.String(100))
    applicant_id_number_encrypted: Mapped[str | None] = mapped_column(sa.Text)
    applicant_id_number_masked: Mapped[str | None] = mapped_column(sa.String(18))
    applicant_id_number_hash: Mapped[str | None] = mapped_column(sa.String(64), index=True)
    applicant_key: Mapped[str] = mapped_column(sa.String(100))  # the filing actor, e.g. "citizen:42"
    channel: Mapped[str] = mapped_column(sa.String(20))  # mp | kiosk | admin (counter) ...
    statement: Mapped[str] = mapped_column(sa.Text)  # the applicant's grounds / explanation

    missing_items: Mapped[list[str] | None] = mapped_column(sa.JSON)  # of the last return
    supplement_note: Mapped[str | None] = mapped_column(sa.Text)

    step_started_on: Mapped[dt.date]
    deadline: Mapped[dt.date | None] = mapped_column(index=True)
    reminded_deadline: Mapped[dt.date | None]  # the deadline a reminder was sent for
    escalated_deadline: Mapped[dt.date | None]  # the overdue deadline escalated to the admin
    escalated_at: Mapped[dt.datetime | None]

    extended_at: Mapped[dt.datetime | None]
    extension_days: Mapped[int | None]
    extension_reason: Mapped[str | None] = mapped_column(sa.Text)

    decision_reason: Mapped[str | None] = mapped_column(sa.Text)
    decided_at: Mapped[dt.datetime | None]
    decided_by_id: Mapped[str | None] = mapped_column(sa.String(64))
    decided_by_label: Mapped[str | None] = mapped_column(sa.String(100))

    filed_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    accepted_at: Mapped[dt.datetime | None]
    closed_at: Mapped[dt.datetime | None]
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    # Optimistic concurrency: every transition is a compare-and-set on this column.
    version: Mapped[int] = mapped_column(default=1)

    CASE_TYPE = "case"  # "objection" | "repair": topics, audit actions, history
    NUMBER_PREFIX = "XX"

    @property
    def is_open(self) -> bool:
        return self.state in OPEN_STATES

    @property
    def is_overdue_escalated(self) -> bool:
        return self.deadline is not None and self.escalated_deadline == self.deadline

    def applicant_name(self) -> str:
        """The clear name, for owner and reviewer surfaces only."""
        return cipher().decrypt(self.applicant_name_encrypted, "case.applicant_name")

    # Permission predicates (STYLE.md 5).
    def can_accept(self, actor: Actor) -> bool:
        """Completeness check (受理/退回): platform staff."""
        return is_platform_staff(actor)

    def can_decide(self, actor: Actor) -> bool:
        """Decisions and extensions: the record's own department only ("谁认定、谁负责")."""
        return is_department_actor(actor, self.department_id)

    def can_view(self, actor: Actor) -> bool:
        return (
            is_platform_staff(actor)
            or is_auditor(actor)
            or is_department_actor(actor, self.department_id)
            or self.is_applicant(actor)
        )

    def can_withdraw(self, actor: Actor) -> bool:
        # The counter may record a withdrawal handed in on paper.
        return self.is_applicant(actor) or is_platform_staff(actor)

    def can_supplement(self, actor: Actor) -> bool:
        return self.is_applicant(actor) or is_platform_staff(actor)

    def can_deliver(self, actor: Actor) -> bool:
        return is_platform_staff(actor) or actor.type == "system"

    def is_applicant(self, actor: Actor) -> bool:
        return actor.type not in ("system", "public") and actor_key(actor) == self.applicant_key


def _staff_role(actor: Actor) -> StaffRole | None:
    if actor.type != "staff" or actor.obj is None or not getattr(actor.obj, "is_active", False):
        return None
    return actor.obj.role


def is_platform_staff(actor: Actor) -> bool:
    return _staff_role(actor) is StaffRole.PLATFORM_ADMIN


def is_auditor(actor: Actor) -> bool:
    return _staff_role(actor) is StaffRole.AUDITOR


def is_department_actor(actor: Actor, department_id: int) -> bool:
    if _staff_role(actor) is StaffRole.DEPT_REVIEWER:
        return actor.obj.department_id == department_id
    if actor.type == "department" and actor.obj is not None:
        return actor.obj.id == department_id
    return False


def require(allowed: bool, action: str) -> None:
    if not allowed:
        raise Forbidden(msg.NOT_ALLOWED.format(action=msg.ACTIONS[action]))


def require_reason(reason: str | None, action: str, limit: int = 2000) -> str:
    text = (reason or "").strip()
    if not text:
        raise ApiError(msg.REASON_REQUIRED.format(action=msg.ACTIONS[action]), code="reason_required")
    if len(text) > limit:
        raise ApiError(msg.REASON_TOO_LONG.format(limit=limit), code="reason_too_long")
    return text


class HistoryMixin:
    """One row per transition: who, when, from, to, why (完整流转记录)."""

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    action: Mapped[str] = mapped_column(sa.String(40))
    from_state: Mapped[str | None] = mapped_column(sa.String(32))
    to_state: Mapped[str] = mapped_column(sa.String(32))
    actor_type: Mapped[str] = mapped_column(sa.String(20))
    actor_id: Mapped[str | None] = mapped_column(sa.String(64))
    actor_label: Mapped[str] = mapped_column(sa.String(100))
    channel: Mapped[str] = mapped_column(sa.String(20))
    reason: Mapped[str | None] = mapped_column(sa.Text)
    details: Mapped[dict[str, Any]] = mapped_column(sa.JSON, default=dict)

    @declared_attr.directive
    def __table_args__(cls) -> tuple:
        return (sa.Index(f"ix_{cls.__tablename__}_case_at", "case_id", "at"),)

    @property
    def who(self) -> str:
        # Citizens are never named in texts other people read.
        return self.actor_label if self.actor_type in ("staff", "department", "system") else msg.APPLICANT_LABEL


def step_deadline(calendar: WorkdayCalendar, start: dt.date, setting_name: str | None) -> dt.date | None:
    if setting_name is None:
        return None
    return calendar.add_working_days(start, int(workflow_setting(setting_name)))


@dataclass
class Step:
    """A guarded transition of one case. ``apply`` does it all or raises before any change."""

    case: Any
    history_cls: type
    action: str  # e.g. "accept"; also the audit and outbox suffix
    allowed_from: tuple[CaseState, ...]
    to_state: CaseState
    deadline_setting: str | None = None  # the limit of the step that starts now

    def apply(
        self,
        actor: Actor,
        *,
        now: dt.datetime | None = None,
        reason: str | None = None,
        details: dict[str, Any] | None = None,
        calendar: WorkdayCalendar | None = None,
        notify: dict[str, Any] | None = None,
        changes: dict[str, Any] | None = None,
    ) -> Any:
        """Guard, claim the version, then change: nothing is touched before both pass."""
        case = self.case
        now = now or utcnow()
        guard_state(case, self.history_cls, self.allowed_from, self.action)
        claim_version(case, self.history_cls)
        from_state = case.state
        case.state = self.to_state
        for name, value in (changes or {}).items():
            setattr(case, name, value)
        if self.to_state in DEADLINE_STATES:
            start_step(case, calendar or load_calendar(), self.deadline_setting, now)
        else:
            case.deadline = None
        add_history(case, self.history_cls, actor, self.action, from_state, self.to_state, now, reason, details)
        audit_transition(actor, case, self.action, from_state, reason, details)
        notify_transition(case, self.action, notify)
        return case


def guard_state(case: Any, history_cls: type, allowed: tuple[CaseState, ...], action: str) -> None:
    if case.state in allowed:
        return
    if _RANK[case.state] > max(_RANK[s] for s in allowed):
        raise already_handled(case, history_cls)
    raise Conflict(
        msg.WRONG_STATE.format(state=case.state.label, action=msg.ACTIONS[action]),
        code="wrong_state",
        details={"state": case.state.value},
    )


def claim_version(case: Any, history_cls: type) -> None:
    """Compare-and-set the version: of two reviewers acting on the same version, exactly one
    passes. On PostgreSQL the loser's UPDATE waits for the winner's commit and then matches no
    row; the UPDATE also holds the row lock for the rest of the transaction."""
    table = type(case)
    result = db.session.execute(
        sa.update(table)
        .where(table.id == case.id, table.version == case.version)
        .values(version=table.version + 1)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:
        raise already_handled(case, history_cls)
    set_committed_value(case, "version", case.version + 1)


def already_handled(case: Any, history_cls: type) -> Conflict:
    # A fresh statement: under READ COMMITTED it sees the winner's committed rows.
    row = db.session.execute(
        sa.select(history_cls.actor_type, history_cls.actor_label, history_cls.at, history_cls.to_state)
        .where(history_cls.case_id == case.id)
        .order_by(history_cls.id.desc())
        .limit(1)
    ).first()
    if row is None:  # pragma: no cover - every case has its filing row
        return Conflict(msg.WRONG_STATE.format(state="", action=""), code="already_handled")
    who = row.actor_label if row.actor_type in ("staff", "department", "system") else msg.APPLICANT_LABEL
    state = CaseState(row.to_state)
    return Conflict(
        msg.ALREADY_HANDLED.format(who=who, when=local_time_text(row.at), state=state.label),
        code="already_handled",
        details={"by": who, "at": row.at.isoformat(timespec="seconds"), "state": state.value},
    )


def start_step(case: Any, calendar: WorkdayCalendar, setting_name: str | None, now: dt.datetime) -> None:
    today = local_date(now)
    case.step_started_on = today
    case.deadline = step_deadline(calendar, today, setting_name)
    case.reminded_deadline = None
    case.escalated_deadline = None
    case.escalated_at = None


def add_history(
    case: Any,
    history_cls: type,
    actor: Actor,
    action: str,
    from_state: CaseState | None,
    to_state: CaseState,
    now: dt.datetime,
    reason: str | None = None,
    details: dict[str, Any] | None = None,
) -> Any:
    row = history_cls(
        case_id=case.id,
        at=now,
        action=action,
        from_state=from_state.value if from_state else None,
        to_state=to_state.value,
        actor_type=actor.type,
        actor_id=actor.id,
        actor_label=actor.label[:100],
        channel=actor.channel,
        reason=reason,
        details=_jsonable(details or {}),
    )
    db.session.add(row)
    db.session.flush()
    return row


def audit_transition(
    actor: Actor,
    case: Any,
    action: str,
    from_state: CaseState | None,
    reason: str | None,
    details: dict[str, Any] | None = None,
) -> None:
    record_event(
        actor,
        f"{case.CASE_TYPE}.{action}",
        target=case,
        subject_id=case.subject_id,
        reason=(reason or "")[:200] or None,
        details={
            "number": case.number,
            "from": from_state.value if from_state else None,
            "to": case.state.value,
            "deadline": case.deadline,
            **(details or {}),
        },
    )


def notify_transition(case: Any, action: str, extra: dict[str, Any] | None = None) -> None:
    """Queue the notification of a state change (the channel looks the applicant up by id)."""
    enqueue_event(
        f"{case.CASE_TYPE}.{action}",
        {
            "case_type": case.CASE_TYPE,
            "case_id": case.id,
            "number": case.number,
            "state": case.state.value,
            "deadline": case.deadline,
            "department_id": case.department_id,
            "subject_id": case.subject_id,
            **(extra or {}),
        },
        dedupe_key=f"{case.CASE_TYPE}:{case.id}:v{case.version}:{action}",
    )


def _jsonable(value: dict[str, Any]) -> dict[str, Any]:
    import json

    return json.loads(json.dumps(value, ensure_ascii=False, default=str))


# Jobs: reminders and escalations. Each writes its flag with a conditional UPDATE on the version
# it read, so a case a reviewer moved on in the meantime is left alone.


def remind_deadline(case: Any, today: dt.date, calendar: WorkdayCalendar) -> bool:
    """Queue a reminder if the deadline is within the configured working days. True if sent."""
    if case.state not in DEADLINE_STATES or case.deadline is None or case.reminded_deadline == case.deadline:
        return False
    if case.deadline < today:
        return False  # overdue: escalation's business
    left = calendar.working_days_between(today, case.deadline)
    if left > int(workflow_setting("DEADLINE_REMINDER_WORKING_DAYS")):
        return False
    if not _flag(case, reminded_deadline=case.deadline):
        return False
    enqueue_event(
        "case.deadline_reminder",
        {
            "case_type": case.CASE_TYPE,
            "case_id": case.id,
            "number": case.number,
            "state": case.state.value,
            "deadline": case.deadline,
            "working_days_left": left,
            "department_id": case.department_id,
            "audience": "department" if case.state is CaseState.UNDER_REVIEW else "platform",
        },
        dedupe_key=f"reminder:{case.CASE_TYPE}:{case.id}:{case.deadline}",
    )
    return True


def escalate_overdue(case: Any, today: dt.date, actor: Actor, now: dt.datetime | None = None) -> bool:
    """Flag an overdue case and queue an escalation to the platform admin. True if escalated."""
    if case.state not in DEADLINE_STATES or case.deadline is None or case.deadline >= today:
        return False
    if case.escalated_deadline == case.deadline:
        return False
    now = now or utcnow()
    if not _flag(case, escalated_deadline=case.deadline, escalated_at=now):
        return False
    enqueue_event(
        "case.overdue_escalated",
        {
            "case_type": case.CASE_TYPE,
            "case_id": case.id,
            "number": case.number,
            "state": case.state.value,
            "deadline": case.deadline,
            "department_id": case.department_id,
            "audience": "platform_admin",
        },
        dedupe_key=f"escalation:{case.CASE_TYPE}:{case.id}:{case.deadline}",
    )
    record_event(
        actor,
        f"{case.CASE_TYPE}.escalate",
        target=case,
        subject_id=case.subject_id,
        reason="超过办理时限",
        details={"number": case.number, "state": case.state.value, "deadline": case.deadline, "today": today},
    )
    return True


def _flag(case: Any, **values: Any) -> bool:
    table = type(case)
    done = db.session.execute(
        sa.update(table)
        .where(table.id == case.id, table.version == case.version, table.state == case.state)
        .values(**values)
        .execution_options(synchronize_session=False)
    ).rowcount
    if done:
        for key, value in values.items():
            set_committed_value(case, key, value)
    return bool(done)


# Filing: shared by file_objection and file_repair.


def find_open_case(model: type, record_id: int) -> Any:
    return db.session.scalar(
        sa.select(model).where(model.record_id == record_id, model.state.in_(OPEN_STATES)).limit(1)
    )


def lock_record(record: Any) -> None:
    """Serialise filings and decisions on one record (row lock on PostgreSQL)."""
    from ..records.models import CreditRecord

    db.session.execute(sa.select(CreditRecord.id).where(CreditRecord.id == record.id).with_for_update())
    db.session.refresh(record)


def check_commitment(actor: Actor, commitment: Any, kind: Any, record: Any, model: type, title: str) -> None:
    if commitment is None:
        raise ApiError(msg.COMMITMENT_REQUIRED.format(title=title), code="commitment_required")
    used = db.session.scalar(sa.select(model.id).where(model.commitment_id == commitment.id))
    if (
        commitment.kind is not kind
        or commitment.record_id != record.id
        or commitment.signer_key != actor_key(actor)
        or used is not None
    ):
        raise ApiError(msg.COMMITMENT_MISMATCH, code="commitment_mismatch")


def open_case(
    model: type,
    history_cls: type,
    actor: Actor,
    record: Any,
    applicant: Applicant,
    *,
    statement: str,
    commitment: Any,
    deadline_setting: str,
    now: dt.datetime | None = None,
    **columns: Any,
) -> Any:
    """Create a case in SUBMITTED with its first deadline, history row, audit row and event."""
    now = now or utcnow()
    today = local_date(now)
    case = model(
        number=new_case_number(model.NUMBER_PREFIX, today),
        record_id=record.id,
        subject_id=record.subject_id,
        department_id=record.department_id,
        commitment_id=commitment.id,
        state=CaseState.SUBMITTED,
        statement=statement,
        step_started_on=today,
        deadline=step_deadline(load_calendar(), today, deadline_setting),
        filed_at=now,
        version=1,
        **applicant_columns(applicant, actor),
        **columns,
    )
    db.session.add(case)
    db.session.flush()
    add_history(case, history_cls, actor, "file", None, CaseState.SUBMITTED, now, statement[:500])
    audit_transition(actor, case, "file", None, None, {"record_id": record.id})
    notify_transition(case, "file")
    return case


def get_case_by_number(model: type, number: str) -> Any:
    case = db.session.scalar(sa.select(model).where(model.number == normalise_case_number(number)))
    if case is None:
        raise NotFound(msg.NUMBER_NOT_FOUND, code="case_not_found")
    return case


def check_missing_items(items: Any) -> list[str]:
    cleaned = [str(item).strip()[:200] for item in (items or []) if str(item).strip()]
    if not cleaned:
        raise ApiError(msg.MISSING_ITEMS_REQUIRED, code="missing_items_required")
    return cleaned


def extend_case(
    case: Any, history_cls: type, actor: Actor, days: int, reason: str, max_setting: str, now: dt.datetime | None
) -> Any:
    """The one extension of the deciding step, counted from the current deadline."""
    now = now or utcnow()
    guard_state(case, history_cls, (CaseState.UNDER_REVIEW,), "extend")
    if case.extended_at is not None:
        raise Conflict(msg.EXTENSION_ONCE, code="already_extended")
    limit = int(workflow_setting(max_setting))
    if not isinstance(days, int) or isinstance(days, bool) or not 1 <= days <= limit:
        raise ApiError(msg.EXTENSION_RANGE.format(limit=limit), code="extension_range", details={"limit": limit})
    reason = require_reason(reason, "extend")
    claim_version(case, history_cls)
    old = case.deadline
    case.deadline = load_calendar().add_working_days(old, days)
    case.extended_at = now
    case.extension_days = days
    case.extension_reason = reason
    case.reminded_deadline = None
    case.escalated_deadline = None
    details = {"days": days, "old_deadline": old, "new_deadline": case.deadline}
    add_history(case, history_cls, actor, "extend", case.state, case.state, now, reason, details)
    audit_transition(actor, case, "extend", case.state, reason, details)
    notify_transition(case, "extend", {"old_deadline": old})
    return case


def record_status_after_case(record: Any, today: dt.date) -> Any:
    """Where a record goes back to when its mark is removed: shown again, or expired by now."""
    from ..records.models import RecordStatus

    if record.visible_until is not None and record.visible_until < today:
        return RecordStatus.EXPIRED
    return RecordStatus.PUBLIC
