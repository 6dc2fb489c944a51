"""Calendar maintenance (holidays, adjusted working days, confirmed years). Flush, never commit."""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa

from ..actors import Actor
from ..audit.operations import record_event
from ..errors import Conflict
from ..extensions import db
from ..workdays.models import CalendarOverride, CalendarYear


def _staff_id(actor: Actor) -> int | None:
    return int(actor.id) if actor.type == "staff" and actor.id else None


def add_calendar_override(actor: Actor, *, day: dt.date, is_working_day: bool, note: str = "") -> CalendarOverride:
    if db.session.scalar(sa.select(CalendarOverride.id).where(CalendarOverride.day == day)) is not None:
        raise Conflict("该日期已有调整记录")
    override = CalendarOverride(day=day, is_working_day=is_working_day, note=note, created_by_id=_staff_id(actor))
    db.session.add(override)
    db.session.flush()
    record_event(
        actor,
        "calendar.override.add",
        target=override,
        details={"day": day.isoformat(), "is_working_day": is_working_day, "note": note},
    )
    return override


def delete_calendar_override(actor: Actor, override: CalendarOverride) -> None:
    record_event(
        actor,
        "calendar.override.delete",
        target=override,
        details={"day": override.day.isoformat(), "is_working_day": override.is_working_day, "note": override.note},
    )
    db.session.delete(override)
    db.session.flush()


def confirm_calendar_year(actor: Actor, *, year: int, source: str = "") -> CalendarYear:
    if db.session.get(CalendarYear, year) is not None:
        raise Conflict("该年度已确认")
    row = CalendarYear(year=year, confirmed_by_id=_staff_id(actor), source=source)
    db.session.add(row)
    db.session.flush()
    record_event(
        actor, "calendar.year.confirm", target_type="calendar_year", target_id=year, details={"source": source}
    )
    return row
