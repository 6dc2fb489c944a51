"""Console pages for intake (issue 16, items 2-6): a record with its versions, the department's
confirmation of a derived tier, the national template samples and a file upload.

Views load, authorise, call one operation, commit once.
"""

from __future__ import annotations

import sqlalchemy as sa
from flask import Response, abort, current_app, flash, redirect, render_template, url_for
from werkzeug.datastructures import FileStorage

from ..departments.models import Department
from ..extensions import db
from ..imports.operations import import_file
from ..imports.parsing import CATEGORY_NAMES
from ..imports.samples import SAMPLES
from ..records.labels import CATEGORY_LABELS
from ..records.models import CreditRecord, CreditRecordVersion, PenaltyTier
from ..records.operations import TierNotDerived, confirm_record_tier
from ..records.publicity import PublicityRules
from . import messages as msg
from .auth import ADMIN, REVIEWER, can_view_department_data, current_staff, department_scope, require_role, staff_actor
from .forms import ImportUploadForm, TierForm
from .views import bp, form_status, submitted


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
        return redirect(url_for("admin.record", record_id=record.id))
    db.session.commit()
    flash(msg.TIER_CONFIRMED, "success")
    return redirect(url_for("admin.record", record_id=record.id))


@bp.get("/imports/samples/<name>")
@require_role()
def import_sample(name: str):
    sample = SAMPLES.get(name)
    if sample is None:
        abort(404)
    # RFC 6266 / 5987: the Chinese file name in filename*, an ASCII fallback in filename.
    from urllib.parse import quote

    return Response(
        sample.content(),
        mimetype=sample.mimetype,
        headers={
            "Content-Disposition": f'attachment; filename="template{name[name.rindex(".") :]}"; '
            f"filename*=UTF-8''{quote(name)}"
        },
    )


def _upload_form() -> ImportUploadForm:
    form = ImportUploadForm()
    user = current_staff()
    query = sa.select(Department).where(Department.is_active).order_by(Department.code)
    if (dept := department_scope(user)) is not None:
        query = query.where(Department.id == dept)
    form.department.choices = [(d.id, d.name) for d in db.session.scalars(query)]
    form.category.choices = [("", "按文件判断")] + [(c.value, label) for c, label in CATEGORY_LABELS.items()]
    return form


@bp.route("/imports/upload", methods=["GET", "POST"])
@require_role(ADMIN, REVIEWER)
def upload_import():
    form = _upload_form()
    if not submitted(form):
        return render_template("admin/import_upload.html", form=form, samples=SAMPLES), form_status(form)
    department = db.session.get(Department, form.department.data)
    if department is None or not can_view_department_data(current_staff(), department.id):
        abort(403)
    upload: FileStorage = form.file.data
    category = CATEGORY_NAMES.get(form.category.data) if form.category.data else None
    batch = import_file(
        staff_actor(current_staff()),
        department,
        upload.read(),
        filename=(upload.filename or "upload")[-255:],
        category=category,
        atomic=form.atomic.data,
        channel="admin",
    )
    db.session.commit()
    flash(msg.IMPORT_DONE.format(batch=batch.id), "success")
    return redirect(url_for("admin.import_batch", batch_id=batch.id))
