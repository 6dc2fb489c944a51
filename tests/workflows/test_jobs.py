"""`flask credit jobs`: reminders, escalation, expiry and outbox delivery with a fixed today."""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from flask.cli import AppGroup

from backend.audit.models import AuditEvent
from backend.extensions import db
from backend.jobs import register, run_jobs_once
from backend.outbox.models import OutboxEvent, OutboxStatus
from backend.records.models import CreditRecord, PenaltyTier, RecordStatus
from backend.workflows.objections.models import Objection, ObjectionGround
from backend.workflows.objections.operations import file_objection
from tests.workflows.conftest import at


def _objection(world, now):
    record = world.record()
    return file_objection(
        world.citizen, record, world.applicant, ground=ObjectionGround.INACCURATE, statement="有误",
        commitment=world.objection_commitment(record), material_ids=[world.material().id], now=now,
    )  # fmt: skip


def _events(topic):
    return db.session.scalars(sa.select(OutboxEvent).where(OutboxEvent.topic == topic).order_by(OutboxEvent.id)).all()


def test_reminder_before_the_deadline_then_escalation_once_overdue(world):
    objection = _objection(world, at(2026, 9, 30))
    assert objection.deadline == dt.date(2026, 10, 8)
    quiet = _objection(world, at(2026, 10, 8))  # due Fri 9 Oct: not yet within reach on 30 Sep
    db.session.commit()
    case_id, quiet_id, number = objection.id, quiet.id, objection.number

    # 30 Sep: the deadline (8 Oct) is 1 working day away -> a reminder, once.
    report = run_jobs_once(today=dt.date(2026, 9, 30), handlers={})
    assert (report.reminders, report.escalations) == (1, 0)
    assert run_jobs_once(today=dt.date(2026, 10, 7), handlers={}).reminders == 0  # already reminded
    reminder = _events("case.deadline_reminder")
    assert len(reminder) == 1
    assert reminder[0].payload["number"] == number
    assert reminder[0].payload["working_days_left"] == 1
    assert reminder[0].payload["audience"] == "platform"

    # 9 Oct: overdue -> escalated to the platform admin, flagged on the case, audited; once.
    report = run_jobs_once(today=dt.date(2026, 10, 9), handlers={})
    assert report.escalations == 1
    assert report.reminders == 1  # the quiet case is now due today
    assert run_jobs_once(today=dt.date(2026, 10, 12), handlers={}).escalations == 1  # only the quiet one
    db.session.remove()
    case = db.session.get(Objection, case_id)
    assert case.is_overdue_escalated
    assert case.escalated_deadline == dt.date(2026, 10, 8)
    assert case.version == 1  # flags never bump the reviewers' version
    escalations = _events("case.overdue_escalated")
    assert [e.payload["case_id"] for e in escalations] == [case_id, quiet_id]
    assert escalations[0].payload["audience"] == "platform_admin"
    audited = db.session.scalars(sa.select(AuditEvent.target_id).where(AuditEvent.action == "objection.escalate"))
    assert list(audited) == [str(case_id), str(quiet_id)]


def test_a_pass_delivers_what_it_queued_and_expires_publicity(world):
    old = world.record(tier=PenaltyTier.GENERAL, decision_date=dt.date(2024, 3, 1), received_date=dt.date(2024, 3, 4))
    old_id = old.id
    _objection(world, at(2026, 9, 30))
    db.session.commit()
    sent = []
    report = run_jobs_once(
        today=dt.date(2026, 10, 9),
        handlers={"case.overdue_escalated": sent.append, "objection.file": sent.append},
    )
    assert report.expired == 1
    assert report.escalations == 1
    assert report.delivered == 2
    assert sorted(d.topic for d in sent) == ["case.overdue_escalated", "objection.file"]
    db.session.remove()
    assert db.session.get(CreditRecord, old_id).status is RecordStatus.EXPIRED
    statuses = {e.topic: e.status for e in db.session.scalars(sa.select(OutboxEvent))}
    assert statuses["case.overdue_escalated"] is OutboxStatus.DELIVERED
    assert statuses["objection.file"] is OutboxStatus.DELIVERED


def test_the_cli_command_runs_one_pass(app, world):
    _objection(world, at(2026, 9, 30))
    db.session.commit()
    group = AppGroup("credit-test")
    register(group)
    result = app.test_cli_runner().invoke(group, ["jobs", "--once", "--today", "2026-10-09"])
    assert result.exit_code == 0, result.output
    assert "escalations=1" in result.output
