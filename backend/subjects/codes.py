"""重错码: duplicate and wrong codes (issue 16 item 14).

The city's plan (金昌市创建全国社会信用体系建设示范城市实施方案, task 8) keeps the duplicate/wrong
code rate of credit subjects below 1 in 10,000 (城市信用状况监测 counts it). Found at intake, in
time linear in the batch (a few IN-list queries per chunk on indexed columns, never a scan per
row), and queued for platform staff with the sources side by side:

* one USCC sent under different names by different departments: ``SubjectNameDiscrepancy``
  (issue 14; ``records.operations``);
* one name under several USCCs (一名多码), names compared after NFKC (full- and half-width
  parentheses alike);
* legacy codes that map to a USCC: GB 32100-2015 builds the USCC around the GB 11714
  organisation code (characters 9-17), so two USCCs sharing those characters are one
  organisation coded twice, and a 组织机构代码 sent beside a USCC must be its characters 9-17;
  a 15-digit 工商注册号 sent beside a USCC is kept on the subject, and the same number beside
  another USCC is a duplicate.

Staff resolve an issue by renaming a subject, merging two subjects (records and cases move to
the one kept, the other points at it and later records under its code follow) or dismissing it;
every step audited. Flush, never commit.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import sqlalchemy as sa

from ..actors import Actor
from ..audit.operations import record_event
from ..errors import ApiError, Conflict, Forbidden
from ..extensions import db
from ..identifiers import USCC_ALPHABET, org_code_check_char
from ..types import utcnow
from . import messages as msg
from .models import (
    ORGANISATION_CODE,
    CodeIssueKind,
    CodeIssueResolution,
    Subject,
    SubjectCodeIssue,
    SubjectKind,
    SubjectNameDiscrepancy,
)

IN_LIST_SIZE = 900
_REGISTRATION_NUMBER = re.compile(r"[0-9]{15}")
_ORG_CODE = re.compile(f"[{USCC_ALPHABET}]{{8}}[0-9X]")
# Tables whose rows must not move when two subjects merge: the audit log is append-only (its
# rows say what happened to whom at the time), and the subject table itself.
_NOT_MOVED = frozenset({"audit_event", "subject"})
SYMMETRIC_KINDS = frozenset(
    {CodeIssueKind.NAME_UNDER_CODES, CodeIssueKind.ORG_CODE_SHARED, CodeIssueKind.REGISTRATION_NUMBER_SHARED}
)


def normalise_name(name: str) -> str:
    """Enterprise names as departments type them: NFKC (full-width parentheses and letters to
    half-width), no whitespace."""
    return "".join(unicodedata.normalize("NFKC", name).split())


def _name_variants(name: str) -> set[str]:
    plain = normalise_name(name)
    return {name, plain, plain.replace("(", "（").replace(")", "）")}


def valid_organisation_code(value: str | None) -> str | None:
    """A GB 11714 code (8 characters and its check character), upper-cased; None otherwise."""
    code = (value or "").strip().upper().replace("-", "")
    if not _ORG_CODE.fullmatch(code) or org_code_check_char(code[:8]) != code[8]:
        return None
    return code


def valid_registration_number(value: str | None) -> str | None:
    number = (value or "").strip()
    return number if _REGISTRATION_NUMBER.fullmatch(number) else None


@dataclass(frozen=True)
class Sent:
    """What one record of a batch says about a legal subject, for detection."""

    subject_id: int
    uscc: str
    name: str
    department_id: int
    organisation_code: str | None = None
    registration_number: str | None = None


def detect_code_issues(sent: Sequence[Sent], new_subject_ids: Iterable[int]) -> int:
    """Find 重错码 among the legal subjects of one chunk of a batch and keep them for staff.
    ``new_subject_ids``: subjects this chunk created (their organisation code is checked against
    every other subject once, when they appear). Returns the number of issues seen."""
    if not sent:
        return 0
    new_ids = set(new_subject_ids)
    found: dict[tuple, int | None] = {}  # (kind, subject, other, value) -> department

    def flag(kind: CodeIssueKind, subject_id: int, other_id: int | None, value: str, department_id: int) -> None:
        if subject_id == other_id:
            return
        if other_id is not None and kind in SYMMETRIC_KINDS:
            # Either side may be sent next: one row per pair, whichever came first.
            subject_id, other_id = sorted((subject_id, other_id))
        found.setdefault((kind, subject_id, other_id, value[:200]), department_id)

    # One name under several USCCs: each subject sent is paired with one other holder of its
    # name (the lowest id, or the highest when it is the lowest itself), so the work and the
    # rows stay linear in the batch however many subjects share a name.
    holders: dict[str, tuple[int, int]] = {}  # normalised name -> (lowest id, highest id)

    def hold(name: str, low: int, high: int) -> None:
        key = normalise_name(name)
        seen = holders.get(key)
        holders[key] = (low, high) if seen is None else (min(seen[0], low), max(seen[1], high))

    for s in sent:
        hold(s.name, s.subject_id, s.subject_id)
    variants = sorted({v for s in sent for v in _name_variants(s.name)})
    for chunk in _chunks(variants, IN_LIST_SIZE):
        rows = db.session.execute(
            sa.select(Subject.name, sa.func.min(Subject.id), sa.func.max(Subject.id))
            .where(Subject.name.in_(chunk), Subject.kind == SubjectKind.LEGAL, Subject.merged_into_id.is_(None))
            .group_by(Subject.name)
        )
        for name, low, high in rows:
            hold(name, low, high)
    for s in sent:
        low, high = holders[normalise_name(s.name)]
        other = low if low != s.subject_id else high
        if other != s.subject_id:
            flag(CodeIssueKind.NAME_UNDER_CODES, s.subject_id, other, s.name, s.department_id)

    # Two USCCs with one organisation code (GB 32100-2015: characters 9-17), for new subjects.
    fresh = {s.uscc[8:17]: s for s in sent if s.subject_id in new_ids}
    for chunk in _chunks(sorted(fresh), IN_LIST_SIZE):
        for sid, code in db.session.execute(
            sa.select(Subject.id, ORGANISATION_CODE).where(ORGANISATION_CODE.in_(chunk))
        ):
            s = fresh[code]
            flag(CodeIssueKind.ORG_CODE_SHARED, s.subject_id, sid, code, s.department_id)

    # A 组织机构代码 sent beside a USCC that is not its characters 9-17: wrong code; it may name
    # another subject.
    mismatched = {s.organisation_code: s for s in sent if s.organisation_code and s.organisation_code != s.uscc[8:17]}
    owners: dict[str, int] = {}
    for chunk in _chunks(sorted(mismatched), IN_LIST_SIZE):
        owners.update(
            (code, sid)
            for sid, code in db.session.execute(
                sa.select(Subject.id, ORGANISATION_CODE).where(ORGANISATION_CODE.in_(chunk))
            )
        )
    for code, s in mismatched.items():
        flag(CodeIssueKind.ORG_CODE_MISMATCH, s.subject_id, owners.get(code), code, s.department_id)

    # A 工商注册号 beside a USCC: kept on the subject; the same number on another is a duplicate.
    numbers = {s.registration_number: s for s in sent if s.registration_number}
    holders: dict[str, list[int]] = {}
    for chunk in _chunks(sorted(numbers), IN_LIST_SIZE):
        for sid, number in db.session.execute(
            sa.select(Subject.id, Subject.registration_number).where(Subject.registration_number.in_(chunk))
        ):
            holders.setdefault(number, []).append(sid)
    keep = []
    for number, s in numbers.items():
        others = [sid for sid in holders.get(number, []) if sid != s.subject_id]
        for other in others:
            flag(CodeIssueKind.REGISTRATION_NUMBER_SHARED, s.subject_id, other, number, s.department_id)
        if not others and s.subject_id not in holders.get(number, []):
            keep.append({"id": s.subject_id, "registration_number": number})
    if keep:
        db.session.execute(
            sa.update(Subject.__table__)
            .where(Subject.__table__.c.id == sa.bindparam("sid"), Subject.__table__.c.registration_number.is_(None))
            .values(registration_number=sa.bindparam("number")),
            [{"sid": k["id"], "number": k["registration_number"]} for k in keep],
        )
    if found:
        _keep_issues(found)
    return len(found)


def _keep_issues(found: dict[tuple, int | None]) -> None:
    """Seen again (an open or dismissed row of the same kind, pair and value is touched) or new."""
    now = utcnow()
    table = SubjectCodeIssue
    known: dict[tuple, int] = {}
    subject_ids = sorted({key[1] for key in found})
    for chunk in _chunks(subject_ids, IN_LIST_SIZE):
        rows = db.session.execute(
            sa.select(table.id, table.kind, table.subject_id, table.other_subject_id, table.value).where(
                table.subject_id.in_(chunk),
                sa.or_(table.resolved_at.is_(None), table.resolution == CodeIssueResolution.DISMISSED),
            )
        )
        for iid, kind, sid, other, value in rows:
            known[(kind, sid, other, value)] = iid
    seen = sorted({known[key] for key in found if key in known})
    for chunk in _chunks(seen, IN_LIST_SIZE):
        db.session.execute(
            sa.update(table)
            .where(table.id.in_(chunk))
            .values(last_seen_at=now)
            .execution_options(synchronize_session=False)
        )
    new = [
        {
            "kind": kind,
            "subject_id": sid,
            "other_subject_id": other,
            "value": value,
            "department_id": department,
            "first_seen_at": now,
            "last_seen_at": now,
        }
        for (kind, sid, other, value), department in found.items()
        if (kind, sid, other, value) not in known
    ]
    if new:
        db.session.execute(sa.insert(table), new)


# --- the queue and the rate -------------------------------------------------------------------


def open_code_issues(limit: int = 500) -> list[SubjectCodeIssue]:
    return list(
        db.session.scalars(
            sa.select(SubjectCodeIssue)
            .where(SubjectCodeIssue.resolved_at.is_(None))
            .order_by(SubjectCodeIssue.last_seen_at.desc(), SubjectCodeIssue.id.desc())
            .limit(limit)
        )
    )


@dataclass(frozen=True)
class CodeErrorRate:
    affected: int  # legal subjects with an open 重错码 issue of any kind
    subjects: int  # legal subjects (merged ones not counted)

    @property
    def per_10000(self) -> float:
        return 10_000 * self.affected / self.subjects if self.subjects else 0.0


def code_error_rate() -> CodeErrorRate:
    """The monitored rate: subjects with an open issue (either side of it) per legal subject."""
    issues = SubjectCodeIssue
    open_issue = issues.resolved_at.is_(None)
    affected = sa.union(
        sa.select(issues.subject_id.label("sid")).where(open_issue),
        sa.select(issues.other_subject_id).where(open_issue, issues.other_subject_id.is_not(None)),
        sa.select(SubjectNameDiscrepancy.subject_id).where(SubjectNameDiscrepancy.resolved_at.is_(None)),
    ).subquery()
    count = db.session.scalar(sa.select(sa.func.count()).select_from(affected)) or 0
    subjects = db.session.scalar(
        sa.select(sa.func.count())
        .select_from(Subject)
        .where(Subject.kind == SubjectKind.LEGAL, Subject.merged_into_id.is_(None))
    )
    return CodeErrorRate(count, subjects or 0)


# --- resolving ---------------------------------------------------------------------------------


def _require_platform_staff(actor: Actor) -> None:
    from ..workflows.cases import is_platform_staff

    if not is_platform_staff(actor):
        raise Forbidden(msg.ONLY_PLATFORM_STAFF_CODES, code="forbidden")


def _close(actor: Actor, issue: SubjectCodeIssue, resolution: CodeIssueResolution, details: dict) -> None:
    issue.resolved_at = utcnow()
    issue.resolved_by_label = actor.label[:100]
    issue.resolution = resolution
    db.session.flush()
    record_event(
        actor,
        "subject.code_issue.resolve",
        target=issue,
        subject_id=issue.subject_id,
        details={"kind": issue.kind.value, "resolution": resolution.value, **details},
    )


def _check_open(issue: SubjectCodeIssue) -> None:
    if issue.resolved_at is not None:
        raise Conflict(msg.CODE_ISSUE_RESOLVED, code="code_issue_resolved")


def dismiss_code_issue(actor: Actor, issue: SubjectCodeIssue, reason: str) -> None:
    """Not a duplicate (e.g. one name used by two organisations elsewhere); not raised again for
    the same pair and value."""
    _require_platform_staff(actor)
    _check_open(issue)
    _close(actor, issue, CodeIssueResolution.DISMISSED, {"reason": reason[:200]})


def rename_subject_for_issue(actor: Actor, issue: SubjectCodeIssue, subject: Subject, new_name: str) -> None:
    """Staff correct one side's name (audited as a rename) and close the issue."""
    _require_platform_staff(actor)
    _check_open(issue)
    if subject.id not in (issue.subject_id, issue.other_subject_id) or subject.is_natural:
        raise ApiError(msg.CODE_ISSUE_WRONG_SUBJECT, code="wrong_subject")
    new_name = " ".join(new_name.split())
    if not new_name or len(new_name) > 200:
        raise ApiError(msg.NAME_INVALID, code="name_invalid")
    old = subject.name
    subject.name = new_name
    subject.updated_at = utcnow()
    db.session.flush()
    record_event(
        actor,
        "subject.rename",
        target=subject,
        subject_id=subject.id,
        reason="工作人员处理重错码",
        details={"from": old, "to": new_name, "code_issue": issue.id},
    )
    _close(actor, issue, CodeIssueResolution.RENAMED, {"renamed": subject.id})


