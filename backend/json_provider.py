"""JSON for every response: orjson instead of the standard library encoder.

The public query answers are mostly Chinese text (a profile is about 5 KB): the standard
encoder costs about ten times what orjson does for them, a visible share of a request next to
the framework's own overhead. The output is what Flask's provider gave with ``ensure_ascii``
off (UTF-8, not escapes), with two deliberate differences: dates and datetimes are ISO 8601
(what the OpenAPI document declares; Flask writes HTTP dates such as ``Thu, 26 Nov 2026``),
and keys keep their order instead of being sorted.

Request bodies are parsed by orjson too: besides its speed, it refuses a document nested deeper
than 1024 levels with an ordinary ``JSONDecodeError`` (a 400), where the standard library's
parser recurses once per level and raises RecursionError (a 500). ``request_guard`` refuses
anything deeper than 64 levels before a view sees it.
"""

from __future__ import annotations

import decimal
from typing import Any

import orjson
from flask.json.provider import DefaultJSONProvider

_OPTIONS = orjson.OPT_NON_STR_KEYS


def _fallback(value: Any) -> Any:
    """What orjson does not write itself (it does dates, UUIDs and dataclasses), as Flask did."""
    if isinstance(value, decimal.Decimal):
        return str(value)
    if hasattr(value, "__html__"):
        return str(value.__html__())
    raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")


class OrjsonProvider(DefaultJSONProvider):
    def dumps(self, obj: Any, **kwargs: Any) -> str:
        option = _OPTIONS
        if kwargs.get("indent"):
            option |= orjson.OPT_INDENT_2
        if kwargs.get("sort_keys"):
            option |= orjson.OPT_SORT_KEYS
        return orjson.dumps(obj, default=kwargs.get("default") or _fallback, option=option).decode()

    def loads(self, s: str | bytes, **kwargs: Any) -> Any:
        # Large integers become floats (orjson's only number type past 64 bits): no field of ours
        # holds such a number, and webargs validates schema input from the raw body itself.
        return orjson.loads(s)

    def response(self, *args: Any, **kwargs: Any):
        obj = self._prepare_response_obj(args, kwargs)
        return self._app.response_class(orjson.dumps(obj, default=_fallback, option=_OPTIONS), mimetype=self.mimetype)
