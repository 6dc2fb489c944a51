import datetime as dt

import pytest
import sqlalchemy as sa

from backend.extensions import db
from backend.records.models import CreditRecord, PenaltyTier
from backend.records.publicity import PublicityRules
from backend.subjects.models import Subject, SubjectKind
from backend.workdays.service import WorkdayCalendar
from tests.factories import make_department, make_id_number, make_uscc, record_input, write_records


def test_upsert_is_idempotent_by_department_and_decision_number(app):
    dept = make_department()
    item = record_input(dept, uscc=make_uscc(1))
    assert write_records(item) == ["created"]
    assert write_records(item) == ["unchanged"]
    changed = record_input(dept, uscc=make_uscc(1), decision_number=item.decision_number, facts="更正后的事实")
    assert write_records(changed) == ["updated"]
    rows = db.session.scalars(sa.select(CreditRecord)).all()
    assert len(rows) == 1
    assert rows[0].facts == "更正后的事实"
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Subject)) == 1


def test_same_record_twice_in_one_chunk_later_wins(app):
    dept = make_department()
    a = record_input(dept, uscc=make_uscc(2), facts="第一次")
    b = record_input(dept, uscc=make_uscc(2), decision_number=a.decision_number, facts="第二次")
    assert write_records(a, b) == ["created", "updated"]
    assert db.session.scalar(sa.select(CreditRecord.facts)) == "第二次"


def test_timeliness_counts_working_days_across_national_day(app):
    dept = make_department()
    late = record_input(dept, decision_date=dt.date(2026, 9, 28), received_date=dt.date(2026, 10, 14))
    on_time = record_input(dept, decision_date=dt.date(2026, 9, 28), received_date=dt.date(2026, 10, 9))
    write_records(late, on_time)
    by_number = {r.decision_number: r for r in db.session.scalars(sa.select(CreditRecord))}
    # 29, 30 Sep, 8, 9, 10 (adjusted Saturday), 12, 13, 14 Oct = 8 working days: late.
    assert by_number[late.decision_number].timeliness_working_days == 8
    assert not by_number[late.decision_number].is_timely
    assert by_number[on_time.decision_number].timeliness_working_days == 4  # 29, 30 Sep, 8, 9 Oct
    assert by_number[on_time.decision_number].is_timely


def test_natural_person_stored_encrypted_and_never_published(app):
    dept = make_department()
    number = make_id_number(251)
    write_records(record_input(dept, uscc=None, id_number=number, subject_name="张三明"))
    subject = db.session.scalar(sa.select(Subject))
    assert subject.kind is SubjectKind.NATURAL
    assert subject.reveal_id_number() == number
    assert subject.display_name == "张*明"
    record = db.session.scalar(sa.select(CreditRecord))
    assert record.published is False
    assert record.subject_name == "张*明"
    with db.engine.connect() as conn:
        for table in ("subject", "credit_record"):
            for row in conn.execute(sa.text(f"SELECT * FROM {table}")):
                text = " ".join(str(v) for v in row)
                assert number not in text
                assert "张三明" not in text


def test_expire_command_moves_past_records(runner):
    dept = make_department()
    write_records(
        record_input(
            dept, tier=PenaltyTier.GENERAL, decision_date=dt.date(2024, 1, 10), received_date=dt.date(2024, 1, 12)
        ),
        record_input(
            dept, tier=PenaltyTier.SERIOUS, decision_date=dt.date(2026, 1, 10), received_date=dt.date(2026, 1, 12)
        ),
    )
    db.session.commit()
    result = runner.invoke(args=["credit", "expire-records", "--today", "2026-11-26"])
    assert result.exit_code == 0, result.output
    assert "1 record(s) expired" in result.output
    statuses = sorted(s.value for s in db.session.scalars(sa.select(CreditRecord.status)))
    assert statuses == ["expired", "public"]


def test_duplicate_in_chunk_against_existing_record_keeps_the_last_row(app):
    dept = make_department()
    uscc = make_uscc(3)
    final = record_input(dept, uscc=uscc, facts="最终内容")
    write_records(final)
    earlier = record_input(dept, uscc=uscc, decision_number=final.decision_number, facts="较早的内容")
    assert write_records(earlier, final) == ["unchanged", "updated"]
    assert db.session.scalar(sa.select(CreditRecord.facts)) == "最终内容"


