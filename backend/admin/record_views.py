"""Console area "records": credit records, filtered and scoped to the reviewer's department."""

from __future__ import annotations

import sqlalchemy as sa
from flask import abort, current_app, flash, redirect, render_template, request, url_for

from ..departments.models import Department
from ..extensions import db
from ..records.models import CreditRecord, CreditRecordVersion, PenaltyTier, RecordCategory, RecordStatus
from ..records.operations import TierNotDerived, confirm_record_tier
from ..records.publicity import PublicityRules
from . import messages as msg
from .auth import (
    REVIEWER,
    can_view_department_data,
    current_staff,
    department_scope,
    require_role,
    scope_records,
    staff_actor,
)
from .console import console_area, enum_arg, form_status, paginate, submitted
from .forms import TierForm

bp = console_area("records", __name__)


@bp.get("/records")
@require_role()
def records():
    user = current_staff()
    category = enum_arg("category", RecordCategory)
    status = enum_arg("status", RecordStatus)
    department_id = request.args.get("department", type=int)
    q = (request.args.get("q") or "").strip()[:100]
    derived = request.args.get("derived") == "1"
    query = scope_records(user, sa.select(CreditRecord))
    if derived:  # penalties whose tier the city's rule derived, for the department to confirm
        query = query.where(CreditRecord.tier_derived.is_(True))
    if category is not None:
        query = query.where(CreditRecord.category == category)
    if status is not None:
        query = query.where(CreditRecord.status == status)
    if department_id is not None:
        query = query.where(CreditRecord.department_id == department_id)
    if q:
        query = query.where(
            sa.or_(
                CreditRecord.decision_number.contains(q, autoescape=True),
                CreditRecord.subject_name.contains(q, autoescape=True),
            )
        )
    page = paginate(query.order_by(CreditRecord.decision_date.desc(), CreditRecord.id.desc()))
    dept_query = sa.select(Department).order_by(Department.code)
    if (dept := department_scope(user)) is not None:
        dept_query = dept_query.where(Department.id == dept)
    return render_template(
        "admin/records.html",
        page=page,
        q=q,
        category=category,
        status=status,
        department_id=department_id,
        derived=derived,
        departments=db.session.scalars(dept_query).all(),
        categories=RecordCategory,
        statuses=RecordStatus,
    )


# --- One record: its versions and the department's confirmation of a derived tier ---------


def _record_or_abort(record_id: int, *, missing_if_foreign: bool = False) -> CreditRecord:
    record = db.session.get(CreditRecord, record_id)
    if record is None:
        abort(404)
    if not can_view_department_data(current_staff(), record.department_id):
        abort(404 if missing_if_foreign else 403)
    return record


def _render_record(record: CreditRecord, form: TierForm | None = None, status: int = 200):
    versions = db.session.scalars(
        sa.select(CreditRecordVersion)
        .where(CreditRecordVersion.record_id == record.id)
        .order_by(CreditRecordVersion.version.desc())
    ).all()
    user = current_staff()
    can_confirm = record.tier_derived and user.role is REVIEWER and user.department_id == record.department_id
    if form is None and can_confirm:
        form = TierForm(tier=record.tier.value if record.tier else None)
    return (
        render_template(
            "admin/record.html",
            record=record,
            versions=versions,
            tier_form=form if can_confirm else None,
            field_labels=_field_labels(),
        ),
        status,
    )


def _field_labels() -> dict[str, str]:
    from ..imports.parsing import FIELD_LABELS

    return {**FIELD_LABELS, **msg.VERSION_FIELD_LABELS}


@bp.get("/records/<int:record_id>")
@require_role()
def record(record_id: int):
    return _render_record(_record_or_abort(record_id))


@bp.post("/records/<int:record_id>/tier")
@require_role(REVIEWER)
def confirm_tier(record_id: int):
    record = _record_or_abort(record_id, missing_if_foreign=True)
    form = TierForm()
    if not submitted(form):
        return _render_record(record, form, form_status(form))
    settings = current_app.extensions["settings"]
    try:
        confirm_record_tier(
            staff_actor(current_staff()), record, PenaltyTier(form.tier.data), PublicityRules.from_settings(settings)
        )
    except TierNotDerived:
        flash(msg.TIER_ALREADY_CONFIRMED, "warning")
        return redirect(url_for("admin.records.record", record_id=record.id))
    flash(msg.TIER_CONFIRMED, "success")
    return redirect(url_for("admin.records.record", record_id=record.id))
