"""A world built once and put back before every test (a plain module: conftest.py is not
importable).

Building the same world over HTTP for every test (citizens signed in and face-verified, a kiosk
session, three staff logins) was a third of the suite's time. A module-scoped fixture builds it
once, copies its rows with ``DatabaseSnapshot.take`` and empties the database again; every test
then gets exactly those rows back (``restore``) after the usual per-test cleanup. The copy is
made by the database itself (``CREATE TABLE ... AS SELECT *`` and ``INSERT ... SELECT *``), so
values round-trip without any type processing (SQL NULL stays NULL in JSON columns), on SQLite
and PostgreSQL alike.
"""

from __future__ import annotations

import copy
import datetime as dt
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa

from backend.extensions import db

PREFIX = "_snap_"


def empty_database() -> None:
    """Every table of the models emptied (the suite's cleanup after each test)."""
    tables = [t.name for t in reversed(db.metadata.sorted_tables)]
    with db.engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            conn.execute(sa.text("TRUNCATE " + ", ".join(tables) + " RESTART IDENTITY CASCADE"))
        else:
            for name in tables:
                conn.execute(sa.text(f"DELETE FROM {name}"))


@dataclass
class DatabaseSnapshot:
    """The rows of every non-empty table, kept in shadow tables of the same database."""

    tag: str
    tables: list[str] = field(default_factory=list)  # in dependency order (parents first)

    def _shadow(self, conn, name: str) -> str:
        return conn.dialect.identifier_preparer.quote(f"{PREFIX}{self.tag}_{name}"[:63])

    @classmethod
    def take(cls, tag: str) -> DatabaseSnapshot:
        snapshot = cls(tag)
        with db.engine.begin() as conn:
            for table in db.metadata.sorted_tables:
                if conn.execute(sa.select(sa.literal(1)).select_from(table).limit(1)).first() is None:
                    continue
                shadow = snapshot._shadow(conn, table.name)
                conn.execute(sa.text(f"DROP TABLE IF EXISTS {shadow}"))
                conn.execute(sa.text(f"CREATE TABLE {shadow} AS SELECT * FROM {table.name}"))
                snapshot.tables.append(table.name)
        return snapshot

    def restore(self, shift: dt.timedelta = dt.timedelta(0)) -> None:
        """Put the rows back into the (emptied) tables; PostgreSQL's sequences continue after
        them, as they did when the rows were first written. Every timestamp moves by ``shift``
        (the test's start minus the build's), so the rows are as if written when the test
        started: a session idle since the build, or a backoff compared with the wall clock,
        reads as it did when each test built its own world. Dates stay as they are."""
        seconds = int(shift.total_seconds())  # both moments are whole seconds (FrozenClock)
        with db.engine.begin() as conn:
            postgres = conn.dialect.name == "postgresql"
            for name in self.tables:
                table = db.metadata.tables[name]
                quote = conn.dialect.identifier_preparer.quote
                columns = ", ".join(quote(c.name) for c in table.columns)
                values = ", ".join(_shifted(c, quote(c.name), seconds, postgres) for c in table.columns)
                # Shifted on the way in: audit_event refuses UPDATEs on PostgreSQL (append-only).
                conn.execute(sa.text(f"INSERT INTO {name} ({columns}) SELECT {values} FROM {self._shadow(conn, name)}"))
                if postgres:
                    for column in db.metadata.tables[name].primary_key.columns:
                        if column.autoincrement is True or (
                            column.autoincrement == "auto" and isinstance(column.type, sa.Integer)
                        ):
                            conn.execute(
                                sa.text(
                                    f"SELECT setval(pg_get_serial_sequence(:table, :column), "
                                    f"(SELECT MAX({column.name}) FROM {name}))"
                                ),
                                {"table": name, "column": column.name},
                            )

    def drop(self) -> None:
        with db.engine.begin() as conn:
            for name in self.tables:
                conn.execute(sa.text(f"DROP TABLE IF EXISTS {self._shadow(conn, name)}"))
        self.tables = []


def _shifted(column: sa.Column, name: str, seconds: int, postgres: bool) -> str:
    """``name`` moved by ``seconds`` if it is a timestamp (SQL for one dialect, ``seconds`` an int)."""
    if not seconds or not isinstance(column.type, sa.DateTime):
        return name
    if postgres:
        return f"{name} + make_interval(secs => {seconds})"
    # SQLAlchemy stores SQLite timestamps as 'YYYY-MM-DD HH:MM:SS.ffffff': keep the fraction.
    return f"strftime('%Y-%m-%d %H:%M:%S', {name}, '{seconds:+d} seconds') || substr({name}, 20)"


# What FakeWeChat.reset() clears: a copy of it after the world was built is put back per test.
_FAKE_SETTINGS = ("apps", "templates", "pages", "auto_login", "accept_all_subscriptions", "lock")


def fake_state(fake) -> dict[str, Any]:
    with fake.lock:
        return {
            name: copy.deepcopy(value)
            for name, value in vars(fake).items()
            if name not in _FAKE_SETTINGS and isinstance(value, dict | list | set)
        }


def restore_fake_state(fake, state: dict[str, Any]) -> None:
    with fake.lock:
        for name, value in state.items():
            setattr(fake, name, copy.deepcopy(value))


def copy_cookies(source, target) -> None:
    """``target`` (a test client) sends the cookies ``source`` holds. werkzeug has no public way
    to list a client's cookies; its cookie objects are immutable, so a copy of the dict is a
    copy of the jar."""
    target._cookies = dict(source._cookies)
