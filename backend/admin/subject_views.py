"""Console area "subjects": credit subjects (a natural person's page only after a stated reason,
audited) and the name discrepancies another department's records left, which platform admins
resolve and auditors read (issue 14, item 6)."""

from __future__ import annotations

import sqlalchemy as sa
from flask import Response, abort, current_app, flash, redirect, render_template, request, url_for

from ..audit.operations import record_event
from ..departments.models import Department
from ..errors import ApiError
from ..extensions import db
from ..records.domains import declare_feed, list_feeds
from ..records.labels import CATEGORY_ORDER, category_label
from ..records.models import CreditRecord, RecordCategory
from ..subjects import messages as subject_msg
from ..subjects.codes import (
    code_error_rate,
    dismiss_code_issue,
    merge_subjects_for_issue,
    open_code_issues,
    rename_subject_for_issue,
)
from ..subjects.models import Subject, SubjectCodeIssue, SubjectKind, SubjectNameDiscrepancy
from ..subjects.operations import open_name_discrepancies, resolve_name_discrepancy
from . import messages as msg
from .auth import (
    ADMIN,
    AUDITOR,
    can_see_personal_data_clear,
    can_view_subject,
    current_staff,
    require_role,
    scope_records,
    scope_subjects,
    staff_actor,
)
from .console import console_area, enum_arg, form_status, paginate, submitted
from .forms import ActionForm, CodeIssueForm, DataDomainForm, ReasonForm

bp = console_area("subjects", __name__)


@bp.get("/subjects")
@require_role()
def subjects():
    user = current_staff()
    q = (request.args.get("q") or "").strip()[:100]
    kind = enum_arg("kind", SubjectKind)
    query = scope_subjects(user, sa.select(Subject))
    if kind is not None:
        query = query.where(Subject.kind == kind)
    if q:
        # Legal subjects only: ID numbers are not searched here, so they never end up in a URL
        # (and in access logs); natural persons' names are encrypted and cannot be matched.
        query = query.where(sa.or_(Subject.name.contains(q, autoescape=True), Subject.uscc == q.upper()))
    page = paginate(query.order_by(Subject.id.desc()))
    return render_template("admin/subjects.html", page=page, q=q, kind=kind, kinds=SubjectKind)


@bp.route("/subjects/<int:subject_id>", methods=["GET", "POST"])
@require_role()
def subject(subject_id: int):
    user = current_staff()
    subj = db.session.get(Subject, subject_id)
    if subj is None:
        abort(404)
    if not can_view_subject(user, subj):
        abort(403)
    clear_identity = None
    if subj.is_natural:
        form = ReasonForm()
        if not submitted(form):
            return render_template("admin/subject_reason.html", subject=subj, form=form), form_status(form)
        record_event(
            staff_actor(user),
            "subject.view_personal",
            target=subj,
            subject_id=subj.id,
            reason=form.reason.data.strip(),
        )
        if can_see_personal_data_clear(user):
            clear_identity = {"name": subj.reveal_name(), "id_number": subj.reveal_id_number()}
    records = db.session.scalars(
        scope_records(user, sa.select(CreditRecord).where(CreditRecord.subject_id == subj.id)).order_by(
            CreditRecord.decision_date.desc(), CreditRecord.id.desc()
        )
    ).all()
    return render_template("admin/subject.html", subject=subj, records=records, clear_identity=clear_identity)


@bp.get("/subjects/name-discrepancies")
@require_role(ADMIN, AUDITOR)
def name_discrepancies():
    return render_template(
        "admin/name_discrepancies.html",
        items=open_name_discrepancies(),
        action_form=ActionForm(),
        resolution_labels=subject_msg.RESOLUTION_LABELS,
    )


def _resolve(discrepancy_id: int, accept: bool):
    discrepancy = db.session.get(SubjectNameDiscrepancy, discrepancy_id)
    if discrepancy is None:
        abort(404)
    if submitted(ActionForm()):
        if discrepancy.resolved_at is not None:
            flash(subject_msg.DISCREPANCY_RESOLVED, "warning")
        else:
            resolve_name_discrepancy(staff_actor(current_staff()), discrepancy, accept=accept)
            flash(msg.NAME_ACCEPTED if accept else msg.NAME_DISMISSED, "success")
    return redirect(url_for("admin.subjects.name_discrepancies"))


@bp.post("/subjects/name-discrepancies/<int:discrepancy_id>/accept")
@require_role(ADMIN)
def accept_name_discrepancy(discrepancy_id: int):
    return _resolve(discrepancy_id, accept=True)


@bp.post("/subjects/name-discrepancies/<int:discrepancy_id>/dismiss")
@require_role(ADMIN)
def dismiss_name_discrepancy(discrepancy_id: int):
    return _resolve(discrepancy_id, accept=False)


