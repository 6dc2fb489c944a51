"""Writing credit records: the one upsert used by file imports and the department API.

Records are keyed by (department, decision number): sending a record again updates it, never
duplicates it, and sending it unchanged changes nothing (compared by a hash of its content).
Writes are set-based per chunk (one SELECT for existing subjects and records, bulk INSERT and
UPDATE) because department batches reach hundreds of thousands of rows.

A subject's name and legal representative come from the registering authorities (departments
with ``registers_subjects``: 市场监管, 民政, 机构编制). Their records rename a known subject (each
rename audited) and set its representative, whose ID number is kept encrypted with its keyed
hash; another department's different name for a known USCC changes nothing public and is kept
as a ``SubjectNameDiscrepancy`` for staff (issue 14, item 6). Any department's first record of
an unknown USCC still creates the subject with the name it sent.
"""

from __future__ import annotations

import datetime as dt
import decimal
import enum
import json
import operator
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, fields, replace
from typing import Literal, NamedTuple

import sqlalchemy as sa

from ..actors import Actor
from ..audit.operations import record_event
from ..citizens.messages import BINDING_SUSPENDED_REPRESENTATIVE_CHANGED
from ..citizens.suspension import suspend_unbacked_bindings
from ..departments.models import Department
from ..extensions import db
from ..pii import cipher, mask_name
from ..subjects.codes import Sent, detect_code_issues, valid_organisation_code, valid_registration_number
from ..subjects.models import (
    LEGAL_REPRESENTATIVE_ID_CONTEXT,
    DiscrepancyResolution,
    Subject,
    SubjectKind,
    SubjectNameDiscrepancy,
)
from ..types import local_date, utcnow
from ..workdays.service import WorkdayCalendar
from .domains import note_received
from .models import (
    RECORD_REPRESENTATIVE_ID_CONTEXT,
    CreditRecord,
    CreditRecordVersion,
    LicenceStatus,
    PenaltyTier,
    RecordCategory,
    RecordStatus,
)
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
    # The 2021 national templates' further columns (issue 16). Hashed only when sent, so the
    # hash of a record sent before them is unchanged (see content_hash).
    penalty_valid_until: dt.date | None = None  # 处罚有效期
    valid_from: dt.date | None = None
    confiscated_amount: decimal.Decimal | None = None
    suspended_licence: str | None = None
    authority_name: str | None = None
    authority_uscc: str | None = None
    tier_derived: bool = False
    document_name: str | None = None
    licence_number: str | None = None
    licence_status: LicenceStatus | None = None
    subject_other_codes: tuple[tuple[str, str], ...] | None = None
    remarks: str | None = None
    # Registration data about the subject, not the record's content (never hashed, never stored
    # on the record): personal data, kept encrypted on the subject (see the module docstring).
    legal_representative_id_number: str | None = field(default=None, compare=False, repr=False)
    # Legacy codes sent beside the USCC (national template 行政相对人代码_2 工商注册号 and _3
    # 组织机构代码): not the record's content; checked for 重错码 (subjects/codes.py).
    registration_number: str | None = field(default=None, compare=False)
    organisation_code: str | None = field(default=None, compare=False)
    # Where the record came from in its batch (file row, API array index): for row errors found
    # when writing. Not content: never hashed, never compared.
    source_row: int | None = field(default=None, compare=False)

    @property
    def key(self) -> tuple[int, str]:
        return (self.department_id, self.decision_number)

    def content_hash(self) -> str:
        """Keyed hash of the content (HMAC under the PII hash key): a natural person's ID number
        is part of the content, and a plain hash of it could be brute-forced from the row.

        The fields added for the national templates count only when they carry a value, so a
        record sent the old way hashes as it did before them (a re-send stays "unchanged")."""
        content = list(_hashed_values(self))
        extra = {
            name: value
            for name, value in zip(TEMPLATE_FIELDS, _template_values(self), strict=True)
            if value is not None and value is not False
        }
        if self.legal_representative_id_number is not None:
            extra["legal_representative_id_number"] = self.legal_representative_id_number
        if extra:  # keys in TEMPLATE_FIELDS order: the same content always gives the same text
            content.append(extra)
        raw = json.dumps(content, ensure_ascii=False, default=str)
        return cipher().lookup_hash(raw, "record.content")


