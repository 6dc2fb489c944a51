"""Fleet pages of the staff console (自助终端管理): register kiosks (credential shown once),
see which are online, their printers, prints and faults today, disable or enable them remotely.

Platform admins manage the fleet; auditors read it; department reviewers have no access.
A console area of its own (``backend/admin/console.py``): the console's login, CSRF and error
pages are shared.
"""

from __future__ import annotations

import datetime as dt

from flask import abort, flash, redirect, render_template, request, url_for
from flask_wtf import FlaskForm
from wtforms import StringField
from wtforms.validators import DataRequired, Length, Regexp

from backend.admin.auth import ADMIN, AUDITOR, current_staff, require_role, staff_actor
from backend.admin.console import console_area, submitted
from backend.admin.forms import REQUIRED, ActionForm
from backend.errors import ApiError
from backend.extensions import db
from backend.types import LOCAL_TZ

from . import messages as msg
from . import operations as ops
from .agent.signing import fingerprint
from .models import KioskDevice

bp = console_area("kiosks", __name__)


class DeviceForm(FlaskForm):
    code = StringField(
        "终端编号",
        validators=[
            DataRequired(REQUIRED),
            Length(max=32),
            Regexp(r"^[A-Za-z0-9-]{3,32}$", message=msg.DEVICE_CODE_INVALID),
        ],
    )
    hall = StringField("服务大厅", validators=[DataRequired(REQUIRED), Length(max=100)])
    location = StringField("摆放位置", validators=[DataRequired(REQUIRED), Length(max=200)])


class DisableForm(FlaskForm):
    reason = StringField("停用原因", validators=[DataRequired(msg.DEVICE_REASON_REQUIRED), Length(max=200)])


def _local(moment: dt.datetime | None) -> str:
    if moment is None:
        return "从未"
    return moment.replace(tzinfo=dt.UTC).astimezone(LOCAL_TZ).strftime("%Y-%m-%d %H:%M:%S")


def _device_or_404(device_id: int) -> KioskDevice:
    device = db.session.get(KioskDevice, device_id)
    if device is None:
        abort(404)
    return device


@bp.route("/kiosks", methods=["GET", "POST"])
@require_role(ADMIN, AUDITOR)
def kiosks():
    user = current_staff()
    form = DeviceForm()
    if request.method == "POST":
        if user.role is not ADMIN:
            abort(403)
        if submitted(form):
            try:
                device, credential = ops.register_device(
                    staff_actor(user), form.code.data, form.hall.data, form.location.data
                )
            except ApiError as exc:
                db.session.rollback()
                form.code.errors = [*form.code.errors, exc.message]
            else:
                # Rendered here once; neither stored in clear nor kept in the session.
                return render_template("kiosk/console_credential.html", device=device, credential=credential)
    return render_template(
        "kiosk/console_fleet.html",
        rows=ops.fleet(),
        form=form,
        disable_form=DisableForm(),
        action_form=ActionForm(),
        may_act=user.role is ADMIN,
        local=_local,
        printer_states=msg.PRINTER_STATES,
        fingerprint=fingerprint,
    ), (422 if form.errors else 200)


@bp.post("/kiosks/<int:device_id>/disable")
@require_role(ADMIN)
def disable_kiosk(device_id: int):
    device = _device_or_404(device_id)
    form = DisableForm()
    if submitted(form):
        ops.set_device_enabled(staff_actor(current_staff()), device, False, form.reason.data)
        flash(msg.DEVICE_DISABLED_DONE.format(code=device.code), "success")
    elif form.errors:
        flash(msg.DEVICE_REASON_REQUIRED, "error")
    return redirect(url_for("admin.kiosks.kiosks"))


@bp.post("/kiosks/<int:device_id>/enable")
@require_role(ADMIN)
def enable_kiosk(device_id: int):
    device = _device_or_404(device_id)
    if submitted(ActionForm()):
        ops.set_device_enabled(staff_actor(current_staff()), device, True)
        flash(msg.DEVICE_ENABLED_DONE.format(code=device.code), "success")
    return redirect(url_for("admin.kiosks.kiosks"))


@bp.post("/kiosks/<int:device_id>/credential")
@require_role(ADMIN)
def reissue_kiosk_credential(device_id: int):
    device = _device_or_404(device_id)
    if not submitted(ActionForm()):
        return redirect(url_for("admin.kiosks.kiosks"))
    credential = ops.reissue_credential(staff_actor(current_staff()), device)
    return render_template("kiosk/console_credential.html", device=device, credential=credential)