def merge_subjects_for_issue(actor: Actor, issue: SubjectCodeIssue, keep: Subject) -> Subject:
    """Merge the issue's two subjects into ``keep``: see ``merge_subjects``."""
    _require_platform_staff(actor)
    _check_open(issue)
    if issue.other_subject_id is None or keep.id not in (issue.subject_id, issue.other_subject_id):
        raise ApiError(msg.CODE_ISSUE_WRONG_SUBJECT, code="wrong_subject")
    drop_id = issue.other_subject_id if keep.id == issue.subject_id else issue.subject_id
    drop = db.session.get(Subject, drop_id)
    assert drop is not None
    moved = merge_subjects(actor, drop, keep, reason=f"重错码处理（{issue.id}）")
    _close(actor, issue, CodeIssueResolution.MERGED, {"kept": keep.id, "merged": drop.id, "moved": moved})
    return keep


def merge_subjects(actor: Actor, source: Subject, target: Subject, *, reason: str) -> dict[str, int]:
    """Move everything that belongs to ``source`` (records, objections, repairs, commitments,
    reports, bindings, ...: every foreign key to ``subject.id`` except the append-only audit log)
    to ``target``; ``source`` keeps its code and points at ``target`` (``merged_into_id``), so
    later records sent under that code land on ``target``. Returns the rows moved per table."""
    _require_platform_staff(actor)
    if source.id == target.id or source.is_natural or target.is_natural:
        raise ApiError(msg.MERGE_INVALID, code="merge_invalid")
    if source.merged_into_id is not None or target.merged_into_id is not None:
        raise Conflict(msg.MERGE_ALREADY, code="merge_already")
    moved: dict[str, int] = {}
    try:
        with db.session.begin_nested():
            for table in db.metadata.sorted_tables:
                if table.name in _NOT_MOVED:
                    continue
                for column in table.columns:
                    if any(fk.column.table.name == "subject" for fk in column.foreign_keys):
                        result = db.session.execute(
                            sa.update(table).where(column == source.id).values({column.name: target.id})
                        )
                        if result.rowcount:
                            moved[f"{table.name}.{column.name}"] = result.rowcount
    except sa.exc.IntegrityError as exc:
        raise Conflict(msg.MERGE_CONFLICT, code="merge_conflict") from exc
    # Open issues now about one subject with itself are settled by the merge.
    db.session.execute(
        sa.update(SubjectCodeIssue)
        .where(
            SubjectCodeIssue.resolved_at.is_(None),
            SubjectCodeIssue.subject_id == SubjectCodeIssue.other_subject_id,
        )
        .values(resolved_at=utcnow(), resolved_by_label=actor.label[:100], resolution=CodeIssueResolution.MERGED)
        .execution_options(synchronize_session=False)
    )
    source.merged_into_id = target.id
    source.updated_at = utcnow()
    if target.registration_number is None and source.registration_number:
        target.registration_number, source.registration_number = source.registration_number, None
    db.session.flush()
    db.session.expire_all()
    record_event(
        actor,
        "subject.merge",
        target=target,
        subject_id=target.id,
        reason=reason,
        details={"from": source.id, "from_uscc": source.uscc, "into_uscc": target.uscc, "moved": moved},
    )
    return moved


def _chunks(values: list, size: int):
    for start in range(0, len(values), size):
        yield values[start : start + size]
