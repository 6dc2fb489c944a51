"""`flask credit rotate-pii`: every encrypted column re-encrypted under the active key, in batches,
resumable and idempotent; a key id missing from the ring is refused before anything is written.

The rows are written through the real surfaces (mini-program sign-in and face verification,
an objection and a repair with their commitments, staff TOTP enrolment, a department API key,
the WeChat access token) under the suite's key, then the ring becomes "k2,<that key>"."""

from __future__ import annotations

import base64

import pytest
import sqlalchemy as sa

from backend.audit.models import AuditEvent
from backend.extensions import db
from backend.pii import PiiCipher, key_id_of
from backend.pii_rotation import BatchResult, _rotate_row, _rows_on_old_keys, encrypted_tables, rotate
from backend.subjects.models import Subject
from tests.conftest import TEST_PII_KEY
from tests.factories import make_department, make_id_number, record_input, write_records
from tests.wechat.helpers import API, file_objection, file_repair

OLD_KID = TEST_PII_KEY.split(":")[0]
K2 = "k2:" + base64.b64encode(b"\x02" * 32).decode()
K3 = "k3:" + base64.b64encode(b"\x03" * 32).decode()


def test_every_encrypted_column_of_the_schema_is_rotated():
    listed = {(spec.name, col.name) for spec in encrypted_tables() for col in spec.columns}
    in_schema = {
        (table.name, column.name)
        for table in db.metadata.sorted_tables
        for column in table.columns
        if column.name.endswith("_encrypted")
    }
    assert in_schema == listed


def snapshot() -> dict[tuple[str, object, str], str]:
    """Every ciphertext of every encrypted column, by (table, primary key, column)."""
    db.session.expire_all()
    values = {}
    for spec in encrypted_tables():
        for row in db.session.execute(sa.select(spec.table)):
            for col in spec.columns:
                value = getattr(row, col.name)
                if value is not None:
                    values[(spec.name, getattr(row, spec.pk.name), col.name)] = value
    return values


def plaintexts(pii: PiiCipher) -> dict[tuple[str, object, str], str]:
    contexts = {(spec.name, col.name): (spec, col) for spec in encrypted_tables() for col in spec.columns}
    out = {}
    for spec in encrypted_tables():
        for row in db.session.execute(sa.select(spec.table)):
            for col in spec.columns:
                value = getattr(row, col.name)
                if value is not None:
                    _, column = contexts[(spec.name, col.name)]
                    out[(spec.name, getattr(row, spec.pk.name), col.name)] = pii.decrypt(value, column.context(row))
    return out


def actions(name: str) -> list[AuditEvent]:
    db.session.expire_all()
    return list(db.session.scalars(sa.select(AuditEvent).where(AuditEvent.action == name).order_by(AuditEvent.id)))


@pytest.fixture
def populated(app, client, callers):
    """Rows in every encrypted column, all sealed with the suite's key."""
    file_objection(client, callers.a, callers.record_of(callers.a).id)
    repair = file_repair(client, callers.b, callers.record_of(callers.b).id)
    assert repair["number"]
    # An enterprise's legal representative ID number, as a registering department sends it.
    registry = make_department(code="MZ", name="金昌市民政局", n=7)
    registry.registers_subjects = True
    write_records(record_input(registry, legal_representative_id_number=make_id_number(777)))
    db.session.commit()
    values = snapshot()
    assert {(table, column) for table, _, column in values} == {
        (spec.name, col.name) for spec in encrypted_tables() for col in spec.columns
    }, "every encrypted column has a row to rotate"
    assert {key_id_of(v) for v in values.values()} == {OLD_KID}
    return values


@pytest.fixture
def rotated_ring(app, monkeypatch):
    """The ring after a new key was put first."""
    ring = PiiCipher(f"{K2},{TEST_PII_KEY}", app.extensions["settings"].PII_HASH_KEY)
    monkeypatch.setitem(app.extensions, "pii", ring)
    return ring


