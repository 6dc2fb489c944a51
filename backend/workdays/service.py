"""Chinese working days: `holidays.China` plus the admin-editable override table.

Deadlines count working days *after* the start day: a step that starts on Friday with a limit of
1 working day is due the following Monday (or the next working day after a holiday).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
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


@dataclass(frozen=True)
class ScheduleDay:
    """A day of a year's holiday schedule as the console shows it: what the bundled ``holidays``
    data says (an official schedule through OFFICIAL_DATA_THROUGH, an estimate after), what staff
    entered, and what deadlines use (the entry wins)."""

    day: dt.date
    name: str  # the holiday's name in the bundled data, or the entry's note
    bundled: bool | None  # the bundled data: True working day, False day off, None ordinary day
    entered: bool | None  # the override table: same meaning, None nothing entered

    @property
    def is_working_day(self) -> bool:
        if self.entered is not None:
            return self.entered
        return bool(self.bundled) if self.bundled is not None else self.day.weekday() < 5

    @property
    def differs(self) -> bool:
        """An entry that changes what the bundled data says (the estimate corrected)."""
        return self.entered is not None and self.entered != (
            self.bundled if self.bundled is not None else self.day.weekday() < 5
        )


@dataclass(frozen=True)
class YearSchedule:
    year: int
    source: str  # "official" (bundled official data) | "confirmed" (staff confirmed) | "estimated"
    days: list[ScheduleDay]


def year_schedule(calendar: WorkdayCalendar, year: int, overrides: dict[dt.date, str] | None = None) -> YearSchedule:
    """Every day of ``year`` that is not an ordinary weekday or weekend: the bundled data's
    holidays and adjusted working days, and the entered days (``overrides`` maps a day to its note).

    For a year after OFFICIAL_DATA_THROUGH the bundled holidays are an estimate (the fixed-date
    and lunar festivals with substitute days, no 调休): shown beside the entered days so staff see
    which days still rest on the estimate until the State Council's schedule is entered.
    """
    data = holidays.China(years=year, language="zh_CN")
    bundled: dict[dt.date, tuple[bool, str]] = {day: (False, str(name)) for day, name in data.items()}
    for day in data.weekend_workdays:
        if day.year == year:
            bundled[day] = (True, "调休上班")
    entered = {day: works for day, works in calendar.overrides.items() if day.year == year}
    notes = overrides or {}
    days = [
        ScheduleDay(
            day,
            bundled[day][1] if day in bundled else notes.get(day, ""),
            bundled[day][0] if day in bundled else None,
            entered.get(day),
        )
        for day in sorted(set(bundled) | set(entered))
    ]
    if year <= OFFICIAL_DATA_THROUGH:
        source = "official"
    elif year in calendar.confirmed_years:
        source = "confirmed"
    else:
        source = "estimated"
    return YearSchedule(year, source, days)


def load_calendar() -> WorkdayCalendar:
    """The calendar with the current override table (one small query each)."""
    overrides = {
        row[0]: row[1] for row in db.session.execute(sa.select(CalendarOverride.day, CalendarOverride.is_working_day))
    }
    years = set(db.session.scalars(sa.select(CalendarYear.year)))
    return WorkdayCalendar(overrides, years)
