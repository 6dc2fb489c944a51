"""Queue an outbox event in the caller's transaction (flushes, never commits)."""

from __future__ import annotations

import json
from typing import Any

import sqlalchemy as sa

from ..extensions import db
from .models import OutboxEvent
from .topics import check_topic


def enqueue_event(topic: str, payload: dict[str, Any], dedupe_key: str | None = None) -> OutboxEvent:
    """Queue ``topic`` with a JSON ``payload``; it is delivered only if the caller commits.

    With a ``dedupe_key`` the same fact queued twice (e.g. by a job that is run again) yields
    the existing row instead of a second event. Payloads must not carry personal data in clear:
    a channel looks the person up by id when it sends. A topic that ``topics.TOPICS`` does not
    list is refused (``UnknownTopic``): nothing would ever deliver it.
    """
    check_topic(topic)
    if dedupe_key is not None:
        existing = db.session.scalar(sa.select(OutboxEvent).where(OutboxEvent.dedupe_key == dedupe_key))
        if existing is not None:
            return existing
    # Dates and decimals become strings now, so the payload the worker reads is the one queued.
    data = json.loads(json.dumps(payload, ensure_ascii=False, default=str))
    event = OutboxEvent(topic=topic, payload=data, dedupe_key=dedupe_key)
    db.session.add(event)
    db.session.flush()
    return event
