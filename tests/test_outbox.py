"""The transactional outbox: queued with the caller's transaction, delivered at least once, and
effectively once with idempotent handlers, even when a worker is killed mid-delivery."""

from __future__ import annotations

import datetime as dt
import functools
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import sqlalchemy as sa

from backend.extensions import db
from backend.outbox.models import OutboxEvent, OutboxStatus
from backend.outbox.operations import enqueue_event
from backend.outbox.topics import TOPICS, Topic
from backend.outbox.worker import deliver_pending
from backend.types import utcnow
from tests.conftest import TEST_PII_KEY

ROOT = Path(__file__).resolve().parent.parent
TOPIC = "notify.test"


@pytest.fixture(autouse=True)
def _test_topics(monkeypatch):
    """The test's own topics join the registry (enqueue_event refuses any other) for the test."""
    for name in (TOPIC, "wechat.template"):
        monkeypatch.setitem(TOPICS, name, Topic(name, "a test event", "the test's own handler"))


def idempotent_send(sink: str, delivery) -> None:
    """A fake channel that honours the idempotency key, as the real ones must (WeChat
    client_msg_id and the like): a second call with the same key sends nothing."""
    with open(os.path.join(sink, "calls.log"), "a") as log:
        log.write(f"{delivery.id}\n")
    try:
        fd = os.open(os.path.join(sink, delivery.idempotency_key), os.O_CREAT | os.O_EXCL | os.O_WRONLY)
    except FileExistsError:
        return
    os.write(fd, json.dumps(delivery.payload).encode())
    os.close(fd)
    with open(os.path.join(sink, "sent.log"), "a") as log:
        log.write(f"{delivery.id}\n")


CHILD = """
import json, os, sys, time
sys.path.insert(0, os.environ["REPO"])
from backend.app import create_app
from backend.outbox.worker import deliver_pending
from tests.test_outbox import TOPIC, idempotent_send

sink, kill_id = os.environ["SINK"], int(os.environ["KILL_ID"])

def handler(delivery):
    idempotent_send(sink, delivery)
    if delivery.id == kill_id:  # sent, but not yet marked: the window the contract is about
        open(os.path.join(sink, "ready"), "w").close()
        time.sleep(120)

app = create_app(json.loads(os.environ["CHILD_CONFIG"]))
with app.app_context():
    deliver_pending({TOPIC: handler}, limit=100, worker_id="doomed", lease_seconds=30)
"""


def _lines(path: Path) -> list[int]:
    return [int(x) for x in path.read_text().split()] if path.exists() else []


def _rows():
    db.session.expire_all()
    return {e.id: e for e in db.session.scalars(sa.select(OutboxEvent).order_by(OutboxEvent.id))}


def test_killed_worker_loses_nothing_and_sends_nothing_twice(app, tmp_path, clock):
    ids = [enqueue_event(TOPIC, {"n": n}).id for n in range(5)]
    db.session.commit()
    kill_id = ids[2]
    sink = tmp_path / "sink"
    sink.mkdir()
    config = {
        "ENV": "testing",
        "DATABASE_URL": app.config["SQLALCHEMY_DATABASE_URI"],
        "SECRET_KEY": "test-secret-key-" + "x" * 32,
        "PII_ENCRYPTION_KEYS": TEST_PII_KEY,
        "PII_HASH_KEY": "test-hash-key",
        "RATELIMIT_ENABLED": False,
    }
    env = dict(os.environ, REPO=str(ROOT), SINK=str(sink), KILL_ID=str(kill_id), CHILD_CONFIG=json.dumps(config))
    child = subprocess.Popen([sys.executable, "-c", CHILD], env=env, cwd=ROOT)
    try:
        deadline = time.monotonic() + 60
        while not (sink / "ready").exists():
            assert child.poll() is None, "worker exited before reaching the kill point"
            assert time.monotonic() < deadline, "worker did not reach the kill point"
            time.sleep(0.05)
        os.kill(child.pid, signal.SIGKILL)
    finally:
        child.wait(timeout=30)
    assert child.returncode == -signal.SIGKILL

    rows = _rows()
    assert [rows[i].status for i in ids] == [
        OutboxStatus.DELIVERED, OutboxStatus.DELIVERED, OutboxStatus.PENDING, OutboxStatus.PENDING,
        OutboxStatus.PENDING,
    ]  # fmt: skip
    assert (rows[kill_id].claimed_by, rows[kill_id].attempts) == ("doomed", 1)
    assert _lines(sink / "sent.log") == ids[:3]

    # The child took its lease on the real clock, after this test's clock was fixed.
    clock.set(dt.datetime.now(dt.UTC).replace(tzinfo=None))
    send = functools.partial(idempotent_send, str(sink))
    # While the dead worker's lease runs, its event is left alone; the rest goes out.
    first = deliver_pending({TOPIC: send}, worker_id="rescuer")
    assert first.delivered == ids[3:]
    # Once the lease has lapsed, the event is delivered again: the channel sees the same key.
    later = deliver_pending({TOPIC: send}, worker_id="rescuer", now=utcnow() + dt.timedelta(seconds=31))
    assert later.delivered == [kill_id]

    rows = _rows()
    assert all(rows[i].status is OutboxStatus.DELIVERED for i in ids)
    assert rows[kill_id].attempts == 2
    assert sorted(_lines(sink / "sent.log")) == ids  # every event sent, none twice
    calls = _lines(sink / "calls.log")
    assert calls.count(kill_id) == 2  # at-least-once underneath, made effectively-once by the key
    assert all(calls.count(i) == 1 for i in ids if i != kill_id)