TEMPLATE_FIELDS = (
    "penalty_valid_until", "valid_from", "confiscated_amount", "suspended_licence", "authority_name",
    "authority_uscc", "tier_derived", "document_name", "licence_number", "licence_status",
    "subject_other_codes", "remarks",
)  # fmt: skip
# Re-sending a record later (another received_date) is the same record.
HASHED_FIELDS = tuple(
    f.name
    for f in fields(RecordInput)
    if f.name
    not in (
        "received_date",
        "source_row",
        "legal_representative_id_number",
        "registration_number",
        "organisation_code",
        *TEMPLATE_FIELDS,
    )
)
_hashed_values = operator.attrgetter(*HASHED_FIELDS)
_template_values = operator.attrgetter(*TEMPLATE_FIELDS)


RECORD_FIELDS = (
    "category", "tier", "decision_date", "received_date", "publicity_end_date", "valid_until",
    "subject_name", "legal_representative", "title", "violation_type", "facts", "legal_basis",
    "penalty_category", "penalty_content", "fine_amount", "source_department_id",
    *(name for name in TEMPLATE_FIELDS if name != "subject_other_codes"),
)  # fmt: skip
_record_values = operator.attrgetter(*RECORD_FIELDS)
# What a version compares: the stored content, not the receipt (a version keeps its own date).
VERSIONED_FIELDS = (
    *(name for name in RECORD_FIELDS if name != "received_date"),
    "subject_other_codes",
    "legal_representative_id_number_hash",
)


class _Existing(NamedTuple):
    id: int
    digest: str
    status: RecordStatus
    received_date: dt.date
    tier: PenaltyTier | None
    tier_derived: bool


_NO_SEALED_ID = {
    "legal_representative_id_number_hash": None,
    "legal_representative_id_number_encrypted": None,
    "pii_key_id": None,
}
# Fields whose values a version never copies (personal data): it says only that they changed.
PERSONAL_FIELDS = frozenset({"legal_representative_id_number_hash"})


def _same(stored, sent) -> bool:
    if isinstance(stored, decimal.Decimal | float) and isinstance(sent, decimal.Decimal | float | int):
        return decimal.Decimal(str(stored)) == decimal.Decimal(str(sent))
    if isinstance(sent, enum.Enum) and not isinstance(stored, enum.Enum):
        return stored == sent.value
    return stored == sent


def _plain(value):
    """A value as JSON keeps it in a version."""
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, dt.date | decimal.Decimal):
        return str(value)
    return value


