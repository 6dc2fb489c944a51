"""The reviewers' console: queues, case pages and decisions for objections (异议) and repairs
(信用修复), materials, the signed commitment as PDF, and the outbox.

A console area of its own (console.py: login, CSRF, idle timeout, error pages shared).
Every state change goes through the workflow operations, which check permissions and states
again; the views only load, scope, validate the form and call one operation (the request commits).
Platform admins check completeness and deliver results, and record a withdrawal the applicant
handed in at the counter or by letter; department reviewers decide their own department's cases
only; auditors read.
"""

from __future__ import annotations

import datetime as dt
import math
import statistics
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import sqlalchemy as sa
from flask import Response, abort, flash, redirect, render_template, request, url_for

from reports.letters import Letter, render_letter

from ..audit.operations import record_event
from ..errors import ApiError
from ..extensions import db
from ..outbox.models import OutboxEvent, OutboxStatus
from ..pii import cipher
from ..types import local_date
from ..workdays.service import WorkdayCalendar, load_calendar
from ..workflows import messages as wf_msg
from ..workflows.cases import DEADLINE_STATES, OPEN_STATES, CaseState, local_time_text, workflow_setting
from ..workflows.commitments.operations import TEMPLATES, verify_commitment
from ..workflows.kinds import CASE_KINDS
from ..workflows.materials.models import Material, MaterialType
from ..workflows.materials.operations import read_material
from ..workflows.objections import messages as objection_msg
from ..workflows.objections.operations import CORRECTABLE_FIELDS
from .auth import ADMIN, AUDITOR, REVIEWER, current_staff, department_scope, require_role, staff_actor
from .case_forms import ExtendForm, ObjectionDecisionForm, RepairDecisionForm, ReturnForm, WithdrawForm
from .console import PAGE_SIZE, Page, console_area, paginate, submitted
from .forms import ActionForm, ReasonForm

bp = console_area("cases", __name__)

# --- Texts (the console's wording for cases, kept together) -------------------------------

ACCEPTED = "已受理申请 {number}，已转交认定部门核查"
RETURNED = "已退回申请 {number}，请申请人补正"
DECIDED = "已对申请 {number} 作出决定"
EXTENDED = "申请 {number} 已延期"
DELIVERED = "申请 {number} 的办理结果已送达，案件办结"
WITHDRAWN = "已代申请人撤回申请 {number}，撤回原因已记入流转记录"
WITHDRAW_TOO_LATE = "申请 {number} 当前状态为“{state}”，不能撤回：申请人只能在作出决定前撤回申请"
IDENTITY_HELP = "查看申请人的完整身份信息须填写查询事由，本次查看将记入审计日志"
COMMITMENT_BROKEN = "承诺书文本与签署时记录的摘要不一致，可能已被改动，请联系平台管理员"
MATERIAL_FILE_ERROR = "材料文件无法打开：{message}"
QUEUE_TITLES = {
    ADMIN: "待受理的申请（完整性审查）",
    REVIEWER: "本部门待核查决定的申请",
    AUDITOR: "正在办理的申请",
}
STATE_FILTER_LABELS = {"open": "全部办理中", "all": "全部（含已办结）"}
CHANNEL_LABELS = {
    "mp": "微信小程序",
    "oa": "微信公众号",
    "kiosk": "自助服务终端",
    "admin": "信用服务窗口",
    "counter": "信用服务窗口",
    "cli": "命令行",
    "dept_api": "部门接口",
    "job": "系统任务",
}
PURPOSE_LABELS = {
    "evidence": "证明材料",
    "fulfilment": "履行义务证明",
    "authorisation": "授权委托书 / 法定代表人身份证明书",
    "application_form": "申请表",
    "identity": "身份证明",
    "other": "其他材料",
}
OUTBOX_STATUS_LABELS = {
    OutboxStatus.PENDING: "待发送",
    OutboxStatus.DELIVERED: "已发送",
    OutboxStatus.FAILED: "发送失败",
}
LETTER_ISSUER = "信用金昌 公共信用信息服务平台"
LETTER_FOOTNOTE = "本文件由平台根据申请人签署的承诺书生成；签署信息中的摘要为承诺书全文（含标题）的 SHA-256 值。"


