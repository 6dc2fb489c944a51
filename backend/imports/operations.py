"""Import batches (归集批次): store validated rows through RecordWriter, report the bad ones.

Operations flush, never commit: the CLI command or the API request commits once at its end.
A batch keeps its bad rows in ImportRowError (row, column, reason) so the clerk can fix the file;
``error_report_csv`` renders them for the CLI and the admin console.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import os
from collections.abc import Callable, Iterable
from typing import Any

import sqlalchemy as sa
from flask import current_app

from ..actors import Actor
from ..audit.operations import record_event
from ..departments.models import Department
from ..extensions import db
from ..records.models import RecordCategory
from ..records.operations import RecordInput, RecordWriter
from ..records.publicity import PublicityRules
from ..types import utcnow
from ..workdays.service import load_calendar
from ..workflows.objections.corrections import reverted_corrections
from . import messages as msg
from .models import ImportBatch, ImportRowError, ImportStatus
from .parsing import (
    API_LABELS,
    FIELD_LABELS,
    ImportFileError,
    ParsedFile,
    ParsedRow,
    RejectedRow,
    RowValidator,
    open_import_file,
)

CHUNK_SIZE = 2000
API_CHANNEL = "dept_api"  # the batches of POST /api/dept/v1/records
ERROR_FLUSH_SIZE = 5000
PROGRESS_EVERY = 1000

Progress = Callable[[int], Any]  # called with the number of rows handled since the last call


def import_records(
    actor: Actor,
    department: Department,
    rows_or_inputs: Iterable[ParsedRow],
    *,
    channel: str,
    filename: str | None = None,
    atomic: bool = False,
    progress: Progress | None = None,
) -> ImportBatch:
    """Store the good rows (RecordInput) and report the bad ones (RejectedRow) as one batch.

    Default: bad rows are reported and the good ones kept (PARTIAL). ``atomic``: any bad row
    and nothing is stored (REJECTED), but every error is still reported. May raise
    ImportFileError if the rows come from a file that turns out unreadable half-way: the
    caller then rolls back and records the failure with ``record_failed_import``.
    """
    batch = _start_batch(actor, department, channel=channel, filename=filename, atomic=atomic)
    count = _run(actor, batch, rows_or_inputs, progress)
    _finish(actor, department, batch, superseded=count.superseded)
    return batch


def import_file(
    actor: Actor,
    department: Department,
    source: str | os.PathLike[str] | bytes,
    *,
    filename: str | None = None,
    category: RecordCategory | None = None,
    atomic: bool = False,
    channel: str = "cli",
    progress: Progress | None = None,
    today: dt.date | None = None,
) -> ImportBatch:
    """Open, validate and import a CSV or XLSX file.

    A file refused as a whole (wrong type, unreadable, header unusable, no data) gives a FAILED
    batch with the reason and stores nothing.
    """
    name = filename or (None if isinstance(source, bytes) else os.path.basename(os.fspath(source)))
    try:
        parsed = open_import_file(source, name)
        parsed.check_required(category)
    except ImportFileError as exc:
        return record_failed_import(actor, department, channel=channel, filename=name, reason=exc.message)
    return import_parsed_file(
        actor, department, parsed, category=category, atomic=atomic, channel=channel, progress=progress, today=today
    )


def import_parsed_file(
    actor: Actor,
    department: Department,
    parsed: ParsedFile,
    *,
    category: RecordCategory | None = None,
    atomic: bool = False,
    channel: str = "cli",
    progress: Progress | None = None,
    today: dt.date | None = None,
) -> ImportBatch:
    """Import a file already opened with ``open_import_file`` (the CLI opens it first to size
    its progress bar). Raises ImportFileError only if the file breaks half-way."""
    settings = current_app.extensions["settings"]
    try:
        parsed.check_required(category)
    except ImportFileError as exc:
        return record_failed_import(actor, department, channel=channel, filename=parsed.filename, reason=exc.message)
    validator = RowValidator.for_department(
        department, default_category=category, today=today, uscc_allowlist=settings.USCC_LEGACY_ALLOWLIST
    )
    batch = _start_batch(actor, department, channel=channel, filename=parsed.filename, atomic=atomic)
    count = _run(actor, batch, parsed.validated(validator), progress)
    notes = []
    if parsed.unknown_columns:
        notes.append(msg.UNKNOWN_COLUMNS.format(columns="、".join(parsed.unknown_columns)))
    if batch.total_rows == 0:
        batch.status = ImportStatus.FAILED
        notes.insert(0, msg.FILE_FAILED.format(reason=msg.NO_DATA_ROWS))
    _finish(actor, department, batch, notes, superseded=count.superseded, unknown_columns=parsed.unknown_columns)
    return batch


def record_failed_import(
    actor: Actor, department: Department, *, channel: str, filename: str | None, reason: str
) -> ImportBatch:
    """A batch for a file that could not be read at all: nothing stored, the reason kept."""
    batch = _start_batch(actor, department, channel=channel, filename=filename, atomic=False)
    batch.status = ImportStatus.FAILED
    _finish(actor, department, batch, [msg.FILE_FAILED.format(reason=reason)])
    return batch


def _start_batch(
    actor: Actor, department: Department, *, channel: str, filename: str | None, atomic: bool
) -> ImportBatch:
    batch = ImportBatch(
        department_id=department.id,
        channel=channel,
        filename=(filename or None) and filename[-255:],
        atomic=atomic,
        status=ImportStatus.RUNNING,
        actor_label=actor.label[:100],
    )
    db.session.add(batch)
    db.session.flush()
    return batch


class _Counter:
    def __init__(self) -> None:
        self.total = 0
        self.bad_rows = 0
        self.created = 0
        self.updated = 0
        self.unchanged = 0
        self.superseded = 0


def _run(actor: Actor, batch: ImportBatch, items: Iterable[ParsedRow], progress: Progress | None) -> _Counter:
    settings = current_app.extensions["settings"]
    writer = RecordWriter(
        load_calendar(),
        PublicityRules.from_settings(settings),
        timely_days=settings.DOUBLE_PUBLICITY_WORKING_DAYS,
        batch_id=batch.id,
        actor=actor,  # a rename by a registering department is audited under the batch's actor
    )
    count = _Counter()
    pending: list[RecordInput] = []
    held: list[RecordInput] = []  # atomic batches write only once every row is known good
    errors: list[dict] = []
    reported = 0
    for item in items:
        count.total += 1
        if isinstance(item, RejectedRow):
            count.bad_rows += 1
            errors.extend(
                {
                    "batch_id": batch.id,
                    "row_number": e.row,
                    "column": e.column and e.column[:50],
                    "reason": e.reason[:500],
                }
                for e in item.errors
            )
            if len(errors) >= ERROR_FLUSH_SIZE:
                db.session.execute(sa.insert(ImportRowError), errors)
                errors = []
        elif batch.atomic:
            held.append(item)
        else:
            pending.append(item)
            if len(pending) >= CHUNK_SIZE:
                _write(writer, pending, count, batch)
                pending = []
        if progress is not None and count.total - reported >= PROGRESS_EVERY:
            progress(count.total - reported)
            reported = count.total
    if errors:
        db.session.execute(sa.insert(ImportRowError), errors)
    if batch.atomic and not count.bad_rows:
        # All or nothing: a row found bad only now (it would undo an objection's correction)
        # rejects the batch before anything is written.
        refused: dict[tuple[int, str], dict] = {}
        for start in range(0, len(held), CHUNK_SIZE):
            refused.update(_refused(batch, _latest(held[start : start + CHUNK_SIZE])))
        if refused:
            count.bad_rows += len(refused)
            db.session.execute(sa.insert(ImportRowError), list(refused.values()))
        else:
            for start in range(0, len(held), CHUNK_SIZE):
                _write(writer, held[start : start + CHUNK_SIZE], count)
    elif pending:
        _write(writer, pending, count, batch)
    if progress is not None and count.total > reported:
        progress(count.total - reported)

    batch.total_rows = count.total
    batch.created_count = count.created
    batch.updated_count = count.updated
    batch.unchanged_count = count.unchanged
    batch.error_count = count.bad_rows
    stored = count.created + count.updated + count.unchanged
    if not count.bad_rows:
        batch.status = ImportStatus.COMPLETED
    elif batch.atomic or not stored:
        batch.status = ImportStatus.REJECTED
    else:
        batch.status = ImportStatus.PARTIAL
    return count


def _latest(chunk: list[RecordInput]) -> dict[tuple[int, str], RecordInput]:
    # The same decision number twice in a chunk: keep only the later row, so the earlier one
    # can never overwrite it (and re-importing the same file stays "unchanged").
    latest: dict[tuple[int, str], RecordInput] = {}
    for item in chunk:
        latest.pop(item.key, None)
        latest[item.key] = item
    return latest


def _refused(batch: ImportBatch, latest: dict[tuple[int, str], RecordInput]) -> dict[tuple[int, str], dict]:
    """Row errors, by record key, for the rows that would undo an objection's correction (see
    ``backend.workflows.objections.corrections``)."""
    reverted = reverted_corrections(list(latest.values()))
    # The column as the sender knows it: the API's field name, or the field's column name.
    column_of = API_LABELS if batch.channel == API_CHANNEL else FIELD_LABELS
    return {
        key: {
            "batch_id": batch.id,
            "row_number": latest[key].source_row or 0,
            "column": column_of.get(found.fields[0], found.fields[0])[:50],
            "reason": msg.REVERTS_CORRECTION.format(
                number=found.objection_number,
                fields="、".join(FIELD_LABELS.get(name, name) for name in found.fields),
            )[:500],
        }
        for key, found in reverted.items()
    }


def _write(writer: RecordWriter, chunk: list[RecordInput], count: _Counter, batch: ImportBatch | None = None) -> None:
    latest = _latest(chunk)
    count.superseded += len(chunk) - len(latest)
    if batch is not None:  # keep-the-good-rows batches refuse a reverting row, write the rest
        refused = _refused(batch, latest)
        if refused:
            db.session.execute(sa.insert(ImportRowError), list(refused.values()))
            count.bad_rows += len(refused)
            latest = {key: item for key, item in latest.items() if key not in refused}
    for outcome in writer.write(list(latest.values())):
        if outcome == "created":
            count.created += 1
        elif outcome == "updated":
            count.updated += 1
        else:
            count.unchanged += 1


def _finish(
    actor: Actor,
    department: Department,
    batch: ImportBatch,
    notes: list[str] | None = None,
    *,
    superseded: int = 0,
    **extra: Any,
) -> None:
    notes = list(notes or [])
    if superseded:
        notes.append(msg.SUPERSEDED.format(count=superseded))
    if notes:
        batch.message = "；".join(notes)[:500]
    batch.finished_at = utcnow()
    db.session.flush()
    details = {
        "department": department.code,
        "channel": batch.channel,
        "filename": batch.filename,
        "atomic": batch.atomic,
        "status": batch.status.value,
        "total": batch.total_rows,
        "created": batch.created_count,
        "updated": batch.updated_count,
        "unchanged": batch.unchanged_count,
        "error_rows": batch.error_count,
        "superseded": superseded,
    }
    details.update({k: v for k, v in extra.items() if v})
    record_event(actor, "import.batch", target=batch, details=details)


def error_report_csv(batch: ImportBatch) -> str:
    """The batch's row errors as CSV (row, column, reason), with a BOM so Excel reads UTF-8."""
    out = io.StringIO()
    out.write("\ufeff")
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(msg.REPORT_HEADER_API if batch.channel == "dept_api" else msg.REPORT_HEADER_FILE)
    rows = db.session.execute(
        sa.select(ImportRowError.row_number, ImportRowError.column, ImportRowError.reason)
        .where(ImportRowError.batch_id == batch.id)
        .order_by(ImportRowError.row_number, ImportRowError.id)
    )
    for row_number, column, reason in rows:
        writer.writerow([row_number, column or "", reason])
    return out.getvalue()


def batch_errors(batch: ImportBatch, limit: int | None = None) -> list[ImportRowError]:
    query = (
        sa.select(ImportRowError)
        .where(ImportRowError.batch_id == batch.id)
        .order_by(ImportRowError.row_number, ImportRowError.id)
    )
    if limit is not None:
        query = query.limit(limit)
    return list(db.session.scalars(query))