class RecordWriter:
    """Upserts chunks of RecordInput. Flushes, never commits."""

    def __init__(
        self,
        calendar: WorkdayCalendar,
        rules: PublicityRules,
        *,
        timely_days: int = 7,
        batch_id: int | None = None,
        actor: Actor | None = None,
    ):
        self.calendar = calendar
        self.rules = rules
        self.timely_days = timely_days
        self.batch_id = batch_id
        # Who renames a subject in the audit log: the batch's actor (the department on the API).
        self.actor = actor or Actor.system("record-writer")
        self._decisions: dict[tuple, PublicityDecision] = {}
        self._inserted_since_analyze = 0
        self._registering: dict[int, str] | None = None
        self._sealed: dict[str, dict] = {}
        self._fed: set[tuple[RecordCategory, int]] = set()  # domains noted as received by this writer

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
            versions = self._versions(updates, now)
            db.session.execute(sa.update(CreditRecord), updates)
            if versions:
                db.session.execute(sa.insert(CreditRecordVersion), versions)
        self._note_domains(items, now)
        return outcomes

    def _note_domains(self, items: Sequence[RecordInput], now: dt.datetime) -> None:
        """The data-domain register's "last received" (issue 16 item 12): once per (domain,
        department) and writer, so a batch of any size costs one query after its first chunk."""
        pairs = {(item.category, item.department_id) for item in items} - self._fed
        if pairs:
            note_received(pairs, now)
            self._fed |= pairs

    def _refresh_statistics(self) -> None:
        self._inserted_since_analyze = 0
        connection = db.session.connection()
        if connection.dialect.name == "postgresql":  # SQLite's planner needs no statistics here
            connection.exec_driver_sql(f"ANALYZE {CreditRecord.__tablename__}, {Subject.__tablename__}")

    def _plan(self, item, current, subject_ids, now, inserts: list[dict], updates: list[dict]) -> Outcome:
        digest = item.content_hash()
        if current is not None and current.digest == digest:
            return "unchanged"
        if current is None:
            row = self._row(item, subject_ids, digest, now)
            row["created_at"] = now
            row["status"] = RecordStatus.PUBLIC
            inserts.append(row)
            return "created"
        if item.tier_derived and current.tier is not None and not current.tier_derived:
            # A tier the department confirmed or sent stays until it sends another one: a
            # re-send of a file without tiers does not undo the confirmation.
            item = replace(item, tier=current.tier, tier_derived=False)
        # The first receipt stays the record's receipt date: 双公示 timeliness is that of the
        # first receipt, a correction sent later does not make a timely record late.
        row = self._row(item, subject_ids, digest, now, first_received=current.received_date)
        row["id"] = current.id
        row["status"] = self._status_after_update(current.status, row)
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

    def _row(
        self, item: RecordInput, subject_ids: dict, digest: str, now: dt.datetime, first_received: dt.date | None = None
    ) -> dict:
        natural = item.id_number is not None
        decision = self._decide(item, natural)
        received = first_received or item.received_date
        delay = self.calendar.working_days_between(item.decision_date, received)
        row = dict(zip(RECORD_FIELDS, _record_values(item), strict=True))
        row.update(
            received_date=received,
            last_received_date=item.received_date if first_received is not None else None,
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
            subject_other_codes=dict(item.subject_other_codes) if item.subject_other_codes else None,
            **self._sealed_id(None if natural else item.legal_representative_id_number),
        )
        if natural:
            # The snapshot name of a natural person is personal data too: keep it masked in clear.
            row["subject_name"] = mask_name(item.subject_name)
            row["legal_representative"] = None
        return row

    def _sealed_id(self, number: str | None) -> dict:
        """The legal representative's ID number as kept on the record (encrypted, keyed hash);
        sealed once per writer and number (a batch repeats the same representatives)."""
        if number is None:
            return _NO_SEALED_ID
        sealed = self._sealed.get(number)
        if sealed is None:
            pii = cipher()
            sealed = self._sealed[number] = {
                "legal_representative_id_number_hash": pii.lookup_hash(number, "id_number"),
                "legal_representative_id_number_encrypted": pii.encrypt(number, RECORD_REPRESENTATIVE_ID_CONTEXT),
                "pii_key_id": pii.active_kid,
            }
        return sealed

    def _versions(self, updates: list[dict], now: dt.datetime) -> list[dict]:
        """One version row per updated record: what changed, from what to what (personal data
        only as changed), who sent it and when."""
        ids = [row["id"] for row in updates]
        table = CreditRecord.__table__
        old: dict[int, sa.Row] = {}
        latest: dict[int, int] = {}
        columns = [table.c[name] for name in VERSIONED_FIELDS]
        for chunk in _chunks(ids, IN_LIST_SIZE):
            for row in db.session.execute(sa.select(table.c.id, *columns).where(table.c.id.in_(chunk))):
                old[row[0]] = row
            latest.update(
                db.session.execute(
                    sa.select(CreditRecordVersion.record_id, sa.func.max(CreditRecordVersion.version))
                    .where(CreditRecordVersion.record_id.in_(chunk))
                    .group_by(CreditRecordVersion.record_id)
                ).all()
            )
        versions = []
        for row in updates:
            before = old[row["id"]]
            changes = {}
            for index, name in enumerate(VERSIONED_FIELDS, start=1):
                was, now_value = before[index], row.get(name)
                if _same(was, now_value):
                    continue
                if name in PERSONAL_FIELDS:
                    changes[name] = {"changed": True}
                else:
                    changes[name] = {"from": _plain(was), "to": _plain(now_value)}
            if not changes:
                continue
            versions.append(
                {
                    "record_id": row["id"],
                    "version": latest.get(row["id"], 1) + 1,
                    "department_id": row["department_id"],
                    "actor_label": self.actor.label[:100],
                    "import_batch_id": self.batch_id,
                    "received_date": row["last_received_date"] or row["received_date"],
                    "created_at": now,
                    "changes": changes,
                }
            )
        return versions

    def _existing_records(self, items: Sequence[RecordInput]) -> dict[tuple[int, str], _Existing]:
        found = {}
        for dept_id, chunk in decision_numbers_by_department(items):
            rows = db.session.execute(
                sa.select(
                    CreditRecord.id,
                    CreditRecord.decision_number,
                    CreditRecord.content_hash,
                    CreditRecord.status,
                    CreditRecord.received_date,
                    CreditRecord.tier,
                    CreditRecord.tier_derived,
                ).where(CreditRecord.department_id == dept_id, CreditRecord.decision_number.in_(chunk))
            )
            for rid, number, digest, status, received, tier, derived in rows:
                found[(dept_id, number)] = _Existing(rid, digest, status, received, tier, derived)
        return found

    def _registering_departments(self) -> dict[int, str]:
        """Department id -> code of the registering authorities (read once per writer)."""
        if self._registering is None:
            rows = db.session.execute(sa.select(Department.id, Department.code).where(Department.registers_subjects))
            self._registering = dict(rows.all())
        return self._registering

    def _subject_ids(self, items: Sequence[RecordInput]) -> dict[tuple[str, str], int]:
        ids: dict[tuple[str, str], int] = {}
        legal = {}
        for item in items:
            if item.uscc is not None:
                legal[item.uscc] = item
        registering = self._registering_departments()
        pii = cipher()
        renames: list[tuple[int, str, RecordInput]] = []  # (subject id, old name, item)
        representatives: list[dict] = []
        discrepancies: dict[tuple[int, int, str], None] = {}  # ordered set of (subject, department, name)
        for chunk in _chunks(sorted(legal), IN_LIST_SIZE):
            rows = db.session.execute(
                sa.select(
                    Subject.id,
                    Subject.uscc,
                    Subject.name,
                    Subject.legal_representative,
                    Subject.legal_representative_id_number_hash,
                    Subject.merged_into_id,
                ).where(Subject.uscc.in_(chunk))
            )
            for sid, uscc, name, representative, representative_hash, merged_into in rows:
                if merged_into is not None:
                    # Staff merged this code's subject into another (重错码): its records go there.
                    ids[("l", uscc)] = merged_into
                    continue
                ids[("l", uscc)] = sid
                item = legal[uscc]
                if item.department_id in registering:
                    if item.subject_name != name:
                        renames.append((sid, name, item))
                    change = _representative_change(item, representative, representative_hash)
                    if change is not None:
                        representatives.append({"id": sid, **change})
                elif item.subject_name != name:
                    discrepancies[(sid, item.department_id, item.subject_name)] = None
        if renames:
            self._rename(renames, registering)
        if representatives:
            self._set_representatives(representatives)
        if discrepancies:
            _keep_discrepancies(list(discrepancies))
        new_legal = []
        for code, item in legal.items():
            if ("l", code) in ids:
                continue
            row = {
                "kind": SubjectKind.LEGAL,
                "uscc": code,
                "name": item.subject_name,
                "legal_representative": item.legal_representative,
                "area_code": code[2:8],
                "legal_representative_id_number_hash": None,
                "legal_representative_id_number_encrypted": None,
                "pii_key_id": None,
            }
            if item.department_id in registering and item.legal_representative_id_number:
                row.update(_sealed_representative_id(item.legal_representative_id_number))
            new_legal.append(row)
        new_ids = []
        if new_legal:
            for sid, uscc in db.session.execute(sa.insert(Subject).returning(Subject.id, Subject.uscc), new_legal):
                ids[("l", uscc)] = sid
                new_ids.append(sid)
        if legal:
            detect_code_issues(
                [
                    Sent(
                        ids[("l", code)],
                        code,
                        item.subject_name,
                        item.department_id,
                        valid_organisation_code(item.organisation_code),
                        valid_registration_number(item.registration_number),
                    )
                    for code, item in legal.items()
                ],
                new_ids,
            )

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

    def _rename(self, renames: list[tuple[int, str, RecordInput]], registering: dict[int, str]) -> None:
        """A registering authority renamed subjects: one bulk UPDATE, one audit row each."""
        now = utcnow()
        db.session.execute(
            sa.update(Subject),
            [{"id": sid, "name": item.subject_name, "updated_at": now} for sid, _, item in renames],
        )
        for sid, old, item in renames:
            record_event(
                self.actor,
                "subject.rename",
                target_type=Subject.__tablename__,
                target_id=sid,
                subject_id=sid,
                reason="登记机关报送",
                details={
                    "from": old,
                    "to": item.subject_name,
                    "department": registering[item.department_id],
                    "batch": self.batch_id,
                    "decision_number": item.decision_number,
                },
            )

    def _set_representatives(self, changes: list[dict]) -> None:
        """New legal representatives from a registering authority; the active legal-representative
        bindings of those enterprises that the new data no longer backs are suspended."""
        now = utcnow()
        by_columns: dict[tuple[str, ...], list[dict]] = {}  # one executemany per set of columns
        for change in changes:
            by_columns.setdefault(tuple(sorted(change)), []).append({**change, "updated_at": now})
        for rows in by_columns.values():
            db.session.execute(sa.update(Subject), rows)
        suspended = suspend_unbacked_bindings(
            db.session.connection(),
            subject_ids=[change["id"] for change in changes],
            reason=BINDING_SUSPENDED_REPRESENTATIVE_CHANGED,
            now=now,
        )
        for binding_id in suspended:
            record_event(
                self.actor,
                "mp.enterprise.suspend",
                target_type="wechat_enterprise_binding",
                target_id=binding_id,
                reason="登记机关报送的法定代表人已变更",
                details={"batch": self.batch_id},
            )


