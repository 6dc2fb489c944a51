"""The ``Step`` machine: guarded transitions of a case with optimistic locking, their history,
audit and outbox rows; filing (the first step) and the one extension of the deciding step.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm.attributes import set_committed_value

from ..actors import Actor
from ..audit.operations import record_event
from ..errors import ApiError, Conflict
from ..extensions import db
from ..outbox.operations import enqueue_event
from ..types import local_date, utcnow
from ..workdays.service import WorkdayCalendar, load_calendar
from . import messages as msg
from .cases import (
    DEADLINE_STATES,
    Applicant,
    CaseState,
    applicant_columns,
    local_time_text,
    new_case_number,
    require_reason,
    workflow_setting,
)
from .deadlines import start_step, step_deadline

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
    return json.loads(json.dumps(value, ensure_ascii=False, default=str))


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
