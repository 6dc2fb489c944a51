"""The CLI commands, the counter pages of the console, the expiry job, the production config."""

from __future__ import annotations

import datetime as dt
import io

import pytest
import sqlalchemy as sa
from test_staff_auth import csrf_token, login_as, post_form

from backend.actors import Actor
from backend.config import ConfigError, load_settings
from backend.extensions import db
from backend.issued_reports.models import IssuedReport, ReportStatus
from backend.issued_reports.operations import issue_report
from backend.jobs import run_jobs_once
from backend.pii import mask_id_number
from backend.types import utcnow
from reports import tokens

from .conftest import PERSON_NAME
from .helpers import pdf_text


def test_cli_issue_and_revoke(world, runner, tmp_path, client):
    out = tmp_path / "cli-special.pdf"
    db.session.commit()
    result = runner.invoke(
        args=["credit", "issue-report", world.uscc, "--kind", "special", "--years", "2", "--out", str(out)]
    )
    assert result.exit_code == 0, result.output
    number = result.output.split()[1]
    assert out.read_bytes().startswith(b"%PDF")
    assert number in pdf_text(out.read_bytes(), tmp_path)
    report = db.session.scalar(sa.select(IssuedReport).where(IssuedReport.number == number))
    assert report.channel == "cli" and report.options["years"] == 2

    person = runner.invoke(
        args=["credit", "issue-report", world.id_number, "--kind", "personal", "--out", str(tmp_path / "p.pdf")]
    )
    assert person.exit_code == 0, person.output
    text = pdf_text((tmp_path / "p.pdf").read_bytes(), tmp_path)
    assert PERSON_NAME in text and mask_id_number(world.id_number) in text
    assert world.id_number not in person.output

    wrong = runner.invoke(args=["credit", "issue-report", world.uscc, "--kind", "personal", "--out", str(out)])
    assert wrong.exit_code != 0 and "仅适用于自然人" in wrong.output
    unknown = runner.invoke(args=["credit", "issue-report", "91620302MA71XY3Q54", "--kind", "enterprise", "--out", "x"])
    assert unknown.exit_code != 0 and "未找到" in unknown.output
    invalid = runner.invoke(args=["credit", "issue-report", "12345", "--kind", "enterprise", "--out", "x"])
    assert invalid.exit_code != 0 and "18" in invalid.output

    revoked = runner.invoke(args=["credit", "revoke-report", number, "--reason", "测试撤销"])
    assert revoked.exit_code == 0, revoked.output
    db.session.expire_all()
    assert db.session.get(IssuedReport, report.id).status is ReportStatus.REVOKED
    answer = client.post("/api/v1/verify", data={"file": (io.BytesIO(out.read_bytes()), "r.pdf")}).get_json()
    assert answer["status"] == "revoked" and "测试撤销" in answer["reason"]
    again = runner.invoke(args=["credit", "revoke-report", number, "--reason", "again"])
    assert again.exit_code != 0 and "已撤销" in again.output
    missing = runner.invoke(args=["credit", "revoke-report", "JCXY-20260101-0000000000", "--reason", "x"])
    assert missing.exit_code != 0 and "未找到该报告" in missing.output


def test_expiry_job_marks_reports_and_verification_already_said_so(world, client):
    old = issue_report(Actor.public(), world.enterprise, "enterprise", now=utcnow() - dt.timedelta(days=31))
    fresh = issue_report(Actor.public(), world.enterprise, "enterprise")
    db.session.commit()
    old_id, fresh_id = old.report.id, fresh.report.id
    report = run_jobs_once(handlers={})
    assert report.reports_expired == 1
    db.session.expire_all()
    assert db.session.get(IssuedReport, old_id).status is ReportStatus.EXPIRED
    assert db.session.get(IssuedReport, fresh_id).status is ReportStatus.VALID


