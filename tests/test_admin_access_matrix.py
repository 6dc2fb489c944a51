"""Access matrix of the staff console: every route of the ``admin`` blueprint × every role.

The routes come from ``app.url_map`` (including those other modules add to the blueprint), so a
new console route without a row in ``EXPECTED`` fails this test until someone decides who may
open it. GET routes are requested with GET. POST-only routes are sent a POST without a CSRF
token: that changes nothing, and the status still says how far the request got: 302 (to the
login page), 403 (role refused), 404 (outside the user's scope) or 400 (authorised, stopped only
by the missing token).
"""

from __future__ import annotations

import datetime as dt
from urllib.parse import quote

import pytest
import sqlalchemy as sa
from test_admin_cases import CaseWorld
from test_staff_auth import SETUP, login_as, make_staff

from backend.departments.operations import issue_api_key
from backend.extensions import db
from backend.imports.models import ImportBatch, ImportRowError, ImportStatus
from backend.subjects.models import Subject
from backend.workdays.models import CalendarOverride
from kiosk.operations import register_device

ROLES = ("anonymous", "platform_admin", "reviewer_own", "reviewer_other", "auditor")
MISSING_REPORT = "XYJC-20260101-NOTEXIST0"
MISSING_BINDING = 999999


def row(anonymous, platform_admin, reviewer_own, reviewer_other, auditor) -> dict[str, int]:
    return dict(zip(ROLES, (anonymous, platform_admin, reviewer_own, reviewer_other, auditor), strict=True))


EVERYONE = row(302, 200, 200, 200, 200)
ADMIN_AUDITOR = row(302, 200, 403, 403, 200)
OWN_DEPARTMENT = row(302, 200, 200, 403, 200)  # pages of the own department's data
OWN_CASE = row(302, 200, 200, 404, 200)  # another department's case does not exist for them
ADMIN_POST = row(302, 400, 403, 403, 403)
ADMIN_AUDITOR_POST = row(302, 400, 403, 403, 400)
REVIEWER_POST = row(302, 403, 400, 404, 403)

