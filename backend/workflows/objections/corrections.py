"""A department's later push must not silently undo what an objection decision corrected.

A correction decided on an objection (``decide_objection``, outcome 更正) rewrites the record on
the platform. The department's own system may still hold the old values and send the record
again, for instance in a full re-send of its data: written as an ordinary update, that would put
the corrected error back in public, with nothing telling anyone. The import refuses such a row
with a reason naming the objection (``backend.imports.operations``); a push that carries the
corrected values, or new values for those fields, is written as usual.
"""

from __future__ import annotations

import datetime as dt
import decimal
import enum
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from ...extensions import db
from ...records.models import CreditRecord
from ...records.operations import RecordInput, decision_numbers_by_department
from .models import Objection, ObjectionOutcome


@dataclass(frozen=True)
class RevertedCorrection:
    objection_number: str  # the latest objection whose correction the push would undo
    fields: tuple[str, ...]  # record fields whose pushed value is one a correction replaced


def reverted_corrections(items: Sequence[RecordInput]) -> dict[tuple[int, str], RevertedCorrection]:
    """The pushed records that would put back what decided objections corrected, by record key.

    A push reverts a correction when, for a field that a correction changed, it carries a value
    that the correction replaced and not the value decided last. Records never corrected cost
    one indexed query per 900 decision numbers of a department.
    """
    history = _corrections_of(items)
    found: dict[tuple[int, str], RevertedCorrection] = {}
    for item in items:
        decisions = history.get(item.key)
        if not decisions:
            continue
        replaced: dict[str, set[str | None]] = {}
        decided: dict[str, tuple[int, str | None]] = {}  # field -> (decision index, value)
        for index, (_, corrections) in enumerate(decisions):  # oldest first: the last one wins
            for name, (old, new) in corrections.items():
                replaced.setdefault(name, set()).add(_comparable(name, old))
                decided[name] = (index, _comparable(name, new))
        reverted = [
            name
            for name in replaced
            if hasattr(item, name)
            and (pushed := _comparable(name, getattr(item, name))) in replaced[name]
            and pushed != decided[name][1]
        ]
        if reverted:
            latest = max(decided[name][0] for name in reverted)
            found[item.key] = RevertedCorrection(decisions[latest][0], tuple(reverted))
    return found


def _corrections_of(items: Sequence[RecordInput]) -> dict[tuple[int, str], list[tuple[str, dict[str, Any]]]]:
    history: dict[tuple[int, str], list[tuple[str, dict[str, Any]]]] = {}
    for department_id, chunk in decision_numbers_by_department(items):
        rows = db.session.execute(
            sa.select(CreditRecord.decision_number, Objection.number, Objection.corrections)
            .join(Objection, Objection.record_id == CreditRecord.id)
            .where(
                CreditRecord.department_id == department_id,
                CreditRecord.decision_number.in_(chunk),
                Objection.outcome == ObjectionOutcome.CORRECTED,
            )
            .order_by(Objection.decided_at, Objection.id)
        )
        for decision_number, objection_number, corrections in rows:
            history.setdefault((department_id, decision_number), []).append((objection_number, corrections or {}))
    return history


def _comparable(name: str, value: Any) -> str | None:
    """One form for a value as pushed (date, Decimal, enum) and as kept in a decision's
    corrections (their JSON text), so that 500, 500.0 and "500.00" are the same fine."""
    if value is None:
        return None
    if isinstance(value, enum.Enum):
        return str(value.value)
    if isinstance(value, dt.date):
        return value.isoformat()
    if name == "fine_amount":
        try:
            return format(decimal.Decimal(str(value)).normalize(), "f")
        except decimal.InvalidOperation:
            return str(value).strip()
    text = str(value).strip()
    return text or None