def test_large_load_refreshes_postgres_statistics_in_its_own_transaction(app, monkeypatch):
    """A load in one transaction is invisible to autovacuum: without ANALYZE on the way, the
    planner keeps the empty table's statistics and scans every record for each chunk's lookup."""
    if db.engine.dialect.name != "postgresql":
        pytest.skip("planner statistics are PostgreSQL's; SQLite's plans here do not depend on them")
    from backend.records import operations

    monkeypatch.setattr(operations, "ANALYZE_EVERY_ROWS", 10)
    dept = make_department()
    writer = operations.RecordWriter(WorkdayCalendar(), PublicityRules(), timely_days=7)
    writer.write([record_input(dept, uscc=make_uscc(100 + n)) for n in range(6)])
    estimate = "SELECT reltuples FROM pg_class WHERE relname = :name"
    assert db.session.scalar(sa.text(estimate), {"name": "credit_record"}) <= 0  # under the threshold
    writer.write([record_input(dept, uscc=make_uscc(200 + n)) for n in range(6)])
    # Nothing is committed, yet the statistics count the transaction's own 12 records.
    assert db.session.scalar(sa.text(estimate), {"name": "credit_record"}) == 12
    assert db.session.scalar(sa.text(estimate), {"name": "subject"}) == 12


@pytest.mark.parametrize(
    ("status", "after"),
    [
        ("expired", "public"),  # a later publicity end from the department: shown again
        ("repaired", "repaired"),  # a repair decision stands
        ("withdrawn", "withdrawn"),  # so does an objection's deletion
    ],
)
def test_a_record_sent_again_keeps_a_decided_status(app, status, after):
    import dataclasses

    from backend.records.models import RecordStatus

    department = make_department()
    today = dt.date.today()
    item = record_input(  # a serious penalty: public for 1 to 3 years, ended 10 days ago
        department,
        tier=PenaltyTier.SERIOUS,
        decision_date=today - dt.timedelta(days=400),
        publicity_end_date=today - dt.timedelta(days=10),
    )
    write_records(item)
    record = db.session.scalars(
        sa.select(CreditRecord).where(CreditRecord.decision_number == item.decision_number)
    ).one()
    record.status = RecordStatus(status)
    db.session.flush()

    later = dataclasses.replace(item, publicity_end_date=today + dt.timedelta(days=90))
    assert write_records(later) == ["updated"]
    db.session.expire_all()

    record = db.session.get(CreditRecord, record.id)
    assert record.visible_until == later.publicity_end_date  # the content is the department's
    assert record.status is RecordStatus(after)


# --- Subject names come from the registering authorities (issue 14, item 6) -----------------

COMPANY = "金昌市金川区宏达建材有限公司"


def _rename_events():
    from backend.audit.models import AuditEvent

    return db.session.scalars(
        sa.select(AuditEvent).where(AuditEvent.action == "subject.rename").order_by(AuditEvent.id)
    ).all()


def _two_departments():
    market = make_department()
    market.registers_subjects = True  # 市场监管: registers enterprises
    tax = make_department(code="SW", name="金昌市税务局", n=2)
    db.session.flush()
    return market, tax


def test_another_departments_name_is_a_discrepancy_and_the_public_name_stays(app):
    from backend.subjects.models import SubjectNameDiscrepancy

    market, tax = _two_departments()
    uscc = make_uscc(31)
    write_records(record_input(market, uscc=uscc, subject_name=COMPANY))
    write_records(record_input(tax, uscc=uscc, subject_name="金昌市冒名顶替有限公司"))
    write_records(record_input(tax, uscc=uscc, subject_name="金昌市冒名顶替有限公司"))  # seen again
    subject = db.session.scalar(sa.select(Subject).where(Subject.uscc == uscc))
    assert subject.name == COMPANY
    (found,) = db.session.scalars(sa.select(SubjectNameDiscrepancy)).all()
    assert (found.subject_id, found.department_id, found.name_sent) == (subject.id, tax.id, "金昌市冒名顶替有限公司")
    assert found.first_seen_at <= found.last_seen_at and found.resolved_at is None
    assert _rename_events() == []
    # The record keeps the name as the department sent it (its own content).
    assert {r.subject_name for r in db.session.scalars(sa.select(CreditRecord))} == {COMPANY, "金昌市冒名顶替有限公司"}


