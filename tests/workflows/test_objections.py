"""The objection workflow at the operation layer."""

from __future__ import annotations

import datetime as dt
import re

import pytest
import sqlalchemy as sa

from backend.audit.models import AuditEvent
from backend.errors import ApiError, Conflict, Forbidden, NotFound
from backend.extensions import db
from backend.outbox.models import OutboxEvent
from backend.records.models import RecordStatus
from backend.records.publicity import PublicityRules
from backend.workflows.cases import Applicant, ApplicantKind, CaseState
from backend.workflows.materials.models import MaterialPurpose
from backend.workflows.objections.models import Objection, ObjectionGround, ObjectionOutcome
from backend.workflows.objections.operations import (
    accept_objection,
    decide_objection,
    deliver_objection_result,
    extend_objection,
    file_objection,
    get_objection,
    return_objection,
    supplement_objection,
    withdraw_objection,
)
from tests.workflows.conftest import at


def _file(world, record, now=None, **kw):
    commitment = world.objection_commitment(record, now=now)
    evidence = world.material()
    return file_objection(
        kw.pop("actor", world.citizen),
        record,
        kw.pop("applicant", world.applicant),
        ground=kw.pop("ground", ObjectionGround.INACCURATE),
        statement=kw.pop("statement", "处罚决定已被复议机关撤销，记录应予删除"),
        commitment=commitment,
        material_ids=kw.pop("material_ids", [evidence.id]),
        now=now,
    )


def _topics():
    return [e.topic for e in db.session.scalars(sa.select(OutboxEvent).order_by(OutboxEvent.id))]


def test_objection_end_to_end_across_national_day_with_return_extension_and_correction(world):
    record = world.record()
    admin, reviewer = world.actor(world.admin), world.actor(world.reviewer)

    # Filed on the eve of the National Day holiday: 1 working day to accept -> Thu 8 Oct.
    objection = _file(world, record, now=at(2026, 9, 30))
    assert objection.state is CaseState.SUBMITTED
    assert objection.deadline == dt.date(2026, 10, 8)
    assert re.fullmatch(r"YY20260930[0-9A-HJKMNP-TV-Z]{10}", objection.number)
    assert record.status is RecordStatus.PUBLIC  # not marked before acceptance

    return_objection(admin, objection, ["复议决定书原件扫描件", "  ", "法定代表人身份证明书"], now=at(2026, 9, 30, 15))
    assert objection.state is CaseState.RETURNED
    assert objection.missing_items == ["复议决定书原件扫描件", "法定代表人身份证明书"]
    assert objection.deadline is None

    extra = world.material(MaterialPurpose.EVIDENCE)
    supplement_objection(
        world.citizen, objection, note="已补充复议决定书", material_ids=[extra.id], now=at(2026, 10, 8)
    )
    assert objection.state is CaseState.SUBMITTED
    assert objection.deadline == dt.date(2026, 10, 9)
    assert len(objection.materials) == 2

    accept_objection(admin, objection, now=at(2026, 10, 9))
    assert objection.state is CaseState.UNDER_REVIEW
    # 5 working days from Fri 9 Oct: Sat 10 (adjusted working day), 12, 13, 14, 15.
    assert objection.deadline == dt.date(2026, 10, 15)
    assert record.status is RecordStatus.UNDER_OBJECTION
    assert PublicityRules.is_visible(record.status, record.published, record.visible_until, dt.date(2026, 10, 9))

    extend_objection(reviewer, objection, 3, "需向复议机关核实", now=at(2026, 10, 14))
    assert objection.deadline == dt.date(2026, 10, 20)  # 16, 19, 20
    with pytest.raises(Conflict, match="已延期一次"):
        extend_objection(reviewer, objection, 1, "再次延期", now=at(2026, 10, 15))

    decide_objection(
        reviewer,
        objection,
        ObjectionOutcome.CORRECTED,
        "经核实，罚款金额录入有误，予以更正",
        corrections={"fine_amount": "3000", "penalty_content": "罚款人民币叁仟元", "publicity_end_date": "2026-12-01"},
        now=at(2026, 10, 16),
    )
    assert objection.state is CaseState.DECIDED
    assert objection.deadline == dt.date(2026, 10, 19)  # result within 1 working day
    assert str(record.fine_amount) == "3000.00"
    assert record.penalty_content == "罚款人民币叁仟元"
    assert record.visible_until == dt.date(2026, 12, 1)  # publicity recomputed by the upsert
    assert objection.corrections["fine_amount"] == [None, "3000.00"]
    assert record.status is RecordStatus.UNDER_OBJECTION  # until the result reaches the applicant

    deliver_objection_result(admin, objection, now=at(2026, 10, 19))
    assert objection.state is CaseState.CLOSED
    assert record.status is RecordStatus.PUBLIC
    db.session.commit()

    actions = [(h.action, h.from_state, h.to_state) for h in objection.history]
    assert actions == [
        ("file", None, "submitted"),
        ("return", "submitted", "returned"),
        ("supplement", "returned", "submitted"),
        ("accept", "submitted", "under_review"),
        ("extend", "under_review", "under_review"),
        ("decide", "under_review", "decided"),
        ("deliver", "decided", "closed"),
    ]
    assert objection.history[1].reason == "复议决定书原件扫描件；法定代表人身份证明书"
    assert objection.history[4].actor_label == "reviewer_a"
    audited = db.session.scalars(sa.select(AuditEvent.action).where(AuditEvent.target_type == "objection")).all()
    assert audited == [
        "objection.file",
        "objection.return",
        "objection.supplement",
        "objection.accept",
        "objection.extend",
        "objection.decide",
        "objection.deliver",
    ]
    topics = _topics()
    assert topics.count("record.changed") == 1
    change = db.session.scalar(sa.select(OutboxEvent).where(OutboxEvent.topic == "record.changed"))
    assert change.payload["record_id"] == record.id
    assert change.payload["change"] == "corrected"
    assert "objection.decide" in topics
    assert "objection.deliver" in topics


