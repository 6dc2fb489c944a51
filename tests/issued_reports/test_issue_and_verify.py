"""Issuing each kind of report and verifying it through every door, with the real tools."""

from __future__ import annotations

import io

import pytest
import sqlalchemy as sa

from backend.actors import Actor
from backend.audit.models import AuditEvent
from backend.extensions import db
from backend.issued_reports.content import ReportOptions
from backend.issued_reports.keys import report_keys
from backend.issued_reports.models import IssuedReport, IssuedReportRecord, ReportStatus
from backend.issued_reports.operations import issue_report
from backend.pii import mask_id_number, mask_name
from backend.storage import get_storage
from reports import signing, tokens
from tests.conftest import TEST_CRYPTO_SUITE

from .conftest import ENTERPRISE_NAME, PERSON_NAME
from .helpers import flip_byte, path_of, pdf_text, read_qr, run_tool


def _issue(world, kind):
    if kind == "enterprise":
        return issue_report(Actor.public("203.0.113.9"), world.enterprise, kind)
    if kind == "personal":
        return issue_report(Actor.citizen(world.person.id, "mp"), world.person, kind)
    return issue_report(
        Actor.citizen(world.person.id, "mp", represents=[world.enterprise.id]),
        world.enterprise,
        kind,
        ReportOptions(years=3),
    )


def _shown(world, kind):
    if kind == "enterprise":
        return world.published_enterprise_records
    if kind == "personal":
        return world.person_records
    return world.enterprise_records  # special: minor penalties too, licences are not a domain of it


@pytest.mark.parametrize("kind", ["enterprise", "personal", "special"])
def test_each_kind_reads_back_through_poppler_and_zbar_and_its_qr_answers_valid(world, client, tmp_path, kind):
    issued = _issue(world, kind)
    db.session.commit()
    report = issued.report

    text = pdf_text(issued.pdf, tmp_path)
    if kind == "personal":
        assert PERSON_NAME in text  # the owner's document carries the full name
        assert mask_id_number(world.id_number) in text
        assert world.id_number not in text
    else:
        assert ENTERPRISE_NAME in text and world.uscc in text
    shown = _shown(world, kind)
    expected = [r for r in shown if kind != "special" or r.category.value != "licence"]
    assert expected
    for record in expected:
        assert record.decision_number in text, record.decision_number
    if kind == "enterprise":
        hidden = [r for r in world.enterprise_records if not r.published]
        assert hidden and all(r.decision_number not in text for r in hidden)  # the minor penalty
    if kind == "special":
        assert "行政处罚（含简易程序）" in text and "刑事判决" in text and "无" in text
    assert report.number in text

    fonts = run_tool("pdffonts", str(tmp_path / "report.pdf")).stdout
    font_lines = [line for line in fonts.splitlines() if "WenQuanYi" in line or "wqy" in line.lower()]
    assert font_lines and all(" yes " in line for line in font_lines), fonts

    url = read_qr(issued.pdf, tmp_path)
    assert url.startswith("http://credit.test/v/")
    page = client.get(path_of(url))
    assert page.status_code == 200
    body = page.get_data(as_text=True)
    assert "有效" in body and report.number in body and "不可信" not in body
    api = client.post("/api/v1/verify", json={"qr": url}).get_json()
    assert api["genuine"] is True and api["status"] == "valid" and api["code"] == "valid"
    assert api["report"]["number"] == report.number and api["report"]["kind"] == kind
    assert api["signature"]["kid"] == "t1" and api["signature"]["payload"]["number"] == report.number

    # Registered: hashes, the stored file, the records shown, the audit row.
    stored = get_storage().get(report.pdf_key)
    assert stored == issued.pdf
    assert report.content_hash and len(report.pdf_hash) == 64
    shown_ids = set(
        db.session.scalars(sa.select(IssuedReportRecord.record_id).where(IssuedReportRecord.report_id == report.id))
    )
    assert shown_ids == {r.id for r in expected}
    audit = db.session.scalar(sa.select(AuditEvent).where(AuditEvent.action == "report.issue"))
    assert audit.details["number"] == report.number
    assert audit.subject_id == report.subject_id


