"""WeChat pages of the staff console: enterprise-binding review (企业授权审核) and the subscribe
message attempts (微信消息发送记录).

* Bindings by authorisation letter wait for platform staff: a queue, a page per application
  with the letter previewed inline (served to staff only, every view audited), and approve or
  reject (a rejection needs a reason) through ``operations.review_enterprise_binding``.
* Every attempt to send a subscribe message, newest first, with the outbox event it belongs
  to; recipients are shown masked (part of the openid, the masked name), never in full.

Platform admins review; auditors read both pages and the letters; department reviewers have no
access (neither is department data). A console area of its own (``backend/admin/console.py``):
the console's login, CSRF, idle timeout and error pages are shared; templates are in
templates/wechat.
"""

from __future__ import annotations

import datetime as dt
import math

import sqlalchemy as sa
from flask import abort, flash, redirect, render_template, request, url_for
from flask_wtf import FlaskForm
from wtforms import RadioField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import InputRequired, Length

from backend.admin.auth import ADMIN, AUDITOR, current_staff, require_role, staff_actor
from backend.admin.case_views import OUTBOX_STATUS_LABELS, inline_file_response
from backend.admin.console import PAGE_SIZE, Page, console_area, paginate, submitted
from backend.citizens.models import BindingMethod, BindingStatus, EnterpriseBinding, WeChatUser
from backend.errors import ApiError
from backend.extensions import db
from backend.outbox.models import OutboxEvent
from backend.pii import mask_name
from backend.subjects.models import Subject
from backend.types import LOCAL_TZ
from backend.workflows.cases import local_time_text
from backend.workflows.materials.models import Material

from . import operations as ops
from .models import MessageAttempt, MessageAttemptStatus
from .notifications import TOPIC_PURPOSES

bp = console_area("wechat", __name__)

BINDING_STATUS_LABELS = {
    BindingStatus.PENDING_REVIEW: "待审核",
    BindingStatus.ACTIVE: "已生效",
    BindingStatus.REJECTED: "已驳回",
    BindingStatus.REVOKED: "已解除",
    BindingStatus.SUSPENDED: "已暂停（待审核）",
}
METHOD_LABELS = {BindingMethod.LEGAL_REPRESENTATIVE: "法定代表人", BindingMethod.AUTHORISATION_LETTER: "授权委托书"}
ATTEMPT_STATUS_LABELS = {
    MessageAttemptStatus.SENT: "已发送",
    MessageAttemptStatus.NOT_SUBSCRIBED: "用户未订阅（不重试）",
    MessageAttemptStatus.FAILED: "失败（将重试）",
    MessageAttemptStatus.SKIPPED: "未发送（无接收人或未配置模板）",
}
PURPOSE_LABELS = {"case_progress": "办理进度", "deadline": "时限提醒", "report_ready": "报告出具"}
APPROVED = "已通过该企业授权申请，绑定生效"
REJECTED = "已驳回该企业授权申请"
REVIEW_INVALID = "请选择审核结论"
DATE_INVALID = "日期格式应为 YYYY-MM-DD"
LETTER_ERROR = "授权委托书无法打开：{message}"


class BindingReviewForm(FlaskForm):
    decision = RadioField(
        "审核结论",
        choices=[SelectChoice("approve", "通过"), SelectChoice("reject", "驳回")],
        validators=[InputRequired(REVIEW_INVALID)],
    )
    reason = TextAreaField("审核意见（驳回时必填）", validators=[Length(max=500, message="审核意见不超过 500 字")])


def mask_openid(openid: str | None) -> str:
    """Enough of an openid to tell two users apart in the list, not enough to message one."""
    if not openid:
        return ""
    if len(openid) <= 8:
        return "*" * len(openid)
    return f"{openid[:4]}…{openid[-4:]}"


def _person_masked(subject: Subject | None) -> str:
    return mask_name(subject.reveal_name()) if subject is not None else ""


# Staff review letters, and legal-representative bindings that were suspended (issue 14, item 3).
_REVIEWED_HERE = sa.or_(
    EnterpriseBinding.method == BindingMethod.AUTHORISATION_LETTER, EnterpriseBinding.suspended_at.is_not(None)
)


def _binding_or_404(binding_id: int) -> EnterpriseBinding:
    binding = db.session.get(EnterpriseBinding, binding_id)
    if binding is None or (binding.method is not BindingMethod.AUTHORISATION_LETTER and binding.suspended_at is None):
        abort(404)
    return binding


# --- enterprise bindings by authorisation letter -------------------------------------------


@bp.get("/wechat/bindings")
@require_role(ADMIN, AUDITOR)
def wechat_bindings():
    status = request.args.get("status") or BindingStatus.PENDING_REVIEW.value
    query = sa.select(EnterpriseBinding).where(_REVIEWED_HERE)
    if status in {s.value for s in BindingStatus}:
        query = query.where(EnterpriseBinding.status == BindingStatus(status))
    else:
        status = "all"
    # The queue is worked oldest first; the reviewed ones read newest first.
    if status == BindingStatus.PENDING_REVIEW.value:
        query = query.order_by(EnterpriseBinding.created_at, EnterpriseBinding.id)
    else:
        query = query.order_by(EnterpriseBinding.created_at.desc(), EnterpriseBinding.id.desc())
    page = paginate(query)
    people = {
        s.id: s
        for s in db.session.scalars(sa.select(Subject).where(Subject.id.in_({b.person_subject_id for b in page.items})))
    }
    return render_template(
        "wechat/console_bindings.html",
        page=page,
        status=status,
        people={sid: _person_masked(s) for sid, s in people.items()},
        status_labels=BINDING_STATUS_LABELS,
        local_time=local_time_text,
    )


