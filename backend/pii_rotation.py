"""Re-encryption of every encrypted column under the active PII key (`flask credit rotate-pii`).

Each ciphertext names its key (``<kid>.<base64>``), so the rows still on an old key are found by
their prefix, decrypted with that key and sealed again under the first key of the ring, with the
same context string as when they were written. Rows are read in primary-key order, a batch at a
time; the CLI commits after each batch, so an interrupted run resumes where it stopped (rows
already on the active key are never selected again). Each row is written with a compare-and-set
on its old ciphertexts: a value the platform changed meanwhile (it writes under the active key
anyway) is left alone.

Switching the crypto suite is the same rotation: the active key is then the first SM4-GCM key of
the ring (or AES-256-GCM, back), and every value on a key of the other cipher is on an old key
(docs/cryptography.md).

Keyed look-up hashes (``PII_HASH_KEY``) are not touched: see docs/deployment.md, key management.

Flushes, never commits.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from cryptography.exceptions import InvalidTag

from .extensions import db
from .pii import PiiCipher, PiiError, key_id_of

# The columns come from the registry the models fill (pii_registry.py), never from imports of
# other packages' tables; the app factory loads every model.
from .pii_registry import EncryptedColumn, EncryptedTable, encrypted_tables

__all__ = ["EncryptedColumn", "EncryptedTable", "encrypted_tables", "rotate", "survey"]


class UnknownKeyError(RuntimeError):
    """Ciphertexts sealed with a key that is not in the ring: nothing can be rotated safely."""

    def __init__(self, unknown: dict[str, Counter[str]]) -> None:
        self.unknown = unknown  # kid -> {"table.column": count}
        parts = []
        for kid, where in sorted(unknown.items()):
            places = ", ".join(f"{name}: {count}" for name, count in sorted(where.items()))
            parts.append(f"{kid!r} ({places})")
        super().__init__(
            "key id(s) not in PII_ENCRYPTION_KEYS: "
            + "; ".join(parts)
            + ". Put the missing key back in the ring (after the active one) and run again."
        )


@dataclass
class Failure:
    where: str  # "table.column"
    row_id: Any
    kid: str
    reason: str


@dataclass
class BatchResult:
    table: str
    rows: int = 0  # rows read in this batch
    rotated: Counter[str] = field(default_factory=Counter)  # "table.column" -> values re-encrypted
    changed_meanwhile: int = 0  # rows the platform rewrote between our read and our write
    failures: list[Failure] = field(default_factory=list)


def _old_key_filter(spec: EncryptedTable, active_kid: str) -> sa.ColumnElement[bool]:
    prefix = active_kid.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + ".%"
    return sa.or_(
        *(
            sa.and_(spec.table.c[col.name].is_not(None), spec.table.c[col.name].not_like(prefix, escape="\\"))
            for col in spec.columns
        )
    )


def _rows_on_old_keys(spec: EncryptedTable, active_kid: str, batch_size: int) -> Iterator[list[Any]]:
    """Batches of rows with at least one value not on the active key, in primary-key order."""
    last = None
    while True:
        query = sa.select(spec.table).where(_old_key_filter(spec, active_kid)).order_by(spec.pk).limit(batch_size)
        if last is not None:
            query = query.where(spec.pk > last)
        rows = db.session.execute(query).all()
        if not rows:
            return
        yield rows
        last = getattr(rows[-1], spec.pk.name)


def survey(pii: PiiCipher, *, batch_size: int = 1000) -> dict[str, Counter[str]]:
    """For each "table.column", how many values are on which old key (reads key ids only)."""
    found: dict[str, Counter[str]] = {}
    for spec in encrypted_tables():
        for col in spec.columns:
            found[f"{spec.name}.{col.name}"] = Counter()
        for rows in _rows_on_old_keys(spec, pii.active_kid, batch_size):
            for row in rows:
                for col in spec.columns:
                    value = getattr(row, col.name)
                    if value is not None and pii.needs_rotation(value):
                        found[f"{spec.name}.{col.name}"][key_id_of(value)] += 1
    return found


def check_known_keys(pii: PiiCipher, counts: dict[str, Counter[str]]) -> None:
    """Raise UnknownKeyError if any value carries a key id the ring does not have."""
    unknown: dict[str, Counter[str]] = {}
    for where, kids in counts.items():
        for kid, count in kids.items():
            if kid not in pii.key_ids:
                unknown.setdefault(kid, Counter())[where] += count
    if unknown:
        raise UnknownKeyError(unknown)


def rotate(pii: PiiCipher, *, batch_size: int = 500, dry_run: bool = False) -> Iterator[BatchResult]:
    """Re-encrypt every value not on the active key, one batch of rows per step (flushed; the
    caller commits after each). With ``dry_run`` every value is decrypted and sealed again in
    memory only, which proves the ring opens all of them."""
    for spec in encrypted_tables():
        for rows in _rows_on_old_keys(spec, pii.active_kid, batch_size):
            result = BatchResult(spec.name, rows=len(rows))
            for row in rows:
                _rotate_row(pii, spec, row, result, dry_run)
            if not dry_run:
                db.session.flush()
            yield result


def _rotate_row(pii: PiiCipher, spec: EncryptedTable, row: Any, result: BatchResult, dry_run: bool) -> None:
    row_id = getattr(row, spec.pk.name)
    sealed: dict[str, str] = {}
    failed = False
    for col in spec.columns:
        old = getattr(row, col.name)
        if old is None or not pii.needs_rotation(old):
            continue
        where = f"{spec.name}.{col.name}"
        kid = key_id_of(old)
        try:
            sealed[col.name] = pii.reencrypt(old, col.context(row))
        except PiiError as exc:
            reason = "key id not in the ring" if kid not in pii.key_ids else str(exc)
            result.failures.append(Failure(where, row_id, kid, reason))
            failed = True
        except (InvalidTag, ValueError):
            result.failures.append(Failure(where, row_id, kid, "does not decrypt (wrong key for this id, or damaged)"))
            failed = True
    if not sealed:
        return
    rotated = [f"{spec.name}.{name}" for name in sealed]
    if dry_run:
        result.rotated.update(rotated)
        return
    values: dict[str, Any] = dict(sealed)
    if spec.key_id_column and not failed:
        values[spec.key_id_column] = pii.active_kid
    # Columns with an ``onupdate`` (updated_at) keep their value: re-encryption changes nothing.
    for column in spec.table.columns:
        if column.onupdate is not None and column.name not in values:
            values[column.name] = column
    # Compare-and-set on the values read: one the platform rewrote meanwhile is left as it is.
    unchanged = [spec.table.c[name] == getattr(row, name) for name in sealed]
    written = db.session.execute(sa.update(spec.table).where(spec.pk == row_id, *unchanged).values(values)).rowcount
    if written == 1:
        result.rotated.update(rotated)
    else:
        result.changed_meanwhile += 1
