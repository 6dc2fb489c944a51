"""Redis down (REDIS_URL on a port nothing listens on) degrades the service instead of failing
it: rate limits fall back to each process's memory (still enforced, with a warning and a
metric), /readyz stays 200 and names Redis, and the WeChat token store and OA nonces use the
database. Before: the public query answered 500 internal_error while /readyz said ok."""

from __future__ import annotations

import logging
import socket

import pytest

from backend.app import create_app
from backend.extensions import limiter
from tests.conftest import sibling_config
from tests.test_metrics import _scrape, _value

FALLBACK = "credit_ratelimit_fallback_requests_total"


def _dead_port() -> int:
    # Bound and closed: nothing listens there, so a connection is refused at once.
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def dead_redis_app(app):
    outage_app = create_app(
        sibling_config(
            app,
            REDIS_URL=f"redis://127.0.0.1:{_dead_port()}/0",
            RATELIMIT_ENABLED=True,
            RATELIMIT_PUBLIC="3/minute",
        )
    )
    yield outage_app
    # The limiter is one object for every app of the process: give it back an in-memory store
    # (an app of the suite's own configuration binds it again) and clear the outage flag.
    healthy = create_app(sibling_config(app, RATELIMIT_ENABLED=True))
    limiter._storage_dead = False
    for each in (outage_app, healthy):
        _dispose(each)


def _dispose(other_app) -> None:
    # Close the second app's pools now (PostgreSQL connections left to the garbage collector
    # would be reported as unclosed in whichever later test collects them).
    from backend.extensions import db

    with other_app.app_context():
        for engine in db.engines.values():
            engine.dispose()


def test_public_query_is_answered_and_still_limited_while_redis_is_down(dead_redis_app, caplog):
    client = dead_redis_app.test_client()
    caplog.set_level(logging.WARNING)
    with dead_redis_app.app_context():
        before = _value(_scrape(client), FALLBACK)
    statuses = [client.get("/api/v1/subjects?q=abc").status_code for _ in range(5)]
    # before: [500, 500, 500, 500, 500] (internal_error); the limit of 3 still holds in memory.
    assert statuses == [200, 200, 200, 429, 429]
    assert any("rate-limit store (REDIS_URL) unreachable" in r.getMessage() for r in caplog.records)
    with dead_redis_app.app_context():
        assert _value(_scrape(client), FALLBACK) - before == 5


def test_readyz_reports_redis_degraded_not_unready(dead_redis_app):
    response = dead_redis_app.test_client().get("/readyz")
    assert response.status_code == 200
    body = response.get_json()
    assert body["status"] == "ok"
    assert body["checks"]["redis"] == "unavailable" and body["checks"]["database"] == "ok"
    assert any("Redis 不可用" in warning for warning in body["warnings"])


def test_readyz_without_redis_configured_names_none(client):
    assert "redis" not in client.get("/readyz").get_json()["checks"]


def test_wechat_token_store_falls_back_to_the_database(dead_redis_app):
    from miniprogram_api.client import DatabaseTokenStore, FailoverTokenStore, token_store
    from miniprogram_api.models import WeChatAccessToken

    with dead_redis_app.app_context():
        from backend.extensions import db

        store = token_store()
        assert isinstance(store, FailoverTokenStore) and isinstance(store.fallback, DatabaseTokenStore)
        with store.lock("wx-outage"):
            assert store.get("wx-outage") is None
            store.put("wx-outage", "token-value", 7200)
        cached = store.get("wx-outage")
        assert cached is not None and cached.value == "token-value"
        assert db.session.get(WeChatAccessToken, "wx-outage") is not None  # it went to the database
        db.session.remove()


def test_oa_nonce_is_remembered_in_the_database_while_redis_is_down(dead_redis_app):
    from miniprogram_api.oa import check_delivery

    with dead_redis_app.test_request_context():
        assert check_delivery("oa:", "1700000000", "nonce-1", "msg:1") == "new"
        assert check_delivery("oa:", "1700000000", "nonce-1", "msg:2") == "replay"  # still refused
        assert check_delivery("oa:", "1700000000", "nonce-1", "msg:1") == "duplicate"  # WeChat's retry
