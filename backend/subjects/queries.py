"""Public queries on enterprises: name/USCC search and the public profile with its records.

Only legal subjects (法人和非法人组织) are ever returned here: natural persons have no public
surface. Both queries are on the hot path of the public API (targets at 100k enterprises and 1M
records: profile p99 <= 10 ms, search p99 <= 30 ms), so they use Core selects of the needed
columns, bounded result sets, and orderings that follow an index instead of sorting all matches.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import decimal
import functools
from collections.abc import Iterator
from dataclasses import dataclass, field

import sqlalchemy as sa
from flask import current_app
from sqlalchemy.dialects import postgresql
from sqlalchemy.engine import Connection

from ..departments.models import Department
from ..extensions import db, on_replica
from ..fast_select import FastSelect
from ..identifiers import USCC_ALPHABET, normalize
from ..records.labels import CATEGORY_ORDER, licence_status_label
from ..records.models import CreditRecord, LicenceStatus, PenaltyTier, RecordCategory, RecordStatus
from ..records.publicity import SHOWN_STATUSES
from .models import Subject, SubjectKind

# Trigram indexes (FTS5 trigram, pg_trgm) can only answer substrings of at least 3 characters.
TRIGRAM_MIN_CHARS = 3
# Upper bound of a prefix range on SQLite: U+10FFFF sorts after every character in its binary
# (UTF-8 byte) collation, so name >= q AND name < q || U+10FFFF is exactly "starts with q".
_MAX_CHAR = "\U0010ffff"
_USCC_CHARS = frozenset(USCC_ALPHABET)


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
    # The 2021 national templates (issue 16): the deciding authority (as sent, else the
    # sending department), licence status and number, the penalty's own validity ...
    authority_name: str
    authority_uscc: str | None
    tier_derived: bool
    penalty_valid_until: dt.date | None
    confiscated_amount: decimal.Decimal | None
    suspended_licence: str | None
    valid_from: dt.date | None
    licence_number: str | None
    licence_status: LicenceStatus | None

    @property
    def under_objection(self) -> bool:
        return self.status is RecordStatus.UNDER_OBJECTION

    @property
    def licence_status_label(self) -> str | None:
        return licence_status_label(self.licence_status)


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
    """Find legal subjects by USCC or name (see ``_search``), on the read replica when configured."""
    return on_replica(lambda connection: _search(connection, q, page, per_page), autocommit=True)


def _search(connection: Connection, q: str, page: int, per_page: int) -> SearchPage:
    """Find legal subjects by USCC (exact) or by a substring of their name.

    Ordering: exact name, then names starting with ``q`` (by name), then the other names
    containing ``q``, in the order of the index that finds them, so a page stops after
    ``per_page`` hits instead of sorting every match of a common word such as 有限公司: by id
    (FTS5 rowid, subject_name_pair, primary key).
    ``per_page`` is capped at SEARCH_MAX_PAGE_SIZE.
    """
    text = q.strip()
    if not text:
        raise ValueError("empty query")
    page = max(page, 1)
    per_page = min(max(per_page, 1), current_app.extensions["settings"].SEARCH_MAX_PAGE_SIZE)
    code = normalize(text)
    if looks_like_uscc(code):
        rows = _fast(_BY_USCC).rows(connection, {"uscc": code})
        items = [SubjectSummary(*row) for row in rows] if page == 1 else []
        return SearchPage(items, page, per_page, has_more=False, total=len(rows))

    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    params = {
        "q": text,
        "q_upper": text + _MAX_CHAR,
        "starts": escaped + "%",
        "contains": "%" + escaped + "%",
        "phrase": '"' + text.replace('"', '""') + '"',
    }
    skip = (page - 1) * per_page
    want = per_page + 1  # one more than a page tells whether there is a next one
    items: list[SubjectSummary] = []
    dialect = connection.dialect.name
    mode = _search_mode(text)
    with _planned_per_search(connection):
        if dialect == "postgresql" and not skip:
            # The first page (nearly every search) in one statement: one round trip to the
            # server instead of one per tier.
            rows = _fast(_first_page(mode)).rows(connection, {**params, "limit": want})
            items = [SubjectSummary(*row) for row in rows]
            return SearchPage(items[:per_page], page, per_page, has_more=len(items) > per_page)
        for rows_stmt, count_stmt in _name_tiers(dialect, mode):
            rows = _fast(rows_stmt).rows(connection, {**params, "offset": skip, "limit": want})
            if rows:
                skip = 0
            elif skip and count_stmt is not None:
                # The whole tier lies before the requested page: skip past it. Only deep pages
                # reach this, and only for the small exact and prefix tiers.
                skip -= connection.scalar(count_stmt, params) or 0
            items.extend(SubjectSummary(*row) for row in rows)
            want -= len(rows)
            if not want:
                break
    return SearchPage(items[:per_page], page, per_page, has_more=len(items) > per_page)


@contextlib.contextmanager
def _planned_per_search(connection: Connection) -> Iterator[None]:
    """On PostgreSQL, plan each search for its own fragment: psycopg prepares a statement it has
    run five times, and the prepared statement's generic plan cannot tell a rare fragment
    (trigram index) from a common one (walk the primary key to LIMIT); measured on 100k
    enterprises, p99 of 3-4 character searches about half with a plan per search. Not preparing
    them here (a setting of the driver's connection, no round trip) keeps the other statements
    prepared, and needs no transaction for a SET LOCAL: the search runs in autocommit."""
    driver = connection.connection.driver_connection
    if connection.dialect.name != "postgresql" or driver is None:
        yield
        return
    threshold = driver.prepare_threshold
    driver.prepare_threshold = None
    try:
        yield
    finally:
        driver.prepare_threshold = threshold


def _search_mode(text: str) -> tuple[bool, bool]:
    """(short, cased): short text cannot use a trigram index; text without letters that have a
    case (Chinese, digits) is matched with the plain, several times faster, case-exact LIKE or
    instr(); text with letters with ILIKE/LIKE, ignoring case like the trigram tokenizer does."""
    return len(text) < TRIGRAM_MIN_CHARS, text.lower() != text.upper()


# Statements are built once and reused with parameters: building a select costs more than
# running these indexed queries, and the compiled form is cached by SQLAlchemy.
_s = Subject.__table__
_LEGAL = _s.c.kind == SubjectKind.LEGAL
_SUMMARY = (_s.c.uscc, _s.c.name, _s.c.area_code)
_PAGE = {"limit": sa.bindparam("limit", type_=sa.Integer), "offset": sa.bindparam("offset", type_=sa.Integer)}
_BY_USCC = sa.select(*_SUMMARY).where(_s.c.uscc == sa.bindparam("uscc"), _LEGAL)
_fts = sa.table("subject_name_fts", sa.column("rowid", sa.Integer))
_pair = sa.table("subject_name_pair", sa.column("pair", sa.String), sa.column("subject_id", sa.Integer))
_FTS_MATCH = sa.literal_column("subject_name_fts").op("MATCH")(sa.bindparam("phrase"))


@functools.cache
def _fast(statement: sa.Select) -> FastSelect:
    """The statement (one of the cached ones here) run on the driver's cursor (fast_select.py)."""
    return FastSelect(statement)


def _paged(stmt: sa.Select) -> sa.Select:
    return stmt.limit(_PAGE["limit"]).offset(_PAGE["offset"])


def _counted(stmt: sa.Select) -> sa.Select:
    return sa.select(sa.func.count()).select_from(stmt.order_by(None).subquery())


@functools.cache
def _name_tiers(dialect: str, mode: tuple[bool, bool]) -> tuple[tuple[sa.Select, sa.Select | None], ...]:
    """The three disjoint, individually ordered slices of a name search: exact, prefix, contains.

    Each is (rows with :limit/:offset, count or None); parameters: q, q_upper, starts,
    contains, phrase.
    """
    short, cased = mode
    name = _s.c.name
    q = sa.bindparam("q", type_=sa.String)
    # "Starts with q" as a range on ix_subject_name (q <= name < q || U+10FFFF). It is exact where
    # the collation orders by code point (SQLite's binary collation; C or C.UTF-8 on PostgreSQL).
    # On PostgreSQL the LIKE keeps it right under any other collation too: there a few names may
    # fall outside the range and rank with the "contains" tier below, which takes exactly what
    # this condition leaves, so nothing is lost. (A plain LIKE 'q%' only uses a btree index with
    # a C collation or text_pattern_ops, and the database here is C.UTF-8.)
    starts = sa.and_(name >= q, name < sa.bindparam("q_upper", type_=sa.String))
    if dialect == "postgresql":
        starts = sa.and_(starts, name.like(sa.bindparam("starts", type_=sa.String), escape="\\"))
    exact = sa.select(*_SUMMARY).where(name == q, _LEGAL).order_by(_s.c.id)
    prefix = sa.select(*_SUMMARY).where(starts, name != q, _LEGAL).order_by(name, _s.c.id)
    contains = sa.bindparam("contains", type_=sa.String)
    if dialect == "postgresql":
        # The planner takes a GIN index when matches are few and walks the primary key, stopping
        # at LIMIT, when they are many (common fragments such as 金川): pg_trgm for 3+
        # characters, ix_subject_name_grams (migration 0007: each name's lower-cased characters
        # and character pairs) for 1-2, which no trigram index can answer. (Known slow case: a
        # deep page of a fragment nearly all of whose matches start with it, e.g. page 50 of 金川区.)
        if short:
            # Not LIKE: the same SQL text for 2 and 3+ characters let psycopg's prepared statement
            # settle on one generic plan, the trigram GIN index, which for 1-2 characters reads
            # the whole index (170 ms for 有限). The grams find the rows; strpos keeps the exact rule.
            haystack, needle = (sa.func.lower(name), sa.func.lower(q)) if cased else (name, q)
            in_grams = sa.func.credit_name_grams(name).op("@>")(postgresql.array([sa.func.lower(q)]))
            found = sa.and_(in_grams, sa.func.strpos(haystack, needle) > 0)
        else:
            found = (name.ilike if cased else name.like)(contains, escape="\\")
        others = _paged(sa.select(*_SUMMARY).where(found, ~starts, _LEGAL).order_by(_s.c.id))
    elif not short:
        others = _paged(
            sa.select(*_SUMMARY)
            .select_from(_fts.join(_s, _s.c.id == _fts.c.rowid))
            .where(_FTS_MATCH, ~starts, _LEGAL)
            .order_by(_fts.c.rowid)
        )
    else:
        # SQLite, 1-2 characters: the trigram table cannot answer them (FTS5 finds nothing for
        # shorter phrases). subject_name_pair (migration 0008) holds each name's characters and
        # character pairs, lower-cased as the LIKE rule ignores case, in (pair, subject id)
        # order: the tier is read in id order and stops at LIMIT, for rare and common fragments
        # alike. Natural persons have no name and never match; the query still checks the kind.
        others = _paged(
            sa.select(*_SUMMARY)
            .select_from(_pair.join(_s, _s.c.id == _pair.c.subject_id))
            .where(_pair.c.pair == sa.func.lower(q), ~starts, _LEGAL)
            .order_by(_pair.c.subject_id)
        )
    return ((_paged(exact), _counted(exact)), (_paged(prefix), _counted(prefix)), (others, None))


@functools.cache
def _first_page(mode: tuple[bool, bool]) -> sa.Select:
    """PostgreSQL: the first :limit rows of the three tiers of ``_name_tiers`` in one statement.

    Each tier keeps its own order and stops at :limit; the rows are put in tier order, then in
    each tier's own order: the rows the tiered statements give for page 1, in the same order.
    The third tier runs only when the first two found fewer than :limit rows (a one-time filter
    on their count), as the tiered loop stops: for a fragment nearly every name starts with
    (金昌市), the names merely containing it are a slow search that page 1 does not need.
    """
    exact, prefix, others = (
        rows_stmt.offset(None).add_columns(
            _s.c.id.label("sort_id"),
            sa.literal_column(str(tier)).label("tier"),
            (_s.c.name if tier == 1 else sa.literal_column("''")).label("sort_name"),  # the prefix tier: by name
        )
        for tier, (rows_stmt, _count) in enumerate(_name_tiers("postgresql", mode))
    )
    head = sa.union_all(exact, prefix).cte("head")
    found = sa.select(sa.func.count()).select_from(head).scalar_subquery()
    rest = others.subquery("others")
    tiers = sa.union_all(sa.select(head), sa.select(rest).where(found < _PAGE["limit"])).subquery("tiers")
    return (
        sa.select(tiers.c.uscc, tiers.c.name, tiers.c.area_code)
        .order_by(tiers.c.tier, tiers.c.sort_name, tiers.c.sort_id)
        .limit(_PAGE["limit"])
    )


def get_public_profile(uscc: str, today: dt.date, *, primary: bool = False) -> PublicProfile | None:
    """A legal subject with its publicly visible records, or None (unknown or not a legal subject);
    on the read replica when configured, unless ``primary`` (a report must show what the primary
    holds now: its registry links the records it showed, and a correction revokes it)."""
    if primary:
        return _profile(db.session.connection(), uscc, today)
    return on_replica(lambda connection: _profile(connection, uscc, today), autocommit=True)


def _profile(connection: Connection, uscc: str, today: dt.date) -> PublicProfile | None:
    rows = _PROFILE_ROWS.rows(connection, {"uscc": uscc, "today": today})
    if not rows:
        return None
    subject = rows[0]
    groups = {category: CategoryGroup(category) for category in CATEGORY_ORDER}
    for row in rows:
        if row[_RECORD_AT] is not None:  # None: the subject has no visible record (outer join)
            record = PublicRecord(*row[_RECORD_AT:])
            groups[record.category].records.append(record)
    # The subject's columns after its id are PublicProfile's first fields, in its order.
    return PublicProfile(
        *subject[1:_RECORD_AT], as_of=today, categories=[groups[category] for category in CATEGORY_ORDER]
    )


_r = CreditRecord.__table__
_dept = Department.__table__
_source = _dept.alias("source_department")
_PROFILE_SUBJECT_COLUMNS = (
    _s.c.id.label("subject_id"),
    _s.c.uscc,
    _s.c.name,
    _s.c.legal_representative,
    _s.c.area_code,
    _s.c.address,
    _s.c.established_on,
    _s.c.registration_authority,
)
# The shown statuses written into the SQL as constants: a bound IN list is an "expanding"
# parameter, whose SQL SQLAlchemy rewrites on every execution (about 0.05 ms a profile request),
# and the same test as equalities joined by OR leads SQLite's planner to the status index.
_SHOWN_STATUS = sa.text(f"credit_record.status IN ({', '.join(repr(status.value) for status in SHOWN_STATUSES)})")
_RECORD_AT = len(_PROFILE_SUBJECT_COLUMNS)  # PublicRecord's fields follow, in its order
# One statement: the subject by its USCC and, outer-joined, its visible records (the same rule
# as PublicityRules.is_visible, in SQL, so ix_credit_record_subject_category picks the
# subject's rows and nothing hidden is ever loaded). One round trip instead of two is a
# visible share of a profile request.
_PROFILE = (
    sa.select(
        *_PROFILE_SUBJECT_COLUMNS,
        _r.c.id,
        _r.c.category,
        _r.c.tier,
        _r.c.status,
        _r.c.decision_number,
        _r.c.decision_date,
        _dept.c.name.label("department_name"),
        _source.c.name.label("source_department_name"),
        _r.c.title,
        _r.c.violation_type,
        _r.c.facts,
        _r.c.legal_basis,
        _r.c.penalty_category,
        _r.c.penalty_content,
        _r.c.fine_amount,
        _r.c.valid_until,
        _r.c.visible_until,
        sa.func.coalesce(_r.c.authority_name, _dept.c.name).label("authority_name"),
        _r.c.authority_uscc,
        _r.c.tier_derived,
        _r.c.penalty_valid_until,
        _r.c.confiscated_amount,
        _r.c.suspended_licence,
        _r.c.valid_from,
        _r.c.licence_number,
        _r.c.licence_status,
    )
    .select_from(
        # Flat outer joins: SQLite materialises a parenthesised join (every record) before
        # applying the ON clause; a record always has its department, so LEFT there loses nothing.
        _s.outerjoin(
            _r,
            sa.and_(
                _r.c.subject_id == _s.c.id,
                _SHOWN_STATUS,
                _r.c.published.is_(True),
                sa.or_(_r.c.visible_until.is_(None), _r.c.visible_until >= sa.bindparam("today", type_=sa.Date)),
            ),
        )
        .outerjoin(_dept, _dept.c.id == _r.c.department_id)
        .outerjoin(_source, _source.c.id == _r.c.source_department_id)
    )
    .where(_s.c.uscc == sa.bindparam("uscc"), _LEGAL)
    .order_by(_r.c.decision_date.desc(), _r.c.id.desc())
)
_PROFILE_ROWS = FastSelect(_PROFILE)  # the busiest public statement: run on the driver's cursor
