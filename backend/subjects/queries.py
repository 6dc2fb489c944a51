"""Public queries on enterprises: name/USCC search and the public profile with its records.

Only legal subjects (法人和非法人组织) are ever returned here: natural persons have no public
surface. Both queries are on the hot path of the public API (targets at 100k enterprises and 1M
records: profile p99 <= 10 ms, search p99 <= 30 ms), so they use Core selects of the needed
columns, bounded result sets, and orderings that follow an index instead of sorting all matches.
"""

from __future__ import annotations

import datetime as dt
import decimal
from dataclasses import dataclass, field

import sqlalchemy as sa
from flask import current_app
from sqlalchemy.orm import aliased

from ..departments.models import Department
from ..extensions import db
from ..identifiers import USCC_ALPHABET, normalize
from ..records.labels import CATEGORY_ORDER
from ..records.models import CreditRecord, PenaltyTier, RecordCategory, RecordStatus
from ..records.publicity import SHOWN_STATUSES
from .models import Subject, SubjectKind

# Trigram indexes (FTS5 trigram, pg_trgm) can only answer substrings of at least 3 characters.
TRIGRAM_MIN_CHARS = 3
# Upper bound of a prefix range on SQLite: U+10FFFF sorts after every character in its binary
# (UTF-8 byte) collation, so name >= q AND name < q || U+10FFFF is exactly "starts with q".
_MAX_CHAR = "\U0010ffff"
_USCC_CHARS = frozenset(USCC_ALPHABET)

_fts = sa.table("subject_name_fts", sa.column("rowid", sa.Integer))


@dataclass(frozen=True)
class SubjectSummary:
    uscc: str
    name: str
    area_code: str | None


@dataclass(frozen=True)
class SearchPage:
    items: list[SubjectSummary]
    page: int
    per_page: int
    has_more: bool
    total: int | None = None  # only when it is free (USCC lookup); counting name matches is not


@dataclass(frozen=True)
class PublicRecord:
    id: int
    category: RecordCategory
    tier: PenaltyTier | None
    status: RecordStatus
    decision_number: str
    decision_date: dt.date
    department_name: str
    source_department_name: str | None
    title: str | None
    violation_type: str | None
    facts: str | None
    legal_basis: str | None
    penalty_category: str | None
    penalty_content: str | None
    fine_amount: decimal.Decimal | None
    valid_until: dt.date | None
    visible_until: dt.date | None

    @property
    def under_objection(self) -> bool:
        return self.status is RecordStatus.UNDER_OBJECTION


@dataclass(frozen=True)
class CategoryGroup:
    category: RecordCategory
    records: list[PublicRecord] = field(default_factory=list)

    @property
    def count(self) -> int:
        return len(self.records)


@dataclass(frozen=True)
class PublicProfile:
    uscc: str
    name: str
    legal_representative: str | None
    area_code: str | None
    address: str | None
    established_on: dt.date | None
    registration_authority: str | None
    as_of: dt.date
    categories: list[CategoryGroup]  # every category, in CATEGORY_ORDER, empty ones included

    @property
    def total_records(self) -> int:
        return sum(group.count for group in self.categories)

    @property
    def counts(self) -> dict[RecordCategory, int]:
        return {group.category: group.count for group in self.categories}


def looks_like_uscc(value: str) -> bool:
    """18 characters of the USCC alphabet: searched as a code, not as a name (no checksum test:
    allow-listed pilot codes fail it and must still be found)."""
    return len(value) == 18 and all(char in _USCC_CHARS for char in value)


def search_enterprises(q: str, page: int = 1, per_page: int = 20) -> SearchPage:
    """Find legal subjects by USCC (exact) or by a substring of their name.

    Ordering: exact name, then names starting with ``q`` (by name), then the other names
    containing ``q`` (by id, the order the trigram index returns them in, so a page stops after
    ``per_page`` hits instead of sorting every match of a common word such as 有限公司).
    ``per_page`` is capped at SEARCH_MAX_PAGE_SIZE.
    """
    text = q.strip()
    if not text:
        raise ValueError("empty query")
    page = max(page, 1)
    per_page = min(max(per_page, 1), current_app.extensions["settings"].SEARCH_MAX_PAGE_SIZE)
    code = normalize(text)
    if looks_like_uscc(code):
        rows = db.session.execute(
            sa.select(Subject.uscc, Subject.name, Subject.area_code).where(
                Subject.uscc == code, Subject.kind == SubjectKind.LEGAL
            )
        ).all()
        items = [SubjectSummary(*row) for row in rows] if page == 1 else []
        return SearchPage(items, page, per_page, has_more=False, total=len(rows))

    tiers = _name_tiers(text, db.session.get_bind().dialect.name)
    skip = (page - 1) * per_page
    want = per_page + 1  # one more than a page tells whether there is a next one
    items: list[SubjectSummary] = []
    for tier in tiers:
        rows = db.session.execute(tier.offset(skip).limit(want)).all()
        if rows:
            skip = 0
        elif skip:
            # The whole tier lies before the requested page: skip past it. Only deep pages
            # reach this, and only for the small exact and prefix tiers.
            skip -= db.session.scalar(sa.select(sa.func.count()).select_from(tier.order_by(None).subquery())) or 0
        items.extend(SubjectSummary(*row) for row in rows)
        want -= len(rows)
        if not want:
            break
    return SearchPage(items[:per_page], page, per_page, has_more=len(items) > per_page)


