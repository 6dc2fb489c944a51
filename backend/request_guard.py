"""Input no text field may hold, and JSON no view should parse, refused before any view sees it."""

from __future__ import annotations

from typing import Any

import orjson
from flask import request
from werkzeug.exceptions import BadRequest

from .errors import ApiError, wants_json

NUL_MESSAGE = "请求中包含不允许的控制字符（NUL），请检查后重新提交"
# No request of ours nests deeper than a handful of levels; 64 leaves room for any future one.
MAX_JSON_DEPTH = 64
NESTING_MESSAGE = f"JSON 嵌套层数过多（最多 {MAX_JSON_DEPTH} 层），请检查后重新提交"
MALFORMED_MESSAGE = "请求格式不正确：JSON 无法解析"


def json_depth_and_nul(value: Any, *, limit: int) -> tuple[int, bool]:
    """The nesting depth of a parsed JSON value (a scalar is 0, ``[]`` is 1) and whether any key
    or string in it holds a NUL, walking with an explicit stack (no recursion: the depth is the
    sender's choice) in time linear in the value's size. Stops as soon as the depth exceeds
    ``limit`` (returning ``limit + 1``) or a NUL is found."""
    deepest = 0
    stack: list[tuple[Any, int]] = [(value, 0)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, str):
            if "\x00" in item:
                return deepest, True
            continue
        if isinstance(item, dict):
            children: Any = item.values()
            if any("\x00" in key for key in item if isinstance(key, str)):
                return max(deepest, depth + 1), True
        elif isinstance(item, list):
            children = item
        else:
            continue
        depth += 1
        if depth > limit:
            return depth, False
        deepest = max(deepest, depth)
        stack.extend((child, depth) for child in children if isinstance(child, (str, dict, list)))
    return deepest, False


def _refuse(message: str, code: str, status: int) -> None:
    if wants_json():
        raise ApiError(message, code=code, status=status)
    raise BadRequest(message)


def _refuse_unparsable_json(data: bytes) -> None:
    """The body is not JSON the app's parser (orjson) takes. A depth past orjson's own limit is
    refused as too deep. Other malformed bodies are left to each view's own answer, unless they
    open more brackets than ``MAX_JSON_DEPTH``: webargs parses the body again with the standard
    library, which recurses once per level and raises RecursionError at about a thousand."""
    try:
        orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        if str(exc).startswith("depth limit exceeded"):
            _refuse(NESTING_MESSAGE, "nesting_too_deep", 400)
        if data.count(b"[") + data.count(b"{") > MAX_JSON_DEPTH:
            _refuse(MALFORMED_MESSAGE, "bad_request", 400)


def refuse_nul_characters() -> None:
    """A NUL character has no meaning in any of our text, and PostgreSQL refuses it in text
    columns (a 500 deep inside an import or a search): refused at the edge instead, on every
    surface (JSON: 422 like any other invalid field; pages: 400). JSON nested deeper than
    ``MAX_JSON_DEPTH`` is refused too (400 ``nesting_too_deep``).

    The JSON body is parsed once here (by the app's JSON provider, orjson) and cached for the view."""
    found = "\x00" in request.path or b"%00" in request.query_string or b"\x00" in request.query_string
    if not found and request.is_json:
        data = request.get_data(cache=True)
        if data:
            value = request.get_json(silent=True)
            if value is None:
                _refuse_unparsable_json(data)  # or the body is a literal null
            depth, found = json_depth_and_nul(value, limit=MAX_JSON_DEPTH)
            if depth > MAX_JSON_DEPTH:
                _refuse(NESTING_MESSAGE, "nesting_too_deep", 400)
    elif not found and request.mimetype in ("multipart/form-data", "application/x-www-form-urlencoded"):
        form = request.form.to_dict(flat=False)
        found = json_depth_and_nul(form, limit=MAX_JSON_DEPTH)[1] or any(
            "\x00" in (f.filename or "") for f in request.files.values()
        )
    if found:
        _refuse(NUL_MESSAGE, "nul_character", 422)
