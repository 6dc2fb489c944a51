"""Writing credit records: the one upsert used by file imports and the department API.

Records are keyed by (department, decision number): sending a record again updates it, never
duplicates it, and sending it unchanged changes nothing (compared by a hash of its content).
Writes are set-based per chunk (one SELECT for existing subjects and records, bulk INSERT and
UPDATE) because department batches reach hundreds of thousands of rows.
"""

from __future__ import annotations

import datetime as dt
import decimal
import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, fields
from typing import Literal

import sqlalchemy as sa

from ..extensions import db
from ..pii import cipher, mask_name
from ..subjects.models import Subject, SubjectKind
from ..types import local_date, utcnow
from ..workdays.service import WorkdayCalendar
from .models import CreditRecord, PenaltyTier, RecordCategory, RecordStatus
from .publicity import PublicityDecision, PublicityRules

Outcome = Literal["created", "updated", "unchanged"]
# PostgreSQL: refresh the planner's statistics after this many rows inserted by one writer. A
# big load (an initial historical import, demo data) is one transaction that autovacuum cannot
# see, so the tables keep the statistics of their empty state, and the planner, guessing that a
# list of decision numbers matches a third of the records, scans the whole table for every
# chunk's existing records (measured: 4 s a chunk at 375k records, the load slowing to a
# crawl). ANALYZE in the same transaction counts its own new rows and takes about 0.2 s.
ANALYZE_EVERY_ROWS = 100_000
IN_LIST_SIZE = 900  # values bound in one IN list: below SQLite's limit of bound parameters


@dataclass(frozen=True)
class RecordInput:
    """A validated record as sent by a department (identifiers already checked)."""

    department_id: int
    category: RecordCategory
    decision_number: str
    decision_date: dt.date
    received_date: dt.date
    subject_name: str
    uscc: str | None = None  # legal persons
    id_number: str | None = None  # natural persons (validated, normalised)
    tier: PenaltyTier | None = None
    publicity_end_date: dt.date | None = None
    valid_until: dt.date | None = None
    legal_representative: str | None = None
    title: str | None = None
    violation_type: str | None = None
    facts: str | None = None
    legal_basis: str | None = None
    penalty_category: str | None = None
    penalty_content: str | None = None
    fine_amount: decimal.Decimal | None = None
    source_department_id: int | None = None
    # Where the record came from in its batch (file row, API array index): for row errors found
    # when writing. Not content: never hashed, never compared.
    source_row: int | None = field(default=None, compare=False)

    @property
    def key(self) -> tuple[int, str]:
        return (self.department_id, self.decision_number)

    def content_hash(self) -> str:
        """Keyed hash of the content (HMAC under the PII hash key): a natural person's ID number
        is part of the content, and a plain hash of it could be brute-forced from the row."""
        raw = json.dumps([getattr(self, name) for name in HASHED_FIELDS], ensure_ascii=False, default=str)
        return cipher().lookup_hash(raw, "record.content")


# Re-sending a record later (another received_date) is the same record.
HASHED_FIELDS = tuple(f.name for f in fields(RecordInput) if f.name not in ("received_date", "source_row"))


RECORD_FIELDS = (
    "category", "tier", "decision_date", "received_date", "publicity_end_date", "valid_until",
    "subject_name", "legal_representative", "title", "violation_type", "facts", "legal_basis",
    "penalty_category", "penalty_content", "fine_amount", "source_department_id",
)  # fmt: skip


