"""Console area "imports": import batches and their row-error reports."""

from __future__ import annotations

import sqlalchemy as sa
from flask import Response, abort, flash, redirect, render_template, url_for
from werkzeug.datastructures import FileStorage

from ..departments.models import Department
from ..extensions import db
from ..imports.models import ImportBatch
from ..imports.operations import error_report_csv, import_file
from ..imports.parsing import CATEGORY_NAMES
from ..imports.samples import SAMPLES
from ..records.labels import CATEGORY_LABELS
from . import messages as msg
from .auth import ADMIN, REVIEWER, can_view_department_data, current_staff, department_scope, require_role, staff_actor
from .console import console_area, form_status, paginate, submitted
from .forms import ImportUploadForm

bp = console_area("imports", __name__)


# --- Import batches ---------------------------------------------------------------------


def _batch_or_abort(batch_id: int) -> ImportBatch:
    batch = db.session.get(ImportBatch, batch_id)
    if batch is None:
        abort(404)
    if not can_view_department_data(current_staff(), batch.department_id):
        abort(403)
    return batch


@bp.get("/imports")
@require_role()
def imports():
    query = sa.select(ImportBatch)
    if (dept := department_scope(current_staff())) is not None:
        query = query.where(ImportBatch.department_id == dept)
    page = paginate(query.order_by(ImportBatch.started_at.desc(), ImportBatch.id.desc()))
    return render_template("admin/imports.html", page=page, samples=SAMPLES, user=current_staff())


@bp.get("/imports/<int:batch_id>")
@require_role()
def import_batch(batch_id: int):
    return render_template("admin/import_batch.html", batch=_batch_or_abort(batch_id))


@bp.get("/imports/<int:batch_id>/errors.csv")
@require_role()
def import_errors_csv(batch_id: int):
    batch = _batch_or_abort(batch_id)
    return Response(
        error_report_csv(batch).encode("utf-8"),
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="import-{batch.id}-errors.csv"'},
    )


# --- National template samples and upload from the console -------------------------------


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
    flash(msg.IMPORT_DONE.format(batch=batch.id), "success")
    return redirect(url_for("admin.imports.import_batch", batch_id=batch.id))
