"""Console area "records": credit records, filtered and scoped to the reviewer's department."""

from __future__ import annotations

import sqlalchemy as sa
from flask import render_template, request

from ..departments.models import Department
from ..extensions import db
from ..records.models import CreditRecord, RecordCategory, RecordStatus
from .auth import current_staff, department_scope, require_role, scope_records
from .console import console_area, enum_arg, paginate

bp = console_area("records", __name__)


@bp.get("/records")
@require_role()
def records():
    user = current_staff()
    category = enum_arg("category", RecordCategory)
    status = enum_arg("status", RecordStatus)
    department_id = request.args.get("department", type=int)
    q = (request.args.get("q") or "").strip()[:100]
    query = scope_records(user, sa.select(CreditRecord))
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
        departments=db.session.scalars(dept_query).all(),
        categories=RecordCategory,
        statuses=RecordStatus,
    )
