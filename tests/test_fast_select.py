"""FastSelect (backend/fast_select.py) gives what Connection.execute gives, on SQLite and PostgreSQL,
and fails the way Connection.execute fails."""

from __future__ import annotations

import datetime as dt
import decimal

import pytest
import sqlalchemy as sa

from backend.actors import Actor
from backend.audit.models import AuditEvent
from backend.audit.operations import record_event
from backend.extensions import db
from backend.fast_select import FastSelect
from backend.records.models import PenaltyTier, RecordCategory
from backend.subjects import queries
from tests.factories import make_department, make_uscc, record_input, write_records

TODAY = dt.date(2026, 11, 27)
pytestmark = pytest.mark.usefixtures("app")


def _both(statement: sa.Select, params: dict) -> tuple[list[tuple], list[tuple]]:
    connection = db.session.connection()
    expected = [tuple(row) for row in connection.execute(statement, params).all()]
    return FastSelect(statement).rows(connection, params), expected


def test_profile_rows_are_those_of_connection_execute():
    department = make_department()
    uscc = make_uscc()
    write_records(
        record_input(department, uscc=uscc, fine_amount=decimal.Decimal("5000.50"), tier=PenaltyTier.SERIOUS),
        record_input(department, uscc=uscc, category=RecordCategory.LICENCE, tier=None, decision_date=TODAY),
    )
    db.session.commit()

    rows, expected = _both(queries._PROFILE, {"uscc": uscc, "today": TODAY})

    assert len(rows) == 2 and rows == expected
    record = queries.PublicRecord(*rows[0][queries._RECORD_AT :])
    assert record.category is RecordCategory.LICENCE  # enums, dates and decimals typed as the columns say
    assert record.decision_date == TODAY and record.tier is None
    fined = queries.PublicRecord(*rows[1][queries._RECORD_AT :])
    assert fined.fine_amount == decimal.Decimal("5000.50") and fined.tier is PenaltyTier.SERIOUS
    # The statement's own constant (legal subjects only) is bound: a person's code finds nothing.
    assert FastSelect(queries._PROFILE).rows(db.session.connection(), {"uscc": "nobody", "today": TODAY}) == []


def test_json_datetime_and_none_columns_are_typed_as_connection_execute_types_them():
    record_event(Actor.cli("test"), "fast.select", details={"数量": 3, "列表": ["甲", None]})
    record_event(Actor.cli("test"), "fast.select", details=None)
    db.session.commit()
    audit = AuditEvent.__table__
    statement = (
        sa.select(audit.c.id, audit.c.occurred_at, audit.c.details, audit.c.subject_id)
        .where(audit.c.action == sa.bindparam("action"), audit.c.occurred_at >= sa.bindparam("since"))
        .order_by(audit.c.id)
    )

    rows, expected = _both(statement, {"action": "fast.select", "since": dt.datetime(2020, 1, 1)})

    assert rows == expected and len(rows) == 2
    assert isinstance(rows[0][1], dt.datetime)
    assert rows[0][2] == {"数量": 3, "列表": ["甲", None]}
    assert rows[0][3] is None


def test_a_driver_error_is_sqlalchemys_error_without_the_parameters():
    missing = sa.table("no_such_table", sa.column("secret"))
    statement = sa.select(missing.c.secret).where(missing.c.secret == sa.bindparam("value"))
    connection = db.engine.connect()
    try:
        with pytest.raises(sa.exc.DBAPIError) as raised:
            FastSelect(statement).rows(connection, {"value": "620302199003070011"})
        assert "620302199003070011" not in str(raised.value)  # hide_parameters, as the engine says
        assert "no_such_table" in str(raised.value)
    finally:
        connection.close()


def test_expanding_parameters_are_refused_when_compiled():
    audit = AuditEvent.__table__
    statement = sa.select(audit.c.id).where(audit.c.action.in_(sa.bindparam("actions", expanding=True)))
    with pytest.raises(ValueError, match="expanding"):
        FastSelect(statement).rows(db.session.connection(), {"actions": ["a", "b"]})


def test_a_missing_parameter_is_refused_as_connection_execute_refuses_it():
    audit = AuditEvent.__table__
    statement = sa.select(audit.c.id).where(audit.c.action == sa.bindparam("action"), audit.c.ip == sa.bindparam("ip"))
    select = FastSelect(statement)
    with pytest.raises(sa.exc.InvalidRequestError, match="'ip'"):
        select.rows(db.session.connection(), {"action": "fast.select"})  # not NULL in its place
    # Keys the statement does not use are left out, as a shared parameter dict has them.
    assert select.rows(db.session.connection(), {"action": "x", "ip": "127.0.0.1", "unused": 1}) == []
