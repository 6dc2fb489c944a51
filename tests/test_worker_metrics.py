"""Liveness series that an alert can use: each jobs worker's last finished pass
(``credit_worker_last_loop_timestamp_seconds``, from ``worker_heartbeat``) and the kiosks that
stopped sending heartbeats (``credit_kiosks_offline``), both read from the database at scrape
time so any web process answers them."""

from __future__ import annotations

import datetime as dt
import os
import signal

from backend.extensions import db
from backend.jobs import heartbeat
from backend.outbox.models import WorkerHeartbeat
from backend.outbox.worker import forget_worker
from backend.types import utcnow
from tests.test_metrics import _scrape, _value

LAST_LOOP = "credit_worker_last_loop_timestamp_seconds"


def test_each_worker_reports_its_last_pass_and_a_clean_stop_removes_it(client):
    started = utcnow() - dt.timedelta(hours=1)
    heartbeat("web1-1", started)
    heartbeat("web2-1", started)
    db.session.get(WorkerHeartbeat, "web2-1").last_loop_at = utcnow() - dt.timedelta(minutes=10)
    db.session.commit()
    samples = _scrape(client)
    now = utcnow().replace(tzinfo=dt.UTC).timestamp()
    assert 0 <= now - _value(samples, LAST_LOOP, worker="web1-1") < 60
    assert 590 <= now - _value(samples, LAST_LOOP, worker="web2-1") < 700  # the alert's case

    heartbeat("web1-1", started)  # the next pass updates the same row
    assert db.session.query(WorkerHeartbeat).count() == 2
    forget_worker("web2-1")  # stopped on purpose (SIGTERM): no stale series to alert on
    samples = _scrape(client)
    assert (LAST_LOOP, (("worker", "web2-1"),)) not in samples
    assert _value(samples, LAST_LOOP, worker="web1-1") > 0


def test_kiosks_that_stop_sending_heartbeats_are_counted_offline(client):
    from kiosk.models import KioskDevice

    now = utcnow()
    beats = {"K1": now, "K2": now - dt.timedelta(minutes=10), "K3": now - dt.timedelta(hours=5), "K4": None}
    for code, beat in beats.items():
        db.session.add(
            KioskDevice(
                code=code,
                hall="市政务服务大厅",
                location=code,
                credential_hash=code.ljust(64, "0"),
                last_heartbeat_at=beat,
            )
        )
    db.session.add(
        KioskDevice(
            code="K5",
            hall="h",
            location="l",
            credential_hash="5" * 64,
            last_heartbeat_at=now - dt.timedelta(hours=1),
            enabled=False,
        )
    )
    db.session.commit()
    # K2 and K3 stopped (older than KIOSK_OFFLINE_AFTER_SECONDS = 120 s); K4 never connected, K5 is disabled.
    assert _value(_scrape(client), "credit_kiosks_offline") == 2


def test_the_worker_loop_records_each_pass_and_forgets_itself_when_stopped(runner, monkeypatch):
    from backend import jobs

    rows_seen = []
    real = jobs.heartbeat

    def beat_then_stop(name, started):
        real(name, started)
        db.session.remove()
        rows_seen.append(db.session.get(WorkerHeartbeat, name) is not None)
        os.kill(os.getpid(), signal.SIGTERM)  # what systemd sends; the loop's handler sets its flag

    monkeypatch.setattr(jobs, "heartbeat", beat_then_stop)
    previous = signal.getsignal(signal.SIGTERM)
    try:
        result = runner.invoke(args=["credit", "jobs", "--interval", "1", "--name", "w-test"])
    finally:
        signal.signal(signal.SIGTERM, previous)
    assert result.exit_code == 0, result.output
    assert "jobs worker w-test started" in result.output and "jobs worker stopped" in result.output
    assert rows_seen == [True]
    db.session.remove()
    assert db.session.get(WorkerHeartbeat, "w-test") is None
