import sqlalchemy as sa

from backend.actors import Actor
from backend.audit.models import AuditEvent
from backend.audit.operations import record_event, verify_chain
from backend.extensions import db


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
    with db.engine.begin() as conn:
        conn.execute(sa.text("UPDATE audit_event SET action = 'forged' WHERE id = :id"), {"id": ids[2]})
    db.session.expire_all()
    result = runner.invoke(args=["credit", "audit-verify"])
    assert result.exit_code == 1
    assert f"id={ids[2]}" in result.output
    assert "edited" in result.output


def test_editing_details_json_is_detected(runner):
    ids = _events(3)
    with db.engine.begin() as conn:
        conn.execute(sa.text("UPDATE audit_event SET details = '{\"i\": 99}' WHERE id = :id"), {"id": ids[0]})
    db.session.expire_all()
    report = verify_chain()
    assert not report.ok
    assert report.first_bad_id == ids[0]


def test_deleting_a_row_is_detected(app):
    ids = _events(4)
    with db.engine.begin() as conn:
        conn.execute(sa.text("DELETE FROM audit_event WHERE id = :id"), {"id": ids[1]})
    db.session.expire_all()
    report = verify_chain()
    assert not report.ok
    assert report.first_bad_id == ids[2]


def test_deleting_the_last_row_is_detected(app):
    ids = _events(3)
    with db.engine.begin() as conn:
        conn.execute(sa.text("DELETE FROM audit_event WHERE id = :id"), {"id": ids[2]})
    db.session.expire_all()
    report = verify_chain()
    assert not report.ok
    assert "head" in report.problem


def test_chain_continues_across_transactions(app):
    _events(2)
    _events(2)
    assert verify_chain().ok