def test_under_objection_exactly_while_an_accepted_objection_is_open(world):
    record = world.record()
    objection = _file(world, record)
    assert record.status is RecordStatus.PUBLIC
    accept_objection(world.actor(world.admin), objection)
    assert record.status is RecordStatus.UNDER_OBJECTION
    withdraw_objection(world.citizen, objection, "已与认定单位沟通，撤回申请")
    assert objection.state is CaseState.WITHDRAWN
    assert record.status is RecordStatus.PUBLIC
    # A withdrawn objection no longer blocks a new one.
    again = _file(world, record)
    accept_objection(world.actor(world.admin), again)
    decide_objection(world.actor(world.reviewer), again, ObjectionOutcome.CONFIRMED, "经核实，原记录无误")
    assert record.status is RecordStatus.UNDER_OBJECTION
    with pytest.raises(Conflict, match="已由reviewer_a于"):
        withdraw_objection(world.citizen, again)
    deliver_objection_result(world.actor(world.admin), again)
    assert record.status is RecordStatus.PUBLIC
    assert "record.changed" not in _topics()  # a confirmation changes nothing the public sees


def test_mark_removed_to_expired_when_publicity_ended_meanwhile(world):
    record = world.record(decision_date=dt.date(2025, 10, 1), received_date=dt.date(2025, 10, 9))
    assert record.visible_until == dt.date(2026, 10, 1)
    objection = _file(world, record, now=at(2026, 9, 28))
    accept_objection(world.actor(world.admin), objection, now=at(2026, 9, 29))
    decide_objection(
        world.actor(world.reviewer), objection, ObjectionOutcome.CONFIRMED, "原记录无误", now=at(2026, 9, 30)
    )
    deliver_objection_result(world.actor(world.admin), objection, now=at(2026, 10, 8))
    assert record.status is RecordStatus.EXPIRED


def test_deletion_withdraws_the_record_and_queues_the_change(world):
    record = world.record()
    objection = _file(world, record)
    accept_objection(world.actor(world.admin), objection)
    decide_objection(world.actor(world.reviewer), objection, ObjectionOutcome.DELETED, "处罚决定已被撤销")
    assert record.status is RecordStatus.WITHDRAWN
    assert not PublicityRules.is_visible(record.status, record.published, record.visible_until, dt.date.today())
    deliver_objection_result(world.actor(world.admin), objection)
    assert record.status is RecordStatus.WITHDRAWN
    change = db.session.scalar(sa.select(OutboxEvent).where(OutboxEvent.topic == "record.changed"))
    assert change.payload == {
        "record_id": record.id,
        "change": "deleted",
        "case_type": "objection",
        "number": objection.number,
        "fields": None,
    }


