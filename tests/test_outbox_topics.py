"""Every outbox topic has a handler, so the lag alert (oldest pending event) can clear: a topic
without one is refused when it is queued, every ``enqueue_event`` call in the code names a
registered topic, and delivered rows are purged after OUTBOX_RETENTION_DAYS."""

from __future__ import annotations

import ast
import datetime as dt
import importlib
from pathlib import Path

import pytest
import sqlalchemy as sa

from backend.extensions import db
from backend.jobs import run_jobs_once, worker_handlers
from backend.outbox.models import OutboxEvent, OutboxStatus
from backend.outbox.operations import enqueue_event
from backend.outbox.topics import CASE_TYPES, TOPICS, UnknownTopic, acknowledge
from backend.outbox.worker import deliver_pending, purge_delivered
from backend.types import utcnow

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("backend", "miniprogram_api", "kiosk", "reports")


def test_queueing_a_topic_without_a_handler_is_refused(app):
    with pytest.raises(UnknownTopic, match=r"objection\.fyle"):
        enqueue_event("objection.fyle", {"case_id": 1})
    assert db.session.scalar(sa.select(sa.func.count()).select_from(OutboxEvent)) == 0


def test_every_registered_topic_has_a_handler_in_the_worker(app):
    handlers = worker_handlers()
    missing = sorted(set(TOPICS) - set(handlers))
    assert missing == []
    # The no-ops are the ones the registry says are, and nothing else is silently dropped.
    assert sorted(t for t, h in handlers.items() if h is acknowledge) == sorted(
        name for name, topic in TOPICS.items() if topic.no_op
    )


def _module_name(path: Path) -> str:
    return ".".join(path.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")


def _produced_topics() -> tuple[set[str], list[str]]:
    """The topics the code queues: constant and named first arguments of ``enqueue_event``, named
    ``"topic"`` values of rows inserted directly, and
    the case topics of ``notify_transition(case, "<action>")`` and ``Step(..., "<action>", ...)``
    (the workflows build those as ``f"{case.CASE_TYPE}.{action}"``)."""
    found: set[str] = set()
    unresolved: list[str] = []
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            if "migrations" in path.parts:
                continue
            tree = ast.parse(path.read_text(encoding="utf-8"))
            for node in ast.walk(tree):
                if isinstance(node, ast.Dict):
                    # An outbox row written as a table insert (backend/citizens/suspension.py, which the
                    # migration runs too): {"topic": CONSTANT, ...}.
                    for key, value in zip(node.keys, node.values, strict=True):
                        if isinstance(key, ast.Constant) and key.value == "topic" and isinstance(value, ast.Name):
                            found.add(getattr(importlib.import_module(_module_name(path)), value.id))
                    continue
                if not isinstance(node, ast.Call) or not node.args:
                    continue
                name = getattr(node.func, "id", None) or getattr(node.func, "attr", None)
                where = f"{path.relative_to(ROOT)}:{node.lineno}"
                if name == "enqueue_event":
                    arg = node.args[0]
                    if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
                        found.add(arg.value)
                    elif isinstance(arg, ast.Name):
                        found.add(getattr(importlib.import_module(_module_name(path)), arg.id))
                    elif path.name == "steps.py" and "workflows" in path.parts:
                        continue  # notify_transition's f-string: its actions are collected below
                    else:
                        unresolved.append(where)
                elif name in {"notify_transition", "Step"}:
                    position = 1 if name == "notify_transition" else 2
                    if len(node.args) > position:
                        arg = node.args[position]
                        if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
                            found.update(f"{case_type}.{arg.value}" for case_type in CASE_TYPES)
                        elif not isinstance(arg, ast.Attribute):  # self.action inside Step itself
                            unresolved.append(where)
    return found, unresolved


def test_every_topic_the_code_queues_is_registered(app):
    produced, unresolved = _produced_topics()
    assert unresolved == [], "an enqueue_event call whose topic the scan cannot read: name it with a constant"
    assert sorted(produced - set(TOPICS)) == []
    # The scan is not vacuous: it finds the topics the brief named (no handler before this change).
    assert {"objection.file", "case.deadline_reminder", "report.revoked", "case.overdue_escalated"} <= produced
    # And the registry lists nothing that nothing queues (a stale entry hides a renamed topic).
    assert sorted(set(TOPICS) - produced) == []


def test_no_op_topics_are_delivered_and_the_lag_clears(app):
    for name, topic in sorted(TOPICS.items()):
        if topic.no_op:
            enqueue_event(name, {"case_type": "objection", "case_id": 1})
    db.session.commit()
    report = deliver_pending(worker_handlers())
    assert len(report.delivered) == sum(t.no_op for t in TOPICS.values()) and not report.retrying
    pending = db.session.scalar(
        sa.select(sa.func.count()).where(OutboxEvent.status == OutboxStatus.PENDING).select_from(OutboxEvent)
    )
    assert pending == 0


def _event(topic: str, status: OutboxStatus, delivered_days_ago: float | None) -> int:
    now = utcnow()
    event = OutboxEvent(
        topic=topic,
        payload={},
        status=status,
        delivered_at=now - dt.timedelta(days=delivered_days_ago) if delivered_days_ago is not None else None,
        created_at=now - dt.timedelta(days=(delivered_days_ago or 0) + 1),
    )
    db.session.add(event)
    db.session.flush()
    return event.id


def test_delivered_events_are_purged_after_the_retention(app):
    old = [_event("case.deadline_reminder", OutboxStatus.DELIVERED, 31) for _ in range(5)]
    recent = _event("case.deadline_reminder", OutboxStatus.DELIVERED, 29)
    failed = _event("record.changed", OutboxStatus.FAILED, None)
    pending = _event("report.revoked", OutboxStatus.PENDING, None)
    db.session.commit()
    assert app.extensions["settings"].OUTBOX_RETENTION_DAYS == 30
    # In batches smaller than the backlog: every old row goes, in several short transactions.
    assert purge_delivered(utcnow() - dt.timedelta(days=30), batch_size=2) == len(old)
    db.session.remove()
    left = set(db.session.scalars(sa.select(OutboxEvent.id)))
    assert left == {recent, failed, pending}


def test_the_jobs_pass_purges_with_the_configured_retention(app, monkeypatch):
    monkeypatch.setattr(app.extensions["settings"], "OUTBOX_RETENTION_DAYS", 10)
    old = _event("case.deadline_reminder", OutboxStatus.DELIVERED, 11)
    kept = _event("case.deadline_reminder", OutboxStatus.DELIVERED, 9)
    db.session.commit()
    report = run_jobs_once(handlers={})
    assert report.purged == 1 and "purged=1" in report.summary()
    db.session.remove()
    assert set(db.session.scalars(sa.select(OutboxEvent.id))) == {kept}
    assert old not in set(db.session.scalars(sa.select(OutboxEvent.id)))
