"""Staff console pages: role scoping, personal data access, departments and keys, imports,
audit log, calendar. Sign-in itself is tested in test_staff_auth.py (helpers shared from there)."""

from __future__ import annotations

import datetime as dt

import pytest
import sqlalchemy as sa
from test_staff_auth import actions, csrf_token, login_as, make_department, post_form

from backend.departments.models import Department, DepartmentApiKey
from backend.departments.operations import api_key_secret
from backend.extensions import db
from backend.imports.models import ImportBatch, ImportRowError, ImportStatus
from backend.records.models import PenaltyTier, RecordCategory
from backend.records.operations import RecordInput, RecordWriter
from backend.records.publicity import PublicityRules
from backend.subjects.models import Subject, SubjectKind
from backend.workdays.models import CalendarOverride, CalendarYear
from backend.workdays.service import load_calendar

PERSON_ID = "620302199003072516"
PERSON_NAME = "张三明"
WARNING_TEXT = "法定节假日安排尚未确认"


def write_records(items: list[RecordInput]) -> None:
    RecordWriter(load_calendar(), PublicityRules()).write(items)
    db.session.commit()


def record(department: Department, number: str, **kwargs) -> RecordInput:
    today = dt.date.today()
    values = {
        "department_id": department.id,
        "category": RecordCategory.PENALTY,
        "tier": PenaltyTier.GENERAL,
        "decision_number": number,
        "decision_date": today - dt.timedelta(days=20),
        "received_date": today - dt.timedelta(days=18),
        "subject_name": "金昌市某某商贸有限公司",
        "uscc": "91110108795101314G",
    }
    values.update(kwargs)
    return RecordInput(**values)


@pytest.fixture
def data(app):
    """Two departments, each with a legal subject's record; the first also has a natural person's
    record and an import batch with row errors."""
    market = make_department("SCJG", "金昌市市场监督管理局", "91620302MA71XY3Q54")
    tax = make_department("SWJ", "金昌市税务局", "914403001922038216")
    write_records(
        [
            record(market, "金市监罚〔2026〕1号"),
            record(market, "金市监罚〔2026〕2号", subject_name=PERSON_NAME, uscc=None, id_number=PERSON_ID),
            record(
                tax,
                "金税罚〔2026〕9号",
                subject_name="永昌县另一家有限公司",
                uscc="91350100M0001TGQXM",
                category=RecordCategory.LICENCE,
                tier=None,
                received_date=dt.date.today(),
                decision_date=dt.date.today() - dt.timedelta(days=60),
            ),
        ]
    )
    batch = ImportBatch(
        department_id=market.id,
        channel="cli",
        filename="处罚2026.xlsx",
        status=ImportStatus.PARTIAL,
        total_rows=3,
        created_count=2,
        error_count=1,
        actor_label="cli",
    )
    batch.errors.append(ImportRowError(row_number=4, column="统一社会信用代码", reason="校验位错误"))
    tax_batch = ImportBatch(department_id=tax.id, channel="dept_api", status=ImportStatus.COMPLETED, total_rows=1)
    db.session.add_all([batch, tax_batch])
    db.session.commit()
    person = db.session.scalar(sa.select(Subject).where(Subject.kind == SubjectKind.NATURAL))
    legal = db.session.scalar(sa.select(Subject).where(Subject.uscc == "91110108795101314G"))
    other = db.session.scalar(sa.select(Subject).where(Subject.uscc == "91350100M0001TGQXM"))
    return {
        "market": market,
        "tax": tax,
        "batch": batch,
        "tax_batch": tax_batch,
        "person": person,
        "legal": legal,
        "other": other,
    }


def text(response) -> str:
    return response.get_data(as_text=True)