def test_second_objection_refused_with_the_open_number(world):
    record = world.record()
    first = _file(world, record)
    with pytest.raises(Conflict) as refused:
        _file(world, record)
    assert first.number in refused.value.message
    assert refused.value.details == {"number": first.number}


def test_only_the_records_department_decides(world):
    record = world.record()
    objection = _file(world, record)
    accept_objection(world.actor(world.admin), objection)
    from backend.actors import Actor

    matrix = {
        "platform admin": (world.actor(world.admin), False),
        "auditor": (world.actor(world.auditor), False),
        "reviewer of the record's department": (world.actor(world.reviewer), True),
        "reviewer of another department": (world.actor(world.other_reviewer), False),
        "the record's department system": (Actor.department(world.dept), True),
        "another department system": (Actor.department(world.other_dept), False),
        "the applicant": (world.citizen, False),
        "system": (Actor.system(), False),
    }
    assert {name: objection.can_decide(actor) for name, (actor, _) in matrix.items()} == {
        name: expected for name, (_, expected) in matrix.items()
    }
    with pytest.raises(Forbidden):
        decide_objection(world.actor(world.other_reviewer), objection, ObjectionOutcome.DELETED, "越权删除")
    with pytest.raises(Forbidden):
        extend_objection(world.actor(world.other_reviewer), objection, 2, "越权延期")
    with pytest.raises(Forbidden):
        accept_objection(world.actor(world.reviewer), objection)
    with pytest.raises(Forbidden):
        withdraw_objection(world.stranger, objection)
    assert objection.state is CaseState.UNDER_REVIEW
    assert not objection.can_view(world.actor(world.other_reviewer))
    assert objection.can_view(world.citizen)


def test_inactive_staff_cannot_act(world):
    record = world.record()
    objection = _file(world, record)
    world.admin.is_active = False
    with pytest.raises(Forbidden):
        accept_objection(world.actor(world.admin), objection)


def test_a_stale_decision_gets_who_and_when(app, world):
    """Sequentially, on both databases: reviewer 2 acts on the version loaded before reviewer 1
    decided in another session."""
    from backend.actors import Actor
    from backend.staff.models import StaffUser

    record = world.record()
    objection = _file(world, record)
    accept_objection(world.actor(world.admin), objection)
    db.session.commit()
    case_id, reviewer_id = objection.id, world.reviewer.id
    stale = db.session.get(Objection, case_id)
    assert stale.state is CaseState.UNDER_REVIEW

    with app.app_context():  # a second app context: its own session and connection
        winner = db.session.get(Objection, case_id)
        reviewer = Actor.staff(db.session.get(StaffUser, reviewer_id))
        decide_objection(reviewer, winner, ObjectionOutcome.CONFIRMED, "原记录无误")
        db.session.commit()
        db.session.remove()

    with pytest.raises(Conflict) as lost:
        decide_objection(world.actor(world.reviewer2), stale, ObjectionOutcome.DELETED, "应删除")
    assert lost.value.code == "already_handled"
    assert re.fullmatch(
        r"该申请已由reviewer_a于\d{4}-\d\d-\d\d \d\d:\d\d处理（当前状态：已作出决定），请刷新后查看", lost.value.message
    )
    db.session.rollback()
    fresh = db.session.get(Objection, case_id)
    assert fresh.outcome is ObjectionOutcome.CONFIRMED
    assert [h.action for h in fresh.history].count("decide") == 1
    assert record.status is not RecordStatus.WITHDRAWN


def test_corrections_are_checked_before_anything_changes(world):
    record = world.record()
    objection = _file(world, record)
    accept_objection(world.actor(world.admin), objection)
    reviewer = world.actor(world.reviewer)
    version = objection.version
    with pytest.raises(ApiError, match="不能通过异议更正"):
        decide_objection(reviewer, objection, ObjectionOutcome.CORRECTED, "更正", corrections={"decision_number": "x"})
    with pytest.raises(ApiError, match="与原记录相同"):
        decide_objection(reviewer, objection, ObjectionOutcome.CORRECTED, "更正", corrections={"facts": record.facts})
    with pytest.raises(ApiError, match="罚款金额"):
        decide_objection(reviewer, objection, ObjectionOutcome.CORRECTED, "更正", corrections={"fine_amount": "abc"})
    with pytest.raises(ApiError, match="更正记录须列明"):
        decide_objection(reviewer, objection, ObjectionOutcome.CORRECTED, "更正")
    with pytest.raises(ApiError, match="请填写作出决定的理由"):
        decide_objection(reviewer, objection, ObjectionOutcome.CONFIRMED, "  ")
    with pytest.raises(ApiError, match="延期天数"):
        extend_objection(reviewer, objection, 6, "超过上限")
    assert objection.state is CaseState.UNDER_REVIEW
    assert objection.version == version