def _name_tiers(text: str, dialect: str) -> list[sa.Select]:
    """The three disjoint, individually ordered slices of the result: exact, prefix, contains."""
    cols = (Subject.uscc, Subject.name, Subject.area_code)
    legal = Subject.kind == SubjectKind.LEGAL
    exact = sa.select(*cols).where(Subject.name == text, legal).order_by(Subject.id)
    if dialect == "postgresql":
        # LIKE 'q%' is correct under any collation; on a C-collated database the planner turns it
        # into a range on ix_subject_name, elsewhere the pg_trgm GIN index serves it.
        starts = Subject.name.like(_like_escape(text) + "%", escape="\\")
        contains: sa.ColumnElement[bool] = Subject.name.ilike("%" + _like_escape(text) + "%", escape="\\")
    else:
        starts = sa.and_(Subject.name >= text, Subject.name < text + _MAX_CHAR)
        contains = Subject.name.like("%" + _like_escape(text) + "%", escape="\\")
    prefix = sa.select(*cols).where(starts, Subject.name != text, legal).order_by(Subject.name, Subject.id)
    if dialect == "sqlite" and len(text) >= TRIGRAM_MIN_CHARS:
        phrase = '"' + text.replace('"', '""') + '"'
        others = (
            sa.select(*cols)
            .select_from(_fts)
            .join(Subject, Subject.id == _fts.c.rowid)
            .where(sa.text("subject_name_fts MATCH :phrase").bindparams(phrase=phrase), sa.not_(starts), legal)
            .order_by(_fts.c.rowid)
        )
    else:
        # PostgreSQL: the pg_trgm GIN index answers ILIKE for 3+ characters. Shorter queries
        # (e.g. 金川) cannot use a trigram index on either database: this becomes a scan in id
        # order that stops as soon as the page is full (LIMIT), so it is cheap for common
        # fragments and costs one pass over the names only when a fragment is rare.
        others = sa.select(*cols).where(contains, sa.not_(starts), legal).order_by(Subject.id)
    return [exact, prefix, others]


def _like_escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def get_public_profile(uscc: str, today: dt.date) -> PublicProfile | None:
    """A legal subject with its publicly visible records, or None (unknown or not a legal subject)."""
    subject = db.session.execute(
        sa.select(
            Subject.id,
            Subject.uscc,
            Subject.name,
            Subject.legal_representative,
            Subject.area_code,
            Subject.address,
            Subject.established_on,
            Subject.registration_authority,
        ).where(Subject.uscc == uscc, Subject.kind == SubjectKind.LEGAL)
    ).first()
    if subject is None:
        return None
    groups = {category: CategoryGroup(category) for category in CATEGORY_ORDER}
    for record in _visible_records(subject.id, today):
        groups[record.category].records.append(record)
    return PublicProfile(
        uscc=subject.uscc,
        name=subject.name,
        legal_representative=subject.legal_representative,
        area_code=subject.area_code,
        address=subject.address,
        established_on=subject.established_on,
        registration_authority=subject.registration_authority,
        as_of=today,
        categories=[groups[category] for category in CATEGORY_ORDER],
    )


def _visible_records(subject_id: int, today: dt.date) -> list[PublicRecord]:
    # The same rule as PublicityRules.is_visible, in SQL so ix_credit_record_subject_category
    # picks the subject's rows and nothing hidden is ever loaded.
    source = aliased(Department)
    stmt = (
        sa.select(
            CreditRecord.id,
            CreditRecord.category,
            CreditRecord.tier,
            CreditRecord.status,
            CreditRecord.decision_number,
            CreditRecord.decision_date,
            Department.name,
            source.name,
            CreditRecord.title,
            CreditRecord.violation_type,
            CreditRecord.facts,
            CreditRecord.legal_basis,
            CreditRecord.penalty_category,
            CreditRecord.penalty_content,
            CreditRecord.fine_amount,
            CreditRecord.valid_until,
            CreditRecord.visible_until,
        )
        .join(Department, Department.id == CreditRecord.department_id)
        .outerjoin(source, source.id == CreditRecord.source_department_id)
        .where(
            CreditRecord.subject_id == subject_id,
            CreditRecord.status.in_(SHOWN_STATUSES),
            CreditRecord.published.is_(True),
            sa.or_(CreditRecord.visible_until.is_(None), CreditRecord.visible_until >= today),
        )
        .order_by(CreditRecord.decision_date.desc(), CreditRecord.id.desc())
    )
    return [PublicRecord(*row) for row in db.session.execute(stmt)]
