"""Build the plain ``ReportContent`` of each report kind from the database.

What each kind shows (DOMAIN.md, "Reports"):

* enterprise (法人和非法人组织公共信用信息报告): exactly what the public profile shows: the
  records within their publicity period, with the 异议处理中 mark. Anyone may obtain it.
* personal (个人公共信用信息报告): the person's own records, published or not, repaired ones
  marked 已修复, negative records older than NEGATIVE_DISCLOSURE_YEARS left out. The report is
  the owner's document: it carries the full name; the ID number is printed masked
  (6203**********2516), because the paper is handed on to employers and banks, who need the
  name and the verification code, not the full number.
* special (专项信用报告，有无违法违规记录证明版): the chosen period (up to REPORT_SPECIAL_MAX_YEARS)
  and domains, always at least 行政处罚 (including minor / 简易程序 ones, which are never
  published), 行政强制, 严重失信主体名单 and 刑事判决; repaired items marked 已修复.

Every report states, domain by domain, what the platform can know (issue 16 item 12): an empty
domain says 无 only where a registered feed (``records.domains``) covers the report's period;
a domain no feed reaches says 本平台未归集此类信息, never 无, so a special report for a natural
person cannot pass for a 无犯罪记录证明. The notes carry a table of the feeds (providers, complete
since, last received). Sections and wording follow the 公共信用信息报告标准（2022年版） of the
国家公共信用信息中心 (cover with the data cut-off, 报告说明, 基础信息, 公共信用信息概要, then each
category with the deciding authority of every record; see reports/README.md).

Records withdrawn after an objection (it was wrong) never appear.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import sqlalchemy as sa
from dateutil.relativedelta import relativedelta
from flask import current_app
from sqlalchemy.orm import selectinload

from reports.content import (
    CHINA_TZ,
    NONE_TEXT,
    NOT_COLLECTED_TEXT,
    Column,
    Period,
    ReportContent,
    ReportKind,
    Section,
    SourceLine,
)
from reports.content import Subject as ReportSubject

from ..errors import ApiError
from ..extensions import db
from ..pii import mask_id_number
from ..records.domains import DomainCoverage, domain_coverage
from ..records.labels import CATEGORY_ORDER, category_label, licence_status_label, tier_label
from ..records.models import CreditRecord, LicenceStatus, RecordCategory, RecordStatus
from ..subjects.models import Subject
from ..subjects.queries import get_public_profile
from . import messages as msg

_DOC = Column("决定文书号", "decision_no", 2.0)
_AUTHORITY = Column("认定机关", "authority", 1.3)
_DATE = Column("决定日期", "decided_on", 1.0)
COLUMNS: dict[RecordCategory, tuple[Column, ...]] = {
    RecordCategory.LICENCE: (
        Column("许可文书号", "decision_no", 1.6),
        Column("许可内容", "facts", 3.0),
        Column("许可机关", "authority", 1.3),
        Column("有效期", "valid", 1.4),
    ),
    RecordCategory.PENALTY: (
        _DOC,
        Column("违法事实及处罚内容", "facts", 3.2),
        Column("处罚机关", "authority", 1.3),
        _DATE,
    ),
    RecordCategory.ENFORCEMENT: (
        _DOC,
        Column("强制措施及理由", "facts", 3.4),
        Column("实施机关", "authority", 1.3),
        _DATE,
    ),
    RecordCategory.CRIMINAL_JUDGEMENT: (
        Column("判决书案号", "decision_no", 1.6),
        Column("罪名及判决结果", "facts", 3.4),
        Column("审判机关", "authority", 1.3),
        Column("判决日期", "decided_on", 1.0),
    ),
}
_LIST_COLUMNS = (
    Column("认定文书号", "decision_no", 1.6),
    Column("列入事由", "facts", 3.4),
    _AUTHORITY,
    Column("列入日期", "decided_on", 1.0),
)
_DEFAULT_COLUMNS = (_DOC, Column("内容", "facts", 3.2), _AUTHORITY, _DATE)
for _category in (
    RecordCategory.DISHONEST_LIST,
    RecordCategory.ABNORMAL_OPERATION,
    RecordCategory.COURT_DEFAULTER,
    RecordCategory.RED_LIST,
):
    COLUMNS[_category] = _LIST_COLUMNS

# The 专项 report: domains it always covers, and those a subject may add.
SPECIAL_REQUIRED: tuple[RecordCategory, ...] = (
    RecordCategory.PENALTY,
    RecordCategory.ENFORCEMENT,
    RecordCategory.DISHONEST_LIST,
    RecordCategory.CRIMINAL_JUDGEMENT,
)
SPECIAL_OPTIONAL: tuple[RecordCategory, ...] = (
    RecordCategory.COURT_DEFAULTER,
    RecordCategory.ABNORMAL_OPERATION,
)
# Owner reports show these; WITHDRAWN (deleted after an objection) never.
OWNER_STATUSES = (RecordStatus.PUBLIC, RecordStatus.UNDER_OBJECTION, RecordStatus.REPAIRED, RecordStatus.EXPIRED)


@dataclass(frozen=True)
class ReportOptions:
    """What the requester chose; only the special report has choices."""

    years: int | None = None
    domains: tuple[str, ...] = ()

    def as_json(self) -> dict:
        return {"years": self.years, "domains": list(self.domains)} if self.years else {}


@dataclass
class BuiltContent:
    content: ReportContent
    record_ids: list[int] = field(default_factory=list)


@dataclass(frozen=True)
class _Row:
    id: int
    category: RecordCategory
    status: RecordStatus
    decision_number: str
    decision_date: dt.date
    department_name: str
    authority_name: str | None  # the deciding authority (处罚机关 / 许可机关), when sent
    tier: object
    title: str | None
    violation_type: str | None
    facts: str | None
    penalty_content: str | None
    valid_until: dt.date | None
    licence_status: LicenceStatus | None = None  # a licence's 当前状态 (issue 16 item 5)


def _settings():
    return current_app.extensions["settings"]


def special_domains(requested: Iterable[str]) -> tuple[RecordCategory, ...]:
    """The required domains plus the requested optional ones, in report order."""
    chosen = set(SPECIAL_REQUIRED)
    bad = []
    for value in requested:
        try:
            category = RecordCategory(value)
        except ValueError:
            bad.append(str(value))
            continue
        if category not in SPECIAL_REQUIRED + SPECIAL_OPTIONAL:
            bad.append(str(value))
        chosen.add(category)
    if bad:
        raise ApiError(msg.DOMAINS_INVALID.format(domains="、".join(bad)), code="domains_invalid")
    return tuple(c for c in CATEGORY_ORDER if c in chosen)


def normalise_options(kind: ReportKind, options: ReportOptions | None) -> ReportOptions:
    options = options or ReportOptions()
    if kind is not ReportKind.SPECIAL:
        return ReportOptions()
    settings = _settings()
    years = options.years or settings.REPORT_SPECIAL_DEFAULT_YEARS
    if isinstance(years, bool) or not isinstance(years, int) or not 1 <= years <= settings.REPORT_SPECIAL_MAX_YEARS:
        raise ApiError(
            msg.YEARS_INVALID.format(max=settings.REPORT_SPECIAL_MAX_YEARS),
            code="years_invalid",
            details={"max": settings.REPORT_SPECIAL_MAX_YEARS},
        )
    return ReportOptions(years, tuple(c.value for c in special_domains(options.domains)))


def special_period(years: int, today: dt.date) -> Period:
    return Period(today - relativedelta(years=years) + dt.timedelta(days=1), today)


def build_content(
    subject: Subject,
    kind: ReportKind,
    options: ReportOptions,
    *,
    number: str,
    issued_at: dt.datetime,
    valid_until: dt.date,
) -> BuiltContent:
    """``issued_at`` is timezone-aware (China time); ``options`` already normalised."""
    today = issued_at.date()
    notes: list[str] = []
    period = None
    domains: tuple[str, ...] = ()
    # The period an empty domain speaks about: the special report's, else the disclosure window.
    window_start = today - relativedelta(years=_settings().NEGATIVE_DISCLOSURE_YEARS)
    if kind is ReportKind.ENTERPRISE:
        rows = _public_rows(subject, today)
        categories = [c for c in CATEGORY_ORDER if c is not RecordCategory.REGISTRATION]
        notes.append(msg.ENTERPRISE_NOTE)
        titles = {}
    elif kind is ReportKind.PERSONAL:
        cutoff = today - relativedelta(years=_settings().NEGATIVE_DISCLOSURE_YEARS)
        rows = [r for r in _owner_rows(subject) if not r.category.is_negative or r.decision_date >= cutoff]
        categories = [c for c in CATEGORY_ORDER if c is not RecordCategory.REGISTRATION]
        notes += [msg.PERSONAL_NOTE, msg.PERSONAL_CODE_NOTE]
        titles = {}
    else:
        assert options.years
        period = special_period(options.years, today)
        categories = [RecordCategory(d) for d in options.domains]
        rows = [
            r
            for r in _owner_rows(subject)
            if r.category in categories and period.start <= r.decision_date <= period.end
        ]
        domains = tuple(_special_title(c) for c in categories)
        window_start = period.start
        notes.append(msg.SPECIAL_NOTE)
        if subject.is_natural:
            notes += [msg.SPECIAL_PERSON_NOTE, msg.PERSONAL_CODE_NOTE]
        titles = {RecordCategory.PENALTY: "行政处罚信息（含简易程序）"}
    notes.append(msg.COVERAGE_NOTE)
    coverage = domain_coverage(categories, window_start, today)
    sections = []
    sources = []
    for category in categories:
        mine = [r for r in rows if r.category is category]
        title = titles.get(category, f"{category_label(category)}信息")
        empty_text, statement = _empty_text(coverage[category], window_start)
        sections.append(
            Section(
                category.value,
                title,
                COLUMNS.get(category, _DEFAULT_COLUMNS),
                [_cells(r, kind) for r in mine],
                empty_text,
                collected=coverage[category].collected or bool(mine),
            )
        )
        sources.append(_source_line(title, coverage[category], statement))
    content = ReportContent(
        number=number,
        kind=kind,
        issued_at=issued_at,
        valid_until=valid_until,
        data_cutoff_at=issued_at,
        subject=_report_subject(subject, kind),
        sections=sections,
        period=period,
        domains=domains,
        notes=notes,
        sources=sources,
    )
    shown = {r.id for r in rows if r.category in categories}
    return BuiltContent(content, sorted(shown))


def _empty_text(coverage: DomainCoverage, start: dt.date) -> tuple[str, str]:
    """What an empty section says, and the coverage table's statement, for a period from
    ``start``: 无 only when a feed is complete for the whole period."""
    if not coverage.collected:
        return NOT_COLLECTED_TEXT, NOT_COLLECTED_TEXT
    if coverage.complete_for(start):
        return NONE_TEXT, msg.SOURCE_COLLECTED
    since = coverage.covers_from.isoformat()
    return msg.NONE_SINCE.format(date=since), msg.SOURCE_SINCE.format(date=since)


def _source_line(title: str, coverage: DomainCoverage, statement: str) -> SourceLine:
    last = coverage.last_received_at
    return SourceLine(
        title,
        "、".join(coverage.departments) or "—",
        coverage.covers_from.isoformat() if coverage.covers_from else "—",
        # Stored naive UTC; printed in China time like every other time of the report.
        f"{last.replace(tzinfo=dt.UTC).astimezone(CHINA_TZ):%Y-%m-%d %H:%M}" if last else "—",
        statement,
    )


def _special_title(category: RecordCategory) -> str:
    return "行政处罚（含简易程序）" if category is RecordCategory.PENALTY else category_label(category)


def _report_subject(subject: Subject, kind: ReportKind) -> ReportSubject:
    if subject.is_natural:
        return ReportSubject(
            name=subject.reveal_name(),
            code_label="身份证号码",
            code=mask_id_number(subject.reveal_id_number()),
            details=(("查询人", "本人"),),
        )
    details: list[tuple[str, str]] = []
    if subject.legal_representative:
        details.append(("法定代表人", subject.legal_representative))
    if subject.established_on:
        details.append(("成立日期", f"{subject.established_on:%Y年%m月%d日}"))
    if subject.address:
        details.append(("住所", subject.address))
    if subject.registration_authority:
        details.append(("登记机关", subject.registration_authority))
    return ReportSubject(
        name=subject.name or "", code_label="统一社会信用代码", code=subject.uscc or "", details=details
    )


def _public_rows(subject: Subject, today: dt.date) -> list[_Row]:
    profile = get_public_profile(subject.uscc or "", today, primary=True)
    if profile is None:
        return []
    return [
        _Row(
            r.id,
            r.category,
            r.status,
            r.decision_number,
            r.decision_date,
            r.department_name,
            r.authority_name,
            r.tier,
            r.title,
            r.violation_type,
            r.facts,
            r.penalty_content,
            r.valid_until,
            r.licence_status,
        )
        for group in profile.categories
        for r in group.records
    ]


def _owner_rows(subject: Subject) -> list[_Row]:
    records: Sequence[CreditRecord] = db.session.scalars(
        sa.select(CreditRecord)
        .options(selectinload(CreditRecord.department))
        .where(CreditRecord.subject_id == subject.id, CreditRecord.status.in_(OWNER_STATUSES))
        .order_by(CreditRecord.decision_date.desc(), CreditRecord.id.desc())
    ).all()
    return [
        _Row(
            r.id,
            r.category,
            r.status,
            r.decision_number,
            r.decision_date,
            r.department.name,
            r.authority_name,
            r.tier,
            r.title,
            r.violation_type,
            r.facts,
            r.penalty_content,
            r.valid_until,
            r.licence_status,
        )
        for r in records
    ]


def deciding_authority(row: _Row) -> str:
    """The report row's authority column (2022 report standard: each record with the authority
    that decided it): the deciding authority the department sent (处罚机关 / 许可机关, which may
    be a county bureau or a 综合执法 team), with the reporting department when it differs; the
    reporting department alone when no authority was sent."""
    authority = (row.authority_name or "").strip()
    if not authority or authority == row.department_name:
        return row.department_name
    return msg.REPORTED_THROUGH.format(authority=authority, department=row.department_name)


def _cells(row: _Row, kind: ReportKind) -> dict[str, object]:
    parts = []
    if row.category is RecordCategory.PENALTY and row.tier is not None:
        parts.append(f"【{tier_label(row.tier)}】")
    if row.licence_status is not None and not row.licence_status.is_current:
        parts.append(f"【{licence_status_label(row.licence_status)}】")
    text = "；".join(p for p in (row.title, row.violation_type, row.facts, row.penalty_content) if p)
    parts.append(text or "—")
    if row.status is RecordStatus.UNDER_OBJECTION:
        parts.append(msg.UNDER_OBJECTION_SUFFIX)
    cells: dict[str, object] = {
        "decision_no": row.decision_number,
        "facts": "".join(parts),
        "authority": deciding_authority(row),
        "decided_on": row.decision_date.isoformat(),
    }
    if row.category is RecordCategory.LICENCE:
        end = row.valid_until.isoformat() if row.valid_until else "长期"
        cells["valid"] = f"{row.decision_date.isoformat()} 至 {end}"
    if kind is not ReportKind.ENTERPRISE and row.status is RecordStatus.REPAIRED:
        cells["repaired"] = True
    return cells