def _sealed_representative_id(number: str) -> dict:
    pii = cipher()
    return {
        "legal_representative_id_number_hash": pii.lookup_hash(number, "id_number"),
        "legal_representative_id_number_encrypted": pii.encrypt(number, LEGAL_REPRESENTATIVE_ID_CONTEXT),
        "pii_key_id": pii.active_kid,
    }


def _representative_change(item: RecordInput, current_name: str | None, current_hash: str | None) -> dict | None:
    """What a registering authority's record changes about a known subject's legal representative:
    a new number (hash compared, sealed only when it differs); a new name without a number drops
    the stored number, which was the previous representative's."""
    name = item.legal_representative
    number = item.legal_representative_id_number
    if number is not None:
        digest = cipher().lookup_hash(number, "id_number")
        if digest == current_hash and (name is None or name == current_name):
            return None
        change = {"legal_representative": name or current_name}
        change.update(
            _sealed_representative_id(number)
            if digest != current_hash
            else {"legal_representative_id_number_hash": current_hash}
        )
        return change
    if name is not None and name != current_name:
        return {
            "legal_representative": name,
            "legal_representative_id_number_hash": None,
            "legal_representative_id_number_encrypted": None,
        }
    return None


def _keep_discrepancies(found: list[tuple[int, int, str]]) -> None:
    """Another department's name for known subjects: seen again (an open or dismissed row of the
    same subject, department and name is touched), or new (inserted). Set-wise per chunk."""
    now = utcnow()
    table = SubjectNameDiscrepancy
    known: dict[tuple[int, int, str], int] = {}
    for chunk in _chunks(sorted({sid for sid, _, _ in found}), IN_LIST_SIZE):
        rows = db.session.execute(
            sa.select(table.id, table.subject_id, table.department_id, table.name_sent)
            .where(
                table.subject_id.in_(chunk),
                sa.or_(table.resolved_at.is_(None), table.resolution == DiscrepancyResolution.DISMISSED),
            )
            .order_by(table.id)
        )
        for did, sid, dept, name in rows:
            known[(sid, dept, name)] = did
    seen = sorted({known[key] for key in found if key in known})
    for chunk in _chunks(seen, IN_LIST_SIZE):
        db.session.execute(
            sa.update(table)
            .where(table.id.in_(chunk))
            .values(last_seen_at=now)
            .execution_options(synchronize_session=False)
        )
    new = [
        {"subject_id": sid, "department_id": dept, "name_sent": name, "first_seen_at": now, "last_seen_at": now}
        for sid, dept, name in found
        if (sid, dept, name) not in known
    ]
    if new:
        db.session.execute(sa.insert(table), new)


