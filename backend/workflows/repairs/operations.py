"""The credit repair workflow (信用修复). Every operation flushes, never commits.

eligibility → file (proof of fulfilled obligations + signed 信用修复承诺书) → SUBMITTED --accept-->
UNDER_REVIEW --decide--> DECIDED (approve / reject, with reasons) --deliver--> CLOSED.
SUBMITTED --return--> RETURNED --supplement--> SUBMITTED. The department may extend once; the
applicant may withdraw before the decision. On approval the record stops being published, shared
and used (status REPAIRED), an archive row keeps the decision, and ``record.changed`` is queued
for the report registry.

Filing publishes the signed 信用修复承诺书 in the subject's record as a COMMITMENT record
(commitments/operations.py ``publish_repair_commitment``); a withdrawal takes it back
(``withdraw_repair_commitment``); a decision, either way, leaves it in place.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from ...actors import Actor
from ...errors import ApiError, Conflict
from ...extensions import db
from ...outbox.operations import enqueue_event
from ...records.models import CreditRecord, RecordStatus
from ...types import local_date, utcnow
from .. import messages as common_msg
from ..cases import (
    Applicant,
    ApplicantKind,
    CaseState,
    check_commitment,
    check_missing_items,
    get_case_by_number,
    lock_record,
    open_case_on_record,
    require,
    require_reason,
)
from ..commitments.models import CommitmentKind, CreditCommitment
from ..commitments.operations import publish_repair_commitment, withdraw_repair_commitment
from ..commitments.templates import REPAIR as REPAIR_TEMPLATE
from ..materials.models import MaterialPurpose
from ..materials.operations import attach_materials, check_materials
from ..steps import Step, extend_case, open_case
from . import messages as msg
from .eligibility import Eligibility, check_repair_eligibility
from .models import RepairApplication, RepairArchive, RepairHistory, RepairOutcome

SNAPSHOT_FIELDS = (
    "category", "tier", "decision_number", "decision_date", "publicity_end_date", "visible_until", "subject_name",
    "title", "violation_type", "facts", "legal_basis", "penalty_category", "penalty_content", "fine_amount",
    "department_id", "published", "status",
)  # fmt: skip


def get_repair(number: str) -> RepairApplication:
    return get_case_by_number(RepairApplication, number)


def file_repair(
    actor: Actor,
    record: CreditRecord,
    applicant: Applicant,
    *,
    statement: str,
    commitment: CreditCommitment | None,
    material_ids: Sequence[int] = (),
    now: dt.datetime | None = None,
) -> RepairApplication:
    applicant = applicant.validated()
    statement = require_reason(statement, "file")
    now = now or utcnow()
    lock_record(record)
    eligibility = check_repair_eligibility(record, local_date(now))
    if not eligibility.eligible:
        raise _not_eligible(eligibility)
    if (objection := open_case_on_record(record.id, "objection")) is not None:
        raise Conflict(
            msg.OPEN_OBJECTION.format(number=objection.number),
            code="open_application_exists",
            details={"number": objection.number},
        )
    check_commitment(actor, commitment, CommitmentKind.REPAIR, record, RepairApplication, REPAIR_TEMPLATE.title)
    purposes = {m.purpose for m in check_materials(actor, material_ids)}
    if MaterialPurpose.FULFILMENT not in purposes:
        raise ApiError(msg.FULFILMENT_REQUIRED, code="fulfilment_required")
    if applicant.kind is ApplicantKind.AGENT and MaterialPurpose.AUTHORISATION not in purposes:
        raise ApiError(common_msg.AUTHORISATION_REQUIRED, code="authorisation_required")
    application = open_case(
        RepairApplication,
        RepairHistory,
        actor,
        record,
        applicant,
        statement=statement,
        commitment=commitment,
        deadline_setting="REPAIR_ACCEPT_WORKING_DAYS",
        now=now,
    )
    attach_materials(actor, application, material_ids)
    publish_repair_commitment(actor, application, now=now)
    return application


def _not_eligible(eligibility: Eligibility) -> ApiError:
    if eligibility.code == "open_application":
        return Conflict(
            common_msg.OPEN_REPAIR_EXISTS.format(number=eligibility.open_number),
            code="open_application_exists",
            details={"number": eligibility.open_number},
        )
    return ApiError(eligibility.message, code=f"not_eligible_{eligibility.code}", details=eligibility.as_dict())


def accept_repair(actor: Actor, application: RepairApplication, *, now: dt.datetime | None = None) -> RepairApplication:
    require(application.can_accept(actor), "accept")
    now = now or utcnow()
    Step(
        application, RepairHistory, "accept", (CaseState.SUBMITTED,), CaseState.UNDER_REVIEW,
        "REPAIR_DECIDE_WORKING_DAYS",
    ).apply(actor, now=now, changes={"accepted_at": now})  # fmt: skip
    return application


def return_repair(
    actor: Actor, application: RepairApplication, missing_items: Sequence[str], *, now: dt.datetime | None = None
) -> RepairApplication:
    require(application.can_accept(actor), "return")
    items = check_missing_items(missing_items)
    Step(application, RepairHistory, "return", (CaseState.SUBMITTED,), CaseState.RETURNED).apply(
        actor, now=now, reason="；".join(items), details={"missing_items": items}, changes={"missing_items": items}
    )
    return application


def supplement_repair(
    actor: Actor,
    application: RepairApplication,
    *,
    note: str | None = None,
    material_ids: Sequence[int] = (),
    now: dt.datetime | None = None,
) -> RepairApplication:
    require(application.can_supplement(actor), "supplement")
    Step(
        application, RepairHistory, "supplement", (CaseState.RETURNED,), CaseState.SUBMITTED,
        "REPAIR_ACCEPT_WORKING_DAYS",
    ).apply(actor, now=now, reason=note, changes={"supplement_note": (note or "").strip() or None})  # fmt: skip
    attach_materials(actor, application, material_ids)
    return application


def extend_repair(
    actor: Actor, application: RepairApplication, days: int, reason: str, *, now: dt.datetime | None = None
) -> RepairApplication:
    require(application.can_decide(actor), "extend")
    return extend_case(application, RepairHistory, actor, days, reason, "REPAIR_EXTENSION_MAX_WORKING_DAYS", now)


def decide_repair(
    actor: Actor,
    application: RepairApplication,
    outcome: RepairOutcome,
    reason: str,
    *,
    now: dt.datetime | None = None,
) -> RepairApplication:
    """Approve or reject. Approval ends publication, sharing and use of the record at once."""
    require(application.can_decide(actor), "decide")
    reason = require_reason(reason, "decide")
    now = now or utcnow()
    Step(
        application, RepairHistory, "decide", (CaseState.UNDER_REVIEW,), CaseState.DECIDED,
        "REPAIR_RESULT_WORKING_DAYS",
    ).apply(
        actor,
        now=now,
        reason=reason,
        details={"outcome": outcome.value},
        notify={"outcome": outcome.value},
        changes={
            "outcome": outcome,
            "decision_reason": reason,
            "decided_at": now,
            "decided_by_id": actor.id,
            "decided_by_label": actor.label[:100],
        },
    )  # fmt: skip
    if outcome is RepairOutcome.APPROVED:
        _repair_record(application, actor, reason, now)
    return application


def _repair_record(application: RepairApplication, actor: Actor, reason: str, now: dt.datetime) -> None:
    record = application.record
    lock_record(record)
    snapshot = {name: _plain(getattr(record, name)) for name in SNAPSHOT_FIELDS}
    record.status = RecordStatus.REPAIRED
    db.session.add(
        RepairArchive(
            record_id=record.id,
            application_id=application.id,
            subject_id=record.subject_id,
            department_id=record.department_id,
            commitment_id=application.commitment_id,
            decided_at=now,
            decided_by_label=actor.label[:100],
            decision_reason=reason,
            record_snapshot=snapshot,
        )
    )
    db.session.flush()
    enqueue_event(
        "record.changed",
        {"record_id": record.id, "change": "repaired", "case_type": "repair", "number": application.number},
        dedupe_key=f"record.changed:repair:{application.id}",
    )


def deliver_repair_result(
    actor: Actor, application: RepairApplication, *, now: dt.datetime | None = None
) -> RepairApplication:
    """The result has been shared with the applicant (and the sharing platforms): close it."""
    require(application.can_deliver(actor), "deliver")
    now = now or utcnow()
    Step(application, RepairHistory, "deliver", (CaseState.DECIDED,), CaseState.CLOSED).apply(
        actor, now=now, notify={"outcome": application.outcome.value if application.outcome else None},
        changes={"closed_at": now},
    )  # fmt: skip
    return application


def withdraw_repair(
    actor: Actor, application: RepairApplication, reason: str | None = None, *, now: dt.datetime | None = None
) -> RepairApplication:
    """The applicant withdraws before the decision (platform staff may record a withdrawal handed
    in at the counter or by letter); the published repair commitment is withdrawn with it."""
    require(application.can_withdraw(actor), "withdraw")
    now = now or utcnow()
    Step(
        application, RepairHistory, "withdraw",
        (CaseState.SUBMITTED, CaseState.RETURNED, CaseState.UNDER_REVIEW), CaseState.WITHDRAWN,
    ).apply(actor, now=now, reason=(reason or "").strip() or None, changes={"closed_at": now})  # fmt: skip
    withdraw_repair_commitment(actor, application)
    return application


def _plain(value):
    import datetime as _dt
    import decimal
    import enum

    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, _dt.date | decimal.Decimal):
        return str(value)
    return value
