"""Marshmallow fields shared by the JSON APIs."""

from __future__ import annotations

import datetime as dt
from typing import Any

from apiflask import fields


class UtcDateTime(fields.DateTime):
    """A timestamp stored as naive UTC, sent as RFC 3339 with its offset (``...+00:00``).

    A naive ISO string is not an OpenAPI ``date-time`` and leaves a client guessing the zone
    (UTC or Beijing time: eight hours apart)."""

    def _serialize(self, value: dt.datetime | None, attr: str | None, obj: Any, **kwargs: Any) -> str | None:
        if value is not None and value.tzinfo is None:
            value = value.replace(tzinfo=dt.UTC)
        return super()._serialize(value, attr, obj, **kwargs)
