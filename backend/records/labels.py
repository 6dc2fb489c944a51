"""Chinese labels for the record enums, in one place for the API, the console and the reports.

Wording here is what citizens and clerks read: change it here, not in templates or views.
"""

from __future__ import annotations

from .models import LicenceStatus, PenaltyTier, RecordCategory, RecordStatus

CATEGORY_LABELS: dict[RecordCategory, str] = {
    RecordCategory.REGISTRATION: "登记基础信息",
    RecordCategory.LICENCE: "行政许可",
    RecordCategory.PENALTY: "行政处罚",
    RecordCategory.ENFORCEMENT: "行政强制",
    RecordCategory.RED_LIST: "守信激励",
    RecordCategory.DISHONEST_LIST: "严重失信主体名单",
    RecordCategory.ABNORMAL_OPERATION: "经营异常名录",
    RecordCategory.COURT_DEFAULTER: "失信被执行人",
    RecordCategory.CRIMINAL_JUDGEMENT: "刑事判决",
    RecordCategory.COMMITMENT: "信用承诺",
    RecordCategory.OTHER_ADMIN: "其他行政行为",
}

TIER_LABELS: dict[PenaltyTier, str] = {
    PenaltyTier.MINOR: "轻微",
    PenaltyTier.GENERAL: "一般",
    PenaltyTier.SERIOUS: "严重",
}

# A licence's 当前状态 as shown everywhere (profiles, reports, the mini-program): a revoked or
# cancelled licence shows as what it is (issue 16 item 5).
LICENCE_STATUS_LABELS: dict[LicenceStatus, str] = {status: status.label for status in LicenceStatus}
# Beside a tier the city's rule derived and the department has not confirmed yet.
TIER_DERIVED_MARK = "按规则推定，待认定单位确认"

STATUS_LABELS: dict[RecordStatus, str] = {
    RecordStatus.PUBLIC: "公示中",
    RecordStatus.UNDER_OBJECTION: "异议处理中",
    RecordStatus.REPAIRED: "已修复",
    RecordStatus.WITHDRAWN: "已撤销",
    RecordStatus.EXPIRED: "公示期满",
}

# The public mark on a record whose objection has been accepted (DOMAIN.md: marked at once).
UNDER_OBJECTION_MARK = STATUS_LABELS[RecordStatus.UNDER_OBJECTION]

# The order in which a subject's records are shown, in profiles and reports alike: basic facts
# and positive information first, then the negative categories, then the rest.
CATEGORY_ORDER: tuple[RecordCategory, ...] = (
    RecordCategory.REGISTRATION,
    RecordCategory.LICENCE,
    RecordCategory.RED_LIST,
    RecordCategory.COMMITMENT,
    RecordCategory.PENALTY,
    RecordCategory.ENFORCEMENT,
    RecordCategory.DISHONEST_LIST,
    RecordCategory.ABNORMAL_OPERATION,
    RecordCategory.COURT_DEFAULTER,
    RecordCategory.CRIMINAL_JUDGEMENT,
    RecordCategory.OTHER_ADMIN,
)


def category_label(category: RecordCategory) -> str:
    return CATEGORY_LABELS[category]


def tier_label(tier: PenaltyTier | None) -> str | None:
    return TIER_LABELS[tier] if tier is not None else None


def status_label(status: RecordStatus) -> str:
    return STATUS_LABELS[status]


def licence_status_label(status: LicenceStatus | None) -> str | None:
    return LICENCE_STATUS_LABELS[status] if status is not None else None
