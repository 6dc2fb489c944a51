"""The credit repair workflow at the operation layer, with its eligibility answers."""

from __future__ import annotations

import datetime as dt

import pytest
import sqlalchemy as sa

from backend.errors import ApiError, Conflict, Forbidden
from backend.extensions import db
from backend.outbox.models import OutboxEvent
from backend.records.models import PenaltyTier, RecordCategory, RecordStatus
from backend.records.publicity import PublicityRules
from backend.workflows.cases import CaseState
from backend.workflows.materials.models import MaterialPurpose
from backend.workflows.objections.models import ObjectionGround
from backend.workflows.objections.operations import file_objection
from backend.workflows.repairs.eligibility import check_repair_eligibility
from backend.workflows.repairs.models import RepairArchive, RepairOutcome
from backend.workflows.repairs.operations import (
    accept_repair,
    decide_repair,
    deliver_repair_result,
    extend_repair,
    file_repair,
    get_repair,
    return_repair,
    supplement_repair,
    withdraw_repair,
)
from tests.workflows.conftest import at

ELIGIBLE_DATE = dict(decision_date=dt.date(2026, 5, 6), received_date=dt.date(2026, 5, 8))


def _file(world, record, now=None, purposes=(MaterialPurpose.FULFILMENT,), **kw):
    commitment = world.repair_commitment(record, now=now)
    materials = [world.material(p) for p in purposes]
    return file_repair(
        world.citizen,
        record,
        kw.pop("applicant", world.applicant),
        statement="罚款已于2026年6月缴清，违法行为已整改",
        commitment=commitment,
        material_ids=[m.id for m in materials],
        now=now,
    )


def test_eligibility_answers_are_precise(world, settings_extra):
    today = dt.date(2026, 9, 30)
    early = world.record(decision_date=dt.date(2026, 8, 15), received_date=dt.date(2026, 8, 17))
    answer = check_repair_eligibility(early, today)
    assert (answer.eligible, answer.code, answer.eligible_from) == (False, "too_early", dt.date(2026, 11, 15))
    assert "2026年11月15日" in answer.message

    serious = world.record(
        tier=PenaltyTier.SERIOUS, decision_date=dt.date(2026, 1, 5), received_date=dt.date(2026, 1, 6)
    )
    assert check_repair_eligibility(serious, today).eligible_from == dt.date(2027, 1, 5)

    minor = world.record(tier=PenaltyTier.MINOR)
    answer = check_repair_eligibility(minor, today)
    assert (answer.eligible, answer.code) == (False, "minor_unpublished")
    assert "无需申请信用修复" in answer.message

    court = world.record(category=RecordCategory.COURT_DEFAULTER, tier=None, decision_number="（2026）甘03执12号")
    answer = check_repair_eligibility(court, today)
    assert (answer.eligible, answer.code) == (False, "not_repairable")
    assert "人民法院" in answer.basis
    assert answer.basis in answer.message

    licence = world.record(category=RecordCategory.LICENCE, tier=None)
    assert check_repair_eligibility(licence, today).code == "not_negative"

    ok = world.record(**ELIGIBLE_DATE)
    assert check_repair_eligibility(ok, today).eligible

    # The list of non-repairable categories is configuration.
    settings_extra(REPAIR_NON_REPAIRABLE_CATEGORIES=("penalty",))
    answer = check_repair_eligibility(ok, today)
    assert answer.code == "not_repairable"
    assert "不可修复" in answer.basis  # the generic basis for a category without its own text
    settings_extra(REPAIR_NON_REPAIRABLE_CATEGORIES=())
    assert check_repair_eligibility(court, today).eligible


def test_filing_an_ineligible_record_is_refused_with_the_date(world):
    record = world.record(decision_date=dt.date(2026, 8, 15), received_date=dt.date(2026, 8, 17))
    with pytest.raises(ApiError) as refused:
        _file(world, record, now=at(2026, 9, 30))
    assert refused.value.code == "not_eligible_too_early"
    assert refused.value.details["eligible_from"] == "2026-11-15"


