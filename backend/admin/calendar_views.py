"""Console area "calendar": the working-day overrides and the confirmation of a year's official
schedule (platform admins; everyone reads)."""

from __future__ import annotations

import sqlalchemy as sa
from flask import abort, flash, redirect, render_template, url_for

from ..errors import ApiError
from ..extensions import db
from ..staff.models import StaffUser
from ..types import local_date
from ..workdays.models import CalendarOverride, CalendarYear
from ..workdays.operations import add_calendar_override, confirm_calendar_year, delete_calendar_override
from ..workdays.service import load_calendar, year_schedule
from . import messages as msg
from .auth import ADMIN, current_staff, require_role, staff_actor
from .console import console_area, submitted
from .forms import ActionForm, CalendarOverrideForm, CalendarYearForm

bp = console_area("calendar", __name__)


# --- Calendar ---------------------------------------------------------------------------


def _render_calendar(override_form=None, year_form=None, status: int = 200):
    overrides = db.session.scalars(sa.select(CalendarOverride).order_by(CalendarOverride.day.desc())).all()
    years = db.session.scalars(sa.select(CalendarYear).order_by(CalendarYear.year.desc())).all()
    names = dict(db.session.execute(sa.select(StaffUser.id, StaffUser.display_name)).all())
    # This year and the next, as deadlines will count them: the estimate beside the entries.
    calendar, this_year, notes = load_calendar(), local_date().year, {o.day: o.note for o in overrides}
    schedules = [year_schedule(calendar, year, notes) for year in (this_year, this_year + 1)]
    return render_template(
        "admin/calendar.html",
        overrides=overrides,
        years=years,
        schedules=schedules,
        staff_names=names,
        override_form=override_form or CalendarOverrideForm(formdata=None),
        year_form=year_form or CalendarYearForm(formdata=None),
        action_form=ActionForm(),
    ), status


@bp.get("/calendar")
@require_role()
def calendar():
    return _render_calendar()


@bp.post("/calendar/overrides")
@require_role(ADMIN)
def add_override():
    form = CalendarOverrideForm()
    if not submitted(form):
        return _render_calendar(override_form=form, status=422)
    try:
        add_calendar_override(
            staff_actor(current_staff()),
            day=form.day.data,
            is_working_day=form.kind.data == "workday",
            note=(form.note.data or "").strip(),
        )
    except ApiError:
        db.session.rollback()
        form.day.errors = [*form.day.errors, msg.OVERRIDE_EXISTS]
        return _render_calendar(override_form=form, status=409)
    flash(msg.OVERRIDE_ADDED, "success")
    return redirect(url_for("admin.calendar.calendar"))


@bp.post("/calendar/overrides/<int:override_id>/delete")
@require_role(ADMIN)
def delete_override(override_id: int):
    override = db.session.get(CalendarOverride, override_id)
    if override is None:
        abort(404)
    if submitted(ActionForm()):
        delete_calendar_override(staff_actor(current_staff()), override)
        flash(msg.OVERRIDE_DELETED, "success")
    return redirect(url_for("admin.calendar.calendar"))


@bp.post("/calendar/years")
@require_role(ADMIN)
def confirm_year():
    form = CalendarYearForm()
    if not submitted(form):
        return _render_calendar(year_form=form, status=422)
    try:
        confirm_calendar_year(
            staff_actor(current_staff()), year=form.year.data, source=(form.source.data or "").strip()
        )
    except ApiError:
        db.session.rollback()
        form.year.errors = [*form.year.errors, msg.YEAR_ALREADY_CONFIRMED]
        return _render_calendar(year_form=form, status=409)
    flash(msg.YEAR_CONFIRMED, "success")
    return redirect(url_for("admin.calendar.calendar"))
