import contextlib

import pytest
import sqlalchemy as sa
from sqlalchemy.exc import DBAPIError

from backend.actors import Actor
from backend.audit.models import AuditEvent
from backend.audit.operations import record_event, verify_chain
from backend.extensions import db


@contextlib.contextmanager
def tamper():
    """A connection that edits audit rows the way an attacker with owner rights would: on
    PostgreSQL the append-only trigger must be disabled first."""
    with db.engine.begin() as conn:
        postgres = conn.dialect.name == "postgresql"
        if postgres:
            conn.execute(sa.text("ALTER TABLE audit_event DISABLE TRIGGER audit_event_append_only"))
        yield conn
        if postgres:
            conn.execute(sa.text("ALTER TABLE audit_event ENABLE TRIGGER audit_event_append_only"))
    db.session.expire_all()


def _events(n: int) -> list[int]:
    ids = []
    for i in range(n):
        ids.append(
            record_event(Actor.cli("test"), "test.action", target_type="thing", target_id=i, details={"i": i}).id
        )
    db.session.commit()
    return ids


def test_chain_links_rows(app):
    _events(3)
    rows = db.session.scalars(sa.select(AuditEvent).order_by(AuditEvent.id)).all()
    assert rows[0].prev_hash == "0" * 64
    assert rows[1].prev_hash == rows[0].hash
    assert rows[2].prev_hash == rows[1].hash
    report = verify_chain()
    assert report.ok
    assert report.checked == 3


def test_cli_reports_ok(runner):
    _events(2)
    result = runner.invoke(args=["credit", "audit-verify"])
    assert result.exit_code == 0
    assert "2 rows verified" in result.output


def test_editing_a_row_breaks_the_chain_and_names_it(runner):
    ids = _events(5)
    with tamper() as conn:
        conn.execute(sa.text("UPDATE audit_event SET action = 'forged' WHERE id = :id"), {"id": ids[2]})
    result = runner.invoke(args=["credit", "audit-verify"])
    assert result.exit_code == 1
    assert f"id={ids[2]}" in result.output
    assert "edited" in result.output


def test_editing_details_json_is_detected(runner):
    ids = _events(3)
    with tamper() as conn:
        conn.execute(sa.text("UPDATE audit_event SET details = '{\"i\": 99}' WHERE id = :id"), {"id": ids[0]})
    report = verify_chain()
    assert not report.ok
    assert report.first_bad_id == ids[0]


def test_deleting_a_row_is_detected(app):
    ids = _events(4)
    with tamper() as conn:
        conn.execute(sa.text("DELETE FROM audit_event WHERE id = :id"), {"id": ids[1]})
    report = verify_chain()
    assert not report.ok
    assert report.first_bad_id == ids[2]


def test_deleting_the_last_row_is_detected(app):
    ids = _events(3)
    with tamper() as conn:
        conn.execute(sa.text("DELETE FROM audit_event WHERE id = :id"), {"id": ids[2]})
    report = verify_chain()
    assert not report.ok
    assert "head" in report.problem


def test_chain_continues_across_transactions(app):
    _events(2)
    _events(2)
    assert verify_chain().ok


def test_postgres_refuses_update_and_delete(app):
    if db.engine.dialect.name != "postgresql":
        pytest.skip("the append-only trigger is PostgreSQL's; SQLite relies on the hash chain")
    ids = _events(1)
    for statement in ("UPDATE audit_event SET action = 'x' WHERE id = :id", "DELETE FROM audit_event WHERE id = :id"):
        with pytest.raises(DBAPIError, match="append-only"), db.engine.begin() as conn:
            conn.execute(sa.text(statement), {"id": ids[0]})
    assert verify_chain().ok
