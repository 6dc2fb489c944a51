"""Core SELECTs for the hottest public read paths, run straight on the database driver's cursor.

The public profile, report verification and name search are one indexed statement each (the
search: one per tier, or one for a first page on PostgreSQL), and on PostgreSQL
SQLAlchemy's execution of it (execution context, parameter construction, ``cursor.description``
with a Column object per column on every call, result metadata and Row objects) cost about as
much CPU as the driver's own round trip: measured in one process on the benchmark database,
0.17 ms against 0.09 ms for the verification statement, and for the profile's 7 rows x 25
columns 0.34 ms against 0.12 ms. Under load the web processes, not the database, are what runs
out of CPU (``make bench`` prints the CPU per request of each), so that is throughput.

``FastSelect`` keeps the statement a Core ``select`` (one definition, compiled by SQLAlchemy
for each dialect) and keeps SQLAlchemy's typing: parameters go through the bind processors and
columns through the result processors of their column types, as ``Connection.execute`` would
apply them. What it leaves out is the generic machinery around that. Errors are SQLAlchemy's:
a driver error goes through the Connection's own handler, so a lost connection is invalidated
(and the pool refreshed) and the caller sees the same ``sqlalchemy.exc.DBAPIError`` subclasses
(the 503 with Retry-After of errors.py) with parameters hidden as the engine says.

Only what these statements need is supported: no expanding (IN list) or post-compile
parameters, which are refused when the statement is first compiled.

Two SQLAlchemy internals are used, both stable through 2.x and pinned in requirements.txt:
``SQLCompiler._result_columns`` (the types of the selected columns) and
``Connection._handle_dbapi_exception`` (what ``Connection.execute`` itself calls on an error:
it closes the cursor, detects a disconnect, invalidates the pool and wraps the error).
tests/test_fast_select.py and the outage test in tests/security/test_faults.py fail if
either stops doing what is described here.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import Connection, Dialect

_Processor = Callable[[Any], Any]


@dataclass(frozen=True)
class _Plan:
    """The statement compiled for one dialect, with its processors."""

    sql: str
    positional_names: tuple[str, ...] | None  # qmark/numeric paramstyles: the parameters' order
    required: frozenset[str]  # parameters without a value in the statement: the caller's
    constants: dict[str, Any]  # values bound in the statement itself, already processed
    bind_processors: dict[str, _Processor]  # by parameter name, for those whose type has one
    result_types: tuple[sa.types.TypeEngine, ...]
    dialect: Dialect

    def arguments(self, params: Mapping[str, Any]) -> dict[str, Any] | tuple[Any, ...]:
        missing = self.required.difference(params)
        if missing:  # as Connection.execute refuses it, instead of sending NULL
            raise sa_exc.InvalidRequestError(f"A value is required for bind parameter(s) {sorted(missing)}")
        values = dict(self.constants)
        for name, value in params.items():
            if name in self.bind_processors:
                values[name] = self.bind_processors[name](value) if value is not None else None
            elif name in self.required or name in self.constants:
                values[name] = value
        if self.positional_names is None:
            return values
        return tuple(values[name] for name in self.positional_names)


class FastSelect:
    """A Core SELECT whose rows are fetched on the DBAPI cursor of a SQLAlchemy Connection.

    ``rows(connection, params)`` gives a list of plain tuples, one per row, in the select's
    column order, with the column types' Python values (enums, dates, decimals, JSON).
    """

    def __init__(self, statement: sa.Select) -> None:
        self.statement = statement
        self._plans: dict[str, _Plan] = {}
        # Result processors depend on the driver's type codes (cursor.description), known after
        # the first execution on each dialect; built once.
        self._processors: dict[str, tuple[tuple[int, _Processor], ...]] = {}
        self._lock = threading.Lock()

    def _plan(self, dialect: Dialect) -> _Plan:
        plan = self._plans.get(dialect.name)
        if plan is not None:
            return plan
        compiled = self.statement.compile(dialect=dialect)
        if compiled.post_compile_params or compiled.literal_execute_params:
            raise ValueError("FastSelect does not support expanding or post-compile parameters")
        binds = {name: bind for bind, name in compiled.bind_names.items()}
        required = frozenset(name for name, bind in binds.items() if bind.required)
        constants, processors = {}, {}
        for name, value in compiled.construct_params(dict.fromkeys(required)).items():
            processor = binds[name].type.dialect_impl(dialect).bind_processor(dialect)
            if processor is not None:
                processors[name] = processor
            if name not in required:
                constants[name] = processor(value) if processor is not None and value is not None else value
        plan = _Plan(
            sql=str(compiled),
            positional_names=tuple(compiled.positiontup or ()) if compiled.positional else None,
            required=required,
            constants=constants,
            bind_processors=processors,
            result_types=tuple(column.type for column in compiled._result_columns),
            dialect=dialect,
        )
        with self._lock:
            self._plans.setdefault(dialect.name, plan)
        return plan

    def _result_processors(
        self, plan: _Plan, description: Sequence[Sequence[Any]]
    ) -> tuple[tuple[int, _Processor], ...]:
        processors = self._processors.get(plan.dialect.name)
        if processors is None:
            found = []
            for index, (type_, column) in enumerate(zip(plan.result_types, description, strict=True)):
                processor = type_.dialect_impl(plan.dialect).result_processor(plan.dialect, column[1])
                if processor is not None:
                    found.append((index, processor))
            processors = tuple(found)
            with self._lock:
                self._processors.setdefault(plan.dialect.name, processors)
        return processors

    def rows(self, connection: Connection, params: Mapping[str, Any]) -> list[tuple[Any, ...]]:
        plan = self._plan(connection.dialect)
        arguments = plan.arguments(params)
        cursor = None
        try:
            cursor = connection.connection.cursor()
            cursor.execute(plan.sql, arguments)
            rows = cursor.fetchall()
            processors = self._processors.get(plan.dialect.name)
            if processors is None:
                processors = self._result_processors(plan, cursor.description)
            cursor.close()
        except Exception as exc:  # the Connection's handler: disconnects invalidate, errors wrap
            connection._handle_dbapi_exception(exc, plan.sql, arguments, cursor, None)
        if not processors:
            return rows  # tuples already (both drivers' default row type)
        result = []
        for row in rows:
            values = list(row)
            for index, processor in processors:
                values[index] = processor(values[index])
            result.append(tuple(values))
        return result
