"""The public verification surfaces are rate-limited with RATELIMIT_VERIFY."""

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


def test_verification_is_rate_limited(limited_client):
    for _ in range(2):
        assert limited_client.post("/api/v1/verify", json={"qr": "123"}).status_code == 200
    refused = limited_client.post("/api/v1/verify", json={"qr": "123"})
    assert refused.status_code == 429 and refused.get_json()["error"]["code"] == "rate_limited"
    for _ in range(2):
        assert limited_client.get("/v/123").status_code == 200
    page = limited_client.get("/v/123")
    assert page.status_code == 429 and "频繁" in page.get_data(as_text=True)
