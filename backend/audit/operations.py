"""The tamper-evident audit log: append with a hash chain, verify the chain.

Each row names its hash function (``hash_alg``): SHA-256, or SM3 (GB/T 32905-2016) when the
crypto suite is 国密. A row is checked with its own function, so a chain that crossed a suite
switch verifies whole: the first SM3 row links to the last SHA-256 one. Rows already written are
never rehashed (the log is append-only); the switch applies from the next row on.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from ..actors import Actor
from ..crypto.primitives import digest
from ..crypto.suite import algorithms, current_suite
from ..extensions import db
from ..types import utcnow
from .models import AuditChainHead, AuditEvent

GENESIS = "0" * 64


def _canonical(event: AuditEvent) -> bytes:
    payload = {
        "prev": event.prev_hash,
        "at": event.occurred_at.isoformat(timespec="microseconds"),
        "actor": [event.actor_type, event.actor_id, event.actor_label],
        "action": event.action,
        "target": [event.target_type, event.target_id],
        "subject": event.subject_id,
        "channel": event.channel,
        "reason": event.reason,
        "ip": event.ip,
        "details": event.details,
    }
    alg = event.hash_alg or "sha256"
    if alg != "sha256":  # named inside what is hashed; SHA-256 rows keep their original form
        payload["alg"] = alg
    return json.dumps(payload, sort_keys=True, ensure_ascii=False, separators=(",", ":")).encode()


def compute_hash(event: AuditEvent) -> str:
    return digest(event.hash_alg or "sha256", _canonical(event)).hex()


def record_event(
    actor: Actor,
    action: str,
    *,
    target: Any = None,
    target_type: str | None = None,
    target_id: Any = None,
    subject_id: int | None = None,
    reason: str | None = None,
    details: dict[str, Any] | None = None,
) -> AuditEvent:
    """Append one audit row (flushes, never commits)."""
    if target is not None:
        target_type = target_type or target.__tablename__
        target_id = target_id if target_id is not None else target.id
    # Take the write lock on the chain head first (an UPDATE locks the row on PostgreSQL and
    # takes the write lock on SQLite), so concurrent appenders queue instead of forking.
    locked = db.session.execute(sa.update(AuditChainHead).where(AuditChainHead.id == 1).values(id=1)).rowcount
    if not locked:
        db.session.add(AuditChainHead(id=1, last_event_id=None, last_hash=GENESIS))
        db.session.flush()
    head = db.session.get(AuditChainHead, 1, populate_existing=True)
    assert head is not None
    event = AuditEvent(
        occurred_at=utcnow(),
        actor_type=actor.type,
        actor_id=actor.id,
        actor_label=actor.label,
        action=action,
        target_type=target_type,
        target_id=None if target_id is None else str(target_id),
        subject_id=subject_id,
        channel=actor.channel,
        reason=reason,
        ip=actor.ip,
        details=json.loads(json.dumps(details or {}, ensure_ascii=False, default=str)),
        prev_hash=head.last_hash,
        hash_alg=algorithms(current_suite()).audit_hash,
    )
    event.hash = compute_hash(event)
    db.session.add(event)
    db.session.flush()
    head.last_hash = event.hash
    head.last_event_id = event.id
    return event


@dataclass(frozen=True)
class ChainReport:
    ok: bool
    checked: int
    first_bad_id: int | None = None
    problem: str | None = None


def verify_chain(batch_size: int = 5000) -> ChainReport:
    """Walk the chain in id order; report the first row whose link or content does not match."""
    prev = GENESIS
    checked = 0
    last_id = 0
    last_hash = GENESIS
    while True:
        rows = db.session.scalars(
            sa.select(AuditEvent).where(AuditEvent.id > last_id).order_by(AuditEvent.id).limit(batch_size)
        ).all()
        if not rows:
            break
        for event in rows:
            if event.prev_hash != prev:
                return ChainReport(
                    False, checked, event.id, "prev_hash does not match the previous row (row removed or reordered)"
                )
            if compute_hash(event) != event.hash:
                return ChainReport(False, checked, event.id, "row content does not match its hash (row edited)")
            prev = event.hash
            last_id = event.id
            last_hash = event.hash
            checked += 1
        db.session.expunge_all()
    head = db.session.get(AuditChainHead, 1)
    if head is not None and head.last_hash != last_hash:
        return ChainReport(
            False, checked, head.last_event_id, "chain head does not match the last row (rows removed at the end)"
        )
    return ChainReport(True, checked)