def test_report_number_is_prefixed_dated_and_random(world):
    numbers = {_issue(world, "enterprise").report.number for _ in range(3)}
    assert len(numbers) == 3
    for number in numbers:
        prefix, day, tail = number.split("-")
        assert prefix == "JCXY" and len(day) == 8 and len(tail) == 10  # 50 random bits


def test_personal_report_is_masked_on_the_public_verification_page(world, client, tmp_path):
    issued = _issue(world, "personal")
    db.session.commit()
    url = read_qr(issued.pdf, tmp_path)
    body = client.get(path_of(url)).get_data(as_text=True)
    assert mask_name(PERSON_NAME) in body and mask_id_number(world.id_number) in body
    assert PERSON_NAME not in body and world.id_number not in body
    api = client.post("/api/v1/verify", json={"qr": url}).get_json()
    assert api["report"]["subject"] == {
        "kind": "natural",
        "name": mask_name(PERSON_NAME),
        "code_label": "身份证号码",
        "code": mask_id_number(world.id_number),
    }
    assert PERSON_NAME not in str(api) and world.id_number not in str(api)
    # A view of a person's (masked) report data is logged.
    views = db.session.scalars(sa.select(AuditEvent).where(AuditEvent.action == "report.verify")).all()
    assert len(views) == 2 and {v.subject_id for v in views} == {world.person.id}


def test_enterprise_page_shows_full_name_and_uscc_and_counts(world, client, tmp_path):
    issued = _issue(world, "enterprise")
    db.session.commit()
    body = client.get(path_of(read_qr(issued.pdf, tmp_path))).get_data(as_text=True)
    assert ENTERPRISE_NAME in body and world.uscc in body
    assert "行政处罚信息" in body  # the summary table


def test_signature_validates_with_pdfsig_and_pyhanko_and_one_changed_byte_breaks_both(world, client, tmp_path):
    issued = _issue(world, "enterprise")
    db.session.commit()
    good, bad = tmp_path / "good.pdf", tmp_path / "bad.pdf"
    good.write_bytes(issued.pdf)
    changed = flip_byte(issued.pdf)
    bad.write_bytes(changed)

    out = run_tool("pdfsig", str(good), check=False).stdout
    assert "Signature is Valid" in out, out
    check = signing.validate_pdf_signature(issued.pdf, report_keys().trust_roots)
    assert check.valid and check.intact

    out = run_tool("pdfsig", str(bad), check=False).stdout
    assert "Signature is Valid" not in out, out
    check = signing.validate_pdf_signature(changed, report_keys().trust_roots)
    assert not check.valid and not check.intact

    ok = client.post("/api/v1/verify", data={"file": (io.BytesIO(issued.pdf), "r.pdf")}).get_json()
    assert ok["genuine"] is True and ok["status"] == "valid" and ok["file"]["identical"] is True
    assert ok["file"]["signature_valid"] is True
    answer = client.post("/api/v1/verify", data={"file": (io.BytesIO(changed), "r.pdf")}).get_json()
    assert answer["genuine"] is False and answer["code"] == "file_changed" and answer["status"] == "unknown"
    assert "改动" in answer["reason"]
    assert answer["claimed"]["number"] == issued.report.number  # names the report it claims to be
    assert answer["claimed"]["status"] == "valid" and answer["report"] is None  # status only
    assert answer["file"]["identical"] is False

    # The HTML form says the same.
    page = client.get("/verify")
    token = _csrf(page.get_data(as_text=True))
    body = client.post(
        "/verify",
        data={"csrf_token": token, "file": (io.BytesIO(changed), "r.pdf")},
        content_type="multipart/form-data",
    ).get_data(as_text=True)
    assert "文件已被改动" in body and issued.report.number in body


def _csrf(html: str) -> str:
    import re

    match = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', html)
    assert match, html
    return match.group(1)