def test_agent_must_bring_an_authorisation(world):
    record = world.record()
    agent = Applicant(ApplicantKind.AGENT, "李代理")
    with pytest.raises(ApiError, match="授权委托书"):
        _file(world, record, applicant=agent)
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Objection)) == 0
    auth = world.material(MaterialPurpose.AUTHORISATION)
    commitment = world.objection_commitment(record, applicant=agent)
    objection = file_objection(
        world.citizen,
        record,
        agent,
        ground=ObjectionGround.DUPLICATED,
        statement="与另一条记录重复",
        commitment=commitment,
        material_ids=[auth.id],
    )
    assert objection.applicant_kind is ApplicantKind.AGENT


def test_commitment_must_match_the_filing(world):
    record, other = world.record(), world.record()
    wrong_record = world.objection_commitment(other)
    with pytest.raises(ApiError, match="承诺书与本次申请不符"):
        file_objection(
            world.citizen, record, world.applicant, ground=ObjectionGround.OTHER, statement="理由",
            commitment=wrong_record,
        )  # fmt: skip
    with pytest.raises(ApiError, match="请先签署异议申诉信用承诺书"):
        file_objection(
            world.citizen, record, world.applicant, ground=ObjectionGround.OTHER, statement="理由", commitment=None
        )
    someone_elses = world.objection_commitment(record, actor=world.stranger)
    with pytest.raises(ApiError, match="承诺书与本次申请不符"):
        file_objection(
            world.citizen, record, world.applicant, ground=ObjectionGround.OTHER, statement="理由",
            commitment=someone_elses,
        )  # fmt: skip


def test_query_code_lookup_and_applicant_data_encrypted(world):
    record = world.record()
    objection = _file(world, record)
    db.session.commit()
    assert get_objection(objection.number.lower()).id == objection.id
    with pytest.raises(NotFound):
        get_objection("YY20260930AAAAAAAAAA")
    assert objection.applicant_name_masked == "王*国"
    assert objection.applicant_id_number_masked == "1101**********002X"
    assert objection.applicant_name() == "王建国"
    with db.engine.connect() as conn:
        for table in ("objection", "objection_history", "credit_commitment", "audit_event", "outbox_event"):
            for row in conn.execute(sa.text(f"SELECT * FROM {table}")):
                text = " ".join(str(v) for v in row)
                assert "王建国" not in text, table
                assert "11010519491231002X" not in text, table


def _corrected(world, record, **corrections):
    """An objection filed, accepted and decided 更正 with ``corrections``."""
    objection = _file(world, record)
    accept_objection(world.actor(world.admin), objection)
    decide_objection(
        world.actor(world.reviewer), objection, ObjectionOutcome.CORRECTED, "以复议决定为准", corrections=corrections
    )
    return objection


