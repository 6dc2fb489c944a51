"""Marshmallow fields shared by the JSON APIs."""

from __future__ import annotations

import datetime as dt
from typing import Any

from apiflask import fields
from apiflask.validators import Range


class UtcDateTime(fields.DateTime):
    """A timestamp stored as naive UTC, sent as RFC 3339 with its offset (``...+00:00``).

    A naive ISO string is not an OpenAPI ``date-time`` and leaves a client guessing the zone
    (UTC or Beijing time: eight hours apart)."""

    def _serialize(self, value: dt.datetime | None, attr: str | None, obj: Any, **kwargs: Any) -> str | None:
        if value is not None and value.tzinfo is None:
            value = value.replace(tzinfo=dt.UTC)
        return super()._serialize(value, attr, obj, **kwargs)


MAX_DATABASE_ID = 2**31 - 1  # INTEGER id columns (PostgreSQL int4)


def database_id(**kwargs: Any) -> fields.Integer:
    """An id sent in a request body: a positive integer an INTEGER column can hold. A larger one
    is a clear 422 instead of an overflow in the database driver (a 500 on PostgreSQL); the URL
    converter (``DatabaseIntConverter``) does the same for ids in paths."""
    return fields.Integer(
        validate=Range(min=1, max=MAX_DATABASE_ID, error=f"编号应为 1 至 {MAX_DATABASE_ID} 之间的整数"),
        **kwargs,
    )
