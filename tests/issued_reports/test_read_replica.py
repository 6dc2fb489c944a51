"""DATABASE_REPLICA_URL: the public query (search, profiles, on every surface) reads the replica;
reports, verification and everything personal stay on the primary; a lost replica degrades to
the primary instead of failing the query.

The replica here is a second database with deliberately different content, so each answer shows
which database it came from.
"""

from __future__ import annotations

import datetime as dt
import os
from urllib.parse import quote

import psycopg
import pytest
import sqlalchemy as sa
from sqlalchemy.engine import make_url

from backend.actors import Actor
from backend.app import create_app
from backend.extensions import db
from backend.issued_reports.keys import EXTENSION_KEY
from backend.issued_reports.operations import issue_report
from backend.types import local_date
from tests.conftest import sibling_config
from tests.factories import make_department, make_uscc, record_input, write_records

from .conftest import ENTERPRISE_NAME
from .helpers import pdf_text, read_qr

REPLICA_NAME = "金昌市副本数据测试有限公司"  # the same USCC, another name: only on the replica
ONLY_ON_REPLICA = "金昌市仅在副本存在有限公司"


def _recent() -> dt.date:
    return local_date() - dt.timedelta(days=60)


@pytest.fixture
def replica_url(app, tmp_path):
    """A second, migrated database of the same kind as the suite's."""
    primary = make_url(app.config["SQLALCHEMY_DATABASE_URI"])
    if primary.get_backend_name() == "sqlite":
        yield f"sqlite:///{tmp_path / 'replica.db'}"
        return
    name = f"{primary.database}_replica"
    admin = primary.set(drivername="postgresql", database="postgres").render_as_string(hide_password=False)
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    yield primary.set(database=name).render_as_string(hide_password=False)
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _fill_replica(app, url: str, uscc: str) -> None:
    """Migrate the replica database and write what only it holds."""
    from flask_migrate import upgrade

    writer = create_app(sibling_config(app, DATABASE_URL=url))
    with writer.app_context():
        upgrade()
        dept = make_department()
        write_records(
            record_input(dept, uscc=uscc, subject_name=REPLICA_NAME, decision_date=_recent(), received_date=_recent()),
            record_input(
                dept,
                uscc=make_uscc(7001),
                subject_name=ONLY_ON_REPLICA,
                decision_number="金市监罚〔2026〕7001号",
                decision_date=_recent(),
                received_date=_recent(),
            ),
        )
        db.session.commit()
        db.session.remove()
        db.engine.dispose()


@pytest.fixture
def primary_world(app):
    uscc = make_uscc(7000)
    write_records(
        record_input(
            make_department(), uscc=uscc, subject_name=ENTERPRISE_NAME, decision_date=_recent(), received_date=_recent()
        )
    )
    db.session.commit()
    return uscc


def _reading_app(app, keys, **overrides):
    reader = create_app(sibling_config(app, **overrides))
    reader.extensions[EXTENSION_KEY] = keys
    return reader


def test_public_query_reads_the_replica_and_reports_and_verification_the_primary(
    app, keys, primary_world, replica_url, tmp_path
):
    uscc = primary_world
    _fill_replica(app, replica_url, uscc)
    reader = _reading_app(app, keys, DATABASE_REPLICA_URL=replica_url)
    web = reader.test_client()

    profile = web.get(f"/api/v1/subjects/{uscc}").get_json()
    assert profile["name"] == REPLICA_NAME
    hits = web.get("/api/v1/subjects?q=" + quote("仅在副本")).get_json()
    assert [item["name"] for item in hits["items"]] == [ONLY_ON_REPLICA]
    assert REPLICA_NAME in web.get(f"/subjects/{uscc}").get_data(as_text=True)  # the public web page too

    # A report is built from the primary, and its verification reads the primary: the replica
    # holds no such report.
    with reader.app_context():
        from backend.subjects.models import Subject

        subject = db.session.scalar(sa.select(Subject).where(Subject.uscc == uscc))
        issued = issue_report(Actor.public("203.0.113.9"), subject, "enterprise")
        db.session.commit()
        number = issued.report.number
    text = pdf_text(issued.pdf, tmp_path)
    assert ENTERPRISE_NAME in text and REPLICA_NAME not in text
    qr = read_qr(issued.pdf, tmp_path)
    answer = web.post("/api/v1/verify", json={"qr": qr}).get_json()
    assert answer["status"] == "valid" and answer["report"]["number"] == number

    ready = web.get("/readyz").get_json()
    assert ready["checks"] == {"database": "ok", "replica": "ok", "storage": "ok"}

    with reader.app_context():
        db.engines["replica"].dispose()
        db.engine.dispose()


def test_a_lost_replica_falls_back_to_the_primary(app, keys, primary_world, tmp_path, caplog):
    if os.path.exists("/nonexistent"):
        pytest.fail("the unreachable replica path exists")
    reader = _reading_app(app, keys, DATABASE_REPLICA_URL="sqlite:////nonexistent/replica/credit.db")
    web = reader.test_client()

    profile = web.get(f"/api/v1/subjects/{primary_world}")
    assert profile.status_code == 200 and profile.get_json()["name"] == ENTERPRISE_NAME
    assert web.get("/api/v1/subjects?q=" + quote("宏达建材")).get_json()["items"][0]["uscc"] == primary_world
    assert "read replica failed" in caplog.text

    ready = web.get("/readyz")
    assert ready.status_code == 200  # the primary answers: stay in the load balancer
    body = ready.get_json()
    assert body["checks"] == {"database": "ok", "replica": "unavailable", "storage": "ok"}
    assert any("只读副本" in warning for warning in body["warnings"])
    with reader.app_context():
        db.engine.dispose()


def test_without_a_replica_nothing_changes(app, client, primary_world):
    assert "replica" not in app.config["SQLALCHEMY_BINDS"]
    assert client.get("/readyz").get_json()["checks"] == {"database": "ok", "storage": "ok"}
    assert client.get(f"/api/v1/subjects/{primary_world}").get_json()["name"] == ENTERPRISE_NAME
