"""重错码 (issue 16 item 14; 金昌市创建全国社会信用体系建设示范城市实施方案 task 8: rate below 1 in
10,000): found at intake in time linear in the batch, queued for staff, resolved by rename,
merge or dismissal, every step audited."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from sqlalchemy import event

from backend.actors import Actor
from backend.audit.models import AuditEvent
from backend.extensions import db
from backend.identifiers import org_code_check_char, uscc_with_check
from backend.records.models import CreditRecord
from backend.staff.models import StaffRole, StaffUser
from backend.subjects.codes import (
    code_error_rate,
    dismiss_code_issue,
    merge_subjects_for_issue,
    rename_subject_for_issue,
)
from backend.subjects.models import CodeIssueKind, CodeIssueResolution, Subject, SubjectCodeIssue
from tests.factories import make_department, make_uscc, record_input, write_records

NAME = "金昌市永昌县宏远商贸有限公司（分公司）"


def _uscc(prefix: str, body8: str) -> str:
    return uscc_with_check(prefix + body8 + org_code_check_char(body8))


def _issues(kind: CodeIssueKind | None = None) -> list[SubjectCodeIssue]:
    query = sa.select(SubjectCodeIssue).order_by(SubjectCodeIssue.id)
    if kind is not None:
        query = query.where(SubjectCodeIssue.kind == kind)
    return list(db.session.scalars(query))


def _subject(uscc: str) -> Subject:
    return db.session.scalar(sa.select(Subject).where(Subject.uscc == uscc))


def _admin() -> Actor:
    admin = StaffUser(username="adm", display_name="adm", password_hash="x", role=StaffRole.PLATFORM_ADMIN)
    db.session.add(admin)
    db.session.flush()
    return Actor.staff(admin)


def test_one_name_under_two_codes_is_one_issue_whichever_side_is_sent(app):
    market = make_department()
    tax = make_department(code="SW", name="金昌市税务局", n=2)
    first, second = make_uscc(401), make_uscc(402)
    write_records(record_input(market, uscc=first, subject_name=NAME))
    # Half-width parentheses and a space: the same name as departments type it.
    write_records(record_input(tax, uscc=second, subject_name="金昌市永昌县宏远商贸有限公司 (分公司)"))
    write_records(record_input(market, uscc=first, subject_name=NAME))  # the other side, again
    (issue,) = _issues()
    assert issue.kind is CodeIssueKind.NAME_UNDER_CODES
    assert {issue.subject_id, issue.other_subject_id} == {_subject(first).id, _subject(second).id}
    assert issue.department_id == tax.id and issue.resolved_at is None
    assert issue.first_seen_at <= issue.last_seen_at


def test_two_codes_of_one_organisation_and_a_wrong_organisation_code(app):
    """GB 32100-2015: characters 9-17 of the USCC are the GB 11714 organisation code."""
    dept = make_department()
    body = "MA7K3Q8P"
    city, county = _uscc("91620302", body), _uscc("91620321", body)
    write_records(record_input(dept, uscc=city, subject_name="金昌市甲公司"))
    write_records(record_input(dept, uscc=county, subject_name="永昌县甲公司"))
    (shared,) = _issues(CodeIssueKind.ORG_CODE_SHARED)
    assert {shared.subject_id, shared.other_subject_id} == {_subject(city).id, _subject(county).id}
    assert shared.value == city[8:17]

    other = make_uscc(403)
    write_records(record_input(dept, uscc=other, subject_name="金昌市乙公司", organisation_code=city[8:17]))
    write_records(record_input(dept, uscc=other, subject_name="金昌市乙公司", organisation_code="not-a-code"))
    (wrong,) = _issues(CodeIssueKind.ORG_CODE_MISMATCH)
    assert wrong.subject_id == _subject(other).id and wrong.value == city[8:17]
    assert wrong.other_subject_id in {_subject(city).id, _subject(county).id}


def test_a_registration_number_is_kept_and_under_another_code_is_a_duplicate(app):
    dept = make_department()
    first, second = make_uscc(404), make_uscc(405)
    write_records(record_input(dept, uscc=first, subject_name="金昌市丙公司", registration_number="620300000012345"))
    assert _subject(first).registration_number == "620300000012345"
    write_records(record_input(dept, uscc=second, subject_name="金昌市丁公司", registration_number="620300000012345"))
    (dup,) = _issues(CodeIssueKind.REGISTRATION_NUMBER_SHARED)
    assert {dup.subject_id, dup.other_subject_id} == {_subject(first).id, _subject(second).id}
    assert _subject(second).registration_number is None


def test_merging_moves_records_and_later_records_follow_and_the_rate_falls(app):
    dept = make_department()
    first, second = make_uscc(406), make_uscc(407)
    write_records(record_input(dept, uscc=first, subject_name=NAME), record_input(dept, uscc=first, subject_name=NAME))
    write_records(record_input(dept, uscc=second, subject_name=NAME))
    (issue,) = _issues()
    rate = code_error_rate()
    assert rate.affected == 2 and rate.subjects >= 2 and rate.per_10000 > 0
    actor = _admin()
    keep = _subject(first)
    merge_subjects_for_issue(actor, issue, keep)
    db.session.expire_all()
    assert _subject(second).merged_into_id == keep.id
    owners = set(db.session.scalars(sa.select(CreditRecord.subject_id)))
    assert owners == {keep.id}
    issue = db.session.get(SubjectCodeIssue, issue.id)
    assert issue.resolution is CodeIssueResolution.MERGED and issue.resolved_by_label == "adm"
    merge = db.session.scalar(sa.select(AuditEvent).where(AuditEvent.action == "subject.merge"))
    assert merge.details["from_uscc"] == second and merge.details["moved"]["credit_record.subject_id"] == 1
    assert code_error_rate().affected == 0
    # A later record under the merged code lands on the subject kept.
    write_records(record_input(dept, uscc=second, subject_name=NAME))
    assert set(db.session.scalars(sa.select(CreditRecord.subject_id))) == {keep.id}


def test_rename_and_dismiss_are_audited_and_a_dismissed_issue_stays_dismissed(app):
    dept = make_department()
    first, second, third = make_uscc(408), make_uscc(409), make_uscc(410)
    write_records(record_input(dept, uscc=first, subject_name=NAME), record_input(dept, uscc=second, subject_name=NAME))
    actor = _admin()
    (issue,) = _issues()
    rename_subject_for_issue(actor, issue, _subject(second), "金昌市永昌县宏远商贸有限公司第二分公司")
    assert _subject(second).name == "金昌市永昌县宏远商贸有限公司第二分公司"
    assert issue.resolution is CodeIssueResolution.RENAMED
    rename = db.session.scalar(sa.select(AuditEvent).where(AuditEvent.action == "subject.rename"))
    assert rename.details["code_issue"] == issue.id
    with pytest.raises(Exception, match="已处理"):
        dismiss_code_issue(actor, issue, "重复处理")

    write_records(record_input(dept, uscc=third, subject_name=NAME))
    (open_issue,) = [i for i in _issues() if i.resolved_at is None]
    dismiss_code_issue(actor, open_issue, "不同组织同名")
    write_records(record_input(dept, uscc=third, subject_name=NAME))
    assert [i for i in _issues() if i.resolved_at is None] == []
    with pytest.raises(Exception, match="平台管理员"):
        dismiss_code_issue(Actor.department(dept), open_issue, "x")


def test_detection_costs_the_same_statements_for_a_small_and_a_large_chunk(app):
    """Linear in the batch: a fixed number of set-wise queries per chunk, never one per row."""
    dept = make_department()
    counted: list[str] = []

    def count(conn, cursor, statement, parameters, context, executemany):
        counted.append(statement)

    def statements(n: int, offset: int) -> int:
        items = [
            record_input(dept, uscc=make_uscc(5000 + offset + i), subject_name=f"金昌市测试{offset + i}号有限公司")
            for i in range(n)
        ]
        counted.clear()
        event.listen(db.engine, "before_cursor_execute", count)
        try:
            write_records(*items)
        finally:
            event.remove(db.engine, "before_cursor_execute", count)
        return len(counted)

    statements(5, 0)  # the department's first batch registers its feed
    assert statements(20, 100) == statements(600, 1000)


def test_console_shows_the_rate_and_the_sources_side_by_side_and_merges(app, client):
    from test_staff_auth import login_as, post_form

    dept = make_department()
    first, second = make_uscc(411), make_uscc(412)
    write_records(record_input(dept, uscc=first, subject_name=NAME))
    write_records(record_input(dept, uscc=second, subject_name=NAME))
    db.session.commit()
    login_as(client, StaffRole.PLATFORM_ADMIN)
    page = client.get("/admin/subjects/code-issues").get_data(as_text=True)
    assert "重错码率" in page and "/ 万" in page and "未达标" in page
    assert first in page and second in page and NAME in page and dept.name in page
    (issue,) = _issues()
    keep = _subject(first)
    path = f"/admin/subjects/code-issues/{issue.id}/merge"
    done = post_form(client, path, {"subject_id": str(keep.id)}, token_from="/admin/subjects/code-issues")
    assert done.status_code == 302
    db.session.expire_all()
    assert _subject(second).merged_into_id == keep.id
    assert "没有待处理的重错码" in client.get("/admin/subjects/code-issues").get_data(as_text=True)


def _not_collected(page: str) -> str:
    return page.split('id="not-collected"')[1].split("</p>")[0]


def test_console_lists_domains_and_admins_declare_a_feed(app, client):
    from test_staff_auth import login_as, post_form

    from backend.records.domains import DataDomainFeed

    dept = make_department()
    court = make_department(code="ZY", name="金昌市中级人民法院", n=2)
    write_records(record_input(dept))
    db.session.commit()
    login_as(client, StaffRole.PLATFORM_ADMIN)
    page = client.get("/admin/data-domains").get_data(as_text=True)
    assert "行政处罚" in page and dept.name in page
    assert "刑事判决" in _not_collected(page)
    done = post_form(
        client,
        "/admin/data-domains",
        {
            "category": "criminal_judgement",
            "department_id": str(court.id),
            "covers_from": "2020-01-01",
            "note": "经省信用平台共享",
            "reason": "法院确认历史数据已完整归集",
        },
    )
    assert done.status_code == 302
    feed = db.session.scalar(sa.select(DataDomainFeed).where(DataDomainFeed.department_id == court.id))
    assert feed.covers_from.isoformat() == "2020-01-01" and feed.first_received_at is None
    page = client.get("/admin/data-domains").get_data(as_text=True)
    assert "尚未归集" in page and "刑事判决" not in _not_collected(page)


def test_cli_lists_and_declares_data_domains(app, runner):
    dept = make_department()
    make_department(code="ZY", name="金昌市中级人民法院", n=2)
    write_records(record_input(dept))
    db.session.commit()
    listed = runner.invoke(args=["credit", "domains", "list"])
    assert listed.exit_code == 0, listed.output
    assert "penalty\tSCJG" in listed.output and "criminal_judgement" in listed.output.split("not collected:")[1]
    declared = runner.invoke(
        args=[
            "credit",
            "domains",
            "declare",
            "--category",
            "criminal_judgement",
            "--department",
            "ZY",
            "--covers-from",
            "2021-01-01",
            "--reason",
            "省平台共享",
        ]
    )
    assert declared.exit_code == 0, declared.output
    listed = runner.invoke(args=["credit", "domains", "list"])
    assert "criminal_judgement\tZY\tfrom 2021-01-01" in listed.output
    assert "criminal_judgement" not in listed.output.split("not collected:")[1]