def test_counter_issues_prints_and_revokes_in_the_console(world, client):
    db.session.commit()
    login_as(client, "platform_admin")
    page = client.get("/admin/reports/issue")
    assert page.status_code == 200
    refused = post_form(client, "/admin/reports/issue", {"query": world.id_number, "kind": "personal"})
    assert refused.status_code == 422 and "身份核验" in refused.get_data(as_text=True)
    done = post_form(
        client,
        "/admin/reports/issue",
        {"query": world.id_number, "kind": "personal", "identity_check": "已核验本人身份证原件"},
    )
    assert done.status_code == 302, done.get_data(as_text=True)
    number = done.headers["Location"].rsplit("/", 1)[1]
    detail = client.get(f"/admin/reports/{number}").get_data(as_text=True)
    assert number in detail and world.id_number not in detail and PERSON_NAME not in detail
    pdf = client.get(f"/admin/reports/{number}/pdf")
    assert pdf.status_code == 200 and pdf.mimetype == "application/pdf" and pdf.data.startswith(b"%PDF")
    listing = client.get("/admin/reports").get_data(as_text=True)
    assert number in listing
    no_token = client.post(f"/admin/reports/{number}/revoke", data={"reason": "x"})
    assert no_token.status_code == 400
    revoked = post_form(
        client, f"/admin/reports/{number}/revoke", {"reason": "申请人信息有误"}, token_from=f"/admin/reports/{number}"
    )
    assert revoked.status_code == 302
    db.session.expire_all()
    row = db.session.scalar(sa.select(IssuedReport).where(IssuedReport.number == number))
    assert row.status is ReportStatus.REVOKED and row.revoked_reason == "申请人信息有误"


@pytest.mark.parametrize(
    ("role", "expected"),
    [
        ("auditor", {"/admin/reports": 200, "detail": 200, "/admin/reports/issue": 403, "pdf": 403, "revoke": 403}),
        (
            "dept_reviewer",
            {"/admin/reports": 403, "detail": 403, "/admin/reports/issue": 403, "pdf": 403, "revoke": 403},
        ),
    ],
)
def test_console_report_pages_by_role(world, client, role, expected):
    issued = issue_report(Actor.public(), world.enterprise, "enterprise")
    db.session.commit()
    number = issued.report.number
    if role == "dept_reviewer":
        login_as(client, role, department=world.dept)
    else:
        login_as(client, role)
    paths = {
        "/admin/reports": "/admin/reports",
        "detail": f"/admin/reports/{number}",
        "/admin/reports/issue": "/admin/reports/issue",
        "pdf": f"/admin/reports/{number}/pdf",
    }
    for key, path in paths.items():
        assert client.get(path).status_code == expected[key], path
    token = csrf_token(client, "/admin/")
    response = client.post(f"/admin/reports/{number}/revoke", data={"reason": "x", "csrf_token": token})
    assert response.status_code == expected["revoke"]
    db.session.expire_all()
    assert db.session.get(IssuedReport, issued.report.id).status is ReportStatus.VALID


def test_production_refuses_to_start_without_report_keys(tmp_path):
    import base64

    base = {
        "ENV": "production",
        "SECRET_KEY": "s" * 40,
        "PII_ENCRYPTION_KEYS": "p1:" + base64.b64encode(b"\x05" * 32).decode(),
        "PII_HASH_KEY": "hash",
    }
    with pytest.raises(ConfigError, match="REPORT_SIGNING_KEYS"):
        load_settings(tmp_path, environ=base)
    key = tmp_path / "k.pem"
    tokens.save_private_key(tokens.generate_key(), key)
    with pytest.raises(ConfigError, match="REPORT_PDF_KEY_PATH"):
        load_settings(tmp_path, environ={**base, "REPORT_SIGNING_KEYS": f"k1:{key}"})
    with pytest.raises(ConfigError, match="REPORT_PDF_CERT_PATH"):
        load_settings(tmp_path, environ={**base, "REPORT_SIGNING_KEYS": f"k1:{key}", "REPORT_PDF_KEY_PATH": str(key)})
    with pytest.raises(ConfigError, match="does not exist"):
        load_settings(
            tmp_path,
            environ={
                **base,
                "REPORT_SIGNING_KEYS": f"k1:{key}",
                "REPORT_PDF_KEY_PATH": str(key),
                "REPORT_PDF_CERT_PATH": str(tmp_path / "missing.pem"),
            },
        )
