"""The reviewers' console: objection and repair cases through the HTML forms, queues per role,
materials, the commitment PDF, the outbox page and the dashboard figures.

The workflow rules themselves are tested at the operation layer (tests/workflows/); here is what
HTTP adds: who sees which queue and page, the forms, the errors on the page, the file headers.
The builders at the top (``CaseWorld``, ``case_world``) are shared with the access matrix test.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
import subprocess

import pytest
import sqlalchemy as sa
from test_staff_auth import actions, csrf_token, login_as, make_department, post_form

from backend.actors import Actor
from backend.extensions import db
from backend.outbox.models import OutboxEvent, OutboxStatus
from backend.records.models import CreditRecord, PenaltyTier, RecordCategory, RecordStatus
from backend.storage import get_storage
from backend.types import utcnow
from backend.workflows.cases import Applicant, ApplicantKind, CaseState
from backend.workflows.commitments.models import CommitmentKind
from backend.workflows.commitments.operations import sign_commitment
from backend.workflows.materials.models import MaterialPurpose
from backend.workflows.materials.operations import upload_material
from backend.workflows.objections.models import Objection, ObjectionGround, ObjectionHistory
from backend.workflows.objections.operations import file_objection
from backend.workflows.repairs.models import RepairApplication, RepairHistory
from backend.workflows.repairs.operations import file_repair, supplement_repair
from reports.letters import Letter, render_letter
from tests.factories import make_uscc, record_input, write_records
from tests.workflows.conftest import make_image

APPLICANT_NAME = "王建国"
APPLICANT_ID = "11010519491231002X"
PNG = make_image("PNG")  # a real image: the materials check verifies its structure


def sample_pdf(text: str = "罚款缴纳凭证") -> bytes:
    return render_letter(Letter(title="证明材料", body=text))


class CaseWorld:
    """Two departments with staff, and an objection, a repair and another department's objection,
    each filed by a citizen through the real operations (committed)."""

    def __init__(self):
        self.market = make_department("SCJG", "金昌市市场监督管理局", "91620302MA71XY3Q54")
        self.tax = make_department("SWJ", "国家税务总局金昌市税务局", "914403001922038216")
        self.citizen = Actor("citizen", "42", "citizen-42", "mp")
        self.applicant = Applicant(ApplicantKind.LEGAL_REPRESENTATIVE, APPLICANT_NAME, APPLICANT_ID)
        today = dt.date.today()
        self.objection_record = self._record(self.market, decision_date=today - dt.timedelta(days=30))
        self.repair_record = self._record(self.market, decision_date=today - dt.timedelta(days=150))
        self.other_record = self._record(self.tax, decision_date=today - dt.timedelta(days=30))
        self.objection = self._objection(
            self.objection_record, [(MaterialPurpose.EVIDENCE, sample_pdf(), "决定书.pdf")]
        )
        self.other_objection = self._objection(self.other_record, [(MaterialPurpose.EVIDENCE, PNG, "照片.png")])
        commitment = sign_commitment(self.citizen, CommitmentKind.REPAIR, self.repair_record, self.applicant)
        materials = [
            upload_material(self.citizen, sample_pdf(), "缴款凭证.pdf", MaterialPurpose.FULFILMENT),
            upload_material(self.citizen, PNG, "整改照片.png", MaterialPurpose.EVIDENCE),
        ]
        self.repair = file_repair(
            self.citizen,
            self.repair_record,
            self.applicant,
            statement="罚款已缴清，整改已完成",
            commitment=commitment,
            material_ids=[m.id for m in materials],
        )
        db.session.commit()

    def _record(self, department, **overrides) -> CreditRecord:
        item = record_input(department, uscc=make_uscc(), tier=PenaltyTier.GENERAL, **overrides)
        write_records(item)
        db.session.commit()
        return db.session.scalars(
            sa.select(CreditRecord).where(CreditRecord.decision_number == item.decision_number)
        ).one()

    def _objection(self, record, files) -> Objection:
        commitment = sign_commitment(self.citizen, CommitmentKind.OBJECTION, record, self.applicant)
        materials = [upload_material(self.citizen, data, name, purpose) for purpose, data, name in files]
        objection = file_objection(
            self.citizen,
            record,
            self.applicant,
            ground=ObjectionGround.INACCURATE,
            statement="处罚金额与决定书不一致",
            commitment=commitment,
            material_ids=[m.id for m in materials],
        )
        db.session.commit()
        return objection


@pytest.fixture
def case_world(app):
    return CaseWorld()


def case_path(kind: str, case, suffix: str = "") -> str:
    return f"/admin/cases/{kind}/{case.id}{suffix}"


def text(response) -> str:
    return response.get_data(as_text=True)


def fresh(model, case_id):
    db.session.expire_all()
    return db.session.get(model, case_id)


@pytest.fixture
def clients(app, case_world):
    """Signed-in clients: platform admin (with TOTP), a reviewer of each department, an auditor."""
    made = {}
    for name, role, dept in (
        ("admin", "platform_admin", None),
        ("market", "dept_reviewer", case_world.market),
        ("market2", "dept_reviewer", case_world.market),
        ("tax", "dept_reviewer", case_world.tax),
        ("auditor", "auditor", None),
    ):
        client = app.test_client()
        user = login_as(client, role, department=dept)
        client.user = user
        made[name] = client
    return made


# --- Full flows -------------------------------------------------------------------------


def test_objection_flow_through_the_console(case_world, clients):
    admin, reviewer = clients["admin"], clients["market"]
    objection = case_world.objection
    path = case_path("objection", objection)

    queue = admin.get("/admin/cases")
    assert queue.status_code == 200
    assert objection.number in text(queue) and case_world.repair.number in text(queue)
    assert "剩余 1 个工作日" in text(queue) or "今日到期" in text(queue)

    page = admin.get(path)
    body = text(page)
    assert page.status_code == 200
    assert "金昌市市场监督管理局" in body  # the record's department
    assert "王*国" in body and APPLICANT_NAME not in body and APPLICANT_ID not in body
    assert "决定书.pdf" in body and 'iframe src="' + path + "/materials/" in body
    assert "异议申诉信用承诺书" in body and objection.commitment.text_sha256 in body
    assert "受理" in body and "退回补正" in body

    # The reviewer has nothing to decide before acceptance (the default queue is theirs).
    assert objection.number not in text(reviewer.get("/admin/cases"))

    response = post_form(admin, path + "/accept", token_from=path)
    assert response.status_code == 302 and response.headers["Location"] == path
    assert fresh(Objection, objection.id).state is CaseState.UNDER_REVIEW
    assert db.session.get(CreditRecord, case_world.objection_record.id).status is RecordStatus.UNDER_OBJECTION
    assert "已受理申请" in text(admin.get(path))

    queue = text(reviewer.get("/admin/cases"))
    assert objection.number in queue and case_world.other_objection.number not in queue
    form_page = text(reviewer.get(path))
    assert 'name="fix_penalty_content"' in form_page and "罚款人民币伍仟元" in form_page
    response = post_form(
        reviewer,
        path + "/decide",
        {
            "outcome": "corrected",
            "decision_reason": "经核对原始决定书，处罚内容录入有误",
            "fix_penalty_content": "罚款人民币叁仟元",
            "fix_penalty_category": "罚款",  # unchanged: not a correction
        },
        token_from=path,
    )
    assert response.status_code == 302, text(response)
    decided = fresh(Objection, objection.id)
    assert decided.state is CaseState.DECIDED
    assert decided.corrections == {"penalty_content": ["罚款人民币伍仟元", "罚款人民币叁仟元"]}
    assert decided.decided_by_label == clients["market"].user.username
    assert db.session.get(CreditRecord, case_world.objection_record.id).penalty_content == "罚款人民币叁仟元"

    response = post_form(admin, path + "/deliver", token_from=path)
    assert response.status_code == 302
    closed = fresh(Objection, objection.id)
    assert closed.state is CaseState.CLOSED
    assert db.session.get(CreditRecord, case_world.objection_record.id).status is RecordStatus.PUBLIC
    history = text(admin.get(path))
    for label in ("提出申请", "受理", "作出决定", "送达结果", "经核对原始决定书"):
        assert label in history
    assert [e.action for e in actions("objection.decide")] == ["objection.decide"]

    # The outbox shows the queued notifications; the dashboard counts the closed case.
    outbox = text(admin.get("/admin/outbox?topic=objection."))
    for topic in ("objection.accept", "objection.decide", "objection.deliver"):
        assert topic in outbox
    dashboard = text(admin.get("/admin/"))
    assert "异议与信用修复办理情况" in dashboard and "平均办结用时" in dashboard


def test_repair_flow_with_return_supplement_extension_and_approval(case_world, clients):
    admin, reviewer = clients["admin"], clients["market"]
    repair = case_world.repair
    path = case_path("repair", repair)

    empty = post_form(admin, path + "/return", {"missing_items": "  \n "}, token_from=path)
    assert empty.status_code == 422 and "逐项列明" in text(empty)
    response = post_form(
        admin, path + "/return", {"missing_items": "缺少罚款缴纳凭证原件\n缺少整改报告"}, token_from=path
    )
    assert response.status_code == 302
    returned = fresh(RepairApplication, repair.id)
    assert returned.state is CaseState.RETURNED and returned.missing_items == ["缺少罚款缴纳凭证原件", "缺少整改报告"]
    assert "缺少整改报告" in text(admin.get(path))

    supplement_repair(case_world.citizen, returned, note="已补充整改报告")
    db.session.commit()
    assert post_form(admin, path + "/accept", token_from=path).status_code == 302
    accepted = fresh(RepairApplication, repair.id)
    first_deadline = accepted.deadline

    response = post_form(
        reviewer, path + "/extend", {"extension_days": "2", "extension_reason": "需现场核查整改情况"}, token_from=path
    )
    assert response.status_code == 302, text(response)
    extended = fresh(RepairApplication, repair.id)
    assert extended.extension_days == 2 and extended.deadline > first_deadline
    # The form is gone after the one extension; a forced second one is refused on the page.
    assert 'name="extension_days"' not in text(reviewer.get(path))
    again = post_form(
        reviewer, path + "/extend", {"extension_days": "1", "extension_reason": "再次延期"}, token_from=path
    )
    assert again.status_code == 409 and "已延期一次" in text(again)

    no_reason = post_form(reviewer, path + "/decide", {"outcome": "approved"}, token_from=path)
    assert no_reason.status_code == 422 and "请填写决定理由" in text(no_reason)
    response = post_form(
        reviewer, path + "/decide", {"outcome": "approved", "decision_reason": "已履行义务并完成整改"}, token_from=path
    )
    assert response.status_code == 302
    assert db.session.get(CreditRecord, case_world.repair_record.id).status is RecordStatus.REPAIRED
    assert post_form(admin, path + "/deliver", token_from=path).status_code == 302
    assert fresh(RepairApplication, repair.id).state is CaseState.CLOSED


# --- Scoping, roles, errors -------------------------------------------------------------


def test_reviewer_cannot_see_or_decide_another_departments_case(case_world, clients):
    tax = clients["tax"]
    objection = case_world.objection
    assert (
        post_form(clients["admin"], case_path("objection", objection, "/accept"), token_from="/admin/").status_code
        == 302
    )
    path = case_path("objection", objection)
    material = objection.materials[0]
    token = csrf_token(tax, "/admin/")
    for url in (path, path + "/commitment.pdf", f"{path}/materials/{material.id}"):
        assert tax.get(url).status_code == 404, url
    for action, data in (("decide", {"outcome": "deleted", "decision_reason": "越权删除"}), ("extend", {})):
        response = tax.post(f"{path}/{action}", data={**data, "csrf_token": token})
        assert response.status_code == 404, action
    assert fresh(Objection, objection.id).state is CaseState.UNDER_REVIEW
    for state in ("open", "all", "under_review"):
        queue = text(tax.get(f"/admin/cases?state={state}"))
        assert objection.number not in queue and case_world.repair.number not in queue
    assert case_world.other_objection.number in text(tax.get("/admin/cases?state=open"))
    # Nor does the operation accept another department's decision if reached some other way.
    assert not objection.can_decide(Actor.staff(tax.user))


def test_roles_see_only_their_actions(case_world, clients):
    path = case_path("objection", case_world.objection)
    auditor = clients["auditor"]
    page = text(auditor.get(path))
    assert "受理" in page  # history row, not a form
    assert "/accept" not in page and "/decide" not in page and "/applicant" not in page
    assert auditor.get("/admin/cases").status_code == 200
    token = csrf_token(auditor, "/admin/")
    assert auditor.post(path + "/accept", data={"csrf_token": token}).status_code == 403
    # A reviewer may not accept; an admin may not decide.
    market_token = csrf_token(clients["market"], "/admin/")
    assert clients["market"].post(path + "/accept", data={"csrf_token": market_token}).status_code == 403
    admin_token = csrf_token(clients["admin"], "/admin/")
    response = clients["admin"].post(
        path + "/decide", data={"csrf_token": admin_token, "outcome": "confirmed", "decision_reason": "维持"}
    )
    assert response.status_code == 403
    # No CSRF token: refused before anything happens.
    assert clients["admin"].post(path + "/accept").status_code == 400
    assert fresh(Objection, case_world.objection.id).state is CaseState.SUBMITTED


def test_concurrent_decision_shows_who_decided_first(case_world, clients):
    admin, first, second = clients["admin"], clients["market"], clients["market2"]
    path = case_path("objection", case_world.objection)
    assert post_form(admin, path + "/accept", token_from=path).status_code == 302
    # Both reviewers have the page open; the first one decides.
    token = csrf_token(second, path)
    response = post_form(
        first, path + "/decide", {"outcome": "confirmed", "decision_reason": "记录无误"}, token_from=path
    )
    assert response.status_code == 302
    late = second.post(path + "/decide", data={"csrf_token": token, "outcome": "deleted", "decision_reason": "删除"})
    body = text(late)
    assert late.status_code == 409
    assert "该申请已由" in body and first.user.username in body and "已作出决定" in body
    decided = fresh(Objection, case_world.objection.id)
    assert decided.outcome.value == "confirmed"
    assert db.session.get(CreditRecord, case_world.objection_record.id).status is RecordStatus.UNDER_OBJECTION


def test_operation_errors_are_shown_on_the_page(case_world, clients):
    admin, reviewer = clients["admin"], clients["market"]
    path = case_path("objection", case_world.objection)
    # Deliver before any decision: a wrong-state conflict, rendered, not a 500.
    response = post_form(admin, path + "/deliver", token_from=path)
    assert response.status_code == 409 and "不能送达结果" in text(response)
    assert post_form(admin, path + "/accept", token_from=path).status_code == 302
    # "Corrected" without changing any field, and a correction with a bad date.
    response = post_form(
        reviewer, path + "/decide", {"outcome": "corrected", "decision_reason": "更正"}, token_from=path
    )
    assert response.status_code == 422 and "更正记录须列明" in text(response)
    response = post_form(
        reviewer,
        path + "/decide",
        {"outcome": "corrected", "decision_reason": "更正日期", "fix_decision_date": "2026-02-30"},
        token_from=path,
    )
    assert response.status_code == 422 and "决定日期" in text(response)
    assert 'value="2026-02-30"' in text(response)  # the reviewer's input is kept
    response = post_form(
        reviewer, path + "/extend", {"extension_days": "30", "extension_reason": "太久"}, token_from=path
    )
    assert response.status_code == 422 and "延期天数须为 1 至 5 个工作日" in text(response)
    assert fresh(Objection, case_world.objection.id).state is CaseState.UNDER_REVIEW


def test_queue_sorts_by_deadline_and_marks_overdue(case_world, clients):
    repair = fresh(RepairApplication, case_world.repair.id)
    repair.deadline = dt.date.today() - dt.timedelta(days=10)
    db.session.commit()
    admin = clients["admin"]
    body = text(admin.get("/admin/cases"))
    assert body.index(case_world.repair.number) < body.index(case_world.objection.number)
    row = re.search(r"<tr class=\"overdue\">.*?</tr>", body, re.S).group(0)
    assert case_world.repair.number in row and "已超期" in row
    overdue_only = text(admin.get("/admin/cases?overdue=1"))
    assert case_world.repair.number in overdue_only and case_world.objection.number not in overdue_only
    only_objections = text(admin.get("/admin/cases?type=objection"))
    assert case_world.repair.number not in only_objections and case_world.objection.number in only_objections
    by_number = text(admin.get("/admin/cases?state=all&q=" + case_world.objection.number[-6:].lower()))
    assert case_world.objection.number in by_number and case_world.repair.number not in by_number
    bad = admin.get("/admin/cases?state=nonsense&page=x")
    assert bad.status_code == 200 and "筛选条件无效" in text(bad)


# --- Counter / paper withdrawal -----------------------------------------------------------

COUNTER_REASON = "申请人到窗口书面撤回"


def _withdraw(client, kind, case, data):
    return post_form(client, case_path(kind, case, "/withdraw"), data, token_from=case_path(kind, case))


def _public_record(client, uscc, decision_number):
    body = client.get(f"/api/v1/subjects/{uscc}").get_json()
    shown = {r["decision_number"]: r for group in body["categories"] for r in group["records"]}
    return shown.get(decision_number)


def test_platform_staff_record_a_counter_withdrawal_of_an_accepted_objection(case_world, clients, client):
    admin = clients["admin"]
    objection = case_world.objection
    record = case_world.objection_record
    path = case_path("objection", objection)
    uscc = record.subject.uscc
    assert post_form(admin, path + "/accept", token_from=path).status_code == 302
    assert _public_record(client, uscc, record.decision_number)["objection_mark"] == "异议处理中"

    page = text(admin.get(path))
    assert "代为撤回申请" in page and 'name="withdraw_reason"' in page and 'name="withdraw_confirm"' in page
    assert f"{path}/withdraw" in page
    for name in ("market", "auditor"):  # the department's reviewer and the auditor get no form
        other = text(clients[name].get(path))
        assert "/withdraw" not in other and "withdraw_reason" not in other, name

    # A reason and the confirmation are both required; nothing changes without them.
    no_reason = _withdraw(admin, "objection", objection, {"withdraw_reason": "  ", "withdraw_confirm": "y"})
    assert no_reason.status_code == 422 and "请填写撤回原因" in text(no_reason)
    unconfirmed = _withdraw(admin, "objection", objection, {"withdraw_reason": COUNTER_REASON})
    assert unconfirmed.status_code == 422 and "请勾选确认" in text(unconfirmed)
    assert fresh(Objection, objection.id).state is CaseState.UNDER_REVIEW
    assert not actions("objection.withdraw")

    response = _withdraw(admin, "objection", objection, {"withdraw_reason": COUNTER_REASON, "withdraw_confirm": "y"})
    assert response.status_code == 302 and response.headers["Location"] == path
    withdrawn = fresh(Objection, objection.id)
    assert withdrawn.state is CaseState.WITHDRAWN and withdrawn.closed_at is not None
    last = db.session.scalars(
        sa.select(ObjectionHistory).where(ObjectionHistory.case_id == objection.id).order_by(ObjectionHistory.id)
    ).all()[-1]
    assert (last.action, last.from_state, last.to_state, last.reason) == (
        "withdraw", "under_review", "withdrawn", COUNTER_REASON,
    )  # fmt: skip
    assert (last.actor_type, last.actor_id, last.actor_label, last.channel) == (
        "staff", str(admin.user.id), admin.user.username, "admin",
    )  # fmt: skip
    [event] = actions("objection.withdraw")
    assert event.actor_id == str(admin.user.id) and event.reason == COUNTER_REASON
    # The 异议处理中 mark is gone from the record and from the public profile.
    assert db.session.get(CreditRecord, record.id).status is RecordStatus.PUBLIC
    assert _public_record(client, uscc, record.decision_number)["objection_mark"] is None

    after = text(admin.get(path))
    assert "已代申请人撤回申请" in after and objection.number in after
    assert "已撤回" in after and COUNTER_REASON in after
    assert 'name="withdraw_reason"' not in after  # nothing left to withdraw


def test_platform_staff_record_a_counter_withdrawal_of_a_repair(case_world, clients, client):
    admin = clients["admin"]
    repair = case_world.repair
    path = case_path("repair", repair)
    published = db.session.scalar(
        sa.select(CreditRecord).where(
            CreditRecord.subject_id == repair.subject_id, CreditRecord.category == RecordCategory.COMMITMENT
        )
    )
    uscc = case_world.repair_record.subject.uscc
    assert _public_record(client, uscc, published.decision_number) is not None
    assert "已公开的信用修复承诺一并撤回" in text(admin.get(path))

    # Department reviewers may neither see nor use it: refused before the case is even loaded.
    for name in ("market", "tax"):
        token = csrf_token(clients[name], "/admin/")
        refused = clients[name].post(
            path + "/withdraw",
            data={"csrf_token": token, "withdraw_reason": COUNTER_REASON, "withdraw_confirm": "y"},
        )
        assert refused.status_code == 403, name
    assert fresh(RepairApplication, repair.id).state is CaseState.SUBMITTED

    response = _withdraw(admin, "repair", repair, {"withdraw_reason": COUNTER_REASON, "withdraw_confirm": "y"})
    assert response.status_code == 302
    assert fresh(RepairApplication, repair.id).state is CaseState.WITHDRAWN
    last = db.session.scalars(
        sa.select(RepairHistory).where(RepairHistory.case_id == repair.id).order_by(RepairHistory.id)
    ).all()[-1]
    assert (last.action, last.from_state, last.reason, last.actor_type, last.actor_id) == (
        "withdraw", "submitted", COUNTER_REASON, "staff", str(admin.user.id),
    )  # fmt: skip
    # The published repair commitment is withdrawn with the application.
    assert db.session.get(CreditRecord, published.id).status is RecordStatus.WITHDRAWN
    assert _public_record(client, uscc, published.decision_number) is None
    assert "已代申请人撤回申请" in text(admin.get(path))


def test_a_decided_case_cannot_be_withdrawn(case_world, clients):
    admin, reviewer = clients["admin"], clients["market"]
    repair = case_world.repair
    path = case_path("repair", repair)
    assert post_form(admin, path + "/accept", token_from=path).status_code == 302
    response = post_form(
        reviewer, path + "/decide", {"outcome": "rejected", "decision_reason": "罚款尚未缴清"}, token_from=path
    )
    assert response.status_code == 302
    assert 'name="withdraw_reason"' not in text(admin.get(path))

    late = _withdraw(admin, "repair", repair, {"withdraw_reason": COUNTER_REASON, "withdraw_confirm": "y"})
    assert late.status_code == 409
    assert "当前状态为“已作出决定”，不能撤回" in text(late) and "作出决定前" in text(late)
    decided = fresh(RepairApplication, repair.id)
    assert decided.state is CaseState.DECIDED and decided.outcome.value == "rejected"
    assert [h.action for h in decided.history] == ["file", "accept", "decide"]
    assert not actions("repair.withdraw")


# --- Applicant identity, materials, commitment ------------------------------------------


def test_admin_reveals_the_applicant_with_a_reason_and_it_is_audited(case_world, clients):
    admin = clients["admin"]
    path = case_path("objection", case_world.objection)
    assert "查看完整身份信息" in text(admin.get(path))
    form = admin.get(path + "/applicant")
    assert form.status_code == 200 and APPLICANT_NAME not in text(form)
    short = post_form(admin, path + "/applicant", {"reason": "看"}, token_from=path + "/applicant")
    assert short.status_code == 422 and not actions("objection.view_applicant")
    response = post_form(admin, path + "/applicant", {"reason": "电话核实申请人身份"}, token_from=path + "/applicant")
    assert response.status_code == 200
    assert APPLICANT_NAME in text(response) and APPLICANT_ID in text(response)
    [event] = actions("objection.view_applicant")
    assert event.reason == "电话核实申请人身份" and event.actor_id == str(admin.user.id)
    assert event.subject_id == case_world.objection.subject_id
    # Other roles never get the clear identity.
    assert clients["market"].get(path + "/applicant").status_code == 403
    assert clients["auditor"].get(path + "/applicant").status_code == 403
    assert APPLICANT_NAME not in text(clients["auditor"].get(path))


def test_material_preview_headers_audit_and_tampering(case_world, clients):
    admin = clients["admin"]
    pdf = case_world.objection.materials[0]
    url = f"{case_path('objection', case_world.objection)}/materials/{pdf.id}"
    response = admin.get(url)
    assert response.status_code == 200
    assert response.mimetype == "application/pdf"
    assert hashlib.sha256(response.data).hexdigest() == pdf.sha256
    disposition = response.headers["Content-Disposition"]
    assert disposition.startswith("inline;") and "filename*=UTF-8''" in disposition
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Cache-Control"] == "no-store"
    assert "frame-ancestors 'self'" in response.headers["Content-Security-Policy"]
    [event] = actions("material.view")
    assert event.actor_id == str(admin.user.id)

    png = next(m for m in case_world.repair.materials if m.file_type.value == "png")
    image = clients["market"].get(f"{case_path('repair', case_world.repair)}/materials/{png.id}")
    assert image.status_code == 200 and image.mimetype == "image/png" and image.data == PNG
    # A material of another case is not reachable through this case's URL.
    assert admin.get(f"{case_path('repair', case_world.repair)}/materials/{pdf.id}").status_code == 404
    # The stored file changed after upload: refused with a message, never served.
    path = get_storage()._path(pdf.storage_key)
    path.write_bytes(sample_pdf("被替换的内容"))
    changed = admin.get(url)
    assert changed.status_code == 409 and "材料文件" in text(changed)
    assert len(actions("material.view")) == 2  # the two successful views above, not the refused one


def test_commitment_pdf_carries_the_signed_text_and_signature_data(case_world, clients, tmp_path):
    repair = case_world.repair
    response = clients["auditor"].get(case_path("repair", repair, "/commitment.pdf"))
    assert response.status_code == 200 and response.mimetype == "application/pdf"
    assert response.headers["Content-Disposition"] == f'attachment; filename="commitment-{repair.number}.pdf"'
    path = tmp_path / "c.pdf"
    path.write_bytes(response.data)
    printed = re.sub(r"\s+", "", subprocess.run(["pdftotext", str(path), "-"], capture_output=True, text=True).stdout)
    commitment = repair.commitment
    assert "信用修复承诺书" in printed and repair.number in printed
    assert commitment.text_sha256 in printed and "微信小程序" in printed and "王*国" in printed
    for line in commitment.text.splitlines()[1:]:
        assert re.sub(r"\s+", "", line) in printed, line
    assert APPLICANT_NAME not in printed
    [event] = actions("commitment.export_pdf")
    assert event.target_id == str(commitment.id)


# --- Outbox and dashboard ---------------------------------------------------------------


def test_outbox_page_lists_attempts_and_errors_for_admin_and_auditor_only(case_world, clients):
    failed = OutboxEvent(
        topic="objection.accept", payload={"number": "YY1"}, status=OutboxStatus.FAILED, attempts=10,
        last_error="wechat: 40001 invalid credential",
    )  # fmt: skip
    delivered = OutboxEvent(
        topic="repair.decide", payload={}, status=OutboxStatus.DELIVERED, attempts=1, delivered_at=utcnow()
    )
    db.session.add_all([failed, delivered])
    db.session.commit()
    for name in ("admin", "auditor"):
        page = text(clients[name].get("/admin/outbox"))
        assert "wechat: 40001 invalid credential" in page and "发送失败" in page and "已发送" in page
        assert "objection.file" in page  # queued by the filings, still pending
    only_failed = text(clients["admin"].get("/admin/outbox?status=failed"))
    assert "invalid credential" in only_failed and "repair.decide" not in only_failed
    assert clients["market"].get("/admin/outbox").status_code == 403
    assert "消息发件箱" not in text(clients["market"].get("/admin/"))


def test_dashboard_counts_and_average_working_days(case_world, clients):
    # Filed on a Monday, closed the Friday of the next week: 9 working days (no holiday then).
    objection = fresh(Objection, case_world.objection.id)
    db.session.execute(
        sa.update(Objection)
        .where(Objection.id == objection.id)
        .values(
            state=CaseState.CLOSED,
            outcome="confirmed",
            decision_reason="维持",
            filed_at=dt.datetime(2026, 11, 2, 2),
            accepted_at=dt.datetime(2026, 11, 3, 2),
            decided_at=dt.datetime(2026, 11, 10, 2),
            decided_by_label="r",
            closed_at=dt.datetime(2026, 11, 13, 2),
            deadline=None,
        )
    )
    db.session.commit()
    page = text(clients["admin"].get("/admin/"))
    table = page[page.index("异议与信用修复办理情况") :]
    objection_row = re.search(r"<tr>\s*<td><a[^>]*type=objection[^>]*>异议申诉</a></td>(.*?)</tr>", table, re.S).group(
        1
    )
    numbers = re.findall(r">\s*([\d.—]+)\s*<", objection_row)
    # submitted, returned, under_review, decided, closed, withdrawn, overdue, closed 12m, avg, avg decide
    assert numbers == ["1", "0", "0", "0", "1", "0", "0", "1", "9.0", "5.0"], numbers
    # A reviewer's dashboard counts their own department only.
    tax_page = text(clients["tax"].get("/admin/"))
    tax_row = re.search(r"type=objection[^>]*>异议申诉</a></td>(.*?)</tr>", tax_page, re.S).group(1)
    assert re.findall(r">\s*([\d.—]+)\s*<", tax_row)[:5] == ["1", "0", "0", "0", "0"]
