"""Chinese working days: `holidays.China` plus the admin-editable override table.

Deadlines count working days *after* the start day: a step that starts on Friday with a limit of
1 working day is due the following Monday (or the next working day after a holiday).
"""

from __future__ import annotations

import datetime as dt
from functools import cached_property

import holidays
import sqlalchemy as sa

from ..extensions import db
from ..types import local_date
from .models import CalendarOverride, CalendarYear

# The last year for which the bundled `holidays` data carries the official State Council schedule
# (including the adjusted working days). Later years are estimates without 调休.
OFFICIAL_DATA_THROUGH = 2026
EPOCH_YEAR = 2000


class WorkdayCalendar:
    def __init__(self, overrides: dict[dt.date, bool] | None = None, confirmed_years: set[int] | None = None):
        self.overrides = dict(overrides or {})
        self.confirmed_years = set(confirmed_years or ())

    @cached_property
    def _china(self) -> holidays.HolidayBase:
        return holidays.China(years=range(EPOCH_YEAR - 10, dt.date.today().year + 6))

    def is_working_day(self, day: dt.date) -> bool:
        if day in self.overrides:
            return self.overrides[day]
        if day in self._china.weekend_workdays:
            return True
        if day.weekday() >= 5:
            return False
        return day not in self._china

    def add_working_days(self, start: dt.date, count: int) -> dt.date:
        """The ``count``-th working day after ``start`` (``start`` itself not counted)."""
        if count < 0:
            raise ValueError("count must be >= 0")
        day = start
        remaining = count
        while remaining:
            day += dt.timedelta(days=1)
            if self.is_working_day(day):
                remaining -= 1
        return day

    def working_days_between(self, start: dt.date, end: dt.date) -> int:
        """Working days in (start, end]; negative if end is before start."""
        return self._rank(end) - self._rank(start)

    def _rank(self, day: dt.date) -> int:
        """Working days from EPOCH through ``day``. Prefix sums are built per year and cached,
        so a bulk import computes timeliness in O(1) per row."""
        if day.year < EPOCH_YEAR:
            return -sum(
                1
                for n in range((dt.date(EPOCH_YEAR, 1, 1) - day).days)
                if self.is_working_day(day + dt.timedelta(days=n + 1))
            )
        cache: dict[int, list[int]] = self.__dict__.setdefault("_prefix", {})
        for year in range(max(cache, default=EPOCH_YEAR - 1) + 1, day.year + 1):
            running = cache[year - 1][-1] if year > EPOCH_YEAR else 0
            prefix = []
            current = dt.date(year, 1, 1)
            while current.year == year:
                running += self.is_working_day(current)
                prefix.append(running)
                current += dt.timedelta(days=1)
            cache[year] = prefix
        return cache[day.year][day.timetuple().tm_yday - 1]

    def is_year_confirmed(self, year: int) -> bool:
        return year <= OFFICIAL_DATA_THROUGH or year in self.confirmed_years

    def schedule_warning(self, today: dt.date | None = None) -> str | None:
        """A warning when the current or next year has no confirmed holiday schedule."""
        today = today or local_date()
        missing = [y for y in (today.year, today.year + 1) if not self.is_year_confirmed(y)]
        if not missing:
            return None
        years = "、".join(f"{y}年" for y in missing)
        return (
            f"{years}的法定节假日安排尚未确认：工作日按估算计算（不含调休）。"
            "请在“节假日维护”中录入国务院办公厅公布的安排并确认。"
        )


def load_calendar() -> WorkdayCalendar:
    """The calendar with the current override table (one small query each)."""
    overrides = {
        row[0]: row[1] for row in db.session.execute(sa.select(CalendarOverride.day, CalendarOverride.is_working_day))
    }
    years = set(db.session.scalars(sa.select(CalendarYear.year)))
    return WorkdayCalendar(overrides, years)