def test_repair_end_to_end_across_national_day(world):
    record = world.record(**ELIGIBLE_DATE)
    admin, reviewer = world.actor(world.admin), world.actor(world.reviewer)
    assert PublicityRules.is_visible(record.status, record.published, record.visible_until, dt.date(2026, 9, 30))

    application = _file(world, record, now=at(2026, 9, 30))
    assert application.number.startswith("XF20260930")
    assert application.deadline == dt.date(2026, 10, 9)  # 2 working days: Thu 8, Fri 9 Oct
    assert application.commitment.is_public

    return_repair(admin, application, ["缴款凭证不清晰，请重新上传"], now=at(2026, 10, 8))
    assert application.state is CaseState.RETURNED
    receipt = world.material(MaterialPurpose.FULFILMENT)
    supplement_repair(world.citizen, application, note="已重新上传", material_ids=[receipt.id], now=at(2026, 10, 9))
    assert application.deadline == dt.date(2026, 10, 12)  # Sat 10 (adjusted working day), Mon 12

    accept_repair(admin, application, now=at(2026, 10, 10))  # the adjusted Saturday is a working day
    assert application.deadline == dt.date(2026, 10, 23)  # 10 working days from Sat 10 Oct
    assert record.status is RecordStatus.PUBLIC  # nothing changes for the public before the decision

    extend_repair(reviewer, application, 10, "需现场核查整改情况", now=at(2026, 10, 20))
    assert application.deadline == dt.date(2026, 11, 6)  # extended from the deadline, not from today
    with pytest.raises(Conflict):
        extend_repair(reviewer, application, 1, "再次延期")

    decide_repair(
        reviewer, application, RepairOutcome.APPROVED, "已履行处罚决定，整改到位，准予修复", now=at(2026, 10, 23)
    )
    assert application.state is CaseState.DECIDED
    assert application.deadline == dt.date(2026, 10, 28)  # result shared within 3 working days
    assert record.status is RecordStatus.REPAIRED
    assert not PublicityRules.is_visible(record.status, record.published, record.visible_until, dt.date(2026, 10, 23))
    archive = db.session.scalar(sa.select(RepairArchive))
    assert archive.record_id == record.id
    assert archive.application_id == application.id
    assert archive.decision_reason == "已履行处罚决定，整改到位，准予修复"
    assert archive.record_snapshot["decision_number"] == record.decision_number
    assert archive.record_snapshot["status"] == "public"
    change = db.session.scalar(sa.select(OutboxEvent).where(OutboxEvent.topic == "record.changed"))
    assert change.payload == {
        "record_id": record.id,
        "change": "repaired",
        "case_type": "repair",
        "number": application.number,
    }

    deliver_repair_result(admin, application, now=at(2026, 10, 26))
    assert application.state is CaseState.CLOSED
    assert record.status is RecordStatus.REPAIRED
    db.session.commit()
    assert get_repair(application.number).id == application.id
    assert [h.action for h in application.history] == [
        "file", "return", "supplement", "accept", "extend", "decide", "deliver",
    ]  # fmt: skip
    # Repaired: nothing more to repair, nor to object to.
    assert check_repair_eligibility(record, dt.date(2026, 11, 1)).code == "already_repaired"


def test_rejection_keeps_the_record_and_frees_it_after_closing(world):
    record = world.record(**ELIGIBLE_DATE)
    application = _file(world, record)
    accept_repair(world.actor(world.admin), application)
    decide_repair(world.actor(world.reviewer), application, RepairOutcome.REJECTED, "罚款尚未缴清")
    assert record.status is RecordStatus.PUBLIC
    assert db.session.scalar(sa.select(RepairArchive)) is None
    assert db.session.scalar(sa.select(OutboxEvent).where(OutboxEvent.topic == "record.changed")) is None
    with pytest.raises(Conflict, match=application.number):  # still open until the result is shared
        _file(world, record)
    deliver_repair_result(world.actor(world.admin), application)
    again = _file(world, record)
    assert again.state is CaseState.SUBMITTED


def test_one_open_application_per_record(world):
    record = world.record(**ELIGIBLE_DATE)
    first = _file(world, record)
    with pytest.raises(Conflict) as refused:
        _file(world, record)
    assert refused.value.message == f"该信用记录已有正在办理的信用修复申请（查询码 {first.number}），请勿重复提交"
    # ...and no objection either while the repair is open, nor the other way round.
    with pytest.raises(Conflict, match=first.number):
        file_objection(
            world.citizen, record, world.applicant, ground=ObjectionGround.OTHER, statement="理由",
            commitment=world.objection_commitment(record),
        )  # fmt: skip
    withdraw_repair(world.citizen, first, "暂不申请")
    assert first.state is CaseState.WITHDRAWN
    assert _file(world, record).number != first.number


def test_the_database_also_refuses_two_open_applications(world):
    record = world.record(**ELIGIBLE_DATE)
    first = _file(world, record)
    from backend.workflows.repairs.models import RepairApplication

    clone = RepairApplication(
        **{
            c.key: getattr(first, c.key)
            for c in RepairApplication.__table__.columns
            if c.key not in ("id", "number", "commitment_id")
        },
        number="XF20260101TESTTESTTE",
        commitment_id=world.repair_commitment(record).id,
    )
    db.session.add(clone)
    with pytest.raises(sa.exc.IntegrityError):
        db.session.flush()
    db.session.rollback()


def test_proof_of_fulfilment_is_required(world):
    record = world.record(**ELIGIBLE_DATE)
    with pytest.raises(ApiError, match="履行法定义务的证明材料"):
        _file(world, record, purposes=(MaterialPurpose.EVIDENCE,))


def test_other_department_cannot_decide_a_repair(world):
    record = world.record(**ELIGIBLE_DATE)
    application = _file(world, record)
    accept_repair(world.actor(world.admin), application)
    with pytest.raises(Forbidden):
        decide_repair(world.actor(world.other_reviewer), application, RepairOutcome.APPROVED, "越权")
    with pytest.raises(Forbidden):
        decide_repair(world.actor(world.admin), application, RepairOutcome.APPROVED, "平台不代部门决定")
    assert record.status is RecordStatus.PUBLIC