def test_a_later_push_of_the_old_values_cannot_undo_a_correction(world, tmp_path):
    """The department's system still holds what the objection corrected and sends it again."""
    from backend.actors import Actor
    from backend.imports.models import ImportRowError, ImportStatus
    from backend.imports.operations import import_file
    from backend.records.models import CreditRecord
    from tests.fixtures.import_data import penalty_row, to_csv

    cli = Actor.cli("t")
    path = tmp_path / "push.csv"

    def push(*rows, atomic=False):
        path.write_bytes(to_csv(list(rows)))
        return import_file(cli, world.dept, path, atomic=atomic)

    def fine(n):
        return db.session.scalar(
            sa.select(CreditRecord.fine_amount).where(CreditRecord.decision_number == f"金市监罚〔2026〕{n}号")
        )

    push(penalty_row(1), penalty_row(2))
    record = db.session.scalar(sa.select(CreditRecord).where(CreditRecord.decision_number == "金市监罚〔2026〕1号"))
    objection = _corrected(world, record, fine_amount="3000", penalty_content="罚款人民币叁仟元")
    assert fine(1) == 3000

    # Keep-the-good-rows batch: the reverting row is refused with the objection's number, the
    # other row is written.
    batch = push(penalty_row(1), penalty_row(2, **{"违法程度": "严重"}))
    assert (batch.status, batch.updated_count, batch.error_count) == (ImportStatus.PARTIAL, 1, 1)
    error = db.session.scalars(sa.select(ImportRowError).where(ImportRowError.batch_id == batch.id)).one()
    assert error.row_number == 2  # the file's first data row
    assert error.column == "罚款金额（元）"
    assert objection.number in error.reason
    assert "“罚款金额（元）、处罚内容”仍为更正前的内容" in error.reason
    assert fine(1) == 3000
    assert record.penalty_content == "罚款人民币叁仟元"

    # All-or-nothing batch: nothing is written, not even the new record.
    batch = push(penalty_row(1), penalty_row(3), atomic=True)
    assert (batch.status, batch.created_count, batch.error_count) == (ImportStatus.REJECTED, 0, 1)
    assert fine(3) is None and fine(1) == 3000

    # The corrected values, and later a new value of the department's own, go through.
    batch = push(penalty_row(1, **{"罚款金额（万元）": "0.3", "处罚内容": "罚款人民币叁仟元", "违法程度": "严重"}))
    assert (batch.status, batch.updated_count) == (ImportStatus.COMPLETED, 1)
    batch = push(penalty_row(1, **{"罚款金额（万元）": "0.2", "处罚内容": "罚款人民币贰仟元"}))
    assert (batch.status, batch.updated_count) == (ImportStatus.COMPLETED, 1)
    assert fine(1) == 2000
    # Once the department has sent its own new values, the values from before the correction
    # are still refused: they are what the objection found wrong.
    batch = push(penalty_row(1))
    assert (batch.status, batch.error_count) == (ImportStatus.REJECTED, 1)
    assert fine(1) == 2000


def test_department_api_push_of_the_old_values_is_refused_by_index_and_field(world, client):
    from backend.actors import Actor
    from backend.departments.operations import issue_api_key
    from backend.records.models import CreditRecord
    from tests.test_dept_api import post, record

    key, secret = issue_api_key(Actor.cli("t"), world.dept)
    db.session.commit()
    assert post(client, key.key_id, secret, {"records": [record(1)]}).json["created"] == 1
    corrected = db.session.scalar(
        sa.select(CreditRecord).where(CreditRecord.decision_number == record(1)["decision_number"])
    )
    objection = _corrected(world, corrected, fine_amount="3000")
    db.session.commit()

    response = post(client, key.key_id, secret, {"records": [record(2), record(1)]})
    assert response.status_code == 200, response.json
    body = response.json
    assert (body["status"], body["created"], body["error_rows"]) == ("partial", 1, 1)
    [error] = body["errors"]
    assert (error["index"], error["field"]) == (1, "fine_amount")
    assert objection.number in error["reason"] and "罚款金额（元）" in error["reason"]
    db.session.expire_all()
    assert db.session.get(CreditRecord, corrected.id).fine_amount == 3000


def test_a_record_deleted_by_an_objection_stays_withdrawn_when_the_department_sends_it_again(world):
    """The department's system may still hold the record and send it with its next batch: the
    content is updated (both systems keep the same facts), the objection's decision stands."""
    import dataclasses

    from backend.records.models import CreditRecord
    from tests.factories import record_input, write_records

    item = record_input(world.dept)
    write_records(item)
    record = db.session.scalars(
        sa.select(CreditRecord).where(CreditRecord.decision_number == item.decision_number)
    ).one()
    objection = _file(world, record)
    accept_objection(world.actor(world.admin), objection)
    decide_objection(world.actor(world.reviewer), objection, ObjectionOutcome.DELETED, "处罚决定已被撤销")
    assert record.status is RecordStatus.WITHDRAWN

    assert write_records(dataclasses.replace(item, facts="经查，当事人逾期未公示（部门系统更新）")) == ["updated"]
    db.session.expire_all()

    record = db.session.get(CreditRecord, record.id)
    assert record.facts == "经查，当事人逾期未公示（部门系统更新）"
    assert record.status is RecordStatus.WITHDRAWN
    assert not PublicityRules.is_visible(record.status, record.published, record.visible_until, dt.date.today())