def test_verify_form_by_number_and_code(world, client, tmp_path):
    issued = _issue(world, "enterprise")
    db.session.commit()
    text = pdf_text(issued.pdf, tmp_path)
    import re

    code = re.search(r"验证码：([0-9A-Z]{4}-[0-9A-Z]{4})", text).group(1)
    token = _csrf(client.get("/verify").get_data(as_text=True))
    ok = client.post("/verify", data={"csrf_token": token, "number": issued.report.number.lower(), "code": code})
    assert ok.status_code == 200 and "报告真实有效" in ok.get_data(as_text=True)
    wrong = client.post("/verify", data={"csrf_token": token, "number": issued.report.number, "code": "AAAA-AAAA"})
    assert "报告编号或验证码不正确" in wrong.get_data(as_text=True)
    unknown = client.post("/verify", data={"csrf_token": token, "number": "JCXY-20260101-0000000000", "code": code})
    assert "没有登记该报告编号" in unknown.get_data(as_text=True)
    no_csrf = client.post("/verify", data={"number": issued.report.number, "code": code})
    assert no_csrf.status_code == 422 and "报告真实" not in no_csrf.get_data(as_text=True)
    empty = client.post("/verify", data={"csrf_token": token})
    assert empty.status_code == 422


def test_revoked_and_expired_reports_verify_as_such(world, client, tmp_path):
    import datetime as dt

    from backend.issued_reports.operations import revoke_report
    from backend.types import utcnow

    revoked = _issue(world, "enterprise")
    revoke_report(Actor.cli("test"), revoked.report, "报告内容有误，已重新出具")
    old = issue_report(Actor.public(), world.enterprise, "enterprise", now=utcnow() - dt.timedelta(days=40))
    db.session.commit()
    assert old.report.status is ReportStatus.VALID  # the job has not run: expiry is computed anyway

    answer = client.post("/api/v1/verify", json={"qr": read_qr(revoked.pdf, tmp_path)}).get_json()
    assert answer["genuine"] is True and answer["status"] == "revoked" and "报告内容有误" in answer["reason"]
    page = client.get(path_of(read_qr(old.pdf, tmp_path))).get_data(as_text=True)
    assert "已过期" in page
    answer = client.post("/api/v1/verify", data={"file": (io.BytesIO(old.pdf), "r.pdf")}).get_json()
    assert answer["status"] == "expired" and answer["file"]["identical"] is True


