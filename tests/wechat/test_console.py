"""The WeChat pages of the staff console: enterprise-binding review with the authorisation letter
previewed inline, and the subscribe message attempts (recipients masked)."""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from test_staff_auth import actions, login_as, post_form

from backend.citizens.models import BindingStatus, EnterpriseBinding
from backend.departments.models import Department
from backend.extensions import db
from backend.outbox.worker import deliver_pending, registered_handlers
from backend.types import local_date
from miniprogram_api.models import MessageAttempt
from tests.wechat.conftest import TEMPLATE_REPORT
from tests.wechat.helpers import API, Person, department, enterprise, make_pdf, upload, verified_person

BINDINGS = "/admin/wechat/bindings"
MESSAGES = "/admin/wechat/messages"


def _pending_binding(client, fake, name: str, n: int, company_name: str) -> tuple[Person, int, str, bytes]:
    company = enterprise(_department(), "王建国", name=company_name)
    uscc = company.uscc
    db.session.commit()
    person = verified_person(client, fake, name, n)
    letter_bytes = make_pdf(2)
    letter = upload(client, person, "authorisation", data=letter_bytes)
    response = client.post(
        f"{API}/enterprise-bindings",
        json={"uscc": uscc, "method": "authorisation_letter", "material_id": letter},
        headers=person.headers,
    )
    assert response.status_code == 201 and response.json["status"] == "pending_review"
    return person, response.json["id"], uscc, letter_bytes


def _department():
    return db.session.scalar(sa.select(Department).limit(1)) or department()


def _staff(app, role: str):
    staff_client = app.test_client()
    login_as(staff_client, role)
    return staff_client


def _binding(binding_id: int) -> EnterpriseBinding:
    db.session.remove()
    return db.session.get(EnterpriseBinding, binding_id)


def test_admin_reviews_a_binding_with_the_letter_previewed(app, client, fake):
    person, binding_id, uscc, letter = _pending_binding(client, fake, "钱七明", 701, "金昌市宏达建材有限公司")
    other, other_id, other_uscc, _ = _pending_binding(client, fake, "孙小红", 702, "金昌市永昌商贸有限公司")
    admin = _staff(app, "platform_admin")

    queue = admin.get(BINDINGS)
    assert queue.status_code == 200
    text = queue.get_data(as_text=True)
    assert "金昌市宏达建材有限公司" in text and "金昌市永昌商贸有限公司" in text
    assert "钱*明" in text and "钱七明" not in text and person.id_number not in text
    assert text.index("金昌市宏达建材有限公司") < text.index("金昌市永昌商贸有限公司")  # oldest first

    detail = admin.get(f"{BINDINGS}/{binding_id}")
    assert detail.status_code == 200
    page = detail.get_data(as_text=True)
    assert f'<iframe src="{BINDINGS}/{binding_id}/letter"' in page
    assert "钱*明" in page and "钱七明" not in page and person.id_number not in page
    assert person.openid not in page

    shown = admin.get(f"{BINDINGS}/{binding_id}/letter")
    assert shown.status_code == 200 and shown.mimetype == "application/pdf"
    assert shown.data == letter
    assert shown.headers["Content-Disposition"].startswith("inline")
    assert "frame-ancestors 'self'" in shown.headers["Content-Security-Policy"]
    (viewed,) = actions("mp.enterprise.letter_view")
    assert viewed.details["binding"] == binding_id

    # A rejection needs a reason: refused, nothing changes.
    path = f"{BINDINGS}/{binding_id}"
    empty = post_form(admin, path + "/review", {"decision": "reject", "reason": "  "}, token_from=path)
    assert empty.status_code == 400
    assert "驳回须填写理由" in empty.get_data(as_text=True)
    assert _binding(binding_id).status is BindingStatus.PENDING_REVIEW
    no_decision = post_form(admin, path + "/review", {"reason": "x"}, token_from=path)
    assert no_decision.status_code == 422
    assert _binding(binding_id).status is BindingStatus.PENDING_REVIEW

    rejected = post_form(
        admin, path + "/review", {"decision": "reject", "reason": "委托书未加盖企业公章"}, token_from=path
    )
    assert rejected.status_code == 302
    binding = _binding(binding_id)
    assert binding.status is BindingStatus.REJECTED and binding.review_reason == "委托书未加盖企业公章"
    assert binding.reviewed_at is not None and binding.reviewed_by_label
    (review,) = actions("mp.enterprise.review")
    assert review.reason == "委托书未加盖企业公章" and review.details["approved"] is False
    assert client.get(f"{API}/me/records?uscc={uscc}", headers=person.headers).status_code == 404
    # Decided once: the page offers no form, a second decision is a conflict.
    assert "提交审核结论" not in admin.get(path).get_data(as_text=True)
    again = post_form(admin, path + "/review", {"decision": "approve"}, token_from=f"{BINDINGS}/{other_id}")
    assert again.status_code == 409 and _binding(binding_id).status is BindingStatus.REJECTED

    # Approval (no reason needed) lets the agent act for the enterprise at once.
    other_path = f"{BINDINGS}/{other_id}"
    approved = post_form(admin, other_path + "/review", {"decision": "approve", "reason": ""}, token_from=other_path)
    assert approved.status_code == 302
    assert _binding(other_id).status is BindingStatus.ACTIVE
    assert [e.details["approved"] for e in actions("mp.enterprise.review")] == [False, True]
    assert client.get(f"{API}/me/records?uscc={other_uscc}", headers=other.headers).status_code == 200
    assert "金昌市永昌商贸有限公司" not in admin.get(BINDINGS).get_data(as_text=True)  # left the queue
    assert "金昌市永昌商贸有限公司" in admin.get(BINDINGS + "?status=active").get_data(as_text=True)