def test_every_page_renders_for_admin_with_calendar_warning(client, data):
    login_as(client, "platform_admin")
    db.session.add(CalendarOverride(day=dt.date(2027, 3, 15), is_working_day=False, note="测试"))
    db.session.commit()
    pages = [
        "/admin/",
        "/admin/departments",
        f"/admin/departments/{data['market'].id}",
        "/admin/subjects",
        "/admin/subjects?q=商贸&kind=legal",
        f"/admin/subjects/{data['legal'].id}",
        f"/admin/subjects/{data['person'].id}",
        "/admin/records",
        "/admin/records?category=penalty&status=public&department=" + str(data["market"].id),
        "/admin/records?category=nonsense&page=x",
        "/admin/imports",
        f"/admin/imports/{data['batch'].id}",
        "/admin/audit",
        "/admin/audit?action=department.&actor=test-setup&subject_id=1&page=2",
        "/admin/calendar",
    ]
    assert load_calendar().schedule_warning() is not None
    for path in pages:
        response = client.get(path)
        assert response.status_code == 200, path
        assert WARNING_TEXT in text(response), path
        assert response.headers["Cache-Control"] == "no-store"
    css = client.get("/admin/static/admin/console.css")
    assert css.status_code == 200
    assert b".banner" in css.get_data()
    css.close()


def test_warning_goes_away_once_the_years_are_confirmed(client, app):
    login_as(client, "platform_admin")
    this_year = dt.date.today().year
    for year in (this_year, this_year + 1):
        response = post_form(
            client, "/admin/calendar/years", {"year": year, "source": "国办发明电"}, token_from="/admin/calendar"
        )
        assert response.status_code == 302
    assert db.session.scalar(sa.select(sa.func.count()).select_from(CalendarYear)) == 2
    assert WARNING_TEXT not in text(client.get("/admin/"))
    assert len(actions("calendar.year.confirm")) == 2
    again = post_form(client, "/admin/calendar/years", {"year": this_year}, token_from="/admin/calendar")
    assert again.status_code == 409
    assert "该年度已确认" in text(again)


def test_dashboard_counts(client, data):
    login_as(client, "auditor")
    page = text(client.get("/admin/"))
    # 2 legal subjects with the tax one, 1 natural person; 1 of 3 licence/penalty records is late.
    assert '<span class="n">2</span><span class="l">法人和非法人组织' in page
    assert '<span class="n">1</span><span class="l">自然人' in page
    assert '<span class="n">66.7%</span>' in page
    assert '<span class="n">2</span><span class="l">近 30 日归集批次' in page


def test_reviewer_sees_only_their_department(client, data):
    login_as(client, "dept_reviewer", department=data["market"])
    records = text(client.get("/admin/records"))
    assert "金市监罚〔2026〕1号" in records
    assert "金税罚〔2026〕9号" not in records
    # Asking for the other department's records explicitly still shows nothing of it.
    assert "金税罚〔2026〕9号" not in text(client.get(f"/admin/records?department={data['tax'].id}"))

    subjects = text(client.get("/admin/subjects"))
    assert "金昌市某某商贸有限公司" in subjects
    assert "永昌县另一家有限公司" not in subjects
    assert client.get(f"/admin/subjects/{data['other'].id}").status_code == 403
    assert client.get(f"/admin/subjects/{data['legal'].id}").status_code == 200

    imports = text(client.get("/admin/imports"))
    assert f"#{data['batch'].id}" in imports
    assert f"#{data['tax_batch'].id}" not in imports
    assert client.get(f"/admin/imports/{data['tax_batch'].id}").status_code == 403
    assert client.get(f"/admin/imports/{data['tax_batch'].id}/errors.csv").status_code == 403

    for path in ("/admin/departments", f"/admin/departments/{data['market'].id}", "/admin/audit"):
        assert client.get(path).status_code == 403, path
    token = csrf_token(client, "/admin/")
    denied = [
        ("/admin/departments", {"code": "X", "name": "某局", "uscc": "91620302MA71XY3Q54"}),
        (f"/admin/departments/{data['market'].id}/keys", {"label": "x"}),
        ("/admin/calendar/overrides", {"day": "2027-01-04", "kind": "holiday"}),
        ("/admin/calendar/years", {"year": 2027}),
    ]
    for path, form in denied:
        assert client.post(path, data={**form, "csrf_token": token}).status_code == 403, path
    assert db.session.scalar(sa.select(sa.func.count()).select_from(DepartmentApiKey)) == 0
    assert "部门与密钥" not in text(client.get("/admin/"))  # not offered in the navigation