def test_forged_tokens_get_distinct_answers(world, client, tmp_path):
    issued = _issue(world, "enterprise")
    db.session.commit()
    url = read_qr(issued.pdf, tmp_path)
    token = tokens.token_from_url(url)

    answers = {}
    # One digit changed anywhere in the token: never accepted.
    for position in (5, len(token) // 2, len(token) - 3):
        digit = "1" if token[position] != "1" else "2"
        forged = token[:position] + digit + token[position + 1 :]
        answer = client.post("/api/v1/verify", json={"qr": forged}).get_json()
        assert answer["genuine"] is False and answer["status"] == "unknown", answer
        assert answer["code"] in {"token_bad_signature", "token_malformed", "token_unknown_key"}
        answers.setdefault("changed", set()).add(answer["code"])
    assert client.get(f"/v/{token[:-1]}7").status_code == 200

    foreign = tokens.sign_token(
        tokens.generate_key(), "t1", number=issued.report.number, kind="enterprise",
        issued_on=issued.report.issued_on, content_hash=issued.report.content_hash,
    )  # fmt: skip
    bad_sig = client.post("/api/v1/verify", json={"qr": foreign}).get_json()
    unknown_key = tokens.sign_token(
        tokens.generate_key(), "other", number=issued.report.number, kind="enterprise",
        issued_on=issued.report.issued_on, content_hash=issued.report.content_hash,
    )  # fmt: skip
    unknown = client.post("/api/v1/verify", json={"qr": unknown_key}).get_json()
    not_registered = tokens.sign_token(
        report_keys().private_key, "t1", number="JCXY-20260101-ABCDEFGHJK", kind="enterprise",
        issued_on=issued.report.issued_on, content_hash=issued.report.content_hash,
    )  # fmt: skip
    unregistered = client.post("/api/v1/verify", json={"qr": not_registered}).get_json()
    mismatch_token = tokens.sign_token(
        report_keys().private_key, "t1", number=issued.report.number, kind="enterprise",
        issued_on=issued.report.issued_on, content_hash="00" * 32,
    )  # fmt: skip
    mismatch = client.post("/api/v1/verify", json={"qr": mismatch_token}).get_json()
    garbage = client.post("/api/v1/verify", json={"qr": "https://example.com/hello"}).get_json()

    codes = [bad_sig["code"], unknown["code"], unregistered["code"], mismatch["code"], garbage["code"]]
    assert codes == ["token_bad_signature", "token_unknown_key", "unknown_number", "token_mismatch", "token_malformed"]
    reasons = [bad_sig["reason"], unknown["reason"], unregistered["reason"], mismatch["reason"], garbage["reason"]]
    assert len(set(reasons)) == 5
    assert all(a["genuine"] is False for a in (bad_sig, unknown, unregistered, mismatch, garbage))


def test_remembered_signature_checks_never_hide_the_registry_or_a_forgery(world, client, tmp_path, monkeypatch):
    """A genuine token's signature check is remembered per process (ReportKeys.check_token); the
    answer still comes from the registry on every request, forged tokens are checked in full each
    time and never remembered, and the memory is bounded."""
    from backend.issued_reports import keys as keys_module
    from backend.issued_reports.operations import revoke_report

    first, second, third = (_issue(world, "enterprise") for _ in range(3))
    db.session.commit()
    token = tokens.token_from_url(read_qr(first.pdf, tmp_path))
    assert client.post("/api/v1/verify", json={"qr": token}).get_json()["status"] == "valid"
    remembered = report_keys()._checked
    assert token in remembered

    revoke_report(Actor.cli("test"), first.report, "报告内容有误，已重新出具")
    db.session.commit()
    answer = client.post("/api/v1/verify", json={"qr": token}).get_json()
    assert answer["genuine"] is True and answer["status"] == "revoked"

    forged = token[:-3] + ("111" if token[-3:] != "111" else "222")
    for _ in range(2):
        answer = client.post("/api/v1/verify", json={"qr": forged}).get_json()
        assert answer["genuine"] is False and answer["code"] in {"token_bad_signature", "token_malformed"}
    assert forged not in remembered

    monkeypatch.setattr(keys_module, "CHECKED_TOKENS_MAX", 2)
    for issued in (second, third):
        client.post("/api/v1/verify", json={"qr": read_qr(issued.pdf, tmp_path)})
    assert 1 <= len(remembered) <= 2


def test_verify_api_input_errors_use_the_error_shape(client):
    for kwargs in ({"json": {}}, {"data": "not json", "content_type": "application/json"}, {"data": {}}):
        response = client.post("/api/v1/verify", **kwargs)
        assert response.status_code == 400, kwargs
        assert response.get_json()["error"]["code"] == "verify_input_required"
    too_long = client.post("/api/v1/verify", json={"qr": "1" * 3000})
    assert too_long.status_code == 422 and "qr" in too_long.get_json()["error"]["details"]
    upload = client.post("/api/v1/verify", data={"file": (io.BytesIO(b"not a pdf"), "x.pdf")}).get_json()
    assert upload["code"] == "file_unreadable" and upload["genuine"] is False


def test_public_keys_document_and_openapi(client):
    doc = client.get("/.well-known/credit-report-keys.json")
    assert doc.status_code == 200
    keys = doc.get_json()["keys"]
    assert [k["kid"] for k in keys] == ["t1"]
    expected = ("EC", "SM2") if TEST_CRYPTO_SUITE == "sm" else ("OKP", "Ed25519")  # tests/conftest.py
    assert (keys[0]["kty"], keys[0]["crv"]) == expected
    assert tokens.public_key_from_jwk(keys[0]) is not None
    spec = client.get("/openapi.json").get_json()
    operation = spec["paths"]["/api/v1/verify"]["post"]
    assert set(operation["requestBody"]["content"]) == {"application/json", "multipart/form-data"}
    assert "/.well-known/credit-report-keys.json" in spec["paths"]
    assert "/v/{token}" not in spec["paths"]


def test_stored_report_rows_keep_only_masked_personal_data(world):
    issued = _issue(world, "personal")
    db.session.flush()
    row = db.session.get(IssuedReport, issued.report.id)
    assert row.subject_display_name == mask_name(PERSON_NAME)
    assert row.subject_display_code == mask_id_number(world.id_number)