def test_rotation_moves_every_value_to_the_active_key_and_a_second_run_changes_nothing(
    app, runner, callers, populated, rotated_ring
):
    clear = plaintexts(rotated_ring)
    subjects_before = {s.id: s.updated_at for s in db.session.scalars(sa.select(Subject))}

    dry = runner.invoke(args=["credit", "rotate-pii", "--dry-run"])
    assert dry.exit_code == 0, dry.output
    assert f"dry run: {len(populated)} value(s) would be re-encrypted under 'k2'" in dry.output
    assert snapshot() == populated  # nothing written

    result = runner.invoke(args=["credit", "rotate-pii", "--batch-size", "2"])
    assert result.exit_code == 0, result.output
    assert f"{len(populated)} value(s) on old keys" in result.output
    assert f"subject.id_number_encrypted: 2 ({OLD_KID}: 2)" in result.output  # citizens A and B
    assert "subject.name_encrypted: re-encrypted 2, on old keys now: 0" in result.output
    assert f"{len(populated)} value(s) re-encrypted under 'k2'; 0 value(s) remain on old keys" in result.output

    after = snapshot()
    assert after.keys() == populated.keys()
    assert {key_id_of(v) for v in after.values()} == {"k2"}
    assert all(after[k] != populated[k] for k in after)
    assert plaintexts(rotated_ring) == clear
    subjects = list(db.session.scalars(sa.select(Subject).where(Subject.id_number_encrypted.is_not(None))))
    assert subjects and {s.pii_key_id for s in subjects} == {"k2"}
    assert {s.id: s.updated_at for s in db.session.scalars(sa.select(Subject))} == subjects_before
    # The old key can leave the ring: the platform reads everything with k2 alone.
    k2_only = PiiCipher(K2, app.extensions["settings"].PII_HASH_KEY)
    assert plaintexts(k2_only) == clear
    app.extensions["pii"] = k2_only
    assert callers.request("citizen_a", "GET", f"{API}/me").status_code == 200
    signed = callers.request("department", "GET", "/api/dept/v1/batches/1")
    assert signed.status_code == 404, signed.json  # the request's signature checked with the secret

    again = runner.invoke(args=["credit", "rotate-pii"])
    assert again.exit_code == 0, again.output
    assert "0 value(s) on old keys" in again.output
    assert "0 value(s) re-encrypted under 'k2'; 0 value(s) remain on old keys" in again.output
    assert snapshot() == after

    (start,) = actions("pii.rotate.start")
    assert start.details == {"active_kid": "k2", "pending": len(populated)}
    dry_event, first, second = actions("pii.rotate")
    assert dry_event.details["dry_run"] is True and dry_event.details["remaining"]
    assert first.details["dry_run"] is False and first.details["remaining"] == {}
    assert sum(first.details["rotated"].values()) == len(populated)
    assert second.details["rotated"] == {} and second.details["failures"] == 0
    assert first.actor_label == "rotate-pii" and first.channel == "cli"


def test_an_interrupted_run_resumes_where_it_stopped(app, runner, populated, rotated_ring):
    steps = rotate(rotated_ring, batch_size=1)
    first = next(steps)
    db.session.commit()
    steps.close()  # the operator pressed Ctrl-C
    assert sum(first.rotated.values()) >= 1
    halfway = snapshot()
    assert 0 < sum(key_id_of(v) == "k2" for v in halfway.values()) < len(populated)

    result = runner.invoke(args=["credit", "rotate-pii"])
    assert result.exit_code == 0, result.output
    left = len(populated) - sum(first.rotated.values())
    assert f"{left} value(s) re-encrypted under 'k2'; 0 value(s) remain on old keys" in result.output
    after = snapshot()
    assert {key_id_of(v) for v in after.values()} == {"k2"}
    # The rows done before the interruption were not touched again.
    assert all(after[k] == v for k, v in halfway.items() if key_id_of(v) == "k2")


def test_a_key_id_missing_from_the_ring_is_refused_and_nothing_is_written(app, runner, populated, monkeypatch):
    monkeypatch.setitem(app.extensions, "pii", PiiCipher(f"{K3},{K2}", app.extensions["settings"].PII_HASH_KEY))
    result = runner.invoke(args=["credit", "rotate-pii"])
    assert result.exit_code == 1, result.output
    assert "refusing to rotate, nothing was changed" in result.output
    assert f"'{OLD_KID}'" in result.output and "subject.name_encrypted: 2" in result.output
    assert "Put the missing key back in the ring" in result.output
    assert snapshot() == populated
    (refused,) = actions("pii.rotate.refused")
    assert refused.details["unknown_kids"][OLD_KID]["subject.name_encrypted"] == 2
    assert actions("pii.rotate") == []
    # A dry run is refused the same way.
    assert runner.invoke(args=["credit", "rotate-pii", "--dry-run"]).exit_code == 1


def test_a_value_that_does_not_decrypt_is_reported_and_the_rest_is_rotated(app, runner, populated, rotated_ring):
    subject = db.session.scalars(sa.select(Subject).where(Subject.name_encrypted.is_not(None))).first()
    # The name sealed as an ID number: the context does not match, so it cannot be opened.
    subject.name_encrypted = subject.id_number_encrypted
    db.session.commit()
    result = runner.invoke(args=["credit", "rotate-pii"])
    assert result.exit_code == 1, result.output
    assert f"FAILED subject.name_encrypted id={subject.id} key '{OLD_KID}': does not decrypt" in result.output
    assert "1 value(s) remain on old keys" in result.output
    after = snapshot()
    stuck = {k for k, v in after.items() if key_id_of(v) != "k2"}
    assert stuck == {("subject", subject.id, "name_encrypted")}
    db.session.expire_all()
    assert db.session.get(Subject, subject.id).pii_key_id == OLD_KID  # not all of the row moved


def test_a_value_rewritten_during_the_run_is_left_as_the_platform_wrote_it(app, populated, rotated_ring):
    spec = next(s for s in encrypted_tables() if s.name == "subject")
    (rows,) = list(_rows_on_old_keys(spec, "k2", 1000))[:1]
    stale = rows[0]
    fresh = rotated_ring.encrypt("张明华", "subject.name")
    db.session.execute(sa.update(spec.table).where(spec.pk == stale.id).values(name_encrypted=fresh))
    result = BatchResult("subject")
    _rotate_row(rotated_ring, spec, stale, result, dry_run=False)
    assert result.changed_meanwhile == 1 and not result.rotated
    db.session.expire_all()
    assert db.session.get(Subject, stale.id).name_encrypted == fresh
