from __future__ import annotations

import datetime as dt
import enum
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from ..extensions import db
from ..types import enum_column, utcnow


class OutboxStatus(enum.Enum):
    PENDING = "pending"  # waiting for (another) delivery attempt
    DELIVERED = "delivered"
    FAILED = "failed"  # gave up after the maximum number of attempts; shown in the console


class OutboxEvent(db.Model):
    """A notification or integration event queued with the change that caused it (发件箱)."""

    __tablename__ = "outbox_event"
    __table_args__ = (
        sa.CheckConstraint("attempts >= 0", name="attempts_not_negative"),
        sa.CheckConstraint(
            "(status = 'delivered' AND delivered_at IS NOT NULL) OR (status <> 'delivered' AND delivered_at IS NULL)",
            name="delivered_has_time",
        ),
        sa.Index("ix_outbox_event_status_available", "status", "available_at"),
        # The retention purge (worker.purge_delivered) finds old delivered rows without a scan.
        sa.Index("ix_outbox_event_delivered_at", "delivered_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    topic: Mapped[str] = mapped_column(sa.String(64), index=True)
    payload: Mapped[dict[str, Any]] = mapped_column(sa.JSON)
    # Producers that may run twice for the same fact (a retried job) pass a key: one row per key.
    dedupe_key: Mapped[str | None] = mapped_column(sa.String(160), unique=True)
    status: Mapped[OutboxStatus] = mapped_column(
        enum_column(OutboxStatus, "outbox_status"), default=OutboxStatus.PENDING
    )
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    available_at: Mapped[dt.datetime] = mapped_column(default=utcnow)  # not before (backoff)
    attempts: Mapped[int] = mapped_column(default=0)
    last_error: Mapped[str | None] = mapped_column(sa.String(500))
    claimed_by: Mapped[str | None] = mapped_column(sa.String(100))
    claimed_until: Mapped[dt.datetime | None]  # lease: another worker may take it over after this
    delivered_at: Mapped[dt.datetime | None]

    @property
    def idempotency_key(self) -> str:
        return f"outbox-{self.id}"


class WorkerHeartbeat(db.Model):
    """The last pass of each jobs worker (``flask credit jobs --name``), on any host: /metrics
    reads it as ``credit_worker_last_loop_timestamp_seconds`` so an alert sees a worker that
    stopped looping. A worker that stops cleanly removes its row; a crashed one leaves it to age."""

    __tablename__ = "worker_heartbeat"

    name: Mapped[str] = mapped_column(sa.String(100), primary_key=True)
    started_at: Mapped[dt.datetime]
    last_loop_at: Mapped[dt.datetime]