# --- 重错码 (issue 16 item 14) and the data-domain register (item 12) ---------------------------


@bp.get("/subjects/code-issues")
@require_role(ADMIN, AUDITOR)
def code_issues():
    settings = current_app.extensions["settings"]
    return render_template(
        "admin/code_issues.html",
        items=open_code_issues(),
        discrepancies=open_name_discrepancies(limit=50),
        rate=code_error_rate(),
        target=settings.CODE_ERROR_RATE_TARGET_PER_10000,
        kind_labels=subject_msg.CODE_ISSUE_KIND_LABELS,
        form=CodeIssueForm(),
    )


def _code_issue(issue_id: int) -> SubjectCodeIssue:
    issue = db.session.get(SubjectCodeIssue, issue_id)
    if issue is None:
        abort(404)
    return issue


def _resolve_code_issue(issue_id: int, action) -> Response:
    issue = _code_issue(issue_id)
    form = CodeIssueForm()
    if submitted(form):
        if issue.resolved_at is not None:
            flash(subject_msg.CODE_ISSUE_RESOLVED, "warning")
        else:
            try:
                text = action(issue, form)
            except ApiError as exc:
                db.session.rollback()
                flash(exc.message, "error")
            else:
                if text:
                    flash(text, "success")
    return redirect(url_for("admin.subjects.code_issues"))


def _chosen_subject(issue: SubjectCodeIssue, form: CodeIssueForm) -> Subject | None:
    if form.subject_id.data not in (issue.subject_id, issue.other_subject_id):
        return None
    return db.session.get(Subject, form.subject_id.data)


@bp.post("/subjects/code-issues/<int:issue_id>/merge")
@require_role(ADMIN)
def merge_code_issue(issue_id: int):
    def merge(issue, form):
        keep = _chosen_subject(issue, form)
        if keep is None:
            flash(msg.CODE_ISSUE_SUBJECT_REQUIRED, "error")
            return None
        merge_subjects_for_issue(staff_actor(current_staff()), issue, keep)
        return msg.CODE_ISSUE_MERGED

    return _resolve_code_issue(issue_id, merge)


@bp.post("/subjects/code-issues/<int:issue_id>/rename")
@require_role(ADMIN)
def rename_code_issue(issue_id: int):
    def rename(issue, form):
        subject = _chosen_subject(issue, form)
        if subject is None or not (form.name.data or "").strip():
            flash(msg.CODE_ISSUE_NAME_REQUIRED, "error")
            return None
        rename_subject_for_issue(staff_actor(current_staff()), issue, subject, form.name.data)
        return msg.CODE_ISSUE_RENAMED

    return _resolve_code_issue(issue_id, rename)


@bp.post("/subjects/code-issues/<int:issue_id>/dismiss")
@require_role(ADMIN)
def dismiss_code_issue_view(issue_id: int):
    def dismiss(issue, form):
        reason = (form.reason.data or "").strip()
        if not reason:
            flash(msg.CODE_ISSUE_REASON_REQUIRED, "error")
            return None
        dismiss_code_issue(staff_actor(current_staff()), issue, reason)
        return msg.CODE_ISSUE_DISMISSED

    return _resolve_code_issue(issue_id, dismiss)


def _domain_form() -> DataDomainForm:
    form = DataDomainForm()
    form.category.choices = [(c.value, category_label(c)) for c in CATEGORY_ORDER]
    form.department_id.choices = [
        (d.id, d.name) for d in db.session.scalars(sa.select(Department).order_by(Department.name))
    ]
    return form


@bp.route("/data-domains", methods=["GET", "POST"])
@require_role(ADMIN, AUDITOR)
def data_domains():
    form = _domain_form()
    status = 200
    if form.is_submitted():
        if current_staff().role != ADMIN:
            abort(403)
        if submitted(form):
            if form.ended_on.data and form.ended_on.data < form.covers_from.data:
                flash(msg.DATA_DOMAIN_DATES_INVALID, "error")
                status = 422
            else:
                department = db.session.get(Department, form.department_id.data)
                if department is None:
                    abort(404)
                declare_feed(
                    staff_actor(current_staff()),
                    RecordCategory(form.category.data),
                    department,
                    form.covers_from.data,
                    ended_on=form.ended_on.data,
                    note=form.note.data or None,
                    reason=form.reason.data.strip(),
                )
                flash(msg.DATA_DOMAIN_SAVED, "success")
                return redirect(url_for("admin.subjects.data_domains"))
        else:
            status = 422
    feeds = list_feeds()
    fed = {f.category for f in feeds}
    return render_template(
        "admin/data_domains.html",
        feeds=feeds,
        not_collected=[c for c in CATEGORY_ORDER if c not in fed],
        category_label=category_label,
        form=form,
    ), status