def test_an_event_exists_only_if_the_caller_commits(app):
    enqueue_event(TOPIC, {"n": 1})
    db.session.rollback()
    assert _rows() == {}
    event = enqueue_event(TOPIC, {"day": dt.date(2026, 10, 8)}, dedupe_key="k1")
    again = enqueue_event(TOPIC, {"day": "other"}, dedupe_key="k1")
    db.session.commit()
    assert again.id == event.id
    assert event.payload == {"day": "2026-10-08"}
    assert len(_rows()) == 1


def test_failures_back_off_then_give_up_visibly(app):
    event_id = enqueue_event(TOPIC, {"n": 1}).id
    db.session.commit()

    def broken(delivery):
        raise RuntimeError("channel down")

    start = utcnow()
    report = deliver_pending({TOPIC: broken}, now=start, max_attempts=3, backoff_base_seconds=10)
    assert report.retrying == [event_id]
    row = _rows()[event_id]
    assert (row.status, row.attempts, row.last_error) == (OutboxStatus.PENDING, 1, "RuntimeError: channel down")
    assert row.available_at == start + dt.timedelta(seconds=10)
    assert row.claimed_by is None
    # Not due yet: nothing is attempted.
    assert deliver_pending({TOPIC: broken}, now=start + dt.timedelta(seconds=5)).count == 0
    deliver_pending({TOPIC: broken}, now=start + dt.timedelta(seconds=11), max_attempts=3, backoff_base_seconds=10)
    assert _rows()[event_id].available_at == start + dt.timedelta(seconds=31)  # 11 + 20: doubled
    final = deliver_pending({TOPIC: broken}, now=start + dt.timedelta(seconds=40), max_attempts=3)
    assert final.failed == [event_id]
    assert _rows()[event_id].status is OutboxStatus.FAILED
    assert deliver_pending({TOPIC: broken}, now=start + dt.timedelta(days=1)).count == 0


def test_topics_without_a_handler_wait(app):
    enqueue_event("wechat.template", {"n": 1})
    db.session.commit()
    assert deliver_pending({TOPIC: lambda d: None}).count == 0
    assert deliver_pending({}).count == 0
    assert next(iter(_rows().values())).status is OutboxStatus.PENDING


def test_postgres_skips_rows_locked_by_another_worker(app):
    if db.engine.dialect.name != "postgresql":
        pytest.skip("FOR UPDATE SKIP LOCKED is PostgreSQL behaviour")
    first = enqueue_event(TOPIC, {"n": 1}).id
    second = enqueue_event(TOPIC, {"n": 2}).id
    db.session.commit()
    seen = []
    with db.engine.connect() as other:  # another worker, mid-claim on the first row
        other.execute(sa.select(OutboxEvent.id).where(OutboxEvent.id == first).with_for_update())
        report = deliver_pending({TOPIC: seen.append})
        other.rollback()
    assert report.delivered == [second]
    assert [d.id for d in seen] == [second]
