"""Console area "imports": import batches and their row-error reports."""

from __future__ import annotations

import sqlalchemy as sa
from flask import Response, abort, render_template

from ..extensions import db
from ..imports.models import ImportBatch
from ..imports.operations import error_report_csv
from .auth import can_view_department_data, current_staff, department_scope, require_role
from .console import console_area, paginate

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
    return render_template("admin/imports.html", page=page)


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
