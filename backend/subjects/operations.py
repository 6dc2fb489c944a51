"""Subject names decided by staff: the discrepancies another department's records left (issue 14,
item 6; they are found by ``records.operations.RecordWriter``). Flush, never commit."""

from __future__ import annotations

import sqlalchemy as sa

from ..actors import Actor
from ..audit.operations import record_event
from ..errors import Conflict, Forbidden
from ..extensions import db
from ..types import utcnow
from . import messages as msg
from .models import DiscrepancyResolution, SubjectNameDiscrepancy


def open_name_discrepancies(limit: int = 500) -> list[SubjectNameDiscrepancy]:
    """The discrepancies waiting for staff, the most recently seen first."""
    return list(
        db.session.scalars(
            sa.select(SubjectNameDiscrepancy)
            .where(SubjectNameDiscrepancy.resolved_at.is_(None))
            .order_by(SubjectNameDiscrepancy.last_seen_at.desc(), SubjectNameDiscrepancy.id.desc())
            .limit(limit)
        )
    )


def resolve_name_discrepancy(actor: Actor, discrepancy: SubjectNameDiscrepancy, *, accept: bool) -> None:
    """Platform staff take the department's name as the subject's name (a rename, audited like
    a registering authority's) or keep the registered name (the discrepancy is dismissed and not
    raised again for the same name from the same department)."""
    from ..workflows.cases import is_platform_staff

    if not is_platform_staff(actor):
        raise Forbidden(msg.ONLY_PLATFORM_STAFF, code="forbidden")
    if discrepancy.resolved_at is not None:
        raise Conflict(msg.DISCREPANCY_RESOLVED, code="discrepancy_resolved")
    now = utcnow()
    subject = discrepancy.subject
    department = discrepancy.department
    if accept and subject.name != discrepancy.name_sent:
        old = subject.name
        subject.name = discrepancy.name_sent
        subject.updated_at = now
        db.session.flush()
        record_event(
            actor,
            "subject.rename",
            target=subject,
            subject_id=subject.id,
            reason="工作人员处理名称差异",
            details={
                "from": old,
                "to": discrepancy.name_sent,
                "department": department.code,
                "discrepancy": discrepancy.id,
            },
        )
    discrepancy.resolved_at = now
    discrepancy.resolved_by_label = actor.label[:100]
    discrepancy.resolution = DiscrepancyResolution.ACCEPTED if accept else DiscrepancyResolution.DISMISSED
    db.session.flush()
    record_event(
        actor,
        "subject.name_discrepancy.resolve",
        target=discrepancy,
        subject_id=subject.id,
        details={"resolution": discrepancy.resolution.value, "department": department.code},
    )
