"""Commitment letters: templates, click-to-sign, hash of the exact text."""

from __future__ import annotations

import datetime as dt
import hashlib

import pytest
import sqlalchemy as sa

from backend.audit.models import AuditEvent
from backend.errors import Conflict
from backend.extensions import db
from backend.issued_reports.content import ReportOptions, build_content
from backend.outbox.models import OutboxEvent
from backend.records.models import CreditRecord, RecordCategory, RecordStatus
from backend.records.publicity import PublicityRules
from backend.types import local_date
from backend.workflows.cases import Applicant, ApplicantKind, CaseState
from backend.workflows.commitments.models import CommitmentKind
from backend.workflows.commitments.operations import (
    published_commitment_number,
    render_commitment,
    sign_commitment,
    verify_commitment,
)
from backend.workflows.materials.models import MaterialPurpose
from backend.workflows.repairs.models import RepairOutcome
from backend.workflows.repairs.operations import accept_repair, decide_repair, file_repair, withdraw_repair
from reports.content import CHINA_TZ, ReportKind
from tests.factories import make_id_number
from tests.workflows.conftest import at


def test_signing_records_who_when_channel_and_the_hash_of_the_exact_text(world):
    record = world.record()
    now = at(2026, 9, 30)
    shown = render_commitment(CommitmentKind.REPAIR, record, world.applicant, local_date(now))
    digest = hashlib.sha256(shown.encode()).hexdigest()
    signed = sign_commitment(
        world.citizen, CommitmentKind.REPAIR, record, world.applicant, shown_text_sha256=digest, now=now
    )
    assert signed.text == shown
    assert signed.text_sha256 == digest
    assert (signed.signer_key, signed.channel, signed.signed_at) == ("citizen:42", "mp", now)
    assert signed.signer_name_masked == "王*国"
    assert signed.is_public
    assert shown.startswith("信用修复承诺书")
    assert "2026年9月30日" in shown
    assert record.decision_number in shown
    assert "王建国" not in shown
    assert verify_commitment(signed)
    signed.text = signed.text.replace("郑重承诺", "承诺")
    assert not verify_commitment(signed)


def test_a_changed_text_must_be_read_again(world):
    record = world.record()
    with pytest.raises(Conflict, match="重新阅读"):
        sign_commitment(world.citizen, CommitmentKind.OBJECTION, record, world.applicant, shown_text_sha256="0" * 64)


def test_natural_persons_appear_masked_in_the_letter(world):
    number = make_id_number(77)
    record = world.record(uscc=None, id_number=number, subject_name="赵小红")
    text = render_commitment(
        CommitmentKind.OBJECTION, record, Applicant(ApplicantKind.SELF, "赵小红", number), local_date()
    )
    assert text.startswith("异议申诉信用承诺书")
    assert "赵*红" in text
    assert "赵小红" not in text
    assert number not in text


# --- The repair commitment published in the subject's record ------------------------------


def _repairable(world, **overrides):
    """A general penalty past its minimum publicity period and well inside its maximum, today."""
    decided = local_date() - dt.timedelta(days=150)
    return world.record(decision_date=decided, received_date=decided + dt.timedelta(days=2), **overrides)


def _file_repair(world, record, applicant=None):
    applicant = applicant or world.applicant
    commitment = world.repair_commitment(record, applicant=applicant)
    receipt = world.material(MaterialPurpose.FULFILMENT)
    return file_repair(
        world.citizen, record, applicant, statement="罚款已缴清，违法行为已整改", commitment=commitment,
        material_ids=[receipt.id],
    )  # fmt: skip


def _commitment_records(subject_id):
    return db.session.scalars(
        sa.select(CreditRecord)
        .where(CreditRecord.subject_id == subject_id, CreditRecord.category == RecordCategory.COMMITMENT)
        .order_by(CreditRecord.id)
    ).all()


def _audit(action):
    return db.session.scalars(sa.select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.id)).all()


def _profile_records(client, uscc):
    response = client.get(f"/api/v1/subjects/{uscc}")
    assert response.status_code == 200
    body = response.get_json()
    return body, {r["decision_number"]: r for group in body["categories"] for r in group["records"]}


