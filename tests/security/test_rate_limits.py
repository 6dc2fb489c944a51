"""Rate limits on public query and verification under a burst, with several gunicorn workers
sharing Redis, behind a proxy (TRUSTED_PROXY_HOPS=1: X-Forwarded-For gives each client its own
address): an enumerating client is stopped at the limit, whichever worker answers and whichever
surface it asks (one budget per client for the public query across the JSON API, the web pages
and the mini-program; one for verification across every way of checking a report), and other
clients are not affected.

The same burst against workers that keep their counters in memory shows why Redis is needed:
each worker then counts on its own and lets far more through.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import redis
import requests

from tests.conftest import TEST_PII_KEY

ROOT = Path(__file__).resolve().parents[2]
REDIS_URL = os.environ.get("TEST_RATELIMIT_REDIS_URL", "redis://127.0.0.1:6379/12")
WORKERS = 3
PUBLIC_LIMIT = 10
VERIFY_LIMIT = 5
BURST = 40


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Gunicorn:
    def __init__(self, app, tmp_path: Path, redis_url: str) -> None:
        self.port = _free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        env = {
            **os.environ,
            "ENV": "testing",
            "DATABASE_URL": app.config["SQLALCHEMY_DATABASE_URI"],
            "SECRET_KEY": app.config["SECRET_KEY"],
            "PII_ENCRYPTION_KEYS": TEST_PII_KEY,
            "PII_HASH_KEY": app.extensions["settings"].PII_HASH_KEY,
            "PUBLIC_BASE_URL": "http://credit.test",
            "STORAGE_DIR": str(tmp_path / "storage"),
            "REDIS_URL": redis_url,
            "RATELIMIT_ENABLED": "true",
            "RATELIMIT_PUBLIC": f"{PUBLIC_LIMIT}/minute",
            "RATELIMIT_VERIFY": f"{VERIFY_LIMIT}/minute",
            "TRUSTED_PROXY_HOPS": "1",
            "GUNICORN_BIND": f"127.0.0.1:{self.port}",
            "WEB_CONCURRENCY": str(WORKERS),
            "PROMETHEUS_MULTIPROC_DIR": str(tmp_path / "prom"),
        }
        self.log_path = tmp_path / f"gunicorn-{self.port}.log"
        self.log = self.log_path.open("wb")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "-c", "deploy/gunicorn.conf.py", "backend.app:create_app()"],
            cwd=ROOT,
            env=env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        deadline = time.monotonic() + 60
        while True:
            try:
                # Generous: the first request waits for a worker to boot.
                if requests.get(f"{self.base}/healthz", timeout=30).status_code == 200:
                    break
            except (requests.ConnectionError, requests.Timeout):
                pass
            assert self.process.poll() is None, self.log_path.read_text()
            assert time.monotonic() < deadline, "gunicorn did not start"
            time.sleep(0.2)
        # Every worker booted: the burst is spread over all of them.
        time.sleep(1.0)

    def stop(self) -> None:
        os.killpg(self.process.pid, signal.SIGTERM)
        self.process.wait(timeout=30)
        self.log.close()

    def burst(self, method: str, path: str, client_ip: str, n: int, **kwargs) -> list[requests.Response]:
        """``n`` requests from ``client_ip`` as nginx would forward them, on fresh connections from
        several threads at once (so the workers share them)."""

        def one(_):
            headers = {"X-Forwarded-For": client_ip, "Connection": "close"}
            return requests.request(method, self.base + path, headers=headers, timeout=30, **kwargs)

        with ThreadPoolExecutor(max_workers=8) as pool:
            return list(pool.map(one, range(n)))

    def mixed_burst(self, requests_: list[tuple[str, str, dict]], client_ip: str, n: int) -> list[requests.Response]:
        """``n`` requests from ``client_ip`` cycling through ``(method, path, kwargs)``, at once."""

        def one(i):
            method, path, kwargs = requests_[i % len(requests_)]
            headers = {"X-Forwarded-For": client_ip, "Connection": "close"}
            return requests.request(method, self.base + path, headers=headers, timeout=30, **kwargs)

        with ThreadPoolExecutor(max_workers=8) as pool:
            return list(pool.map(one, range(n)))


@pytest.fixture
def redis_db():
    client = redis.Redis.from_url(REDIS_URL)
    try:
        client.ping()
    except redis.ConnectionError:
        pytest.fail(f"Redis is required for the rate-limit suite ({REDIS_URL})", pytrace=False)
    client.flushdb()
    yield client
    client.flushdb()


@pytest.fixture
def server(app, tmp_path, redis_db):
    started = Gunicorn(app, tmp_path, REDIS_URL)
    yield started
    started.stop()


def _statuses(responses) -> list[int]:
    return [r.status_code for r in responses]


PUBLIC_QUERY_PATHS = (
    "/api/v1/subjects?q=金昌",
    "/api/v1/subjects/91620302MA71XY3Q54",
    "/search?q=金昌",
    "/subjects/91620302MA71XY3Q54",
    "/api/mp/v1/subjects?q=金昌",
    "/api/mp/v1/subjects/91620302MA71XY3Q54",
)


def test_public_query_limit_is_one_budget_across_workers_and_surfaces_and_spares_other_clients(server):
    enumerator = server.burst("GET", "/api/v1/subjects?q=金昌", "203.0.113.7", BURST)
    statuses = _statuses(enumerator)
    assert statuses.count(200) == PUBLIC_LIMIT, statuses
    assert statuses.count(429) == BURST - PUBLIC_LIMIT, statuses
    refused = next(r for r in enumerator if r.status_code == 429)
    assert int(refused.headers["Retry-After"]) > 0
    assert refused.json()["error"]["code"] == "rate_limited"
    # The budget is spent for every public query surface: the web search page, the profiles
    # and the mini-program's query refuse the same client too.
    for path in PUBLIC_QUERY_PATHS[1:]:
        assert _statuses(server.burst("GET", path, "203.0.113.7", 2)) == [429, 429], path
    # Another citizen at the same moment is not affected ...
    others = server.burst("GET", "/api/v1/subjects?q=金川", "198.51.100.23", PUBLIC_LIMIT // 2)
    assert _statuses(others) == [200] * (PUBLIC_LIMIT // 2)
    web = server.burst("GET", "/search?q=金川", "198.51.100.23", PUBLIC_LIMIT - PUBLIC_LIMIT // 2)
    assert _statuses(web) == [200] * (PUBLIC_LIMIT - PUBLIC_LIMIT // 2)
    # ... and its own budget is shared between the surfaces as well.
    assert _statuses(server.burst("GET", "/api/mp/v1/subjects?q=金川", "198.51.100.23", 1)) == [429]
    # Spreading a burst over every surface at once, from a third address, gets the budget once.
    spread = _statuses(server.mixed_burst([("GET", path, {}) for path in PUBLIC_QUERY_PATHS], "198.51.100.77", BURST))
    assert spread.count(429) == BURST - PUBLIC_LIMIT, spread


def test_verification_limit_is_one_budget_across_workers_and_surfaces_and_spares_other_clients(server):
    body = {"json": {"qr": "http://credit.test/v/not-a-real-token"}}
    enumerator = server.burst("POST", "/api/v1/verify", "203.0.113.8", BURST, **body)
    statuses = _statuses(enumerator)
    assert statuses.count(200) == VERIFY_LIMIT, statuses
    assert statuses.count(429) == BURST - VERIFY_LIMIT, statuses
    # The scan page and the mini-program's verification are out of budget for this client too.
    assert _statuses(server.burst("GET", "/v/guessed-token-0001", "203.0.113.8", 2)) == [429, 429]
    assert _statuses(server.burst("POST", "/api/mp/v1/verify", "203.0.113.8", 2, **body)) == [429, 429]
    assert _statuses(server.burst("POST", "/api/v1/verify", "198.51.100.30", VERIFY_LIMIT, **body)) == [200] * 5
    # Guessing tokens over the scan page, the API and the mini-program at once: one budget.
    surfaces = [
        ("GET", "/v/guessed-token-0001", {}),
        ("POST", "/api/v1/verify", body),
        ("POST", "/api/mp/v1/verify", body),
    ]
    spread = _statuses(server.mixed_burst(surfaces, "203.0.113.9", BURST))
    assert spread.count(200) == VERIFY_LIMIT and spread.count(429) == BURST - VERIFY_LIMIT, spread


def test_without_redis_each_worker_counts_alone(app, tmp_path, redis_db):
    """The control: in-memory counters under several workers let the burst through."""
    server = Gunicorn(app, tmp_path, "")
    try:
        statuses = _statuses(server.burst("GET", "/api/v1/subjects?q=金昌", "203.0.113.7", BURST))
    finally:
        server.stop()
    assert statuses.count(200) > PUBLIC_LIMIT, statuses
    assert redis_db.dbsize() == 0
