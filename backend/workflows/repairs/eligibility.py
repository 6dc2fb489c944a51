"""Whether a record can be repaired now, with a precise answer (DOMAIN.md, credit repair)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from flask import current_app

from ...records.models import CreditRecord, PenaltyTier, RecordCategory, RecordStatus
from ...records.publicity import PublicityRules
from ...types import local_date
from ..cases import find_open_case, workflow_setting
from . import messages as msg


@dataclass(frozen=True)
class Eligibility:
    eligible: bool
    code: str  # eligible | not_negative | not_repairable | minor_unpublished | too_early | ...
    message: str
    eligible_from: dt.date | None = None
    basis: str | None = None
    open_number: str | None = None

    def as_dict(self) -> dict:
        return {
            "eligible": self.eligible,
            "code": self.code,
            "message": self.message,
            "eligible_from": self.eligible_from.isoformat() if self.eligible_from else None,
            "basis": self.basis,
            "open_number": self.open_number,
        }


def non_repairable_categories() -> frozenset[str]:
    return frozenset(workflow_setting("REPAIR_NON_REPAIRABLE_CATEGORIES"))


def check_repair_eligibility(
    record: CreditRecord, today: dt.date | None = None, rules: PublicityRules | None = None
) -> Eligibility:
    today = today or local_date()
    rules = rules or PublicityRules.from_settings(current_app.extensions["settings"])
    if record.status is RecordStatus.WITHDRAWN:
        return Eligibility(False, "withdrawn", msg.WITHDRAWN)
    if record.status is RecordStatus.REPAIRED:
        return Eligibility(False, "already_repaired", msg.ALREADY_REPAIRED)
    if not record.category.is_negative:
        return Eligibility(False, "not_negative", msg.NOT_NEGATIVE)
    if record.category.value in non_repairable_categories():
        basis = msg.NON_REPAIRABLE_BASIS.get(record.category.value, msg.NON_REPAIRABLE_GENERIC)
        return Eligibility(False, "not_repairable", msg.NOT_REPAIRABLE.format(basis=basis), basis=basis)
    if record.category is RecordCategory.PENALTY and record.tier is PenaltyTier.MINOR and not record.published:
        return Eligibility(False, "minor_unpublished", msg.MINOR_UNPUBLISHED)
    if record.status is RecordStatus.EXPIRED or (record.visible_until is not None and record.visible_until < today):
        return Eligibility(False, "expired", msg.EXPIRED)
    if record.status is RecordStatus.UNDER_OBJECTION:
        return Eligibility(False, "under_objection", msg.UNDER_OBJECTION)
    if record.category is RecordCategory.PENALTY and record.tier is not None:
        earliest = rules.minimum_end(record.tier, record.decision_date)
        if today < earliest:
            return Eligibility(
                False,
                "too_early",
                msg.TOO_EARLY.format(date=f"{earliest.year}年{earliest.month}月{earliest.day}日"),
                eligible_from=earliest,
            )
    from .models import RepairApplication

    if (open_case := find_open_case(RepairApplication, record.id)) is not None:
        return Eligibility(
            False,
            "open_application",
            msg.OPEN_APPLICATION.format(number=open_case.number),
            open_number=open_case.number,
        )
    return Eligibility(True, "eligible", msg.ELIGIBLE)