# --- The two workflows, side by side ------------------------------------------------------


KINDS = CASE_KINDS  # backend/workflows/kinds.py
KIND_PATH = "<any(objection, repair):kind>"
# The applicant may withdraw before the decision (the operations guard the same states).
WITHDRAWABLE_STATES = (CaseState.SUBMITTED, CaseState.RETURNED, CaseState.UNDER_REVIEW)


def _load_case(kind: str, case_id: int) -> Any:
    """The case if the signed-in staff member may see it. Another department's case is a 404:
    a reviewer learns nothing about cases outside their department, not even that they exist."""
    case = db.session.get(KINDS[kind].model, case_id)
    if case is None or not case.can_view(staff_actor(current_staff())):
        abort(404)
    return case


# --- Deadlines ----------------------------------------------------------------------------


@dataclass(frozen=True)
class DeadlineInfo:
    deadline: dt.date | None
    days_left: int | None  # working days; negative when overdue

    @property
    def overdue(self) -> bool:
        return self.days_left is not None and self.days_left < 0

    @property
    def text(self) -> str:
        if self.deadline is None or self.days_left is None:
            return "—"
        if self.days_left < 0:
            return f"已超期 {-self.days_left} 个工作日"
        if self.days_left == 0:
            return "今日到期"
        return f"剩余 {self.days_left} 个工作日"


def deadline_info(case: Any, calendar: WorkdayCalendar, today: dt.date) -> DeadlineInfo:
    if case.state not in DEADLINE_STATES or case.deadline is None:
        return DeadlineInfo(case.deadline, None)
    return DeadlineInfo(case.deadline, calendar.working_days_between(today, case.deadline))


# --- Queue --------------------------------------------------------------------------------


def _default_state(role) -> str:
    return {ADMIN: CaseState.SUBMITTED.value, REVIEWER: CaseState.UNDER_REVIEW.value}.get(role, "open")


def _case_rows(model: type, kind: str, user, state: str, q: str, overdue_only: bool, today: dt.date) -> sa.Select:
    query = sa.select(
        sa.literal(kind, sa.String).label("kind"),
        model.id.label("id"),
        model.deadline.label("deadline"),
        model.filed_at.label("filed_at"),
    )
    if (dept := department_scope(user)) is not None:
        query = query.where(model.department_id == dept)
    if state == "open":
        query = query.where(model.state.in_(OPEN_STATES))
    elif state != "all":
        query = query.where(model.state == CaseState(state))
    if q:
        query = query.where(model.number.contains(q.upper(), autoescape=True))
    if overdue_only:
        query = query.where(model.state.in_(DEADLINE_STATES), model.deadline < today)
    return query


@bp.get("/cases")
@require_role()
def cases():
    user = current_staff()
    kind = request.args.get("type", "")
    if kind not in KINDS:
        kind = ""
    state = request.args.get("state") or _default_state(user.role)
    if state not in STATE_FILTER_LABELS and state not in {s.value for s in CaseState}:
        flash("筛选条件无效，已忽略", "warning")
        state = _default_state(user.role)
    q = (request.args.get("q") or "").strip()[:24]
    overdue_only = request.args.get("overdue") == "1"
    today = local_date()
    parts = [_case_rows(KINDS[k].model, k, user, state, q, overdue_only, today) for k in KINDS if not kind or k == kind]
    union = (parts[0] if len(parts) == 1 else sa.union_all(*parts)).subquery()
    total = db.session.scalar(sa.select(sa.func.count()).select_from(union)) or 0
    page_no = max(request.args.get("page", 1, type=int) or 1, 1)
    # Earliest deadline first; cases without a running deadline (returned, closed) last.
    rows = db.session.execute(
        sa.select(union.c.kind, union.c.id)
        .order_by(sa.case((union.c.deadline.is_(None), 1), else_=0), union.c.deadline, union.c.filed_at, union.c.id)
        .limit(PAGE_SIZE)
        .offset((page_no - 1) * PAGE_SIZE)
    ).all()
    loaded: dict[tuple[str, int], Any] = {}
    for k in KINDS:
        ids = [row.id for row in rows if row.kind == k]
        if ids:
            for case in db.session.scalars(sa.select(KINDS[k].model).where(KINDS[k].model.id.in_(ids))):
                loaded[(k, case.id)] = case
    calendar = load_calendar()
    items = [
        (KINDS[row.kind], case, deadline_info(case, calendar, today))
        for row in rows
        if (case := loaded.get((row.kind, row.id))) is not None
    ]
    page = Page(items, page_no, max(math.ceil(total / PAGE_SIZE), 1), total)
    return render_template(
        "admin/cases/queue.html",
        page=page,
        kind=kind,
        state=state,
        q=q,
        overdue_only=overdue_only,
        title=QUEUE_TITLES[user.role],
        kinds=KINDS,
        states=CaseState,
        state_filter_labels=STATE_FILTER_LABELS,
        local_time=local_time_text,
    )


