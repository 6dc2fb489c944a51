"""The objection workflow (异议申诉). Every operation flushes, never commits.

file → SUBMITTED --accept--> UNDER_REVIEW (record marked 异议处理中 at once, routed to the record's
department) --decide--> DECIDED (confirm / correct / delete, with reasons) --deliver--> CLOSED
(mark removed). SUBMITTED --return--> RETURNED (naming what is missing) --supplement--> SUBMITTED.
The department may extend once; the applicant may withdraw before the decision.
"""

from __future__ import annotations

import datetime as dt
import decimal
from collections.abc import Sequence
from typing import Any

from flask import current_app

from ...actors import Actor
from ...errors import ApiError
from ...outbox.operations import enqueue_event
from ...records.models import CreditRecord, PenaltyTier, RecordCategory, RecordStatus
from ...records.operations import RecordWriter
from ...records.publicity import PublicityRules
from ...types import local_date, utcnow
from ...workdays.service import load_calendar
from .. import messages as common_msg
from ..cases import (
    Applicant,
    ApplicantKind,
    CaseState,
    check_commitment,
    check_missing_items,
    check_record_open_to_cases,
    get_case_by_number,
    lock_record,
    record_status_after_case,
    require,
    require_reason,
)
from ..commitments.models import CommitmentKind, CreditCommitment
from ..commitments.templates import OBJECTION as OBJECTION_TEMPLATE
from ..materials.models import MaterialPurpose
from ..materials.operations import attach_materials, check_materials
from ..steps import Step, extend_case, open_case
from . import messages as msg
from .models import Objection, ObjectionGround, ObjectionHistory, ObjectionOutcome


def get_objection(number: str) -> Objection:
    """The case behind a query code (查询码); NotFound otherwise."""
    return get_case_by_number(Objection, number)


def file_objection(
    actor: Actor,
    record: CreditRecord,
    applicant: Applicant,
    *,
    ground: ObjectionGround,
    statement: str,
    commitment: CreditCommitment | None,
    material_ids: Sequence[int] = (),
    now: dt.datetime | None = None,
) -> Objection:
    applicant = applicant.validated()
    statement = require_reason(statement, "file")
    lock_record(record)
    check_record_open_to_cases(record)
    check_commitment(actor, commitment, CommitmentKind.OBJECTION, record, Objection, OBJECTION_TEMPLATE.title)
    materials = check_materials(actor, material_ids)
    if applicant.kind is ApplicantKind.AGENT and not any(m.purpose is MaterialPurpose.AUTHORISATION for m in materials):
        raise ApiError(common_msg.AUTHORISATION_REQUIRED, code="authorisation_required")
    objection = open_case(
        Objection,
        ObjectionHistory,
        actor,
        record,
        applicant,
        statement=statement,
        commitment=commitment,
        deadline_setting="OBJECTION_ACCEPT_WORKING_DAYS",
        now=now,
        ground=ground,
    )
    attach_materials(actor, objection, material_ids)
    return objection


def accept_objection(actor: Actor, objection: Objection, *, now: dt.datetime | None = None) -> Objection:
    """Completeness check passed: mark the record 异议处理中 at once and route it."""
    require(objection.can_accept(actor), "accept")
    now = now or utcnow()
    Step(
        objection,
        ObjectionHistory,
        "accept",
        (CaseState.SUBMITTED,),
        CaseState.UNDER_REVIEW,
        "OBJECTION_DECIDE_WORKING_DAYS",
    ).apply(actor, now=now, changes={"accepted_at": now})
    lock_record(objection.record)
    objection.record.status = RecordStatus.UNDER_OBJECTION
    return objection


def return_objection(
    actor: Actor, objection: Objection, missing_items: Sequence[str], *, now: dt.datetime | None = None
) -> Objection:
    """Incomplete: back to the applicant, naming exactly what is missing."""
    require(objection.can_accept(actor), "return")
    items = check_missing_items(missing_items)
    Step(objection, ObjectionHistory, "return", (CaseState.SUBMITTED,), CaseState.RETURNED).apply(
        actor, now=now, reason="；".join(items), details={"missing_items": items}, changes={"missing_items": items}
    )
    return objection