def _bulk_insert_records(rows: list[dict]) -> None:
    """INSERT through the driver's executemany with values converted once per column.

    SQLAlchemy's per-row parameter processing was more than half of a bulk import; the values
    here are already validated, so only the storage form of each type is needed.
    """
    connection = db.session.connection()
    dialect = connection.dialect
    table = CreditRecord.__table__
    # Columns NULL in every row are left out (their default is NULL): most national-template
    # columns are empty in most batches, and binding them cost a tenth of the insert.
    columns = [name for name in rows[0] if any(row[name] is not None for row in rows)]
    converters = [_storage_converter(table.c[name].type, dialect.name) for name in columns]
    mark = "?" if dialect.paramstyle == "qmark" else "%s"
    sql = (
        f"INSERT INTO {table.name} ({', '.join(columns)}) "  # noqa: S608 - column names from the model
        f"VALUES ({', '.join([mark] * len(columns))})"
    )
    pick = operator.itemgetter(*columns)
    params = [
        tuple(
            value if value is None or convert is None else convert(value)
            for convert, value in zip(converters, pick(row), strict=True)
        )
        for row in rows
    ]
    connection.exec_driver_sql(sql, params)


def _storage_converter(column_type: sa.types.TypeEngine, dialect_name: str):
    """How a validated Python value is stored: enums by value; on SQLite, dates and datetimes as
    the ISO strings SQLAlchemy itself writes, and decimals as floats (as SQLAlchemy does)."""
    if isinstance(column_type, sa.Enum):
        return lambda value: value.value
    if isinstance(column_type, sa.JSON):
        return lambda value: json.dumps(value, ensure_ascii=False)
    if dialect_name != "sqlite":
        return None
    if isinstance(column_type, sa.DateTime):
        return lambda value: value.isoformat(sep=" ", timespec="microseconds")
    if isinstance(column_type, sa.Date):
        return dt.date.isoformat
    if isinstance(column_type, sa.Numeric):
        return float
    return None


