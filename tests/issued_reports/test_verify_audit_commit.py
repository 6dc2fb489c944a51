"""A GET that audits commits (issue 15 item 2): the verification page of a person's report writes
its audit row and no view commits it by hand; the request's boundary does (backend/db_session.py)."""

from __future__ import annotations

import sqlalchemy as sa

from backend.actors import Actor
from backend.audit.models import AuditEvent
from backend.extensions import db
from backend.issued_reports.operations import issue_report

from .helpers import path_of, read_qr


def test_the_verification_page_of_a_personal_report_commits_its_audit_row(world, client, tmp_path):
    issued = issue_report(Actor.citizen(world.person.id, "mp"), world.person, "personal")
    db.session.commit()
    url = read_qr(issued.pdf, tmp_path)

    assert client.get(path_of(url)).status_code == 200

    with db.engine.connect() as other_connection:  # sees committed rows only
        actions = other_connection.scalars(
            sa.select(AuditEvent.action).where(AuditEvent.subject_id == world.person.id)
        ).all()
    assert "report.verify" in actions
