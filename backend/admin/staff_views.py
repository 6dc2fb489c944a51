"""Console area "staff": who is signed in, and signing them out or resetting their second
factor (platform admins; auditors read)."""

from __future__ import annotations

import sqlalchemy as sa
from flask import abort, flash, redirect, render_template, session, url_for

from ..extensions import db
from ..staff.models import StaffUser
from ..staff.operations import reset_staff_totp
from ..staff.sessions import live_session_counts, sign_out_everywhere
from . import messages as msg
from .auth import ADMIN, AUDITOR, current_staff, require_role, staff_actor
from .console import console_area, submitted
from .forms import ActionForm

bp = console_area("staff", __name__)


# --- Staff accounts: who is signed in, and signing them out (admins) -------------------------


@bp.get("/staff")
@require_role(ADMIN, AUDITOR)
def staff_list():
    members = db.session.scalars(sa.select(StaffUser).order_by(StaffUser.username)).all()
    return render_template("admin/staff.html", members=members, counts=live_session_counts(), action_form=ActionForm())


@bp.post("/staff/<int:staff_id>/sessions/revoke")
@require_role(ADMIN)
def revoke_staff_sessions(staff_id: int):
    member = db.session.get(StaffUser, staff_id)
    if member is None:
        abort(404)
    if not submitted(ActionForm()):
        abort(400)
    count = sign_out_everywhere(staff_actor(current_staff()), member, "revoked_by_admin")
    flash(msg.staff_signed_out(member.display_name, count), "success")
    if member.id == current_staff().id:
        session.clear()
        return redirect(url_for("admin.auth.login"))
    return redirect(url_for("admin.staff.staff_list"))


@bp.post("/staff/<int:staff_id>/totp/reset")
@require_role(ADMIN)
def reset_totp(staff_id: int):
    member = db.session.get(StaffUser, staff_id)
    if member is None:
        abort(404)
    if not submitted(ActionForm()):
        abort(400)
    reset_staff_totp(staff_actor(current_staff()), member)
    flash(msg.totp_reset(member.display_name), "success")
    if member.id == current_staff().id:
        session.clear()
        return redirect(url_for("admin.auth.login"))
    return redirect(url_for("admin.staff.staff_list"))
