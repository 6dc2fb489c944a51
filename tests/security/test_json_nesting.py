"""Deeply nested JSON (issue 14, item 10): refused with a 400 in the one error shape on every JSON
surface, whatever the depth, and never a RecursionError (a 500 and a traceback) from the checks or
from any parser the request later meets (the app's JSON provider, webargs' standard-library parse).
"""

from __future__ import annotations

import pytest

from backend.request_guard import MAX_JSON_DEPTH, json_depth_and_nul
from tests.security.test_bad_input import assert_error
from tests.wechat.helpers import API

ROUTES = (
    ("anonymous", "POST", "/api/v1/verify"),
    ("citizen_a", "POST", f"{API}/objections"),
    ("department", "POST", "/api/dept/v1/records"),
    ("kiosk_device", "POST", "/kiosk/api/heartbeat"),
)


def nested(depth: int, inner: str = "1") -> bytes:
    return ("[" * (depth - 1) + '{"a":' + inner + "}" + "]" * (depth - 1)).encode()


@pytest.mark.parametrize("depth", [MAX_JSON_DEPTH + 1, 1000, 1023, 1025, 100_000])
def test_nesting_beyond_the_limit_is_400_on_every_json_route(callers, depth):
    body = nested(depth)
    for role, method, url in ROUTES:
        response = callers.request(role, method, url, data=body, content_type="application/json")
        error = assert_error(response, 400, "nesting_too_deep")
        assert str(MAX_JSON_DEPTH) in error["message"]


@pytest.mark.parametrize("tail", [b"", b",", b"}"], ids=["unterminated", "dangling-comma", "wrong-closer"])
def test_deep_malformed_json_is_400_not_a_recursion_error(callers, tail):
    # orjson stops at the malformation; the standard library parser that webargs uses afterwards
    # would recurse once per level (RecursionError at about a thousand).
    body = b"[" * 950 + tail
    for role, method, url in ROUTES:
        response = callers.request(role, method, url, data=body, content_type="application/json")
        assert_error(response, 400)


def test_nesting_at_the_limit_passes_the_guard(callers):
    response = callers.request(
        "anonymous", "POST", "/api/v1/verify", data=nested(MAX_JSON_DEPTH), content_type="application/json"
    )
    assert_error(response, 400, "verify_input_required")  # the view's own answer: not a dict


def test_nul_deep_inside_is_still_found(callers):
    body = nested(MAX_JSON_DEPTH - 1, inner='"a\\u0000b"')
    response = callers.request("anonymous", "POST", "/api/v1/verify", data=body, content_type="application/json")
    assert_error(response, 422, "nul_character")


def test_the_walk_is_iterative():
    # Built without recursion, deeper than Python's recursion limit: the walk must not recurse.
    value: object = ["x"]
    for _ in range(50_000):
        value = {"k": [value]}
    depth, nul = json_depth_and_nul(value, limit=10**6)
    assert (depth, nul) == (100_001, False)
    assert json_depth_and_nul(value, limit=MAX_JSON_DEPTH)[0] == MAX_JSON_DEPTH + 1  # stops early
    assert json_depth_and_nul({"a\x00": 1}, limit=MAX_JSON_DEPTH) == (1, True)
    assert json_depth_and_nul([1, 2, "3"], limit=MAX_JSON_DEPTH) == (1, False)
    assert json_depth_and_nul("flat", limit=MAX_JSON_DEPTH) == (0, False)
