"""Deliver queued outbox events after commit, through pluggable handlers (one per topic).

Contract
--------
* **At-least-once.** An event is claimed with a lease (``claimed_by``/``claimed_until``) in its own
  short transaction, the handler runs outside any transaction, and the event is marked delivered
  in another short transaction. If the process dies anywhere in between, the claim simply lapses
  when the lease ends and the next worker delivers the event: nothing is lost. On PostgreSQL the
  claim uses ``SELECT ... FOR UPDATE SKIP LOCKED`` so several workers never wait on each other;
  on SQLite (one machine) a plain SELECT followed by a conditional UPDATE (compare-and-set on the
  lease) gives the same exclusivity.
* **Effectively-once.** A crash *after* the handler succeeded and *before* the mark means the
  handler runs again for the same event. Handlers therefore receive ``delivery.idempotency_key``
  (derived from the event id, stable across attempts and workers) and must pass it to the channel
  (WeChat ``client_msg_id``, a printer job id, a unique key in a receiving table), so that the
  second call is recognised and has no second effect. With such handlers no notification is sent
  twice; without one, a crash in that window may repeat it.
* Failures are retried with exponential backoff up to ``max_attempts``; then the event is FAILED
  and stays visible (``last_error``) until an operator looks at it. A handler that knows when
  trying again can succeed (a channel's daily quota resets at midnight) raises ``RetryAt``: the
  event waits until then, and the wait does not count as one of its attempts. Exception texts are stored
  truncated in the row, never logged, because a channel error may echo the message content.

This module is a delivery boundary like a job: it runs its own transactions on the engine and
never touches the caller's session.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import secrets
import socket
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa

from ..extensions import db
from ..types import utcnow
from .models import OutboxEvent, OutboxStatus, WorkerHeartbeat

log = logging.getLogger(__name__)


class RetryAt(Exception):
    """Raised by a handler: deliver the event again at ``at`` (naive UTC), not counted as a
    failed attempt; ``reason`` goes to ``last_error``."""

    def __init__(self, at: dt.datetime, reason: str) -> None:
        super().__init__(reason)
        self.at = at
        self.reason = reason


@dataclass(frozen=True)
class OutboxDelivery:
    """What a handler receives: the event, and the key that makes its effect idempotent."""

    id: int
    topic: str
    payload: dict[str, Any]
    attempt: int  # 1 for the first attempt
    created_at: dt.datetime

    @property
    def idempotency_key(self) -> str:
        return f"outbox-{self.id}"


Handler = Callable[[OutboxDelivery], None]


@dataclass
class DeliveryReport:
    delivered: list[int] = field(default_factory=list)
    retrying: list[int] = field(default_factory=list)
    failed: list[int] = field(default_factory=list)

    @property
    def count(self) -> int:
        return len(self.delivered) + len(self.retrying) + len(self.failed)


def default_worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(3)}"


def deliver_pending(
    handlers: Mapping[str, Handler],
    limit: int = 100,
    worker_id: str | None = None,
    *,
    now: dt.datetime | None = None,
    lease_seconds: int = 300,
    max_attempts: int = 10,
    backoff_base_seconds: int = 30,
    backoff_max_seconds: int = 3600,
) -> DeliveryReport:
    """Deliver up to ``limit`` due events whose topic has a handler. See the module contract."""
    worker_id = worker_id or default_worker_id()
    report = DeliveryReport()
    topics = sorted(handlers)
    if not topics:
        return report
    for _ in range(limit):
        moment = now or utcnow()
        delivery = _claim_one(topics, worker_id, moment, lease_seconds)
        if delivery is None:
            break
        try:
            handlers[delivery.topic](delivery)
        except RetryAt as wait:
            _reschedule(delivery.id, worker_id, wait.reason[:500], wait.at)
            log.info("outbox event %s (%s) waits until %s", delivery.id, delivery.topic, wait.at.isoformat())
            report.retrying.append(delivery.id)
        except Exception as exc:
            error = f"{type(exc).__name__}: {exc}"[:500]
            final = delivery.attempt >= max_attempts
            delay = min(backoff_base_seconds * 2 ** (delivery.attempt - 1), backoff_max_seconds)
            _mark_failed(delivery.id, worker_id, error, final, (now or utcnow()) + dt.timedelta(seconds=delay))
            log.warning(
                "outbox event %s (%s) attempt %s failed with %s%s",
                delivery.id,
                delivery.topic,
                delivery.attempt,
                type(exc).__name__,
                "; giving up" if final else "",
            )
            (report.failed if final else report.retrying).append(delivery.id)
        else:
            _mark_delivered(delivery.id, now or utcnow())
            report.delivered.append(delivery.id)
    return report


def _claim_one(topics: list[str], worker_id: str, now: dt.datetime, lease_seconds: int) -> OutboxDelivery | None:
    due = sa.and_(
        OutboxEvent.status == OutboxStatus.PENDING,
        OutboxEvent.topic.in_(topics),
        OutboxEvent.available_at <= now,
        sa.or_(OutboxEvent.claimed_until.is_(None), OutboxEvent.claimed_until < now),
    )
    # On SQLite another worker can win the race between the SELECT and the UPDATE; the UPDATE
    # re-checks the lease, so the loser just looks for the next row.
    for _ in range(5):
        with db.engine.begin() as conn:
            query = (
                sa.select(
                    OutboxEvent.id,
                    OutboxEvent.topic,
                    OutboxEvent.payload,
                    OutboxEvent.attempts,
                    OutboxEvent.created_at,
                )
                .where(due)
                .order_by(OutboxEvent.id)
                .limit(1)
            )
            if conn.dialect.name == "postgresql":
                query = query.with_for_update(skip_locked=True)
            row = conn.execute(query).first()
            if row is None:
                return None
            claimed = conn.execute(
                sa.update(OutboxEvent)
                .where(OutboxEvent.id == row.id, due)
                .values(
                    claimed_by=worker_id,
                    claimed_until=now + dt.timedelta(seconds=lease_seconds),
                    attempts=OutboxEvent.attempts + 1,
                )
            ).rowcount
            if claimed == 1:
                return OutboxDelivery(row.id, row.topic, row.payload, row.attempts + 1, row.created_at)
    return None


def _mark_delivered(event_id: int, now: dt.datetime) -> None:
    # Unconditional on the claim: if our lease lapsed and another worker re-ran the handler, the
    # event was still delivered (idempotently) and saying so twice is harmless.
    with db.engine.begin() as conn:
        conn.execute(
            sa.update(OutboxEvent)
            .where(OutboxEvent.id == event_id, OutboxEvent.status != OutboxStatus.DELIVERED)
            .values(
                status=OutboxStatus.DELIVERED,
                delivered_at=now,
                claimed_by=None,
                claimed_until=None,
                last_error=None,
            )
        )


def _reschedule(event_id: int, worker_id: str, reason: str, at: dt.datetime) -> None:
    with db.engine.begin() as conn:
        conn.execute(
            sa.update(OutboxEvent)
            .where(
                OutboxEvent.id == event_id,
                OutboxEvent.claimed_by == worker_id,
                OutboxEvent.status == OutboxStatus.PENDING,
            )
            .values(
                attempts=OutboxEvent.attempts - 1,  # waiting for a quota is not a failed attempt
                last_error=reason,
                available_at=at,
                claimed_by=None,
                claimed_until=None,
            )
        )


def _mark_failed(event_id: int, worker_id: str, error: str, final: bool, retry_at: dt.datetime) -> None:
    with db.engine.begin() as conn:
        conn.execute(
            sa.update(OutboxEvent)
            .where(
                OutboxEvent.id == event_id,
                OutboxEvent.claimed_by == worker_id,
                OutboxEvent.status == OutboxStatus.PENDING,
            )
            .values(
                status=OutboxStatus.FAILED if final else OutboxStatus.PENDING,
                last_error=error,
                available_at=retry_at,
                claimed_by=None,
                claimed_until=None,
            )
        )


def purge_delivered(before: dt.datetime, batch_size: int = 1000) -> int:
    """Delete delivered events delivered before ``before``, in batches of ``batch_size`` (each its
    own short transaction, so a large first purge never holds a long lock); returns how many.

    Delivered rows are history, not a queue: without a retention the table grows with every
    notification ever sent. Failed events stay until an operator has looked at them. The WeChat
    message attempts keep their own rows (they name the event id, without a foreign key).
    """
    total = 0
    while True:
        with db.engine.begin() as conn:
            ids = conn.scalars(
                sa.select(OutboxEvent.id)
                .where(OutboxEvent.status == OutboxStatus.DELIVERED, OutboxEvent.delivered_at < before)
                .order_by(OutboxEvent.id)
                .limit(batch_size)
            ).all()
            if not ids:
                return total
            conn.execute(sa.delete(OutboxEvent).where(OutboxEvent.id.in_(ids)))
        total += len(ids)
        if len(ids) < batch_size:
            return total


def record_worker_loop(name: str, now: dt.datetime, started_at: dt.datetime) -> None:
    """Upsert the worker's heartbeat (its own short transaction): the liveness metric's source."""
    try:
        with db.engine.begin() as conn:
            updated = conn.execute(
                sa.update(WorkerHeartbeat).where(WorkerHeartbeat.name == name).values(last_loop_at=now)
            ).rowcount
            if not updated:
                conn.execute(sa.insert(WorkerHeartbeat).values(name=name, started_at=started_at, last_loop_at=now))
    except sa.exc.IntegrityError:
        pass  # two workers started under one name at once: the other wrote the row, which is as good


def forget_worker(name: str) -> None:
    """A worker that stops on purpose removes its heartbeat, so the liveness alert does not fire
    for a worker that was meant to stop."""
    with db.engine.begin() as conn:
        conn.execute(sa.delete(WorkerHeartbeat).where(WorkerHeartbeat.name == name))


def registered_handlers() -> dict[str, Handler]:
    """The app's delivery channels by topic. Channel packages (WeChat, printers) add theirs here;
    every topic of ``topics.TOPICS`` must end up with one (tests/test_outbox_topics.py)."""
    from flask import current_app

    return current_app.extensions.setdefault("outbox_handlers", {})


def register_handler(topic: str, handler: Handler) -> None:
    registered_handlers()[topic] = handler
