"""Console area "audit": the audit log and the check of its hash chain (admins and auditors)."""

from __future__ import annotations

import sqlalchemy as sa
from flask import abort, flash, redirect, render_template, request, url_for

from ..audit.models import AuditEvent
from ..audit.operations import verify_chain
from . import messages as msg
from .auth import ADMIN, AUDITOR, can_read_audit_log, current_staff, require_role
from .console import console_area, paginate, submitted
from .forms import ActionForm

bp = console_area("audit", __name__)


# --- Audit log --------------------------------------------------------------------------


@bp.get("/audit")
@require_role(ADMIN, AUDITOR)
def audit_log():
    action = (request.args.get("action") or "").strip()[:64]
    actor = (request.args.get("actor") or "").strip()[:100]
    subject_id = request.args.get("subject_id", type=int)
    query = sa.select(AuditEvent)
    if action:
        query = query.where(AuditEvent.action.startswith(action, autoescape=True))
    if actor:
        query = query.where(sa.or_(AuditEvent.actor_label == actor, AuditEvent.actor_id == actor))
    if subject_id is not None:
        query = query.where(AuditEvent.subject_id == subject_id)
    page = paginate(query.order_by(AuditEvent.id.desc()))
    return render_template(
        "admin/audit.html",
        page=page,
        action=action,
        actor=actor,
        subject_id=subject_id,
        verify_form=ActionForm(),
    )


@bp.post("/audit/verify")
@require_role(ADMIN, AUDITOR)
def audit_verify():
    if not can_read_audit_log(current_staff()):
        abort(403)
    if submitted(ActionForm()):
        report = verify_chain()
        if report.ok:
            flash(msg.CHAIN_OK.format(checked=report.checked), "success")
        else:
            flash(
                msg.CHAIN_BROKEN.format(
                    bad_id=report.first_bad_id,
                    problem=msg.CHAIN_PROBLEMS.get(report.problem or "", report.problem),
                    checked=report.checked,
                ),
                "error",
            )
    return redirect(url_for("admin.audit.audit_log"))
