"""Column helpers shared by the models."""

from __future__ import annotations

import datetime as dt
import enum
from zoneinfo import ZoneInfo

import sqlalchemy as sa

# Timestamps are stored as naive UTC; days (deadlines, publicity ends) are Jinchang's days.
LOCAL_TZ = ZoneInfo("Asia/Shanghai")


class _Clock:
    """Where ``utcnow`` reads the time. Only the test suite sets ``frozen`` (its ``clock`` fixture),
    so that a test and the code it runs agree on the day even when the suite runs across
    midnight in Jinchang (16:00 UTC)."""

    frozen: dt.datetime | None = None


CLOCK = _Clock()


def utcnow() -> dt.datetime:
    frozen = CLOCK.frozen
    if frozen is not None:
        return frozen
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


def local_date(now: dt.datetime | None = None) -> dt.date:
    """The calendar day in Jinchang for a naive-UTC timestamp (default: now)."""
    moment = (now or utcnow()).replace(tzinfo=dt.UTC)
    return moment.astimezone(LOCAL_TZ).date()


def enum_column(enum_cls: type[enum.Enum], name: str) -> sa.Enum:
    """A portable enum stored as its value, with a named CHECK constraint on every backend."""
    return sa.Enum(
        enum_cls,
        name=name,
        native_enum=False,
        create_constraint=True,
        length=32,
        values_callable=lambda e: [m.value for m in e],
        validate_strings=True,
    )
