"""Record changes from the workflows revoke the reports that showed the record, through the
outbox (record.changed) and the worker, exactly as in production."""

from __future__ import annotations

import datetime as dt

import pytest
import sqlalchemy as sa

from backend.actors import Actor
from backend.extensions import db
from backend.issued_reports.models import IssuedReport, ReportStatus
from backend.issued_reports.operations import issue_report
from backend.jobs import run_jobs_once
from backend.outbox.models import OutboxEvent, OutboxStatus
from backend.records.models import RecordStatus
from backend.subjects.models import Subject
from backend.workflows.materials.models import MaterialPurpose
from backend.workflows.objections.models import ObjectionGround, ObjectionOutcome
from backend.workflows.objections.operations import accept_objection, decide_objection, file_objection
from backend.workflows.repairs.models import RepairOutcome
from backend.workflows.repairs.operations import accept_repair, decide_repair, file_repair
from tests.workflows.conftest import World


@pytest.fixture
def wf(app):
    return World()


def _report_for(record) -> IssuedReport:
    subject = db.session.get(Subject, record.subject_id)
    return issue_report(Actor.public(), subject, "enterprise").report


def _status(report_id: int) -> IssuedReport:
    db.session.expire_all()
    return db.session.get(IssuedReport, report_id)


def _deliver():
    db.session.commit()
    return run_jobs_once()


def test_objection_deletion_revokes_the_reports_showing_the_record(wf):
    recent = dict(decision_date=dt.date.today() - dt.timedelta(days=30), received_date=dt.date.today())
    record = wf.record(**recent)
    other = wf.record(**recent)  # another enterprise: its report must stay valid
    shown = _report_for(record)
    untouched = _report_for(other)
    db.session.commit()
    shown_id, untouched_id = shown.id, untouched.id

    commitment = wf.objection_commitment(record)
    objection = file_objection(
        wf.citizen,
        record,
        wf.applicant,
        ground=ObjectionGround.INACCURATE,
        statement="处罚决定已被复议机关撤销",
        commitment=commitment,
        material_ids=[wf.material().id],
    )
    accept_objection(wf.actor(wf.admin), objection)
    decide_objection(wf.actor(wf.reviewer), objection, ObjectionOutcome.DELETED, "经核实，处罚决定已撤销")
    assert record.status is RecordStatus.WITHDRAWN
    assert _status(shown_id).status is ReportStatus.VALID  # nothing happens before delivery

    report = _deliver()
    assert report.delivered >= 1
    revoked = _status(shown_id)
    assert revoked.status is ReportStatus.REVOKED
    assert revoked.revoked_reason == "报告所载信用记录经异议处理已删除"
    assert revoked.revoked_by_label == "report-registry"
    assert _status(untouched_id).status is ReportStatus.VALID
    event = db.session.scalar(sa.select(OutboxEvent).where(OutboxEvent.topic == "record.changed"))
    assert event.status is OutboxStatus.DELIVERED

    # Delivered again (at-least-once): nothing more happens.
    from backend.issued_reports.jobs import handle_record_changed
    from backend.outbox.worker import OutboxDelivery

    handle_record_changed(OutboxDelivery(event.id, event.topic, event.payload, 2, event.created_at))
    again = _status(shown_id)
    assert again.status is ReportStatus.REVOKED and again.revoked_reason == revoked.revoked_reason


def test_repair_approval_revokes_the_reports_showing_the_record(wf):
    record = wf.record(decision_date=dt.date(2026, 5, 6), received_date=dt.date(2026, 5, 8))
    shown = _report_for(record)
    db.session.commit()
    shown_id = shown.id

    commitment = wf.repair_commitment(record)
    application = file_repair(
        wf.citizen,
        record,
        wf.applicant,
        statement="罚款已缴清，违法行为已整改",
        commitment=commitment,
        material_ids=[wf.material(MaterialPurpose.FULFILMENT).id],
    )
    accept_repair(wf.actor(wf.admin), application)
    decide_repair(wf.actor(wf.reviewer), application, RepairOutcome.APPROVED, "整改到位，准予修复")
    record_id = record.id
    _deliver()
    revoked = _status(shown_id)
    assert revoked.status is ReportStatus.REVOKED
    assert revoked.revoked_reason == "报告所载信用记录已完成信用修复"

    # A report issued now no longer shows the record (repaired records stop being published).
    from backend.records.models import CreditRecord

    fresh = _report_for(db.session.get(CreditRecord, record_id))
    shown_now = [db.session.get(CreditRecord, row.record_id) for row in fresh.shown_records]
    assert record_id not in [r.id for r in shown_now]
    # What it does show is the subject's published repair commitment (信用修复承诺).
    assert [(r.category.value, r.title) for r in shown_now] == [("commitment", "信用修复承诺")]