def test_filing_publishes_the_commitment_in_an_enterprises_public_record(world, client):
    record = _repairable(world)
    application = _file_repair(world, record)
    commitment = application.commitment
    today = local_date()

    [published] = _commitment_records(record.subject_id)
    assert published.title == "信用修复承诺"
    assert published.decision_number == published_commitment_number(application)
    assert published.decision_number == f"信修承〔{today.year}〕{application.id}号"
    assert application.number not in published.decision_number  # the query code is never public
    assert (published.department_id, published.source_department_id) == (record.department_id, None)
    assert (published.decision_date, published.received_date) == (today, today)
    assert published.tier is None and published.fine_amount is None
    assert published.subject_name == record.subject_name
    # Under public supervision for as long as the repaired record would have been shown.
    assert published.valid_until == record.visible_until
    assert (published.status, published.published, published.visible_until) == (
        RecordStatus.PUBLIC, True, record.visible_until,
    )  # fmt: skip
    for part in (commitment.text_sha256, "金昌市市场监督管理局", "行政处罚"):
        assert part in published.facts, part
    # The repaired record stays unidentifiable once repaired: neither its number nor its title.
    assert record.decision_number not in published.facts and record.violation_type not in published.facts
    assert "信用修复承诺书" in published.facts and "王建国" not in published.facts
    assert commitment.is_public
    [event] = _audit("commitment.publish")
    assert (event.target_type, event.target_id, event.subject_id) == (
        "credit_record", str(published.id), record.subject_id,
    )  # fmt: skip
    assert event.details["commitment_id"] == commitment.id and event.details["sha256"] == commitment.text_sha256
    assert event.details["number"] == application.number and event.details["repaired_record_id"] == record.id
    db.session.commit()

    body, shown = _profile_records(client, record.subject.uscc)
    assert body["counts"]["commitment"] == 1
    entry = shown[published.decision_number]
    assert entry["category"] == "commitment" and entry["category_label"] == "信用承诺"
    assert entry["title"] == "信用修复承诺"
    assert entry["department_name"] == "金昌市市场监督管理局"
    assert commitment.text_sha256 in entry["facts"] and record.decision_number not in entry["facts"]
    assert entry["visible_until"] == record.visible_until.isoformat()
    assert application.number not in client.get(f"/api/v1/subjects/{record.subject.uscc}").get_data(as_text=True)

    # The enterprise report shows what the profile shows, the commitment included.
    issued = dt.datetime.now(CHINA_TZ)
    built = build_content(
        record.subject, ReportKind.ENTERPRISE, ReportOptions(), number="XYJC-TEST", issued_at=issued,
        valid_until=issued.date() + dt.timedelta(days=30),
    )  # fmt: skip
    section = next(s for s in built.content.sections if s.key == "commitment")
    assert [row["decision_no"] for row in section.rows] == [published.decision_number]
    assert published.id in built.record_ids

    # Approval ends the penalty's publication; the commitment stays in the record.
    accept_repair(world.actor(world.admin), application)
    decide_repair(world.actor(world.reviewer), application, RepairOutcome.APPROVED, "已履行处罚决定，准予修复")
    db.session.commit()
    _, shown = _profile_records(client, record.subject.uscc)
    assert record.decision_number not in shown
    assert published.decision_number in shown


def test_a_natural_persons_commitment_is_kept_but_never_public(world):
    number = make_id_number(61)
    record = _repairable(world, uscc=None, id_number=number, subject_name="赵小红")
    assert not record.published
    application = _file_repair(world, record, applicant=Applicant(ApplicantKind.SELF, "赵小红", number))

    [published] = _commitment_records(record.subject_id)
    assert published.subject_id == record.subject_id
    assert (published.status, published.published, published.visible_until) == (RecordStatus.PUBLIC, False, None)
    assert not PublicityRules.is_visible(published.status, published.published, published.visible_until, local_date())
    assert published.subject_name == "赵*红" and published.legal_representative is None
    assert "赵小红" not in published.facts and number not in published.facts
    assert application.commitment.text_sha256 in published.facts
    assert not application.commitment.is_public
    [event] = _audit("commitment.publish")
    assert event.details["published"] is False

    # Kept in the person's own record: their personal report lists it.
    issued = dt.datetime.now(CHINA_TZ)
    built = build_content(
        record.subject, ReportKind.PERSONAL, ReportOptions(), number="XYJC-TEST", issued_at=issued,
        valid_until=issued.date() + dt.timedelta(days=30),
    )  # fmt: skip
    section = next(s for s in built.content.sections if s.key == "commitment")
    assert [row["decision_no"] for row in section.rows] == [published.decision_number]


def test_withdrawing_the_application_withdraws_the_published_commitment(world, client):
    record = _repairable(world)
    application = _file_repair(world, record)
    [published] = _commitment_records(record.subject_id)
    withdraw_repair(world.actor(world.admin), application, "申请人到窗口书面撤回")
    assert application.state is CaseState.WITHDRAWN
    assert published.status is RecordStatus.WITHDRAWN
    assert not application.commitment.is_public
    [event] = _audit("commitment.withdraw")
    assert event.target_id == str(published.id) and event.actor_type == "staff"
    change = db.session.scalar(sa.select(OutboxEvent).where(OutboxEvent.topic == "record.changed"))
    assert change.payload["record_id"] == published.id and change.payload["change"] == "withdrawn"
    db.session.commit()
    _, shown = _profile_records(client, record.subject.uscc)
    assert published.decision_number not in shown and record.decision_number in shown

    # A new application publishes its own commitment, under its own number.
    again = _file_repair(world, record)
    first, second = _commitment_records(record.subject_id)
    assert (first.id, first.status) == (published.id, RecordStatus.WITHDRAWN)
    assert second.status is RecordStatus.PUBLIC
    assert second.decision_number == published_commitment_number(again) != first.decision_number


def test_a_rejected_application_keeps_its_published_commitment(world):
    record = _repairable(world)
    application = _file_repair(world, record)
    accept_repair(world.actor(world.admin), application)
    decide_repair(world.actor(world.reviewer), application, RepairOutcome.REJECTED, "罚款尚未缴清")
    [published] = _commitment_records(record.subject_id)
    assert published.status is RecordStatus.PUBLIC and application.commitment.is_public
    assert not _audit("commitment.withdraw")
