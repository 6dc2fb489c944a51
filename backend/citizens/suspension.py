"""Suspending legal-representative bindings the registration data no longer backs (issue 14, item 3).

A binding as 法定代表人 is valid while the bound person's ID number is the enterprise's registered
法定代表人证件号码 (both kept as the same keyed hash, ``subject.id_number_hash`` and
``subject.legal_representative_id_number_hash``). Bindings made when only names were compared
fail that check (no number was stored), and so does a binding whose enterprise's registering
department has since sent another representative. Such bindings are SUSPENDED: the holder loses
access at once and is told why (the status and reason in the bindings list, and a WeChat message
queued through the outbox in the same transaction); platform staff may reinstate one after an
offline check (``operations.review_enterprise_binding``), or the holder binds again (by ID number
once the registering department sends it, or with an authorisation letter).

``suspend_unbacked_bindings`` works on a plain connection with table stubs of its own, so the
migration that introduced the check (0009) runs it too, against the schema of that revision.
Flushes nothing of the ORM session and never commits.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

import sqlalchemy as sa

from backend.types import utcnow

from . import messages as msg

SUSPENDED_TOPIC = "binding.suspended"

_binding = sa.table(
    "wechat_enterprise_binding",
    sa.column("id", sa.Integer),
    sa.column("person_subject_id", sa.Integer),
    sa.column("subject_id", sa.Integer),
    sa.column("method", sa.String),
    sa.column("status", sa.String),
    sa.column("suspended_at", sa.DateTime),
    sa.column("suspension_reason", sa.String),
)
_subject = sa.table(
    "subject",
    sa.column("id", sa.Integer),
    sa.column("id_number_hash", sa.String),
    sa.column("legal_representative_id_number_hash", sa.String),
)
_outbox = sa.table(
    "outbox_event",
    sa.column("topic", sa.String),
    sa.column("payload", sa.JSON),
    sa.column("status", sa.String),
    sa.column("created_at", sa.DateTime),
    sa.column("available_at", sa.DateTime),
    sa.column("attempts", sa.Integer),
)
IN_LIST_SIZE = 900


def _unbacked() -> sa.ColumnElement[bool]:
    """The binding's person is not the enterprise's registered representative (or none is)."""
    person, enterprise = _subject.alias("person"), _subject.alias("enterprise")
    person_hash = sa.select(person.c.id_number_hash).where(person.c.id == _binding.c.person_subject_id)
    registered = sa.select(enterprise.c.legal_representative_id_number_hash).where(
        enterprise.c.id == _binding.c.subject_id
    )
    person_hash, registered = person_hash.scalar_subquery(), registered.scalar_subquery()
    return sa.or_(registered.is_(None), person_hash.is_(None), person_hash != registered)


def suspend_unbacked_bindings(
    connection: sa.Connection,
    *,
    subject_ids: Iterable[int] | None = None,
    reason: str = msg.BINDING_SUSPENDED_NAME_ONLY,
    now: dt.datetime | None = None,
) -> list[int]:
    """Suspend the active legal-representative bindings (of ``subject_ids``' enterprises, or of
    all) whose holder's ID number is not the registered representative's; queue one message per
    binding. Returns the ids suspended."""
    now = now or utcnow()
    query = sa.select(_binding.c.id).where(
        _binding.c.method == "legal_representative",
        _binding.c.status == "active",
        _unbacked(),
    )
    if subject_ids is None:
        chunks: list[list[int] | None] = [None]
    else:
        wanted = sorted(set(subject_ids))
        chunks = [wanted[i : i + IN_LIST_SIZE] for i in range(0, len(wanted), IN_LIST_SIZE)]
    ids: list[int] = []
    for chunk in chunks:
        scoped = query if chunk is None else query.where(_binding.c.subject_id.in_(chunk))
        ids.extend(connection.execute(scoped.order_by(_binding.c.id)).scalars())
    for start in range(0, len(ids), IN_LIST_SIZE):
        chunk = ids[start : start + IN_LIST_SIZE]
        connection.execute(
            sa.update(_binding)
            .where(_binding.c.id.in_(chunk), _binding.c.status == "active")
            .values(status="suspended", suspended_at=now, suspension_reason=reason[:500])
        )
    if ids:
        connection.execute(
            sa.insert(_outbox),
            [
                {
                    "topic": SUSPENDED_TOPIC,
                    "payload": {"binding_id": binding_id},  # ids only: the handler looks up the holder
                    "status": "pending",
                    "created_at": now,
                    "available_at": now,
                    "attempts": 0,
                }
                for binding_id in ids
            ],
        )
    return ids


def suspend_name_only_bindings(connection: sa.Connection, now: dt.datetime | None = None) -> int:
    """Migration 0009's data step: every active legal-representative binding not backed by a
    registered ID number (all of them then: the number was not stored before) is suspended."""
    return len(suspend_unbacked_bindings(connection, reason=msg.BINDING_SUSPENDED_NAME_ONLY, now=now))
