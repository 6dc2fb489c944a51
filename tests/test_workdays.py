import datetime as dt

import pytest

from backend.extensions import db
from backend.workdays.models import CalendarOverride, CalendarYear
from backend.workdays.service import WorkdayCalendar, load_calendar

D = dt.date


@pytest.fixture(scope="module")
def cal():
    return WorkdayCalendar()


@pytest.mark.parametrize(
    ("day", "working"),
    [
        (D(2026, 2, 14), True),  # Saturday, adjusted working day before Spring Festival
        (D(2026, 2, 16), False),  # Spring Festival
        (D(2026, 2, 23), False),
        (D(2026, 2, 24), True),
        (D(2026, 2, 28), True),  # Saturday, adjusted working day
        (D(2026, 9, 20), True),  # Sunday, adjusted working day before National Day
        (D(2026, 10, 1), False),
        (D(2026, 10, 7), False),
        (D(2026, 10, 10), True),  # Saturday, adjusted working day
        (D(2026, 10, 11), False),
        (D(2026, 11, 26), True),
    ],
)
def test_2026_schedule(cal, day, working):
    assert cal.is_working_day(day) is working


def test_add_working_days_across_spring_festival(cal):
    # Friday 13 Feb + 1 = Saturday 14 Feb (调休); + 2 = Tuesday 24 Feb after the holiday.
    assert cal.add_working_days(D(2026, 2, 13), 1) == D(2026, 2, 14)
    assert cal.add_working_days(D(2026, 2, 13), 2) == D(2026, 2, 24)
    assert cal.add_working_days(D(2026, 2, 13), 0) == D(2026, 2, 13)


def test_add_working_days_across_national_day(cal):
    assert cal.add_working_days(D(2026, 9, 18), 1) == D(2026, 9, 20)  # Friday -> adjusted Sunday
    assert cal.add_working_days(D(2026, 9, 30), 1) == D(2026, 10, 8)
    assert cal.add_working_days(D(2026, 9, 30), 3) == D(2026, 10, 10)
    assert cal.add_working_days(D(2026, 9, 30), 4) == D(2026, 10, 12)


def test_working_days_between_matches_add(cal):
    start = D(2026, 1, 1)
    for n in (0, 1, 5, 7, 10, 40, 200):
        end = cal.add_working_days(start, n)
        assert cal.working_days_between(start, end) == n
        assert cal.working_days_between(end, start) == -n
    assert cal.working_days_between(D(2026, 9, 30), D(2026, 10, 10)) == 3


def test_overrides_win(app):
    db.session.add(CalendarOverride(day=D(2027, 1, 4), is_working_day=False, note="测试"))
    db.session.add(CalendarOverride(day=D(2027, 1, 9), is_working_day=True, note="调休"))
    db.session.flush()
    cal = load_calendar()
    assert not cal.is_working_day(D(2027, 1, 4))
    assert cal.is_working_day(D(2027, 1, 9))
    # (1 Jan, 11 Jan]: the 4th is now off; 5-8, the adjusted Saturday 9th and the 11th count.
    assert cal.working_days_between(D(2027, 1, 1), D(2027, 1, 11)) == 6


def test_warning_until_next_year_confirmed(app):
    cal = load_calendar()
    warning = cal.schedule_warning(D(2026, 11, 26))
    assert warning
    assert "2027年" in warning
    db.session.add(CalendarYear(year=2027, source="国办发明电〔2026〕"))
    db.session.flush()
    assert load_calendar().schedule_warning(D(2026, 11, 26)) is None
