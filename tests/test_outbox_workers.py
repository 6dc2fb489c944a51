"""Scaled out: several worker processes drain one outbox together. Each event is delivered by
exactly one of them, and the work is shared (FOR UPDATE SKIP LOCKED on PostgreSQL; the lease
compare-and-set on SQLite)."""

from __future__ import annotations

import json
import os
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
from tests.conftest import TEST_PII_KEY

ROOT = Path(__file__).resolve().parent.parent
TOPIC = "notify.scale"
WORKERS = 4
EVENTS = 120


@pytest.fixture(autouse=True)
def _test_topic(monkeypatch):
    monkeypatch.setitem(TOPICS, TOPIC, Topic(TOPIC, "a test event", "the worker processes of the test"))


CHILD = """
import json, os, sys, time
sys.path.insert(0, os.environ["REPO"])
from backend.app import create_app
from backend.outbox.worker import deliver_pending

sink, name = os.environ["SINK"], os.environ["WORKER"]

def handler(delivery):
    with open(os.path.join(sink, name), "a") as out:
        out.write(f"{delivery.id}\\n")
    time.sleep(0.01)  # a channel call: long enough for the others to claim meanwhile

app = create_app(json.loads(os.environ["CHILD_CONFIG"]))
with app.app_context():
    open(os.path.join(sink, name + ".ready"), "w").close()
    while not os.path.exists(os.path.join(sink, "go")):
        time.sleep(0.01)
    while deliver_pending({"notify.scale": handler}, limit=10, worker_id=name).count:
        pass
"""


def test_concurrent_workers_deliver_each_event_exactly_once(app, tmp_path):
    ids = [enqueue_event(TOPIC, {"n": n}).id for n in range(EVENTS)]
    db.session.commit()
    config = {
        "ENV": "testing",
        "DATABASE_URL": app.config["SQLALCHEMY_DATABASE_URI"],
        "SECRET_KEY": app.config["SECRET_KEY"],
        "PII_ENCRYPTION_KEYS": TEST_PII_KEY,
        "PII_HASH_KEY": "test-hash-key",
        "RATELIMIT_ENABLED": False,
    }
    env = {**os.environ, "REPO": str(ROOT), "SINK": str(tmp_path), "CHILD_CONFIG": json.dumps(config)}
    children = [
        subprocess.Popen([sys.executable, "-c", CHILD], env={**env, "WORKER": f"w{n}"}, cwd=ROOT)
        for n in range(WORKERS)
    ]
    deadline = time.monotonic() + 60
    while len(list(tmp_path.glob("*.ready"))) < WORKERS:  # all connected, then start together
        assert time.monotonic() < deadline, "workers did not start"
        assert all(c.poll() is None for c in children)
        time.sleep(0.05)
    (tmp_path / "go").touch()
    for child in children:
        assert child.wait(timeout=120) == 0

    by_worker = {f"w{n}": [int(x) for x in (tmp_path / f"w{n}").read_text().split()] for n in range(WORKERS)}
    delivered = [event_id for worker_ids in by_worker.values() for event_id in worker_ids]
    assert sorted(delivered) == ids  # every event once: none lost, none twice
    assert all(by_worker.values()), {w: len(v) for w, v in by_worker.items()}  # the work was shared
    db.session.expire_all()
    statuses = db.session.scalars(sa.select(OutboxEvent.status).where(OutboxEvent.topic == TOPIC)).all()
    assert statuses == [OutboxStatus.DELIVERED] * EVENTS
