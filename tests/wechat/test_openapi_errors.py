"""/openapi.json tells a mini-program developer, per operation, which ``error.code`` values each
error status can carry (issue 17, item 9), and only codes the code base can really return."""

from __future__ import annotations

import pathlib
import re

import pytest

from backend.errors import STATUS_CODES
from backend.workflows.repairs import eligibility

ROOT = pathlib.Path(__file__).resolve().parents[2]
PREFIX = "/api/mp/v1"
# ``code="…"``, the request guard's ``_refuse(message, "code", status)`` and the binding
# refusals' ``refusal = (reason, message, "code")`` (miniprogram_api/operations.py).
RAISED = re.compile(
    r"""(?:code=|_refuse\([A-Z_]+,\s*)["']([a-z][a-z0-9_]*)["']|refusal = \([^()]*["']([a-z][a-z0-9_]*)["']\)"""
)
# Eligibility codes become ``not_eligible_<code>`` (backend/workflows/repairs/operations.py).
ELIGIBILITY = re.compile(r"""Eligibility\(\s*False,\s*["']([a-z_]+)["']""")


def _operations(spec: dict):
    for path, item in spec["paths"].items():
        if not path.startswith(PREFIX):
            continue
        for method, op in item.items():
            if method in ("get", "post", "put", "patch", "delete"):
                yield f"{method.upper()} {path}", op


def _codes(description: str) -> set[str]:
    """The codes after the status text: ``参数校验未通过：validation_error（…）、…``."""
    _, _, listed = description.partition("：")
    listed = re.sub(r"（[^）]*）", "", listed)  # explanations may quote other words
    return {part.strip() for part in re.split(r"[、,，]", listed) if part.strip()}


def _known_codes() -> set[str]:
    known = set(STATUS_CODES.values()) | {"database_unavailable", "storage_unavailable"}
    for folder in ("backend", "miniprogram_api"):
        for source in (ROOT / folder).rglob("*.py"):
            text = source.read_text(encoding="utf-8")
            known |= {code for pair in RAISED.findall(text) for code in pair if code}
    eligibility_source = pathlib.Path(eligibility.__file__).read_text(encoding="utf-8")
    known |= {f"not_eligible_{code}" for code in ELIGIBILITY.findall(eligibility_source)}
    return known


@pytest.fixture(scope="module")
def spec(app):
    return app.test_client().get("/openapi.json").get_json()


def test_every_mp_operation_documents_its_error_codes(spec):
    known = _known_codes()
    operations = dict(_operations(spec))
    assert len(operations) >= 33
    problems = []
    for name, op in operations.items():
        responses = op.get("responses", {})
        if op.get("security") and "401" not in responses:
            problems.append(f"{name}: needs a token but documents no 401")
        for status, response in responses.items():
            if not status.startswith(("4", "5")):
                continue
            codes = _codes(response.get("description", ""))
            if not codes:
                problems.append(f"{name} {status}: no error.code listed")
            for code in codes - known:
                problems.append(f"{name} {status}: {code!r} is not a code the service returns")
    assert problems == []


@pytest.mark.parametrize(
    ("operation", "status", "code"),
    [
        ("POST /api/mp/v1/session", "401", "login_code_invalid"),
        ("POST /api/mp/v1/session", "429", "rate_limited"),
        ("POST /api/mp/v1/session", "503", "wechat_unavailable"),
        ("POST /api/mp/v1/identity/verification/finish", "403", "face_not_passed"),
        ("POST /api/mp/v1/identity/verification/finish", "409", "face_result_used"),
        ("POST /api/mp/v1/identity/verification", "503", "service_unavailable"),
        ("GET /api/mp/v1/me/records", "403", "identity_required"),
        ("POST /api/mp/v1/objections", "409", "open_application_exists"),
        ("POST /api/mp/v1/objections", "400", "commitment_mismatch"),
        ("POST /api/mp/v1/repairs", "400", "not_eligible_too_early"),
        ("POST /api/mp/v1/records/{record_id}/commitment", "409", "commitment_changed"),
        ("POST /api/mp/v1/materials", "422", "material_polyglot"),
        ("POST /api/mp/v1/materials", "429", "rate_limited"),
        ("GET /api/mp/v1/reports/{number}/pdf", "401", "download_link_invalid"),
        ("POST /api/mp/v1/kiosk-login/{ticket}/confirm", "409", "ticket_used"),
        ("POST /api/mp/v1/enterprise-bindings", "403", "not_legal_representative"),
    ],
)
def test_known_codes_are_where_they_belong(spec, operation, status, code):
    op = dict(_operations(spec))[operation]
    assert code in _codes(op["responses"][status]["description"])


def test_public_operations_document_no_token_error(spec):
    """The public query and report verification work signed out: no 401 promised there."""
    ops = dict(_operations(spec))
    for name in ("GET /api/mp/v1/subjects", "GET /api/mp/v1/subjects/{uscc}", "POST /api/mp/v1/verify"):
        assert not ops[name].get("security")
        assert "401" not in ops[name]["responses"]
