"""Console area "subjects": credit subjects (a natural person's page only after a stated reason,
audited) and the name discrepancies another department's records left, which platform admins
resolve and auditors read (issue 14, item 6)."""

from __future__ import annotations

import sqlalchemy as sa
from flask import abort, flash, redirect, render_template, request, url_for

from ..audit.operations import record_event
from ..extensions import db
from ..records.models import CreditRecord
from ..subjects import messages as subject_msg
from ..subjects.models import Subject, SubjectKind, SubjectNameDiscrepancy
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
from .forms import ActionForm, ReasonForm

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
