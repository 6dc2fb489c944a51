"""Console pages for subject identity (issue 14, item 6): the name discrepancies another
department's records left, which platform admins resolve (auditors read), and the registering
authority flag of a department. Views load, authorise, call one operation, commit once."""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, url_for

from ..departments.models import Department
from ..departments.operations import set_registers_subjects
from ..extensions import db
from ..subjects import messages as subject_msg
from ..subjects.models import SubjectNameDiscrepancy
from ..subjects.operations import open_name_discrepancies, resolve_name_discrepancy
from . import messages as msg
from .auth import ADMIN, AUDITOR, current_staff, require_role, staff_actor
from .forms import ActionForm
from .views import bp, submitted


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
    return redirect(url_for("admin.name_discrepancies"))


@bp.post("/subjects/name-discrepancies/<int:discrepancy_id>/accept")
@require_role(ADMIN)
def accept_name_discrepancy(discrepancy_id: int):
    return _resolve(discrepancy_id, accept=True)


@bp.post("/subjects/name-discrepancies/<int:discrepancy_id>/dismiss")
@require_role(ADMIN)
def dismiss_name_discrepancy(discrepancy_id: int):
    return _resolve(discrepancy_id, accept=False)


@bp.post("/departments/<int:department_id>/registers-subjects")
@require_role(ADMIN)
def toggle_registers_subjects(department_id: int):
    department = db.session.get(Department, department_id)
    if department is None:
        abort(404)
    if submitted(ActionForm()):
        set_registers_subjects(staff_actor(current_staff()), department, not department.registers_subjects)
        flash(msg.REGISTERS_SUBJECTS_ON if department.registers_subjects else msg.REGISTERS_SUBJECTS_OFF, "success")
    return redirect(url_for("admin.department", department_id=department_id))
