"""The owner's view (本人查询): a verified citizen's records, cases and reports, and those of the
enterprises they act for, as both channels show them; and who files for a record. Every read of
personal data is audited with its purpose (``<channel>.records.view`` ...). Flush, never commit.

The answer for anything not the citizen's own is 404, never 403: it does not tell whether
someone else's record, case or report exists.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import sqlalchemy as sa

from backend.actors import Actor
from backend.audit.operations import record_event
from backend.errors import Forbidden, NotFound
from backend.extensions import db
from backend.issued_reports.content import OWNER_STATUSES
from backend.issued_reports.models import IssuedReport
from backend.records.models import CreditRecord
from backend.subjects.models import Subject
from backend.workflows.cases import Applicant, ApplicantKind, actor_key, get_case_by_number
from backend.workflows.materials.models import Material
from backend.workflows.objections.models import Objection
from backend.workflows.repairs.models import RepairApplication

from . import messages as msg
from .bindings import active_binding_method
from .identity import identity_of, own_subject_ids
from .models import BindingMethod

CASE_MODELS: tuple[type, ...] = (Objection, RepairApplication)


# --- records -------------------------------------------------------------------------------


def list_own_records(
    actor: Actor, subject_ids: Sequence[int] | None = None, *, details: dict[str, Any] | None = None
) -> dict[int, list[CreditRecord]]:
    """Records as their owner sees them (published or not, OWNER_STATUSES), by subject: of
    ``subject_ids`` (each must be the citizen's or an enterprise they act for; 404 otherwise), or
    of all of them. One audit row per read, in the actor's channel, with ``details`` added."""
    ident = identity_of(actor)
    own = own_subject_ids(actor)
    wanted = own if subject_ids is None else list(subject_ids)
    if any(subject_id not in own for subject_id in wanted):
        raise NotFound(msg.ENTERPRISE_NOT_FOUND, code="subject_not_found")
    rows = db.session.scalars(
        sa.select(CreditRecord)
        .where(CreditRecord.subject_id.in_(wanted), CreditRecord.status.in_(OWNER_STATUSES))
        .order_by(CreditRecord.decision_date.desc(), CreditRecord.id.desc())
    ).all()
    grouped: dict[int, list[CreditRecord]] = {subject_id: [] for subject_id in wanted}
    for record in rows:
        grouped[record.subject_id].append(record)
    target = wanted[0] if len(wanted) == 1 else ident.subject_id
    record_event(
        actor,
        f"{actor.channel}.records.view",
        target_type="subject",
        target_id=target,
        subject_id=target,
        reason="本人查询" if target == ident.subject_id else "企业代办查询",
        details={"count": len(rows), **(details or {})},
    )
    return grouped


def get_own_record(actor: Actor, record_id: int, *, owner_statuses_only: bool = True) -> CreditRecord:
    """A record of the citizen or of an enterprise they act for; 404 for anything else. With
    ``owner_statuses_only`` False any status is served (the mini-program's record actions answer
    for a record the owner may no longer see, e.g. to say why it cannot be repaired)."""
    record = db.session.get(CreditRecord, record_id)
    if record is None or record.subject_id not in own_subject_ids(actor):
        raise NotFound(msg.RECORD_NOT_FOUND, code="record_not_found")
    if owner_statuses_only and record.status not in OWNER_STATUSES:
        raise NotFound(msg.RECORD_NOT_FOUND, code="record_not_found")
    return record


def applicant_for(actor: Actor, record: CreditRecord, *, user_id: int | None = None) -> Applicant:
    """Who files for ``record``, from the verified identity only (never from what a client says):
    the person themself, or as the enterprise's legal representative or agent by their active
    binding (made with the WeChat account ``user_id``, when given). 403 not_representative for an
    enterprise they do not act for."""
    ident = identity_of(actor)
    person = db.session.get(Subject, ident.subject_id)
    assert person is not None
    name, number = person.reveal_name(), person.reveal_id_number()
    if record.subject_id == ident.subject_id:
        return Applicant(ApplicantKind.SELF, name, number)
    method = active_binding_method(ident.subject_id, record.subject_id, user_id=user_id)
    if method is None:
        raise Forbidden(msg.NOT_REPRESENTATIVE, code="not_representative")
    kind = ApplicantKind.LEGAL_REPRESENTATIVE if method is BindingMethod.LEGAL_REPRESENTATIVE else ApplicantKind.AGENT
    return Applicant(kind, name, number)


# --- cases ---------------------------------------------------------------------------------


def list_own_cases(actor: Actor, models: Iterable[type] = CASE_MODELS) -> list[Any]:
    """The cases this citizen filed (on any channel: the applicant is the person), newest first."""
    key = actor_key(actor)
    cases: list[Any] = []
    for model in models:
        cases += db.session.scalars(
            sa.select(model).where(model.applicant_key == key).order_by(model.filed_at.desc(), model.id)
        ).all()
    return sorted(cases, key=lambda case: case.filed_at, reverse=True)


def get_own_case(actor: Actor, number: str, models: Iterable[type] = CASE_MODELS) -> Any:
    """The case behind an application number (查询码), if this citizen filed it; 404 otherwise
    (not 403: a valid code of someone else's case is not confirmed)."""
    for model in models:
        try:
            case = get_case_by_number(model, number)
        except NotFound:
            continue
        if case.is_applicant(actor):
            return case
    raise NotFound(msg.CASE_NOT_FOUND, code="case_not_found")


def audit_case_view(actor: Actor, case: Any) -> None:
    record_event(
        actor,
        f"{actor.channel}.{case.CASE_TYPE}.view",
        target=case,
        subject_id=case.subject_id,
        reason="申请人查询",
        details={"number": case.number},
    )


def unattached_materials(actor: Actor) -> list[Material]:
    """Files this citizen uploaded that no case uses yet (to file a repair with them)."""
    return list(
        db.session.scalars(
            sa.select(Material)
            .where(
                Material.uploader_key == actor_key(actor),
                Material.objection_id.is_(None),
                Material.repair_application_id.is_(None),
            )
            .order_by(Material.uploaded_at.desc())
        )
    )


# --- reports -------------------------------------------------------------------------------


def list_own_reports(actor: Actor, *, limit: int = 200) -> list[IssuedReport]:
    """Reports issued about the citizen or the enterprises they act for, newest first; audited."""
    ident = identity_of(actor)
    reports = list(
        db.session.scalars(
            sa.select(IssuedReport)
            .where(IssuedReport.subject_id.in_(own_subject_ids(actor)))
            .order_by(IssuedReport.issued_at.desc(), IssuedReport.id.desc())
            .limit(limit)
        )
    )
    record_event(
        actor,
        f"{actor.channel}.reports.list",
        target_type="subject",
        target_id=ident.subject_id,
        subject_id=ident.subject_id,
        details={"count": len(reports)},
    )
    return reports


def get_own_report(actor: Actor, number: str) -> IssuedReport:
    report = db.session.scalar(sa.select(IssuedReport).where(IssuedReport.number == (number or "").strip().upper()))
    if report is None or report.subject_id not in own_subject_ids(actor):
        raise NotFound(msg.REPORT_NOT_FOUND, code="report_not_found")
    return report