def test_auditor_reads_everything_and_changes_nothing(client, data):
    login_as(client, "auditor")
    assert client.get("/admin/audit").status_code == 200
    assert client.get("/admin/departments").status_code == 200
    assert "金税罚〔2026〕9号" in text(client.get("/admin/records"))
    assert "创建部门" not in text(client.get("/admin/departments"))

    token = csrf_token(client, "/admin/")
    override = CalendarOverride(day=dt.date(2027, 1, 4), is_working_day=False, note="")
    db.session.add(override)
    db.session.commit()
    denied = [
        ("/admin/departments", {"code": "X", "name": "某局", "uscc": "91620302MA71XY3Q54"}),
        (f"/admin/departments/{data['market'].id}/keys", {"label": "x"}),
        ("/admin/calendar/overrides", {"day": "2027-01-05", "kind": "holiday"}),
        (f"/admin/calendar/overrides/{override.id}/delete", {}),
        ("/admin/calendar/years", {"year": 2027}),
    ]
    for path, form in denied:
        assert client.post(path, data={**form, "csrf_token": token}).status_code == 403, path
    assert db.session.scalar(sa.select(sa.func.count()).select_from(CalendarOverride)) == 1
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Department)) == 2

    # Verifying the chain reads only; auditors may do it.
    response = post_form(client, "/admin/audit/verify", token_from="/admin/audit", follow_redirects=True)
    assert "审计日志链校验通过" in text(response)


def test_audit_log_filters_newest_first(client, data):
    admin = login_as(client, "platform_admin")
    page = text(client.get("/admin/audit?action=department.create"))
    assert page.count("<code>department.create</code>") == 2
    assert "<code>staff.login</code>" not in page
    page = text(client.get(f"/admin/audit?actor={admin.username}"))
    assert "<code>staff.login</code>" in page
    assert "<code>department.create</code>" not in page
    full = text(client.get("/admin/audit"))
    assert full.index("<code>staff.login</code>") < full.index("<code>department.create</code>")


def test_personal_detail_needs_a_reason_and_is_audited(client, data):
    person = data["person"]
    login_as(client, "platform_admin")
    listing = text(client.get("/admin/subjects?kind=natural"))
    assert "张*明" in listing
    assert PERSON_NAME not in listing
    assert PERSON_ID not in listing

    form_page = text(client.get(f"/admin/subjects/{person.id}"))
    assert "查询事由" in form_page
    assert PERSON_ID not in form_page
    assert PERSON_NAME not in form_page

    empty = post_form(client, f"/admin/subjects/{person.id}", {"reason": ""})
    assert empty.status_code == 422
    assert "请填写查询事由" in text(empty)
    assert actions("subject.view_personal") == []

    shown = post_form(client, f"/admin/subjects/{person.id}", {"reason": "处理异议申请 YY001"})
    assert shown.status_code == 200
    assert PERSON_ID in text(shown)
    assert PERSON_NAME in text(shown)
    [event] = actions("subject.view_personal")
    assert event.subject_id == person.id
    assert event.reason == "处理异议申请 YY001"
    assert event.actor_type == "staff"


def test_personal_detail_stays_masked_for_reviewers(client, data):
    person = data["person"]
    login_as(client, "dept_reviewer", department=data["market"])
    shown = post_form(client, f"/admin/subjects/{person.id}", {"reason": "核对处罚记录"})
    assert shown.status_code == 200
    body = text(shown)
    assert "6203**********2516" in body
    assert "张*明" in body
    assert PERSON_ID not in body
    assert PERSON_NAME not in body
    assert "金市监罚〔2026〕2号" in body
    assert len(actions("subject.view_personal")) == 1


def test_subject_search_by_name_fragment_and_uscc(client, data):
    login_as(client, "auditor")
    by_name = text(client.get("/admin/subjects?q=商贸"))
    assert "金昌市某某商贸有限公司" in by_name
    assert "永昌县另一家有限公司" not in by_name
    by_code = text(client.get("/admin/subjects?q=91350100m0001tgqxm"))
    assert "永昌县另一家有限公司" in by_code
    assert "金昌市某某商贸有限公司" not in by_code
    # Natural persons are listed masked only.
    everyone = text(client.get("/admin/subjects"))
    assert "张*明" in everyone
    assert PERSON_NAME not in everyone