def record_input_from(record: CreditRecord, changes: dict | None = None) -> RecordInput:
    """The stored record as a RecordInput (with ``changes`` applied), to write it again through
    RecordWriter: every stored field carried, so a rewrite loses nothing it was not told to change
    (the subject's other codes, the legal representative's ID number, the latest receipt)."""
    subject = record.subject
    values = {name: getattr(record, name) for name in RECORD_FIELDS}
    values["received_date"] = record.last_received_date or record.received_date
    codes = record.subject_other_codes
    values["subject_other_codes"] = tuple(codes.items()) if codes else None
    representative = None
    if record.legal_representative_id_number_encrypted:
        representative = cipher().decrypt(
            record.legal_representative_id_number_encrypted, RECORD_REPRESENTATIVE_ID_CONTEXT
        )
    values.update(changes or {})
    return RecordInput(
        department_id=record.department_id,
        decision_number=record.decision_number,
        uscc=None if subject.is_natural else subject.uscc,
        id_number=subject.reveal_id_number() if subject.is_natural else None,
        legal_representative_id_number=representative,
        **values,
    )


class TierNotDerived(ValueError):
    """The record's tier was sent or already confirmed: only a derived tier is confirmed here."""


def confirm_record_tier(actor: Actor, record: CreditRecord, tier: PenaltyTier, rules: PublicityRules) -> CreditRecord:
    """The department confirms (same tier) or changes (another) a tier the city's rule derived
    (issue 16 item 3). Publicity follows the confirmed tier; the change is a version of the record
    and an audit event. Flushes, never commits."""
    if not record.tier_derived or record.category is not RecordCategory.PENALTY:
        raise TierNotDerived(record.id)
    before = record.tier
    decision = rules.decide(
        category=record.category,
        tier=tier,
        decision_date=record.decision_date,
        publicity_end_date=record.publicity_end_date,
        valid_until=record.valid_until,
        natural_person=record.subject.kind is SubjectKind.NATURAL,
    )
    changes: dict = {"tier_derived": {"from": True, "to": False}}
    if tier is not before:
        changes["tier"] = {"from": _plain(before), "to": tier.value}
    for name, value in (("published", decision.published), ("visible_until", decision.visible_until)):
        if getattr(record, name) != value:
            changes[name] = {"from": _plain(getattr(record, name)), "to": _plain(value)}
    record.tier = tier
    record.tier_derived = False
    record.published = decision.published
    record.visible_until = decision.visible_until
    if record.status is RecordStatus.EXPIRED and (
        decision.visible_until is None or decision.visible_until >= local_date()
    ):
        record.status = RecordStatus.PUBLIC
    latest = db.session.scalar(
        sa.select(sa.func.max(CreditRecordVersion.version)).where(CreditRecordVersion.record_id == record.id)
    )
    db.session.add(
        CreditRecordVersion(
            record_id=record.id,
            version=(latest or 1) + 1,
            department_id=record.department_id,
            actor_label=actor.label[:100],
            received_date=local_date(),
            changes=changes,
        )
    )
    record_event(
        actor,
        "record.tier_confirm",
        target=record,
        subject_id=record.subject_id,
        details={"from": _plain(before), "to": tier.value, "decision_number": record.decision_number},
    )
    db.session.flush()
    return record


def derived_tier_records(department_id: int | None = None, limit: int | None = None) -> sa.Select:
    """Penalties whose tier the city's rule derived, for the department to confirm."""
    query = sa.select(CreditRecord).where(CreditRecord.tier_derived.is_(True))
    if department_id is not None:
        query = query.where(CreditRecord.department_id == department_id)
    query = query.order_by(CreditRecord.decision_date.desc(), CreditRecord.id.desc())
    return query if limit is None else query.limit(limit)


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