def test_auditor_reads_and_reviewer_is_refused(app, client, fake):
    _person, binding_id, _uscc, letter = _pending_binding(client, fake, "钱七明", 701, "金昌市宏达建材有限公司")
    auditor = _staff(app, "auditor")
    path = f"{BINDINGS}/{binding_id}"
    assert auditor.get(BINDINGS).status_code == 200
    page = auditor.get(path)
    assert page.status_code == 200 and "提交审核结论" not in page.get_data(as_text=True)
    assert auditor.get(path + "/letter").data == letter
    assert post_form(auditor, path + "/review", {"decision": "approve"}, token_from=path).status_code == 403
    assert "企业授权审核" in auditor.get("/admin/").get_data(as_text=True)

    reviewer = _staff(app, "dept_reviewer")
    for url in (BINDINGS, path, path + "/letter", MESSAGES):
        assert reviewer.get(url).status_code == 403, url
    assert reviewer.post(path + "/review", data={"decision": "approve"}).status_code == 403
    assert "企业授权审核" not in reviewer.get("/admin/").get_data(as_text=True)
    assert _binding(binding_id).status is BindingStatus.PENDING_REVIEW
    assert len(actions("mp.enterprise.letter_view")) == 1  # the auditor's view only


def test_attempts_page_shows_rows_masked_and_filters(app, client, fake):
    sent_to = verified_person(client, fake, "张明华", 711)
    refused = verified_person(client, fake, "李建国", 712)
    fake.grant_subscription(sent_to.openid, TEMPLATE_REPORT)
    for person in (sent_to, refused):
        assert client.post(f"{API}/reports", json={"kind": "personal"}, headers=person.headers).status_code == 201
    db.session.remove()
    assert len(deliver_pending(registered_handlers()).delivered) == 2
    attempts = db.session.scalars(sa.select(MessageAttempt).order_by(MessageAttempt.id)).all()
    assert [a.status.value for a in attempts] == ["sent", "not_subscribed"]
    admin = _staff(app, "platform_admin")

    page = admin.get(MESSAGES)
    assert page.status_code == 200
    text = page.get_data(as_text=True)
    for person, masked in ((sent_to, "张*华"), (refused, "李*国")):
        assert person.openid not in text and person.name not in text and person.id_number not in text
        assert f"{person.openid[:4]}…{person.openid[-4:]}" in text and masked in text
    assert "已发送" in text and "用户未订阅（不重试）" in text and "43101" in text
    assert TEMPLATE_REPORT in text and "报告出具" in text
    assert f"#{attempts[0].outbox_event_id}" in text and "report.issued" in text
    assert text.index("李*国") < text.index("张*华")  # newest first

    only_refused = admin.get(MESSAGES + "?status=not_subscribed").get_data(as_text=True)
    assert "李*国" in only_refused and "张*华" not in only_refused
    assert "没有发送记录" in admin.get(MESSAGES + "?purpose=case_progress").get_data(as_text=True)
    assert "张*华" in admin.get(MESSAGES + "?purpose=report_ready").get_data(as_text=True)
    today = local_date().isoformat()
    assert "张*华" in admin.get(f"{MESSAGES}?date={today}").get_data(as_text=True)
    yesterday = (local_date() - dt.timedelta(days=1)).isoformat()
    assert "没有发送记录" in admin.get(f"{MESSAGES}?date={yesterday}").get_data(as_text=True)
    bad = admin.get(f"{MESSAGES}?date=not-a-day")
    assert bad.status_code == 200 and "张*华" in bad.get_data(as_text=True)

    auditor = _staff(app, "auditor")
    assert auditor.get(MESSAGES).status_code == 200
    assert "微信消息" in auditor.get("/admin/").get_data(as_text=True)