# endpoint -> (path template, expected status per role); ``{name}`` is filled from the fixture.
EXPECTED: dict[str, list[tuple[str, dict[str, int]]]] = {
    "admin.static": [("/admin/static/admin/console.css", row(200, 200, 200, 200, 200))],
    "admin.auth.login": [("/admin/login", row(200, 302, 302, 302, 302))],
    "admin.auth.totp": [("/admin/login/totp", row(302, 302, 302, 302, 302))],
    "admin.auth.logout": [("/admin/logout", row(400, 400, 400, 400, 400))],
    "admin.dashboard.dashboard": [("/admin/", EVERYONE)],
    # One's own account (sessions, password) and the staff list with "sign out everywhere".
    "admin.auth.account": [("/admin/account", EVERYONE)],
    "admin.auth.change_password": [("/admin/account/password", row(302, 400, 400, 400, 400))],
    "admin.auth.sign_out_everywhere_self": [("/admin/account/sessions/revoke", row(302, 400, 400, 400, 400))],
    "admin.staff.staff_list": [("/admin/staff", ADMIN_AUDITOR)],
    "admin.staff.revoke_staff_sessions": [("/admin/staff/{staff}/sessions/revoke", ADMIN_POST)],
    "admin.staff.reset_totp": [("/admin/staff/{staff}/totp/reset", ADMIN_POST)],
    "admin.departments.departments": [("/admin/departments", ADMIN_AUDITOR)],
    "admin.departments.department": [("/admin/departments/{market}", ADMIN_AUDITOR)],
    "admin.departments.issue_key": [("/admin/departments/{market}/keys", ADMIN_POST)],
    "admin.departments.revoke_key": [("/admin/departments/{market}/keys/{key}/revoke", ADMIN_POST)],
    "admin.departments.toggle_registers_subjects": [("/admin/departments/{market}/registers-subjects", ADMIN_POST)],
    # Subject names other departments sent (admins resolve, auditors read).
    "admin.subjects.name_discrepancies": [("/admin/subjects/name-discrepancies", ADMIN_AUDITOR)],
    "admin.subjects.accept_name_discrepancy": [
        ("/admin/subjects/name-discrepancies/999999/accept", row(302, 404, 403, 403, 403))
    ],
    "admin.subjects.dismiss_name_discrepancy": [
        ("/admin/subjects/name-discrepancies/999999/dismiss", row(302, 404, 403, 403, 403))
    ],
    # 重错码 queue and the data-domain register (issue 16 items 12, 14).
    "admin.subjects.code_issues": [("/admin/subjects/code-issues", ADMIN_AUDITOR)],
    "admin.subjects.merge_code_issue": [("/admin/subjects/code-issues/999999/merge", row(302, 404, 403, 403, 403))],
    "admin.subjects.rename_code_issue": [("/admin/subjects/code-issues/999999/rename", row(302, 404, 403, 403, 403))],
    "admin.subjects.dismiss_code_issue_view": [
        ("/admin/subjects/code-issues/999999/dismiss", row(302, 404, 403, 403, 403))
    ],
    "admin.subjects.data_domains": [("/admin/data-domains", ADMIN_AUDITOR)],
    "admin.subjects.subjects": [("/admin/subjects", EVERYONE)],
    "admin.subjects.subject": [("/admin/subjects/{subject}", OWN_DEPARTMENT)],
    "admin.records.records": [("/admin/records", EVERYONE), ("/admin/records?derived=1", EVERYONE)],
    # A record with its versions; the department confirms a tier the city's rule derived.
    "admin.records.record": [("/admin/records/{record}", OWN_DEPARTMENT)],
    "admin.records.confirm_tier": [("/admin/records/{record}/tier", REVIEWER_POST)],
    "admin.imports.imports": [("/admin/imports", EVERYONE)],
    "admin.imports.import_batch": [("/admin/imports/{batch}", OWN_DEPARTMENT)],
    "admin.imports.import_errors_csv": [("/admin/imports/{batch}/errors.csv", OWN_DEPARTMENT)],
    # The national template samples; a file import by admins and departments (their own).
    "admin.imports.import_sample": [("/admin/imports/samples/" + quote("行政处罚_自然人.csv"), EVERYONE)],
    "admin.imports.upload_import": [("/admin/imports/upload", row(302, 200, 200, 200, 403))],
    "admin.audit.audit_log": [("/admin/audit", ADMIN_AUDITOR)],
    "admin.audit.audit_verify": [("/admin/audit/verify", ADMIN_AUDITOR_POST)],
    "admin.calendar.calendar": [("/admin/calendar", EVERYONE)],
    "admin.calendar.add_override": [("/admin/calendar/overrides", ADMIN_POST)],
    "admin.calendar.delete_override": [("/admin/calendar/overrides/{override}/delete", ADMIN_POST)],
    "admin.calendar.confirm_year": [("/admin/calendar/years", ADMIN_POST)],
    # Report pages (窗口打印): an unknown number is a 404 only for those allowed to look.
    "admin.reports.reports": [("/admin/reports", ADMIN_AUDITOR)],
    "admin.reports.issue_report_page": [("/admin/reports/issue", row(302, 200, 403, 403, 403))],
    "admin.reports.report_detail": [(f"/admin/reports/{MISSING_REPORT}", row(302, 404, 403, 403, 404))],
    "admin.reports.report_pdf": [(f"/admin/reports/{MISSING_REPORT}/pdf", row(302, 404, 403, 403, 403))],
    "admin.reports.revoke_report_page": [(f"/admin/reports/{MISSING_REPORT}/revoke", row(302, 404, 403, 403, 403))],
    # Kiosk fleet (自助终端): admins manage, auditors read.
    "admin.kiosks.kiosks": [("/admin/kiosks", ADMIN_AUDITOR)],
    "admin.kiosks.disable_kiosk": [("/admin/kiosks/{kiosk}/disable", ADMIN_POST)],
    "admin.kiosks.enable_kiosk": [("/admin/kiosks/{kiosk}/enable", ADMIN_POST)],
    "admin.kiosks.reissue_kiosk_credential": [("/admin/kiosks/{kiosk}/credential", ADMIN_POST)],
    # Objections and repairs.
    "admin.cases.cases": [("/admin/cases", EVERYONE), ("/admin/cases?state=all", EVERYONE)],
    "admin.cases.case_detail": [
        ("/admin/cases/objection/{objection}", OWN_CASE),
        ("/admin/cases/repair/{repair}", OWN_CASE),
    ],
    "admin.cases.case_applicant": [
        ("/admin/cases/objection/{objection}/applicant", row(302, 200, 403, 403, 403)),
        ("/admin/cases/repair/{repair}/applicant", row(302, 200, 403, 403, 403)),
    ],
    "admin.cases.case_material": [
        ("/admin/cases/objection/{objection}/materials/{objection_material}", OWN_CASE),
        ("/admin/cases/repair/{repair}/materials/{repair_material}", OWN_CASE),
    ],
    "admin.cases.case_commitment_pdf": [
        ("/admin/cases/objection/{objection}/commitment.pdf", OWN_CASE),
        ("/admin/cases/repair/{repair}/commitment.pdf", OWN_CASE),
    ],
    "admin.cases.accept_case": [("/admin/cases/objection/{objection}/accept", ADMIN_POST)],
    "admin.cases.return_case": [("/admin/cases/repair/{repair}/return", ADMIN_POST)],
    "admin.cases.decide_case": [
        ("/admin/cases/objection/{objection}/decide", REVIEWER_POST),
        ("/admin/cases/repair/{repair}/decide", REVIEWER_POST),
    ],
    "admin.cases.extend_case": [("/admin/cases/repair/{repair}/extend", REVIEWER_POST)],
    "admin.cases.deliver_case": [("/admin/cases/objection/{objection}/deliver", ADMIN_POST)],
    "admin.cases.withdraw_case": [
        ("/admin/cases/objection/{objection}/withdraw", ADMIN_POST),
        ("/admin/cases/repair/{repair}/withdraw", ADMIN_POST),
    ],
    "admin.cases.outbox": [("/admin/outbox", ADMIN_AUDITOR)],
    # WeChat: enterprise bindings by authorisation letter (admins review, auditors read) and the
    # subscribe message attempts. An unknown binding is a 404 only for those allowed to look.
    "admin.wechat.wechat_bindings": [
        ("/admin/wechat/bindings", ADMIN_AUDITOR),
        ("/admin/wechat/bindings?status=all", ADMIN_AUDITOR),
    ],
    "admin.wechat.wechat_binding": [(f"/admin/wechat/bindings/{MISSING_BINDING}", row(302, 404, 403, 403, 404))],
    "admin.wechat.wechat_binding_letter": [
        (f"/admin/wechat/bindings/{MISSING_BINDING}/letter", row(302, 404, 403, 403, 404))
    ],
    "admin.wechat.wechat_binding_review": [
        (f"/admin/wechat/bindings/{MISSING_BINDING}/review", row(302, 404, 403, 403, 403))
    ],
    "admin.wechat.wechat_messages": [("/admin/wechat/messages", ADMIN_AUDITOR)],
}


