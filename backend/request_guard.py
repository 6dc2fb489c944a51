"""Input no text field may hold, refused before any view sees it."""

from __future__ import annotations

from typing import Any

from flask import request
from werkzeug.exceptions import BadRequest

from .errors import ApiError, wants_json

NUL_MESSAGE = "请求中包含不允许的控制字符（NUL），请检查后重新提交"


def _has_nul(value: Any) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(_has_nul(k) or _has_nul(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_has_nul(v) for v in value)
    return False


def refuse_nul_characters() -> None:
    """A NUL character has no meaning in any of our text, and PostgreSQL refuses it in text
    columns (a 500 deep inside an import or a search): refused at the edge instead, on every
    surface (JSON: 422 like any other invalid field; pages: 400).

    The JSON body is parsed once here and cached for the view."""
    found = "\x00" in request.path or b"%00" in request.query_string or b"\x00" in request.query_string
    if not found and request.is_json:
        found = _has_nul(request.get_json(silent=True))
    elif not found and request.mimetype in ("multipart/form-data", "application/x-www-form-urlencoded"):
        found = _has_nul(request.form.to_dict(flat=False)) or any(
            _has_nul(f.filename or "") for f in request.files.values()
        )
    if found:
        if wants_json():
            raise ApiError(NUL_MESSAGE, code="nul_character", status=422)
        raise BadRequest(NUL_MESSAGE)
