"""X-Forwarded-* headers are believed only on connections from TRUSTED_PROXIES: a host that reaches
gunicorn directly (a remote Prometheus scrape on web1.internal:8000, a neighbour on the same
network) is taken at its own address whatever it claims, for /metrics and for the rate limits."""

from __future__ import annotations

import pytest

from backend.app import create_app
from backend.config import ConfigError, load_settings
from backend.extensions import db
from tests.conftest import TEST_PII_KEY, sibling_config

NGINX = {"REMOTE_ADDR": "127.0.0.1"}
NEIGHBOUR = {"REMOTE_ADDR": "10.0.0.5"}


@pytest.fixture
def make_client(app):
    """Apps behind one proxy hop, with the given settings (conftest restores the shared limiter)."""
    apps = []

    def make(**overrides):
        built = create_app(sibling_config(app, TRUSTED_PROXY_HOPS=1, **overrides))
        apps.append(built)
        return built.test_client()

    yield make
    for built in apps:
        with built.app_context():
            db.session.remove()
            db.engine.dispose()


def test_a_direct_peer_cannot_claim_loopback_for_metrics(make_client):
    client = make_client()
    claim = {"X-Forwarded-For": "127.0.0.1"}
    assert client.get("/metrics", environ_base=NEIGHBOUR, headers=claim).status_code == 404
    assert (
        client.get("/metrics", environ_base=NEIGHBOUR, headers={**claim, "X-Forwarded-Proto": "https"}).status_code
        == 404
    )
    # Through nginx (a trusted proxy) the forwarded address counts, both ways.
    assert client.get("/metrics", environ_base=NGINX, headers=claim).status_code == 200
    assert client.get("/metrics", environ_base=NGINX, headers={"X-Forwarded-For": "10.0.0.5"}).status_code == 404


def test_the_rate_limit_bucket_is_the_real_peer_not_the_claimed_one(make_client):
    """Before: each forged X-Forwarded-For was a fresh bucket, so the limit never bit."""
    client = make_client(RATELIMIT_ENABLED=True, RATELIMIT_PUBLIC="2/minute")
    statuses = [
        client.get(
            "/api/v1/subjects?q=金川", environ_base=NEIGHBOUR, headers={"X-Forwarded-For": f"198.51.100.{i}"}
        ).status_code
        for i in range(1, 5)
    ]
    assert statuses == [200, 200, 429, 429]
    # nginx's requests are keyed by the client it forwards: another client has its own budget.
    forwarded = {"X-Forwarded-For": "203.0.113.8"}
    assert client.get("/api/v1/subjects?q=金川", environ_base=NGINX, headers=forwarded).status_code == 200


def test_a_configured_proxy_network_is_trusted(make_client):
    client = make_client(TRUSTED_PROXIES=("10.0.0.0/24",))
    assert client.get("/metrics", environ_base=NEIGHBOUR, headers={"X-Forwarded-For": "127.0.0.1"}).status_code == 200
    # Loopback is no longer a proxy once the setting names only the load balancers.
    assert client.get("/metrics", environ_base=NGINX, headers={"X-Forwarded-For": "10.0.0.9"}).status_code == 200
    assert (
        client.get(
            "/metrics", environ_base={"REMOTE_ADDR": "10.0.1.5"}, headers={"X-Forwarded-For": "127.0.0.1"}
        ).status_code
        == 404
    )


def test_trusted_proxies_must_be_networks(tmp_path):
    with pytest.raises(ConfigError, match="TRUSTED_PROXIES"):
        load_settings(
            tmp_path, {"ENV": "testing", "PII_ENCRYPTION_KEYS": TEST_PII_KEY, "TRUSTED_PROXIES": ("lb.internal",)}
        )
    settings = load_settings(tmp_path, environ={"ENV": "testing", "TRUSTED_PROXIES": "10.0.0.0/24, 192.0.2.1"})
    assert settings.TRUSTED_PROXIES == ("10.0.0.0/24", "192.0.2.1")
