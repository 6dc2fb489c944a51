"""The public surfaces are rate-limited with one budget per client and kind of question: every way
of verifying a report shares RATELIMIT_VERIFY, every public enterprise query shares
RATELIMIT_PUBLIC (the multi-worker version with Redis is tests/security/test_rate_limits.py)."""

from __future__ import annotations

import pytest

from backend.app import create_app
from backend.extensions import db, limiter
from backend.issued_reports.keys import EXTENSION_KEY
from tests.conftest import TEST_PII_KEY


@pytest.fixture
def limited_client(app, keys):
    """A second app with rate limiting on; the shared limiter's switches are restored after."""
    saved = (limiter.enabled, limiter.initialized)
    limited = create_app(
        {
            "ENV": "testing",
            "DATABASE_URL": app.config["SQLALCHEMY_DATABASE_URI"],
            "SECRET_KEY": app.config["SECRET_KEY"],
            "PII_ENCRYPTION_KEYS": TEST_PII_KEY,
            "PII_HASH_KEY": "test-hash-key",
            "RATELIMIT_ENABLED": True,
            "RATELIMIT_VERIFY": "2/minute",
            "RATELIMIT_PUBLIC": "3/minute",
        }
    )
    limited.extensions[EXTENSION_KEY] = keys
    try:
        yield limited.test_client()
    finally:
        limiter.reset()
        limiter.enabled, limiter.initialized = saved
        with limited.app_context():
            db.session.remove()
            db.engine.dispose()


ENUMERATOR = {"REMOTE_ADDR": "203.0.113.7"}
OTHER = {"REMOTE_ADDR": "198.51.100.23"}


def _refused(response) -> bool:
    return response.status_code == 429


def test_verification_is_one_budget_across_the_api_the_qr_page_the_form_and_the_mini_program(limited_client):
    c = limited_client
    for _ in range(2):
        assert c.post("/api/v1/verify", json={"qr": "123"}, environ_base=ENUMERATOR).status_code == 200
    refused = c.post("/api/v1/verify", json={"qr": "123"}, environ_base=ENUMERATOR)
    assert refused.status_code == 429 and refused.get_json()["error"]["code"] == "rate_limited"
    # The same client is out of budget on every other way of verifying a report.
    page = c.get("/v/123", environ_base=ENUMERATOR)
    assert page.status_code == 429 and "频繁" in page.get_data(as_text=True)
    assert _refused(c.post("/api/mp/v1/verify", json={"qr": "123"}, environ_base=ENUMERATOR))
    number_and_code = c.post("/verify", data={"number": "JC-2026-000001", "code": "ABCD-EFGH"}, environ_base=ENUMERATOR)
    assert _refused(number_and_code)
    # Showing the empty form is not a verification; the key document has a budget of its own.
    assert c.get("/verify", environ_base=ENUMERATOR).status_code == 200
    assert c.get("/.well-known/credit-report-keys.json", environ_base=ENUMERATOR).status_code == 200
    # Another client is not affected, and its budget too is shared between the surfaces.
    assert c.get("/v/123", environ_base=OTHER).status_code == 200
    assert c.post("/api/mp/v1/verify", json={"qr": "123"}, environ_base=OTHER).status_code == 200
    assert _refused(c.post("/api/v1/verify", json={"qr": "123"}, environ_base=OTHER))


def test_public_query_is_one_budget_across_the_api_the_web_pages_and_the_mini_program(limited_client):
    c = limited_client
    assert c.get("/api/v1/subjects?q=金川", environ_base=ENUMERATOR).status_code == 200
    assert c.get("/search?q=金川", environ_base=ENUMERATOR).status_code == 200
    assert c.get("/api/mp/v1/subjects?q=金川", environ_base=ENUMERATOR).status_code == 200
    for url in (
        "/api/v1/subjects?q=金川",
        "/api/v1/subjects/91620302MA71XY3Q54",
        "/search?q=金昌",
        "/subjects/91620302MA71XY3Q54",
        "/api/mp/v1/subjects?q=金川",
        "/api/mp/v1/subjects/91620302MA71XY3Q54",
    ):
        assert _refused(c.get(url, environ_base=ENUMERATOR)), url
    # The home page is not a query; another client has its own budget.
    assert c.get("/", environ_base=ENUMERATOR).status_code == 200
    assert c.get("/search?q=金川", environ_base=OTHER).status_code == 200
    # A separate budget: verification is not a query.
    assert c.post("/api/v1/verify", json={"qr": "123"}, environ_base=ENUMERATOR).status_code == 200