def supplement_objection(
    actor: Actor,
    objection: Objection,
    *,
    note: str | None = None,
    material_ids: Sequence[int] = (),
    now: dt.datetime | None = None,
) -> Objection:
    """The applicant supplies what was missing; the completeness check starts again."""
    require(objection.can_supplement(actor), "supplement")
    Step(
        objection,
        ObjectionHistory,
        "supplement",
        (CaseState.RETURNED,),
        CaseState.SUBMITTED,
        "OBJECTION_ACCEPT_WORKING_DAYS",
    ).apply(actor, now=now, reason=note, changes={"supplement_note": (note or "").strip() or None})
    attach_materials(actor, objection, material_ids)
    return objection


def extend_objection(
    actor: Actor, objection: Objection, days: int, reason: str, *, now: dt.datetime | None = None
) -> Objection:
    require(objection.can_decide(actor), "extend")
    return extend_case(objection, ObjectionHistory, actor, days, reason, "OBJECTION_EXTENSION_MAX_WORKING_DAYS", now)


def decide_objection(
    actor: Actor,
    objection: Objection,
    outcome: ObjectionOutcome,
    reason: str,
    *,
    corrections: dict[str, Any] | None = None,
    now: dt.datetime | None = None,
) -> Objection:
    """The department's decision. A correction is written through the record upsert (so the
    publicity period is recomputed); a deletion withdraws the record from publication. Both queue
    ``record.changed`` for the report registry, which revokes reports showing the old record."""
    require(objection.can_decide(actor), "decide")
    reason = require_reason(reason, "decide")
    record = objection.record
    changes: dict[str, Any] | None = None
    if outcome is ObjectionOutcome.CORRECTED:
        changes = _parse_corrections(record, corrections)
    elif corrections:
        raise ApiError(msg.CORRECTIONS_ONLY_FOR_CORRECT, code="corrections_not_allowed")
    now = now or utcnow()
    diff = {name: [_jsonable(getattr(record, name)), _jsonable(value)] for name, value in (changes or {}).items()}
    Step(
        objection,
        ObjectionHistory,
        "decide",
        (CaseState.UNDER_REVIEW,),
        CaseState.DECIDED,
        "OBJECTION_RESULT_WORKING_DAYS",
    ).apply(
        actor,
        now=now,
        reason=reason,
        details={"outcome": outcome.value, "corrections": diff or None},
        notify={"outcome": outcome.value},
        changes={
            "outcome": outcome,
            "decision_reason": reason,
            "decided_at": now,
            "decided_by_id": actor.id,
            "decided_by_label": actor.label[:100],
            "corrections": diff or None,
        },
    )
    lock_record(record)
    if outcome is ObjectionOutcome.CORRECTED:
        assert changes is not None
        _write_correction(record, changes)
    elif outcome is ObjectionOutcome.DELETED:
        record.status = RecordStatus.WITHDRAWN
    if outcome is not ObjectionOutcome.CONFIRMED:
        enqueue_event(
            "record.changed",
            {
                "record_id": record.id,
                "change": outcome.value,
                "case_type": "objection",
                "number": objection.number,
                "fields": sorted(diff) if diff else None,
            },
            dedupe_key=f"record.changed:objection:{objection.id}",
        )
    return objection


def deliver_objection_result(actor: Actor, objection: Objection, *, now: dt.datetime | None = None) -> Objection:
    """The result has reached the applicant: close the case and remove the 异议处理中 mark."""
    require(objection.can_deliver(actor), "deliver")
    now = now or utcnow()
    Step(objection, ObjectionHistory, "deliver", (CaseState.DECIDED,), CaseState.CLOSED).apply(
        actor, now=now, notify={"outcome": objection.outcome.value if objection.outcome else None},
        changes={"closed_at": now},
    )  # fmt: skip
    _remove_mark(objection, local_date(now))
    return objection