class RecordWriter:
    """Upserts chunks of RecordInput. Flushes, never commits."""

    def __init__(
        self, calendar: WorkdayCalendar, rules: PublicityRules, *, timely_days: int = 7, batch_id: int | None = None
    ):
        self.calendar = calendar
        self.rules = rules
        self.timely_days = timely_days
        self.batch_id = batch_id
        self._decisions: dict[tuple, PublicityDecision] = {}
        self._inserted_since_analyze = 0

    def write(self, items: Sequence[RecordInput]) -> list[Outcome]:
        if not items:
            return []
        subject_ids = self._subject_ids(items)
        existing = self._existing_records(items)
        now = utcnow()
        # The same record twice in one chunk: the last row wins; the first occurrence reports
        # what happens to the record, later ones report "updated".
        last = {item.key: index for index, item in enumerate(items)}
        seen: set[tuple[int, str]] = set()
        outcomes: list[Outcome] = []
        inserts: list[dict] = []
        updates: list[dict] = []
        by_key: dict[tuple[int, str], Outcome] = {}
        for index, item in enumerate(items):
            if index == last[item.key]:
                by_key[item.key] = self._plan(item, existing.get(item.key), subject_ids, now, inserts, updates)
        for item in items:
            outcomes.append("updated" if item.key in seen else by_key[item.key])
            seen.add(item.key)
        if inserts:
            _bulk_insert_records(inserts)
            self._inserted_since_analyze += len(inserts)
            if self._inserted_since_analyze >= ANALYZE_EVERY_ROWS:
                self._refresh_statistics()
        if updates:
            db.session.execute(sa.update(CreditRecord), updates)
        return outcomes

    def _refresh_statistics(self) -> None:
        self._inserted_since_analyze = 0
        connection = db.session.connection()
        if connection.dialect.name == "postgresql":  # SQLite's planner needs no statistics here
            connection.exec_driver_sql(f"ANALYZE {CreditRecord.__tablename__}, {Subject.__tablename__}")

    def _plan(self, item, current, subject_ids, now, inserts: list[dict], updates: list[dict]) -> Outcome:
        digest = item.content_hash()
        if current is not None and current[1] == digest:
            return "unchanged"
        row = self._row(item, subject_ids, digest, now)
        if current is None:
            row["created_at"] = now
            row["status"] = RecordStatus.PUBLIC
            inserts.append(row)
            return "created"
        row["id"] = current[0]
        row["status"] = self._status_after_update(current[2], row)
        updates.append(row)
        return "updated"

    @staticmethod
    def _status_after_update(status: RecordStatus, row: dict) -> RecordStatus:
        # A department correcting a record can extend it back into its publicity period;
        # repaired and withdrawn records stay as decided.
        if status is RecordStatus.EXPIRED and (row["visible_until"] is None or row["visible_until"] >= local_date()):
            return RecordStatus.PUBLIC
        return status

    def _decide(self, item: RecordInput, natural: bool) -> PublicityDecision:
        # Date arithmetic per row is the writer's hot spot; bulk batches repeat the same inputs.
        key = (item.category, item.tier, item.decision_date, item.publicity_end_date, item.valid_until, natural)
        decision = self._decisions.get(key)
        if decision is None:
            decision = self._decisions[key] = self.rules.decide(
                category=item.category,
                tier=item.tier,
                decision_date=item.decision_date,
                publicity_end_date=item.publicity_end_date,
                valid_until=item.valid_until,
                natural_person=natural,
            )
        return decision

    def _row(self, item: RecordInput, subject_ids: dict, digest: str, now: dt.datetime) -> dict:
        natural = item.id_number is not None
        decision = self._decide(item, natural)
        delay = self.calendar.working_days_between(item.decision_date, item.received_date)
        row = {name: getattr(item, name) for name in RECORD_FIELDS}
        row.update(
            subject_id=subject_ids[("n", item.id_number) if natural else ("l", item.uscc)],
            department_id=item.department_id,
            decision_number=item.decision_number,
            published=decision.published,
            visible_until=decision.visible_until,
            timeliness_working_days=delay,
            is_timely=delay <= self.timely_days,
            content_hash=digest,
            import_batch_id=self.batch_id,
            updated_at=now,
        )
        if natural:
            # The snapshot name of a natural person is personal data too: keep it masked in clear.
            row["subject_name"] = mask_name(item.subject_name)
            row["legal_representative"] = None
        return row

    def _existing_records(self, items: Sequence[RecordInput]) -> dict[tuple[int, str], tuple[int, str, RecordStatus]]:
        found = {}
        for dept_id, chunk in decision_numbers_by_department(items):
            rows = db.session.execute(
                sa.select(
                    CreditRecord.id, CreditRecord.decision_number, CreditRecord.content_hash, CreditRecord.status
                ).where(CreditRecord.department_id == dept_id, CreditRecord.decision_number.in_(chunk))
            )
            for rid, number, digest, status in rows:
                found[(dept_id, number)] = (rid, digest, status)
        return found

    def _subject_ids(self, items: Sequence[RecordInput]) -> dict[tuple[str, str], int]:
        ids: dict[tuple[str, str], int] = {}
        legal = {}
        for item in items:
            if item.uscc is not None:
                legal[item.uscc] = item
        for chunk in _chunks(sorted(legal), IN_LIST_SIZE):
            rows = db.session.execute(sa.select(Subject.id, Subject.uscc, Subject.name).where(Subject.uscc.in_(chunk)))
            for sid, uscc, name in rows:
                ids[("l", uscc)] = sid
                if legal[uscc].subject_name != name:
                    db.session.execute(
                        sa.update(Subject)
                        .where(Subject.id == sid)
                        .values(name=legal[uscc].subject_name, updated_at=utcnow())
                    )
        new_legal = [
            {
                "kind": SubjectKind.LEGAL,
                "uscc": code,
                "name": item.subject_name,
                "legal_representative": item.legal_representative,
                "area_code": code[2:8],
            }
            for code, item in legal.items()
            if ("l", code) not in ids
        ]
        if new_legal:
            for sid, uscc in db.session.execute(sa.insert(Subject).returning(Subject.id, Subject.uscc), new_legal):
                ids[("l", uscc)] = sid

        pii = cipher()
        natural: dict[str, RecordInput] = {}
        for item in items:
            if item.id_number is not None:
                natural[item.id_number] = item
        if natural:
            hashes = {pii.lookup_hash(n, "id_number"): n for n in natural}
            for chunk in _chunks(sorted(hashes), IN_LIST_SIZE):
                for sid, digest in db.session.execute(
                    sa.select(Subject.id, Subject.id_number_hash).where(Subject.id_number_hash.in_(chunk))
                ):
                    ids[("n", hashes[digest])] = sid
            new_natural = [
                new_natural_subject_row(number, natural[number].subject_name)
                for number in natural
                if ("n", number) not in ids
            ]
            if new_natural:
                returned = db.session.execute(
                    sa.insert(Subject).returning(Subject.id, Subject.id_number_hash), new_natural
                )
                for sid, digest in returned:
                    ids[("n", hashes[digest])] = sid
        return ids


