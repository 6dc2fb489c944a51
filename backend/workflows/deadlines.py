"""Time limits of a case: the deadline of each step (working days, read from the settings), and
the jobs that remind before a deadline and escalate after it.

The jobs write their flag with a conditional UPDATE on the version they read, so a case a
reviewer moved on in the meantime is left alone.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm.attributes import set_committed_value

from ..actors import Actor
from ..audit.operations import record_event
from ..extensions import db
from ..outbox.operations import enqueue_event
from ..types import local_date, utcnow
from ..workdays.service import WorkdayCalendar
from .cases import DEADLINE_STATES, CaseState, workflow_setting


def step_deadline(calendar: WorkdayCalendar, start: dt.date, setting_name: str | None) -> dt.date | None:
    if setting_name is None:
        return None
    return calendar.add_working_days(start, int(workflow_setting(setting_name)))


def start_step(case: Any, calendar: WorkdayCalendar, setting_name: str | None, now: dt.datetime) -> None:
    today = local_date(now)
    case.step_started_on = today
    case.deadline = step_deadline(calendar, today, setting_name)
    case.reminded_deadline = None
    case.escalated_deadline = None
    case.escalated_at = None


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
