"""Whether a record may be shown to the public, and until when (DOMAIN.md, publicity periods).

The decision is computed when a record is written and stored on it (``published`` and
``visible_until``) so public queries filter with an index instead of re-deriving rules per row;
``flask credit expire-records`` (run daily by the scheduler) moves records past their end date to
the EXPIRED status. All periods come from configuration.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from dateutil.relativedelta import relativedelta

from ..config import Settings
from .models import NEGATIVE_CATEGORIES, PenaltyTier, RecordCategory, RecordStatus

SHOWN_STATUSES = (RecordStatus.PUBLIC, RecordStatus.UNDER_OBJECTION)


@dataclass(frozen=True)
class PublicityDecision:
    published: bool
    visible_until: dt.date | None
    reason: str  # Chinese, for the console and the repair eligibility answer


@dataclass(frozen=True)
class PublicityRules:
    minor_published: bool = False
    minor_max_months: int = 3
    general_min_months: int = 3
    general_max_months: int = 12
    serious_min_months: int = 12
    serious_max_months: int = 36
    default_end: str = "max"
    negative_disclosure_years: int = 5

    @classmethod
    def from_settings(cls, s: Settings) -> PublicityRules:
        return cls(
            minor_published=s.PUBLICITY_MINOR_PUBLISHED,
            minor_max_months=s.PUBLICITY_MINOR_MAX_MONTHS,
            general_min_months=s.PUBLICITY_GENERAL_MIN_MONTHS,
            general_max_months=s.PUBLICITY_GENERAL_MAX_MONTHS,
            serious_min_months=s.PUBLICITY_SERIOUS_MIN_MONTHS,
            serious_max_months=s.PUBLICITY_SERIOUS_MAX_MONTHS,
            default_end=s.PUBLICITY_DEFAULT_END,
            negative_disclosure_years=s.NEGATIVE_DISCLOSURE_YEARS,
        )

    def period_months(self, tier: PenaltyTier) -> tuple[int, int]:
        return {
            PenaltyTier.MINOR: (0, self.minor_max_months),
            PenaltyTier.GENERAL: (self.general_min_months, self.general_max_months),
            PenaltyTier.SERIOUS: (self.serious_min_months, self.serious_max_months),
        }[tier]

    def minimum_end(self, tier: PenaltyTier, decision_date: dt.date) -> dt.date:
        """The end of the minimum publicity period: from then on the record may be repaired."""
        return decision_date + relativedelta(months=self.period_months(tier)[0])

    def decide(
        self,
        *,
        category: RecordCategory,
        tier: PenaltyTier | None,
        decision_date: dt.date,
        publicity_end_date: dt.date | None,
        valid_until: dt.date | None,
        natural_person: bool,
    ) -> PublicityDecision:
        if natural_person:
            return PublicityDecision(False, None, "自然人信息不公开，仅本人或授权方可查询")
        end: dt.date | None = valid_until
        if category is RecordCategory.PENALTY:
            assert tier is not None
            if tier is PenaltyTier.MINOR and not self.minor_published:
                return PublicityDecision(False, None, "轻微违法行政处罚原则上不公示")
            low, high = self.period_months(tier)
            earliest = decision_date + relativedelta(months=low)
            latest = decision_date + relativedelta(months=high)
            if publicity_end_date is None:
                end = latest if self.default_end == "max" or tier is PenaltyTier.MINOR else earliest
            else:
                end = min(max(publicity_end_date, earliest), latest)
        if category in NEGATIVE_CATEGORIES:
            cap = decision_date + relativedelta(years=self.negative_disclosure_years)
            end = cap if end is None else min(end, cap)
        return PublicityDecision(True, end, "按公示期限公示" if end else "长期公示")

    @staticmethod
    def is_visible(status: RecordStatus, published: bool, visible_until: dt.date | None, today: dt.date) -> bool:
        return status in SHOWN_STATUSES and published and (visible_until is None or visible_until >= today)