def test_create_department_and_issue_key_shown_once(client, app):
    login_as(client, "platform_admin")
    bad = post_form(client, "/admin/departments", {"code": "SWJ", "name": "金昌市税务局", "uscc": "91620302MA71XY3Q55"})
    assert bad.status_code == 422
    assert "校验" in text(bad) or "不正确" in text(bad)

    response = post_form(
        client, "/admin/departments", {"code": "SWJ", "name": "金昌市税务局", "uscc": "914403001922038216"}
    )
    assert response.status_code == 302
    department = db.session.scalar(sa.select(Department).where(Department.code == "SWJ"))
    assert department is not None
    assert len(actions("department.create")) == 1

    clash = post_form(client, "/admin/departments", {"code": "SWJ", "name": "别的局", "uscc": "91620302MA71XY3Q54"})
    assert clash.status_code == 422
    assert "重复" in text(clash)

    detail = f"/admin/departments/{department.id}"
    issued = post_form(client, f"{detail}/keys", {"label": "税务系统对接"}, token_from=detail)
    assert issued.status_code == 200
    key = db.session.scalar(sa.select(DepartmentApiKey))
    secret = api_key_secret(key)
    assert secret in text(issued)
    assert key.key_id in text(issued)
    assert issued.headers["Cache-Control"] == "no-store"
    assert secret not in text(client.get(detail))
    assert len(actions("department.api_key.issue")) == 1

    revoked = post_form(client, f"{detail}/keys/{key.id}/revoke", token_from=detail)
    assert revoked.status_code == 302
    db.session.expire_all()
    assert db.session.get(DepartmentApiKey, key.id).revoked_at is not None
    assert len(actions("department.api_key.revoke")) == 1


def test_calendar_override_changes_the_working_days(client, app):
    login_as(client, "platform_admin")
    monday = dt.date(2027, 3, 15)
    assert load_calendar().is_working_day(monday)
    response = post_form(
        client,
        "/admin/calendar/overrides",
        {"day": monday.isoformat(), "kind": "holiday", "note": "临时调整"},
        token_from="/admin/calendar",
    )
    assert response.status_code == 302
    assert not load_calendar().is_working_day(monday)
    assert "临时调整" in text(client.get("/admin/calendar"))

    twice = post_form(
        client,
        "/admin/calendar/overrides",
        {"day": monday.isoformat(), "kind": "workday"},
        token_from="/admin/calendar",
    )
    assert twice.status_code == 409

    invalid = post_form(
        client, "/admin/calendar/overrides", {"day": "2027-02-30", "kind": "holiday"}, token_from="/admin/calendar"
    )
    assert invalid.status_code == 422
    assert "field-error" in text(invalid)

    saturday = dt.date(2027, 3, 20)
    post_form(
        client,
        "/admin/calendar/overrides",
        {"day": saturday.isoformat(), "kind": "workday"},
        token_from="/admin/calendar",
    )
    assert load_calendar().is_working_day(saturday)

    override = db.session.scalar(sa.select(CalendarOverride).where(CalendarOverride.day == monday))
    deleted = post_form(client, f"/admin/calendar/overrides/{override.id}/delete", token_from="/admin/calendar")
    assert deleted.status_code == 302
    assert load_calendar().is_working_day(monday)
    assert len(actions("calendar.override.add")) == 2
    assert len(actions("calendar.override.delete")) == 1


def test_import_batch_detail_and_error_csv(client, data):
    login_as(client, "dept_reviewer", department=data["market"])
    batch = data["batch"]
    page = text(client.get(f"/admin/imports/{batch.id}"))
    assert "校验位错误" in page
    assert "处罚2026.xlsx" in page
    response = client.get(f"/admin/imports/{batch.id}/errors.csv")
    assert response.status_code == 200
    assert response.mimetype == "text/csv"
    raw = response.get_data()
    assert raw.startswith("\ufeff".encode())  # one BOM, so Excel reads UTF-8
    assert not raw[3:].startswith("\ufeff".encode())
    body = raw.decode("utf-8-sig")
    assert "4" in body
    assert "校验位错误" in body
    assert "统一社会信用代码" in body


def test_unknown_ids_are_404_pages(client, data):
    login_as(client, "platform_admin")
    for path in ("/admin/subjects/999999", "/admin/imports/999999", "/admin/departments/999999"):
        response = client.get(path)
        assert response.status_code == 404, path
        assert "请求的内容不存在" in text(response)


def test_openapi_spec_leaves_the_console_out(client, app):
    spec = client.get("/openapi.json").get_json()
    assert not any(path.startswith("/admin") for path in spec["paths"])
