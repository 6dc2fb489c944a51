"""/metrics: what it measures, and that only allowed networks or the bearer token can read it."""

from __future__ import annotations

import datetime as dt
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from backend.app import create_app
from backend.extensions import db
from backend.outbox.models import OutboxEvent, OutboxStatus
from backend.outbox.operations import enqueue_event
from backend.types import utcnow
from tests.conftest import TEST_PII_KEY

ROOT = Path(__file__).resolve().parent.parent
TOKEN = "metrics-token-" + "k" * 24
LOOPBACK = {"REMOTE_ADDR": "127.0.0.1"}
OUTSIDE = {"REMOTE_ADDR": "203.0.113.7"}


def _samples(text: str) -> dict[tuple[str, tuple], float]:
    out = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            out[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return out


def _value(samples, name: str, **labels) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


def _scrape(client, **environ) -> dict:
    response = client.get("/metrics", environ_base=environ or LOOPBACK)
    assert response.status_code == 200, response.data
    assert response.content_type.startswith("text/plain")
    return _samples(response.get_data(as_text=True))


def test_request_latency_is_counted_by_endpoint_and_status(client):
    before = _scrape(client)
    for _ in range(3):
        assert client.get("/healthz").status_code == 200
    assert client.get("/no/such/page").status_code == 404
    after = _scrape(client)
    key = "credit_http_request_duration_seconds_count"
    assert _value(after, key, endpoint="health.healthz", method="GET", status="200") - _value(
        before, key, endpoint="health.healthz", method="GET", status="200"
    ) == pytest.approx(3)
    # A bucket of the histogram: all three health checks took well under 10 s.
    assert _value(after, key, endpoint="none", method="GET", status="404") >= 1
    bucket = "credit_http_request_duration_seconds_bucket"
    assert _value(after, bucket, endpoint="health.healthz", method="GET", status="200", le="10.0") >= 3
    # Scrapes themselves are not counted (they would dominate a quiet system).
    assert not [k for k in after if dict(k[1]).get("endpoint") == "metrics.metrics"]


def test_outbox_depth_and_lag(client):
    old = enqueue_event("case.deadline_reminder", {"n": 1})
    enqueue_event("case.deadline_reminder", {"n": 2})
    failed = enqueue_event("case.deadline_reminder", {"n": 3})
    db.session.flush()
    old.created_at = utcnow() - dt.timedelta(minutes=10)
    failed.status = OutboxStatus.FAILED
    later = enqueue_event("case.deadline_reminder", {"n": 4})
    later.available_at = utcnow() + dt.timedelta(hours=1)  # backing off: pending, not due
    db.session.commit()
    samples = _scrape(client)
    assert _value(samples, "credit_outbox_events", status="pending") == 3
    assert _value(samples, "credit_outbox_events", status="failed") == 1
    assert _value(samples, "credit_outbox_due_events") == 2
    assert 590 <= _value(samples, "credit_outbox_oldest_pending_age_seconds") <= 900
    assert _value(samples, "credit_metrics_database_up") == 1

    db.session.query(OutboxEvent).update({"status": OutboxStatus.DELIVERED, "delivered_at": utcnow()})
    db.session.commit()
    samples = _scrape(client)
    assert _value(samples, "credit_outbox_events", status="pending") == 0
    assert _value(samples, "credit_outbox_oldest_pending_age_seconds") == 0


def test_kiosk_printer_faults(client):
    from kiosk import models as kiosk

    device_cls, state = kiosk.KioskDevice, kiosk.PrinterState
    for n, printer in enumerate([state.JAMMED, state.JAMMED, state.PAPER_OUT, state.READY]):
        db.session.add(
            device_cls(
                code=f"K{n}",
                hall="市政务服务大厅",
                location=f"{n}号机",
                credential_hash=f"{n:064x}",
                printer_state=printer,
            )
        )
    db.session.add(
        device_cls(
            code="K9", hall="h", location="l", credential_hash="f" * 64, printer_state=state.OFFLINE, enabled=False
        )
    )
    db.session.commit()
    samples = _scrape(client)
    assert _value(samples, "credit_kiosk_printer_faults", state="jammed") == 2
    assert _value(samples, "credit_kiosk_printer_faults", state="paper_out") == 1
    assert _value(samples, "credit_kiosk_printer_faults", state="offline") == 0  # disabled devices do not page


def test_rate_limit_hits_are_counted(app):
    """A second app with rate limiting on (the shared limiter's switches are restored after)."""
    from backend.extensions import limiter

    saved = (limiter.enabled, limiter.initialized)
    limited = create_app(
        {
            "ENV": "testing",
            "DATABASE_URL": app.config["SQLALCHEMY_DATABASE_URI"],
            "SECRET_KEY": app.config["SECRET_KEY"],
            "PII_ENCRYPTION_KEYS": TEST_PII_KEY,
            "PII_HASH_KEY": "test-hash-key",
            "RATELIMIT_ENABLED": True,
            "RATELIMIT_PUBLIC": "2/minute",
        }
    )
    client = limited.test_client()
    try:
        with limited.app_context():
            endpoint = "public_api.search_subjects"
            before = _value(_scrape(client), "credit_ratelimit_hits_total", endpoint=endpoint)
            statuses = [
                client.get("/api/v1/subjects?q=金川", environ_base={"REMOTE_ADDR": "198.51.100.9"}).status_code
                for _ in range(4)
            ]
            assert statuses == [200, 200, 429, 429]
            after = _value(_scrape(client), "credit_ratelimit_hits_total", endpoint=endpoint)
            assert after - before == 2
            refused = _value(
                _scrape(client),
                "credit_http_request_duration_seconds_count",
                endpoint=endpoint,
                method="GET",
                status="429",
            )
            assert refused >= 2  # refused requests are timed too (the timer runs before the limiter)
    finally:
        limiter.reset()
        limiter.enabled, limiter.initialized = saved
        with limited.app_context():
            db.session.remove()
            db.engine.dispose()


def test_metrics_are_hidden_from_other_networks(client):
    response = client.get("/metrics", environ_base=OUTSIDE)
    assert response.status_code == 404
    assert b"credit_" not in response.data


def test_bearer_token_opens_metrics_from_anywhere_and_a_wrong_one_does_not(app, client, monkeypatch):
    monkeypatch.setattr(app.extensions["settings"], "METRICS_TOKEN", TOKEN)
    ok = client.get("/metrics", environ_base=OUTSIDE, headers={"Authorization": f"Bearer {TOKEN}"})
    assert ok.status_code == 200
    assert b"credit_outbox_events" in ok.data
    for header in (f"Bearer {TOKEN}x", "Bearer ", TOKEN, f"Basic {TOKEN}"):
        assert client.get("/metrics", environ_base=OUTSIDE, headers={"Authorization": header}).status_code == 404


def test_allowed_networks_setting(app, client, monkeypatch):
    monkeypatch.setattr(app.extensions["settings"], "METRICS_ALLOWED_NETWORKS", ("10.20.0.0/16",))
    assert client.get("/metrics", environ_base={"REMOTE_ADDR": "10.20.3.4"}).status_code == 200
    assert client.get("/metrics", environ_base=LOOPBACK).status_code == 404


@pytest.fixture
def proxied_client(tmp_path):
    """Apps with TRUSTED_PROXY_HOPS set; the shared limiter's switches are restored after."""
    from backend.extensions import limiter

    saved = (limiter.enabled, limiter.initialized)
    apps = []

    def make(hops: int):
        app = create_app(
            {
                "ENV": "testing",
                "DATABASE_URL": "sqlite:///" + str(tmp_path / "proxy.db"),
                "SECRET_KEY": "s" * 40,
                "PII_ENCRYPTION_KEYS": TEST_PII_KEY,
                "PII_HASH_KEY": "h",
                "RATELIMIT_ENABLED": False,
                "TRUSTED_PROXY_HOPS": hops,
            }
        )
        apps.append(app)
        return app.test_client()

    yield make
    limiter.enabled, limiter.initialized = saved
    for app in apps:
        with app.app_context():
            db.engine.dispose()


def test_behind_nginx_the_client_address_comes_from_x_forwarded_for(proxied_client):
    """nginx on the same box connects from 127.0.0.1: without TRUSTED_PROXY_HOPS every outside
    client would look like loopback and be let into /metrics."""
    spoofed = {"X-Forwarded-For": "203.0.113.7"}
    trusting = proxied_client(1)
    assert trusting.get("/metrics", environ_base=LOOPBACK, headers=spoofed).status_code == 404
    assert trusting.get("/metrics", environ_base=LOOPBACK).status_code == 200
    # A client cannot forge its way in by prepending loopback: only the last hop is trusted.
    forged = {"X-Forwarded-For": "127.0.0.1, 203.0.113.7"}
    assert trusting.get("/metrics", environ_base=LOOPBACK, headers=forged).status_code == 404
    # And without a proxy configured, the header is ignored entirely.
    direct = proxied_client(0)
    assert direct.get("/metrics", environ_base=OUTSIDE, headers={"X-Forwarded-For": "127.0.0.1"}).status_code == 404


def test_config_refuses_bad_metrics_settings(tmp_path):
    from backend.config import ConfigError, load_settings

    base = {"ENV": "testing", "PII_ENCRYPTION_KEYS": TEST_PII_KEY}
    with pytest.raises(ConfigError, match="METRICS_ALLOWED_NETWORKS"):
        load_settings(tmp_path, {**base, "METRICS_ALLOWED_NETWORKS": ("10.0.0.0/33",)}, environ={})
    with pytest.raises(ConfigError, match="METRICS_TOKEN"):
        load_settings(tmp_path, {**base, "METRICS_TOKEN": "short"}, environ={})
    settings = load_settings(tmp_path, base, environ={"METRICS_ALLOWED_NETWORKS": "10.0.0.0/8, 192.168.1.5"})
    assert settings.METRICS_ALLOWED_NETWORKS == ("10.0.0.0/8", "192.168.1.5")


# --- gunicorn with several workers: the multiprocess mode of the guide --------------------------


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _get(url: str) -> tuple[int, str]:
    try:
        # Generous: when processes retire together, a request waits for a new one to boot.
        with urllib.request.urlopen(url, timeout=60) as response:  # noqa: S310 - loopback test server
            return response.status, response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, ""


def test_gunicorn_workers_add_up_in_multiprocess_mode(tmp_path):
    """gunicorn with deploy/gunicorn.conf.py: /metrics, answered by whichever process, reports
    every request, including those served by processes that have exited since."""
    port = _free_port()
    multiproc = tmp_path / "prom"
    multiproc.mkdir()
    (multiproc / "stale_counter_999.db").write_bytes(b"left over from the last run")
    env = {
        **os.environ,
        "ENV": "testing",
        "DATABASE_URL": "sqlite:///" + str(tmp_path / "gunicorn.db"),
        "SECRET_KEY": "s" * 40,
        "PII_ENCRYPTION_KEYS": TEST_PII_KEY,
        "PII_HASH_KEY": "h",
        "PROMETHEUS_MULTIPROC_DIR": str(multiproc),
        "GUNICORN_BIND": f"127.0.0.1:{port}",
        "WEB_CONCURRENCY": "2",
        # Each process retires after ~10 requests, so 40 requests are served by several
        # processes, some already gone when /metrics is read.
        "GUNICORN_MAX_REQUESTS": "10",
    }
    log_path = tmp_path / "gunicorn.log"
    log_file = log_path.open("wb")
    server = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "-c", "deploy/gunicorn.conf.py", "backend.app:create_app()"],
        cwd=ROOT,
        env=env,
        stdout=log_file,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if _get(f"http://127.0.0.1:{port}/healthz")[0] == 200:
                    break
            except OSError:
                pass
            assert time.monotonic() < deadline, "gunicorn did not start"
            assert server.poll() is None, log_path.read_text()
            time.sleep(0.2)
        assert not (multiproc / "stale_counter_999.db").exists()  # cleared at start
        for _ in range(39):
            assert _get(f"http://127.0.0.1:{port}/healthz")[0] == 200
        pids = {p.stem.split("_")[-1] for p in multiproc.glob("histogram_*.db")}
        assert len(pids) >= 3, pids
        for _ in range(3):  # whichever worker answers, the total is the same
            status, text = _get(f"http://127.0.0.1:{port}/metrics")
            assert status == 200, log_path.read_text()[-4000:]  # a rare 500 under load: its traceback
            count = _value(
                _samples(text),
                "credit_http_request_duration_seconds_count",
                endpoint="health.healthz",
                method="GET",
                status="200",
            )
            assert count == 40
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)
        log_file.close()
    log = log_path.read_text()
    assert "Shutting down" in log
    assert "Control socket" not in log


def test_metrics_stay_out_of_the_openapi_document(client):
    response = client.get("/openapi.json")
    assert response.status_code == 200
    assert "/metrics" not in response.get_json()["paths"]