@bp.get("/wechat/bindings/<int:binding_id>")
@require_role(ADMIN, AUDITOR)
def wechat_binding(binding_id: int):
    binding = _binding_or_404(binding_id)
    return _render_binding(binding, BindingReviewForm())


def _render_binding(binding: EnterpriseBinding, form: BindingReviewForm, status: int = 200):
    person = db.session.get(Subject, binding.person_subject_id)
    user = db.session.get(WeChatUser, binding.user_id)
    material = db.session.get(Material, binding.material_id) if binding.material_id else None
    return render_template(
        "wechat/console_binding.html",
        binding=binding,
        enterprise=binding.subject,
        person_name=_person_masked(person),
        person_code=person.display_code if person is not None else "",
        openid=mask_openid(user.openid if user else None),
        material=material,
        form=form,
        may_act=current_staff().role is ADMIN and binding.status in ops.REVIEWABLE_STATUSES,
        status_labels=BINDING_STATUS_LABELS,
        method_labels=METHOD_LABELS,
        local_time=local_time_text,
    ), status


@bp.get("/wechat/bindings/<int:binding_id>/letter")
@require_role(ADMIN, AUDITOR)
def wechat_binding_letter(binding_id: int):
    """The uploaded letter for inline preview: the operation checks the reader and the hash."""
    binding = _binding_or_404(binding_id)
    try:
        material, data = ops.read_binding_letter(staff_actor(current_staff()), binding)
    except ApiError as exc:
        db.session.rollback()
        return render_template(
            "admin/error.html", status=exc.status, message=LETTER_ERROR.format(message=exc.message)
        ), exc.status
    return inline_file_response(material, data, "letter")


@bp.post("/wechat/bindings/<int:binding_id>/review")
@require_role(ADMIN)
def wechat_binding_review(binding_id: int):
    binding = _binding_or_404(binding_id)
    form = BindingReviewForm()
    if not submitted(form):
        return _render_binding(binding, form, 422)
    approve = form.decision.data == "approve"
    try:
        ops.review_enterprise_binding(staff_actor(current_staff()), binding, approve, form.reason.data)
    except ApiError as exc:
        db.session.rollback()
        form.reason.errors = [*form.reason.errors, exc.message]
        return _render_binding(db.session.get(EnterpriseBinding, binding_id), form, exc.status)
    flash(APPROVED if approve else REJECTED, "success")
    return redirect(url_for("admin.wechat.wechat_binding", binding_id=binding_id))


# --- subscribe message attempts ------------------------------------------------------------


def _day_bounds(text: str) -> tuple[dt.datetime, dt.datetime]:
    """A local (China) day as naive-UTC bounds, as timestamps are stored."""
    day = dt.date.fromisoformat(text)
    start = dt.datetime.combine(day, dt.time(), tzinfo=LOCAL_TZ).astimezone(dt.UTC).replace(tzinfo=None)
    return start, start + dt.timedelta(days=1)


@bp.get("/wechat/messages")
@require_role(ADMIN, AUDITOR)
def wechat_messages():
    query = sa.select(MessageAttempt, OutboxEvent, WeChatUser).outerjoin(
        OutboxEvent, OutboxEvent.id == MessageAttempt.outbox_event_id
    )
    query = query.outerjoin(WeChatUser, WeChatUser.id == MessageAttempt.user_id)
    status = request.args.get("status") or ""
    if status in {s.value for s in MessageAttemptStatus}:
        query = query.where(MessageAttempt.status == MessageAttemptStatus(status))
    else:
        status = ""
    purpose = request.args.get("purpose") or ""
    if purpose in PURPOSE_LABELS:
        query = query.where(MessageAttempt.topic.in_([t for t, p in TOPIC_PURPOSES.items() if p == purpose]))
    else:
        purpose = ""
    day = (request.args.get("date") or "").strip()
    if day:
        try:
            start, end = _day_bounds(day)
        except ValueError:
            flash(DATE_INVALID, "warning")
            day = ""
        else:
            query = query.where(MessageAttempt.created_at >= start, MessageAttempt.created_at < end)
    page = paginate_rows(query.order_by(MessageAttempt.created_at.desc(), MessageAttempt.id.desc()))
    subjects = {
        s.id: s
        for s in db.session.scalars(
            sa.select(Subject).where(Subject.id.in_({u.subject_id for _, _, u in page.items if u and u.subject_id}))
        )
    }
    rows = [
        {
            "attempt": attempt,
            "event": event,
            "purpose": PURPOSE_LABELS.get(TOPIC_PURPOSES.get(attempt.topic, ""), attempt.topic),
            "openid": mask_openid(user.openid if user else None),
            "person": _person_masked(subjects.get(user.subject_id)) if user and user.subject_id else "",
        }
        for attempt, event, user in page.items
    ]
    return render_template(
        "wechat/console_messages.html",
        page=page,
        rows=rows,
        status=status,
        purpose=purpose,
        day=day,
        status_labels=ATTEMPT_STATUS_LABELS,
        purpose_labels=PURPOSE_LABELS,
        event_status_labels=OUTBOX_STATUS_LABELS,
        local_time=local_time_text,
    )


def paginate_rows(query: sa.Select) -> Page:
    """``admin.console.paginate`` for a query of several entities (that one reads scalars)."""
    number = max(request.args.get("page", 1, type=int) or 1, 1)
    total = db.session.scalar(sa.select(sa.func.count()).select_from(query.order_by(None).subquery())) or 0
    items = db.session.execute(query.limit(PAGE_SIZE).offset((number - 1) * PAGE_SIZE)).all()
    return Page(list(items), number, max(math.ceil(total / PAGE_SIZE), 1), total)