def test_a_registering_department_renames_and_the_rename_is_audited(app):
    market, _ = _two_departments()
    uscc = make_uscc(32)
    write_records(record_input(market, uscc=uscc, subject_name=COMPANY))
    write_records(record_input(market, uscc=uscc, subject_name="金昌市宏达新材料有限公司"))
    subject = db.session.scalar(sa.select(Subject).where(Subject.uscc == uscc))
    assert subject.name == "金昌市宏达新材料有限公司"
    (event,) = _rename_events()
    assert event.target_id == str(subject.id) and event.subject_id == subject.id
    assert event.details["from"] == COMPANY and event.details["to"] == "金昌市宏达新材料有限公司"
    assert event.details["department"] == market.code


def test_staff_resolve_a_discrepancy_and_every_rename_is_audited(app):
    from backend.actors import Actor
    from backend.staff.models import StaffRole, StaffUser
    from backend.subjects.models import DiscrepancyResolution, SubjectNameDiscrepancy
    from backend.subjects.operations import resolve_name_discrepancy

    market, tax = _two_departments()
    first, second = make_uscc(33), make_uscc(34)
    write_records(record_input(market, uscc=first, subject_name=COMPANY), record_input(market, uscc=second))
    write_records(record_input(tax, uscc=first, subject_name="金昌市宏达建材股份有限公司"),
                  record_input(tax, uscc=second, subject_name="错字公司"))  # fmt: skip
    admin = StaffUser(username="adm", display_name="adm", password_hash="x", role=StaffRole.PLATFORM_ADMIN)
    db.session.add(admin)
    db.session.flush()
    by_name = {d.name_sent: d for d in db.session.scalars(sa.select(SubjectNameDiscrepancy))}
    resolve_name_discrepancy(Actor.staff(admin), by_name["金昌市宏达建材股份有限公司"], accept=True)
    resolve_name_discrepancy(Actor.staff(admin), by_name["错字公司"], accept=False)
    names = dict(db.session.execute(sa.select(Subject.uscc, Subject.name)).all())
    assert names[first] == "金昌市宏达建材股份有限公司"
    assert names[second] == "金昌市金川区宏达建材有限公司"
    accepted, dismissed = by_name["金昌市宏达建材股份有限公司"], by_name["错字公司"]
    assert accepted.resolution is DiscrepancyResolution.ACCEPTED and accepted.resolved_by_label == "adm"
    assert dismissed.resolution is DiscrepancyResolution.DISMISSED and dismissed.resolved_at is not None
    (event,) = _rename_events()
    assert event.actor_type == "staff" and event.details["to"] == "金昌市宏达建材股份有限公司"
    assert event.details["discrepancy"] == accepted.id
    with pytest.raises(Exception, match="已处理"):
        resolve_name_discrepancy(Actor.staff(admin), accepted, accept=True)


def test_discrepancy_console_lists_and_resolves(app, client):
    from test_staff_auth import login_as, post_form

    from backend.staff.models import StaffRole
    from backend.subjects.models import SubjectNameDiscrepancy

    market, tax = _two_departments()
    uscc = make_uscc(35)
    write_records(record_input(market, uscc=uscc, subject_name=COMPANY))
    write_records(record_input(tax, uscc=uscc, subject_name="金昌市宏达建材股份有限公司"))
    db.session.commit()
    login_as(client, StaffRole.PLATFORM_ADMIN)
    page = client.get("/admin/subjects/name-discrepancies").get_data(as_text=True)
    assert "金昌市宏达建材股份有限公司" in page and "金昌市税务局" in page
    found = db.session.scalars(sa.select(SubjectNameDiscrepancy)).one()
    path = f"/admin/subjects/name-discrepancies/{found.id}/accept"
    done = post_form(client, path, token_from="/admin/subjects/name-discrepancies")
    assert done.status_code == 302
    db.session.expire_all()
    assert db.session.scalar(sa.select(Subject.name).where(Subject.uscc == uscc)) == "金昌市宏达建材股份有限公司"
    assert len(_rename_events()) == 1