# --- Case page ----------------------------------------------------------------------------


def _field_text(value: Any) -> str:
    if value is None:
        return ""
    if hasattr(value, "value") and not isinstance(value, str | int):
        return str(value.value)
    if isinstance(value, dt.date):
        return value.isoformat()
    return str(value)


def _correction_prefill(record) -> dict[str, str]:
    return {f"fix_{name}": _field_text(getattr(record, name)) for name in CORRECTABLE_FIELDS}


# The decision form of each kind; an objection's also corrects the record (CORRECTABLE_FIELDS).
DECISION_FORMS = {"objection": ObjectionDecisionForm, "repair": RepairDecisionForm}


def _corrects_record(form_class: type) -> bool:
    return all(hasattr(form_class, f"fix_{name}") for name in CORRECTABLE_FIELDS)


def _decision_form(kind: str, case: Any, bound: bool = False):
    form_class = DECISION_FORMS[kind]
    if bound:
        return form_class()
    prefill = _correction_prefill(case.record) if _corrects_record(form_class) else None
    return form_class(formdata=None, data=prefill)


def _render_case(
    kind: str,
    case: Any,
    *,
    status: int = 200,
    error: str | None = None,
    clear_applicant: dict[str, str | None] | None = None,
    **forms: Any,
):
    user = current_staff()
    actor = staff_actor(user)
    spec = KINDS[kind]
    calendar = load_calendar()
    state = case.state
    commitment = case.commitment
    actions = {
        "accept": state is CaseState.SUBMITTED and case.can_accept(actor),
        "decide": state is CaseState.UNDER_REVIEW and case.can_decide(actor),
        "extend": state is CaseState.UNDER_REVIEW and case.can_decide(actor) and case.extended_at is None,
        "deliver": state is CaseState.DECIDED and case.can_deliver(actor),
        # Counter or paper withdrawal: platform staff only (case.can_withdraw also lets the
        # applicant in, who never signs in here).
        "withdraw": state in WITHDRAWABLE_STATES and user.role is ADMIN and case.can_withdraw(actor),
    }
    limit_setting = spec.extension_setting
    return render_template(
        "admin/cases/detail.html",
        kind=kind,
        spec=spec,
        case=case,
        record=case.record,
        subject=case.record.subject,
        commitment=commitment,
        commitment_title=TEMPLATES[commitment.kind].title,
        commitment_ok=verify_commitment(commitment),
        commitment_broken=COMMITMENT_BROKEN,
        deadline=deadline_info(case, calendar, local_date()),
        actions=actions,
        action_form=ActionForm(),
        return_form=forms.get("return_form") or ReturnForm(formdata=None),
        decision_form=forms.get("decision_form") or _decision_form(kind, case),
        extend_form=forms.get("extend_form") or ExtendForm(formdata=None),
        withdraw_form=forms.get("withdraw_form") or WithdrawForm(formdata=None),
        correction_fields=[f"fix_{name}" for name in CORRECTABLE_FIELDS],
        extension_limit=int(workflow_setting(limit_setting)),
        error=error,
        clear_applicant=clear_applicant,
        may_reveal=user.role is ADMIN,
        local_time=local_time_text,
        wf_msg=wf_msg,
        channel_labels=CHANNEL_LABELS,
        purpose_labels=PURPOSE_LABELS,
        ground_labels=objection_msg.GROUND_LABELS,
        field_labels=objection_msg.FIELD_LABELS,
        previewable=(MaterialType.PDF, MaterialType.JPEG, MaterialType.PNG),
    ), status