def _console_rules(app) -> dict[str, set[str]]:
    rules: dict[str, set[str]] = {}
    for rule in app.url_map.iter_rules():
        if rule.endpoint.startswith("admin."):
            rules.setdefault(rule.endpoint, set()).update(rule.methods - {"HEAD", "OPTIONS"})
    return rules


@pytest.fixture
def ids(app):
    world = CaseWorld()
    key, _secret = issue_api_key(SETUP, world.market, "matrix")
    batch = ImportBatch(department_id=world.market.id, channel="cli", status=ImportStatus.PARTIAL, total_rows=1)
    batch.errors.append(ImportRowError(row_number=2, column="统一社会信用代码", reason="校验位错误"))
    override = CalendarOverride(day=dt.date(2027, 3, 15), is_working_day=False, note="矩阵")
    kiosk, _credential = register_device(SETUP, "JC-MATRIX-01", "金昌市政务服务中心", "一楼")
    db.session.add_all([batch, override])
    db.session.commit()
    subject = db.session.scalar(sa.select(Subject).where(Subject.id == world.objection_record.subject_id))
    return {
        "world": world,
        "market": world.market.id,
        "key": key.id,
        "batch": batch.id,
        "override": override.id,
        "kiosk": kiosk.id,
        "staff": make_staff("auditor").id,
        "subject": subject.id,
        "record": world.objection_record.id,
        "objection": world.objection.id,
        "repair": world.repair.id,
        "objection_material": world.objection.materials[0].id,
        "repair_material": world.repair.materials[0].id,
    }


def test_every_console_route_has_a_row_and_every_row_a_route(app):
    rules = _console_rules(app)
    missing = sorted(set(rules) - set(EXPECTED))
    assert missing == [], f"console routes without a row in the access matrix: {missing}"
    stale = sorted(set(EXPECTED) - set(rules))
    assert stale == [], f"rows for routes that no longer exist: {stale}"


def test_access_matrix(app, ids):
    world = ids["world"]
    clients = {"anonymous": app.test_client()}
    for name, role, department in (
        ("platform_admin", "platform_admin", None),
        ("reviewer_own", "dept_reviewer", world.market),
        ("reviewer_other", "dept_reviewer", world.tax),
        ("auditor", "auditor", None),
    ):
        clients[name] = app.test_client()
        login_as(clients[name], role, department=department)
    rules = _console_rules(app)
    failures = []
    checked = 0
    for endpoint in sorted(rules):
        uses_get = "GET" in rules[endpoint]
        for template, expected in EXPECTED[endpoint]:
            path = template.format(**ids)
            for role in ROLES:
                client = clients[role]
                response = client.get(path) if uses_get else client.post(path, data={})
                checked += 1
                if response.status_code != expected[role]:
                    failures.append(f"{'GET' if uses_get else 'POST'} {path} as {role}: {response.status_code}")
                response.close()
    assert failures == [], "\n".join(failures)
    assert checked >= 5 * len(rules)
    # POSTs without a token changed nothing.
    db.session.expire_all()
    assert world.objection.state.value == "submitted" and world.repair.state.value == "submitted"