def _bulk_insert_records(rows: list[dict]) -> None:
    """INSERT through the driver's executemany with values converted once per column.

    SQLAlchemy's per-row parameter processing was more than half of a bulk import; the values
    here are already validated, so only the storage form of each type is needed.
    """
    connection = db.session.connection()
    dialect = connection.dialect
    table = CreditRecord.__table__
    columns = list(rows[0])
    converters = [_storage_converter(table.c[name].type, dialect.name) for name in columns]
    mark = "?" if dialect.paramstyle == "qmark" else "%s"
    sql = (
        f"INSERT INTO {table.name} ({', '.join(columns)}) "  # noqa: S608 - column names from the model
        f"VALUES ({', '.join([mark] * len(columns))})"
    )
    params = [
        tuple(
            value if value is None or convert is None else convert(value)
            for convert, value in zip(converters, row.values(), strict=True)
        )
        for row in rows
    ]
    connection.exec_driver_sql(sql, params)


def _storage_converter(column_type: sa.types.TypeEngine, dialect_name: str):
    """How a validated Python value is stored: enums by value; on SQLite, dates and datetimes as
    the ISO strings SQLAlchemy itself writes, and decimals as floats (as SQLAlchemy does)."""
    if isinstance(column_type, sa.Enum):
        return lambda value: value.value
    if dialect_name != "sqlite":
        return None
    if isinstance(column_type, sa.DateTime):
        return lambda value: value.isoformat(sep=" ", timespec="microseconds")
    if isinstance(column_type, sa.Date):
        return dt.date.isoformat
    if isinstance(column_type, sa.Numeric):
        return float
    return None


def new_natural_subject_row(id_number: str, name: str) -> dict:
    pii = cipher()
    return {
        "kind": SubjectKind.NATURAL,
        "id_number_hash": pii.lookup_hash(id_number, "id_number"),
        "id_number_encrypted": pii.encrypt(id_number, "subject.id_number"),
        "name_encrypted": pii.encrypt(name, "subject.name"),
        "pii_key_id": pii.active_kid,
        "area_code": id_number[:6],
    }


def find_natural_subject(id_number: str) -> Subject | None:
    digest = cipher().lookup_hash(id_number, "id_number")
    return db.session.scalar(sa.select(Subject).where(Subject.id_number_hash == digest))


def expire_records(today: dt.date) -> int:
    """Move records past their publicity end to EXPIRED (the daily job). Returns the count."""
    result = db.session.execute(
        sa.update(CreditRecord)
        .where(
            CreditRecord.status == RecordStatus.PUBLIC,
            CreditRecord.visible_until.is_not(None),
            CreditRecord.visible_until < today,
        )
        .values(status=RecordStatus.EXPIRED, updated_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    return result.rowcount or 0


def decision_numbers_by_department(items: Sequence[RecordInput]) -> Iterator[tuple[int, list[str]]]:
    """The records' keys as (department id, up to IN_LIST_SIZE of its decision numbers): one
    IN-list query each, for the look-ups by record key."""
    by_department: dict[int, set[str]] = {}
    for item in items:
        by_department.setdefault(item.department_id, set()).add(item.decision_number)
    for department_id, numbers in by_department.items():
        for chunk in _chunks(sorted(numbers), IN_LIST_SIZE):
            yield department_id, chunk


def _chunks(values: list, size: int):
    for start in range(0, len(values), size):
        yield values[start : start + size]