def withdraw_objection(
    actor: Actor, objection: Objection, reason: str | None = None, *, now: dt.datetime | None = None
) -> Objection:
    """The applicant withdraws before the decision; an accepted objection's mark is removed."""
    require(objection.can_withdraw(actor), "withdraw")
    now = now or utcnow()
    Step(
        objection,
        ObjectionHistory,
        "withdraw",
        (CaseState.SUBMITTED, CaseState.RETURNED, CaseState.UNDER_REVIEW),
        CaseState.WITHDRAWN,
    ).apply(actor, now=now, reason=(reason or "").strip() or None, changes={"closed_at": now})
    _remove_mark(objection, local_date(now))
    return objection


def _remove_mark(objection: Objection, today: dt.date) -> None:
    record = objection.record
    lock_record(record)
    if record.status is RecordStatus.UNDER_OBJECTION:
        record.status = record_status_after_case(record, today)


# Corrections.

CORRECTABLE_FIELDS: dict[str, str] = {
    "tier": "tier",
    "decision_date": "date",
    "publicity_end_date": "optional_date",
    "valid_until": "optional_date",
    "subject_name": "text",
    "legal_representative": "optional_text",
    "title": "optional_text",
    "violation_type": "optional_text",
    "facts": "optional_text",
    "legal_basis": "optional_text",
    "penalty_category": "optional_text",
    "penalty_content": "optional_text",
    "fine_amount": "optional_amount",
}


def _parse_corrections(record: CreditRecord, corrections: dict[str, Any] | None) -> dict[str, Any]:
    if not corrections:
        raise ApiError(msg.CORRECTIONS_REQUIRED, code="corrections_required")
    unknown = sorted(set(corrections) - set(CORRECTABLE_FIELDS))
    if unknown:
        raise ApiError(
            msg.CORRECTION_FIELD_UNKNOWN.format(fields="、".join(unknown)),
            code="correction_field_unknown",
            details={"fields": unknown},
        )
    parsed: dict[str, Any] = {}
    for name, raw in corrections.items():
        try:
            parsed[name] = _coerce(CORRECTABLE_FIELDS[name], raw)
        except (ValueError, TypeError, decimal.InvalidOperation) as exc:
            raise ApiError(
                msg.CORRECTION_VALUE_INVALID.format(field=msg.FIELD_LABELS[name]),
                code="correction_value_invalid",
                details={"field": name},
            ) from exc
    if "tier" in parsed and record.category is not RecordCategory.PENALTY:
        raise ApiError(msg.CORRECTION_TIER_NOT_PENALTY, code="correction_value_invalid", details={"field": "tier"})
    changed = {name: value for name, value in parsed.items() if getattr(record, name) != value}
    if not changed:
        raise ApiError(msg.CORRECTION_NO_CHANGE, code="correction_no_change")
    return changed


def _coerce(kind: str, raw: Any) -> Any:
    optional = kind.startswith("optional_")
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        if optional:
            return None
        raise ValueError("required")
    base = kind.removeprefix("optional_")
    if base == "tier":
        return raw if isinstance(raw, PenaltyTier) else PenaltyTier(str(raw))
    if base == "date":
        return raw if isinstance(raw, dt.date) else dt.date.fromisoformat(str(raw))
    if base == "amount":
        amount = decimal.Decimal(str(raw)).quantize(decimal.Decimal("0.01"))
        if amount < 0 or not amount.is_finite():
            raise ValueError("negative")
        return amount
    text = str(raw).strip()
    if len(text) > 5000:
        raise ValueError("too long")
    return text


def _write_correction(record: CreditRecord, changes: dict[str, Any]) -> None:
    from ...records.operations import record_input_from

    item = record_input_from(record, changes)
    settings = current_app.extensions["settings"]
    writer = RecordWriter(
        load_calendar(), PublicityRules.from_settings(settings), timely_days=settings.DOUBLE_PUBLICITY_WORKING_DAYS
    )
    writer.write([item])
    from ...extensions import db

    db.session.refresh(record)


def _jsonable(value: Any) -> Any:
    if isinstance(value, PenaltyTier):
        return value.value
    if isinstance(value, dt.date | decimal.Decimal):
        return str(value)
    return value