@bp.get(f"/cases/{KIND_PATH}/<int:case_id>")
@require_role()
def case_detail(kind: str, case_id: int):
    return _render_case(kind, _load_case(kind, case_id))


def _run(kind: str, case: Any, operation: Callable[[], Any], done: str, **forms: Any):
    """Call one operation; commit and go back to the case, or show its error on the page."""
    number = case.number
    try:
        operation()
    except ApiError as exc:
        db.session.rollback()
        # 400-type operation errors are form problems (422); conflicts and refusals keep theirs.
        status = 422 if exc.status == 400 else exc.status
        return _render_case(kind, _load_case(kind, case.id), status=status, error=exc.message, **forms)
    flash(done.format(number=number), "success")
    return redirect(url_for("admin.cases.case_detail", kind=kind, case_id=case.id))


@bp.post(f"/cases/{KIND_PATH}/<int:case_id>/accept")
@require_role(ADMIN)
def accept_case(kind: str, case_id: int):
    case = _load_case(kind, case_id)
    submitted(ActionForm())  # CSRF only: a missing or wrong token is refused (400)
    actor = staff_actor(current_staff())
    return _run(kind, case, lambda: KINDS[kind].accept(actor, case), ACCEPTED)


@bp.post(f"/cases/{KIND_PATH}/<int:case_id>/return")
@require_role(ADMIN)
def return_case(kind: str, case_id: int):
    case = _load_case(kind, case_id)
    form = ReturnForm()
    if not submitted(form):
        return _render_case(kind, case, status=422, return_form=form)
    actor = staff_actor(current_staff())
    return _run(kind, case, lambda: KINDS[kind].return_(actor, case, form.items()), RETURNED, return_form=form)


@bp.post(f"/cases/{KIND_PATH}/<int:case_id>/decide")
@require_role(REVIEWER)
def decide_case(kind: str, case_id: int):
    case = _load_case(kind, case_id)
    form = _decision_form(kind, case, bound=True)
    if not submitted(form):
        return _render_case(kind, case, status=422, decision_form=form)
    actor = staff_actor(current_staff())
    reason = form.decision_reason.data
    spec = KINDS[kind]
    outcome = spec.outcome(form.outcome.data)
    extra: dict[str, Any] = {}
    if _corrects_record(type(form)):
        current = _correction_prefill(case.record)
        corrections = {}
        for name in CORRECTABLE_FIELDS:
            if f"fix_{name}" not in request.form:
                continue  # not on the submitted form: unchanged
            raw = (form[f"fix_{name}"].data or "").replace("\r\n", "\n").strip()
            if raw != current[f"fix_{name}"].strip():
                corrections[name] = raw
        extra["corrections"] = corrections or None
    return _run(kind, case, lambda: spec.decide(actor, case, outcome, reason, **extra), DECIDED, decision_form=form)


@bp.post(f"/cases/{KIND_PATH}/<int:case_id>/extend")
@require_role(REVIEWER)
def extend_case(kind: str, case_id: int):
    case = _load_case(kind, case_id)
    form = ExtendForm()
    if not submitted(form):
        return _render_case(kind, case, status=422, extend_form=form)
    actor = staff_actor(current_staff())
    days, reason = form.extension_days.data, form.extension_reason.data
    return _run(kind, case, lambda: KINDS[kind].extend(actor, case, days, reason), EXTENDED, extend_form=form)


@bp.post(f"/cases/{KIND_PATH}/<int:case_id>/deliver")
@require_role(ADMIN)
def deliver_case(kind: str, case_id: int):
    case = _load_case(kind, case_id)
    submitted(ActionForm())
    actor = staff_actor(current_staff())
    return _run(kind, case, lambda: KINDS[kind].deliver(actor, case), DELIVERED)


