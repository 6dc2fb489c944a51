"""Console area "departments": departments, their API keys and the registering-authority flag
(platform admins manage; auditors read)."""

from __future__ import annotations

import sqlalchemy as sa
from flask import abort, flash, redirect, render_template, request, url_for

from ..departments.models import Department, DepartmentApiKey
from ..departments.operations import create_department, issue_api_key, revoke_api_key, set_registers_subjects
from ..errors import ApiError
from ..extensions import db
from . import messages as msg
from .auth import ADMIN, AUDITOR, can_manage, current_staff, require_role, staff_actor
from .console import console_area, submitted
from .forms import ActionForm, ApiKeyForm, DepartmentForm

bp = console_area("departments", __name__)


@bp.route("/departments", methods=["GET", "POST"])
@require_role(ADMIN, AUDITOR)
def departments():
    user = current_staff()
    form = DepartmentForm()
    if request.method == "POST":
        if not can_manage(user):
            abort(403)
        if submitted(form):
            try:
                department = create_department(
                    staff_actor(user),
                    code=form.code.data.strip(),
                    name=form.name.data.strip(),
                    uscc=form.uscc.data.strip(),
                    abbreviation=(form.abbreviation.data or "").strip() or None,
                    registers_subjects=bool(form.registers_subjects.data),
                )
            except ApiError as exc:
                db.session.rollback()
                field = form.uscc if exc.code == "invalid_uscc" else form.code
                field.errors = [*field.errors, exc.message]
            else:
                flash(msg.DEPARTMENT_CREATED, "success")
                return redirect(url_for("admin.departments.department", department_id=department.id))
    key_counts = dict(
        db.session.execute(
            sa.select(DepartmentApiKey.department_id, sa.func.count())
            .where(DepartmentApiKey.revoked_at.is_(None))
            .group_by(DepartmentApiKey.department_id)
        ).all()
    )
    rows = db.session.scalars(sa.select(Department).order_by(Department.code)).all()
    status = 422 if form.errors else 200
    return render_template("admin/departments.html", departments=rows, key_counts=key_counts, form=form), status


def _department_or_404(department_id: int) -> Department:
    department = db.session.get(Department, department_id)
    if department is None:
        abort(404)
    return department


@bp.get("/departments/<int:department_id>")
@require_role(ADMIN, AUDITOR)
def department(department_id: int):
    dep = _department_or_404(department_id)
    keys = db.session.scalars(
        sa.select(DepartmentApiKey)
        .where(DepartmentApiKey.department_id == dep.id)
        .order_by(DepartmentApiKey.created_at.desc(), DepartmentApiKey.id.desc())
    ).all()
    return render_template(
        "admin/department.html", department=dep, keys=keys, key_form=ApiKeyForm(), action_form=ActionForm()
    )


@bp.post("/departments/<int:department_id>/keys")
@require_role(ADMIN)
def issue_key(department_id: int):
    dep = _department_or_404(department_id)
    form = ApiKeyForm()
    if not submitted(form):
        return redirect(url_for("admin.departments.department", department_id=dep.id))
    key, secret = issue_api_key(staff_actor(current_staff()), dep, (form.label.data or "").strip())
    # The secret is rendered here once and never stored in clear or in the session.
    return render_template("admin/key_issued.html", department=dep, key=key, secret=secret)


@bp.post("/departments/<int:department_id>/keys/<int:key_id>/revoke")
@require_role(ADMIN)
def revoke_key(department_id: int, key_id: int):
    key = db.session.get(DepartmentApiKey, key_id)
    if key is None or key.department_id != department_id:
        abort(404)
    if submitted(ActionForm()):
        revoke_api_key(staff_actor(current_staff()), key)
        flash(msg.KEY_REVOKED, "success")
    return redirect(url_for("admin.departments.department", department_id=department_id))


@bp.post("/departments/<int:department_id>/registers-subjects")
@require_role(ADMIN)
def toggle_registers_subjects(department_id: int):
    department = db.session.get(Department, department_id)
    if department is None:
        abort(404)
    if submitted(ActionForm()):
        set_registers_subjects(staff_actor(current_staff()), department, not department.registers_subjects)
        flash(msg.REGISTERS_SUBJECTS_ON if department.registers_subjects else msg.REGISTERS_SUBJECTS_OFF, "success")
    return redirect(url_for("admin.departments.department", department_id=department_id))
