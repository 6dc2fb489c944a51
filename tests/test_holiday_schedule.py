"""The console's calendar page shows this year's and next year's holiday schedule: the bundled
data (official through OFFICIAL_DATA_THROUGH, an estimate after) beside the days staff entered,
and what deadlines count. The date is fixed, so the answer does not depend on when the suite runs."""

from __future__ import annotations

import datetime as dt

from test_staff_auth import login_as

from backend.extensions import db
from backend.workdays.models import CalendarOverride, CalendarYear
from backend.workdays.service import OFFICIAL_DATA_THROUGH, WorkdayCalendar, year_schedule

ESTIMATED = OFFICIAL_DATA_THROUGH + 1  # 2027 with the bundled data of holidays 0.109


def test_an_official_year_and_an_estimated_year():
    official = year_schedule(WorkdayCalendar(), OFFICIAL_DATA_THROUGH)
    assert official.source == "official"
    days = {d.day: d for d in official.days}
    assert days[dt.date(2026, 2, 17)].name == "春节" and not days[dt.date(2026, 2, 17)].is_working_day
    assert days[dt.date(2026, 2, 14)].bundled is True  # 调休上班, a Saturday
    assert days[dt.date(2026, 2, 14)].is_working_day

    estimated = year_schedule(WorkdayCalendar(), ESTIMATED)
    assert estimated.source == "estimated"
    assert all(d.bundled is False for d in estimated.days)  # no adjusted working days in an estimate


def test_entries_are_shown_beside_the_estimate_and_win():
    national_day = dt.date(ESTIMATED, 10, 4)  # an estimated substitute holiday
    saturday_work = dt.date(ESTIMATED, 9, 25)
    extra = dt.date(ESTIMATED, 10, 8)
    calendar = WorkdayCalendar({national_day: False, saturday_work: True, extra: False}, {ESTIMATED})
    schedule = year_schedule(calendar, ESTIMATED, {saturday_work: "国庆调休", extra: "国庆节"})
    assert schedule.source == "confirmed"
    days = {d.day: d for d in schedule.days}
    assert days[national_day].bundled is False and days[national_day].entered is False
    assert not days[national_day].differs
    assert days[saturday_work].name == "国庆调休" and days[saturday_work].bundled is None
    assert days[saturday_work].is_working_day and days[saturday_work].differs
    assert days[extra].differs and not days[extra].is_working_day


def test_the_calendar_page_shows_both_years(client, monkeypatch):
    monkeypatch.setattr("backend.admin.calendar_views.local_date", lambda: dt.date(OFFICIAL_DATA_THROUGH, 12, 4))
    login_as(client, "platform_admin")
    db.session.add(CalendarOverride(day=dt.date(ESTIMATED, 2, 20), is_working_day=True, note="春节调休"))
    db.session.commit()
    page = client.get("/admin/calendar").get_data(as_text=True)
    assert f"{OFFICIAL_DATA_THROUGH} 年安排" in page and "（内置官方安排）" in page
    assert f"{ESTIMATED} 年安排" in page and "（估算，未确认）" in page
    assert f"{ESTIMATED}-02-06" in page and "春节" in page  # the estimated Spring Festival
    assert f"{ESTIMATED}-02-20" in page and "<strong>调休上班</strong>" in page  # an entry that corrects it
    assert "放假（估算）" in page  # days that still rest on the estimate say so

    db.session.add(CalendarYear(year=ESTIMATED, source="国办发明电"))
    db.session.commit()
    page = client.get("/admin/calendar").get_data(as_text=True)
    assert "（估算，未确认）" not in page and "（已确认）" in page