@bp.post(f"/cases/{KIND_PATH}/<int:case_id>/withdraw")
@require_role(ADMIN)
def withdraw_case(kind: str, case_id: int):
    """Record the applicant's withdrawal handed in at the counter or by letter (书面撤回)."""
    case = _load_case(kind, case_id)
    form = WithdrawForm()
    if not submitted(form):
        return _render_case(kind, case, status=422, withdraw_form=form)
    if case.state not in WITHDRAWABLE_STATES:
        # The operation refuses it too; this says why in the counter's terms.
        message = WITHDRAW_TOO_LATE.format(number=case.number, state=case.state.label)
        return _render_case(kind, case, status=409, error=message, withdraw_form=form)
    actor = staff_actor(current_staff())
    reason = form.withdraw_reason.data
    return _run(kind, case, lambda: KINDS[kind].withdraw(actor, case, reason), WITHDRAWN, withdraw_form=form)


@bp.route(f"/cases/{KIND_PATH}/<int:case_id>/applicant", methods=["GET", "POST"])
@require_role(ADMIN)
def case_applicant(kind: str, case_id: int):
    """The applicant's full identity, for platform admins, after a stated reason (audited)."""
    case = _load_case(kind, case_id)
    form = ReasonForm()
    if not submitted(form):
        return render_template(
            "admin/cases/applicant_reason.html", kind=kind, spec=KINDS[kind], case=case, form=form, help=IDENTITY_HELP
        ), (422 if form.is_submitted() else 200)
    user = current_staff()
    record_event(
        staff_actor(user),
        f"{case.CASE_TYPE}.view_applicant",
        target=case,
        subject_id=case.subject_id,
        reason=form.reason.data.strip(),
        details={"number": case.number},
    )
    identity = {
        "name": case.applicant_name(),
        "id_number": (
            cipher().decrypt(case.applicant_id_number_encrypted, "case.applicant_id_number")
            if case.applicant_id_number_encrypted
            else None
        ),
    }
    return _render_case(kind, case, clear_applicant=identity)


@bp.get(f"/cases/{KIND_PATH}/<int:case_id>/materials/<int:material_id>")
@require_role()
def case_material(kind: str, case_id: int, material_id: int):
    """One submitted file, for inline preview: the operation re-checks permission and hash."""
    case = _load_case(kind, case_id)
    material = db.session.get(Material, material_id)
    owner = getattr(material, KINDS[kind].material_key, None)
    if material is None or owner != case.id:
        abort(404)
    try:
        data = read_material(staff_actor(current_staff()), material)
    except ApiError as exc:
        db.session.rollback()
        return render_template(
            "admin/error.html", status=exc.status, message=MATERIAL_FILE_ERROR.format(message=exc.message)
        ), exc.status
    return inline_file_response(material, data, "material")


def inline_file_response(material: Material, data: bytes, name_prefix: str) -> Response:
    """An uploaded file for inline preview inside a console page (case materials, binding
    letters): never cached, framed by the console only, and nothing in it may load or run."""
    fallback = f"{name_prefix}-{material.id}.{material.file_type.extension}"
    return Response(
        data,
        mimetype=material.file_type.mime,
        headers={
            "Content-Disposition": f"inline; filename=\"{fallback}\"; filename*=UTF-8''{quote(material.original_name)}",
            "X-Content-Type-Options": "nosniff",
            "Cache-Control": "no-store",
            "Pragma": "no-cache",
            # The console otherwise forbids framing: its own pages may frame this one.
            "Content-Security-Policy": "default-src 'none'; img-src 'self'; style-src 'unsafe-inline'; "
            "frame-ancestors 'self'",
            "X-Frame-Options": "SAMEORIGIN",
        },
    )


