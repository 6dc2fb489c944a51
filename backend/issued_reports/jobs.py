"""The report registry's part of the worker: the ``record.changed`` consumer and report expiry.

A job boundary (like backend/jobs.py): each unit commits its own transaction.
"""

from __future__ import annotations

from ..actors import Actor
from ..extensions import db
from ..outbox.worker import OutboxDelivery
from .operations import revoke_reports_showing_record

TOPIC_RECORD_CHANGED = "record.changed"


def handle_record_changed(delivery: OutboxDelivery) -> None:
    """Revoke the valid reports that showed the changed record. Idempotent: a second delivery
    finds them revoked already and does nothing."""
    payload = delivery.payload
    try:
        revoke_reports_showing_record(
            Actor.system("report-registry"), int(payload["record_id"]), str(payload.get("change") or "")
        )
        db.session.commit()
    except Exception:
        db.session.rollback()
        raise


HANDLERS = {TOPIC_RECORD_CHANGED: handle_record_changed}
