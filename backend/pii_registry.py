"""Where the encrypted columns are: each models module registers the columns it writes with
``cipher().encrypt`` and their AEAD context, so PII key rotation (pii_rotation.py) finds every one
without importing any package's tables, a channel's included (issue 15: the core never imports a
channel). A test checks that every ``*_encrypted`` column of the schema is registered.

Infrastructure: imports nothing of the platform but SQLAlchemy types.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa


@dataclass(frozen=True)
class EncryptedColumn:
    name: str
    # The AEAD context of a row's value; some contexts name the row (the openid, the AppID).
    context: Callable[[Any], str]


@dataclass(frozen=True)
class EncryptedTable:
    table: sa.Table
    columns: tuple[EncryptedColumn, ...]
    # A column that records the key of the row's ciphertexts (subject.pii_key_id), kept in step.
    key_id_column: str | None = None

    @property
    def name(self) -> str:
        return self.table.name

    @property
    def pk(self) -> sa.Column:
        (pk,) = self.table.primary_key.columns
        return pk


def fixed(context: str) -> Callable[[Any], str]:
    """A context that is the same for every row."""
    return lambda _row: context


_REGISTRY: dict[str, EncryptedTable] = {}


def register_encrypted(model: Any, *columns: EncryptedColumn, key_id_column: str | None = None) -> EncryptedTable:
    """Declare ``model``'s encrypted columns (called once, next to the model). Registering a
    table again replaces its entry (a module reloaded in a test), never duplicates it."""
    table = model.__table__ if hasattr(model, "__table__") else model
    for column in columns:
        if column.name not in table.c:
            raise ValueError(f"{table.name} has no column {column.name!r}")
    spec = EncryptedTable(table, tuple(columns), key_id_column)
    _REGISTRY[table.name] = spec
    return spec


def encrypted_tables() -> list[EncryptedTable]:
    """Every registered table, in table-name order (rotation order does not matter: each row is
    written with a compare-and-set of its own)."""
    return [_REGISTRY[name] for name in sorted(_REGISTRY)]