@bp.get(f"/cases/{KIND_PATH}/<int:case_id>/commitment.pdf")
@require_role()
def case_commitment_pdf(kind: str, case_id: int):
    """The signed commitment letter as PDF: the exact signed text and who signed it, when, how."""
    case = _load_case(kind, case_id)
    commitment = case.commitment
    title = TEMPLATES[commitment.kind].title
    text = commitment.text
    body = text.split("\n", 1)[1].lstrip("\n") if text.startswith(title + "\n") else text
    letter = Letter(
        title=title,
        body=body,
        facts=(
            ("申请编号（查询码）", case.number),
            ("签署人", f"{commitment.signer_name_masked}（{wf_msg.APPLICANT_KIND_LABELS[case.applicant_kind.value]}）"),
            ("签署时间", local_time_text(commitment.signed_at)),
            ("签署渠道", CHANNEL_LABELS.get(commitment.channel, commitment.channel)),
            ("模板版本", commitment.template_version),
            ("文本摘要（SHA-256）", commitment.text_sha256),
            ("摘要校验", "一致" if verify_commitment(commitment) else "不一致"),
        ),
        reference=case.number,
        issuer=LETTER_ISSUER,
        footnote=LETTER_FOOTNOTE,
    )
    pdf = render_letter(letter)
    record_event(
        staff_actor(current_staff()),
        "commitment.export_pdf",
        target=commitment,
        subject_id=case.subject_id,
        details={"number": case.number, "sha256": commitment.text_sha256},
    )
    return Response(
        pdf,
        mimetype="application/pdf",
        headers={
            "Content-Disposition": f'attachment; filename="commitment-{case.number}.pdf"',
            "X-Content-Type-Options": "nosniff",
        },
    )


# --- Outbox -------------------------------------------------------------------------------


@bp.get("/outbox")
@require_role(ADMIN, AUDITOR)
def outbox():
    status = request.args.get("status") or ""
    topic = (request.args.get("topic") or "").strip()[:64]
    query = sa.select(OutboxEvent)
    if status in {s.value for s in OutboxStatus}:
        query = query.where(OutboxEvent.status == OutboxStatus(status))
    else:
        status = ""
    if topic:
        query = query.where(OutboxEvent.topic.startswith(topic, autoescape=True))
    counts = dict(db.session.execute(sa.select(OutboxEvent.status, sa.func.count()).group_by(OutboxEvent.status)).all())
    return render_template(
        "admin/outbox.html",
        page=paginate(query.order_by(OutboxEvent.id.desc())),
        status=status,
        topic=topic,
        counts=counts,
        status_labels=OUTBOX_STATUS_LABELS,
        local_time=local_time_text,
    )


# --- Dashboard figures --------------------------------------------------------------------


def case_dashboard(user) -> dict[str, Any]:
    """Counts per type and state, overdue cases, and average handling times in working days over
    the last 12 months (the city monitoring indicators: objection and repair handling speed)."""
    calendar = load_calendar()
    today = local_date()
    since = dt.datetime.combine(today - dt.timedelta(days=365), dt.time())
    dept = department_scope(user)
    out: dict[str, Any] = {}
    for key, spec in KINDS.items():
        model = spec.model
        scope = [] if dept is None else [model.department_id == dept]
        counts = dict(
            db.session.execute(sa.select(model.state, sa.func.count()).where(*scope).group_by(model.state)).all()
        )
        overdue = db.session.scalar(
            sa.select(sa.func.count())
            .select_from(model)
            .where(*scope, model.state.in_(DEADLINE_STATES), model.deadline < today)
        )
        closed = db.session.execute(
            sa.select(model.filed_at, model.accepted_at, model.decided_at, model.closed_at).where(
                *scope, model.state == CaseState.CLOSED, model.closed_at >= since
            )
        ).all()
        total_days = [calendar.working_days_between(local_date(r.filed_at), local_date(r.closed_at)) for r in closed]
        decide_days = [
            calendar.working_days_between(local_date(r.accepted_at), local_date(r.decided_at))
            for r in closed
            if r.accepted_at and r.decided_at
        ]
        out[key] = {
            "label": spec.label,
            "counts": {state: counts.get(state, 0) for state in CaseState},
            "overdue": overdue or 0,
            "closed_12m": len(closed),
            "avg_total": round(statistics.fmean(total_days), 1) if total_days else None,
            "avg_decide": round(statistics.fmean(decide_days), 1) if decide_days else None,
        }
    return out
