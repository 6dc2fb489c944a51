"""Faults: the database going away and coming back, storage full or read-only while a report is
issued, WeChat answering 5xx or timing out.

The worker killed in the middle of a delivery (nothing lost, nothing sent twice) is tested where
the outbox lives: tests/test_outbox.py::test_killed_worker_loses_nothing_and_sends_nothing_twice
and, with four processes, tests/test_outbox_workers.py.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import time

import pytest
import sqlalchemy as sa

from backend.app import create_app
from backend.dept_api.auth import signed_headers
from backend.extensions import db
from backend.issued_reports.models import IssuedReport
from backend.issued_reports.verification import verify_number_code
from backend.outbox.models import OutboxEvent, OutboxStatus
from backend.outbox.worker import deliver_pending
from backend.storage import LocalStorage
from backend.workflows.objections.models import Objection
from backend.workflows.objections.operations import accept_objection
from miniprogram_api.models import MessageAttempt, MessageAttemptStatus
from miniprogram_api.notifications import CASE_TOPICS, handle_case_event
from tests.conftest import sibling_config
from tests.factories import make_uscc
from tests.security.outage import DatabaseOutage, can_mount, fill, remount_read_only, tiny_filesystem
from tests.wechat.helpers import API, Staff, file_objection, login

# --- database unavailable ------------------------------------------------------------------
REPORT_NUMBER = "JCXY-20261127-0000000001"  # no such report: the lookup answers unknown_number


@pytest.fixture
def outage_app(app, callers, tmp_path):
    """``make(**settings)``: a second app on the same database, reached through something the test
    can break."""
    made = []

    def make(**settings):
        broken = DatabaseOutage(app.config["SQLALCHEMY_DATABASE_URI"])
        other = create_app(
            sibling_config(
                app,
                DATABASE_URL=broken.url,
                SQLALCHEMY_ENGINE_OPTIONS=broken.engine_options,
                STORAGE_DIR=str(tmp_path / "outage-storage"),
                **settings,
            )
        )
        made.append((other, broken))
        return other, broken

    yield make
    for other, broken in made:
        broken.close()
        with other.app_context():
            db.engine.dispose()


@pytest.fixture
def outage(outage_app):
    return outage_app()


def _requests(callers):
    body = json.dumps({"records": []}).encode()
    dept = signed_headers(callers.dept_key_id, callers.dept_secret, "POST", "/api/dept/v1/records", body)
    return [
        ("GET", "/api/v1/subjects?q=金昌", {}),
        ("GET", f"/api/v1/subjects/{make_uscc(7)}", {}),  # the profile: run on the driver's cursor
        ("GET", f"{API}/me", {"headers": callers.a.headers}),
        ("POST", "/api/dept/v1/records", {"data": body, "headers": dept, "content_type": "application/json"}),
        ("GET", "/readyz", {}),
    ]


def test_database_unavailable_is_a_503_with_retry_after_then_recovers(outage, callers):
    other, broken = outage
    client = other.test_client()
    # Reachable before the outage (on PostgreSQL the pool now holds live connections).
    assert client.get("/api/v1/subjects?q=金昌").status_code == 200

    broken.down()
    for method, url, kwargs in _requests(callers):
        response = client.open(url, method=method, **kwargs)
        assert response.status_code == 503, (url, response.status_code, response.data[:300])
        assert int(response.headers["Retry-After"]) > 0, url
        if url != "/readyz":
            assert response.json["error"]["code"] == "database_unavailable", url
            assert response.json["error"]["message"] == "服务暂时不可用，请稍后再试"
    page = client.get("/search?q=金昌")
    assert page.status_code == 503 and "Retry-After" in page.headers
    assert "Traceback" not in page.get_data(as_text=True)

    broken.up()
    assert client.get("/readyz").status_code == 200
    assert client.get("/api/v1/subjects?q=金昌").status_code == 200
    assert client.get(f"{API}/me", headers=callers.a.headers).status_code == 200


def test_reads_on_the_driver_cursor_fail_as_503_and_recover(outage):
    """The profile and the registry lookup of verification run their statement on the driver's
    cursor (backend/fast_select.py). On PostgreSQL the pool still holds the connection the outage
    cut, so the statement itself fails: it must fail as SQLAlchemy's error (the 503 with
    Retry-After, not a 500) and the dead connection must be discarded, not returned to the pool."""
    other, broken = outage
    client = other.test_client()
    profile = f"/api/v1/subjects/{make_uscc(7)}"
    with other.app_context():
        assert client.get(profile).status_code == 404  # the pool holds a live connection now
        broken.down()
        response = client.get(profile)
        assert response.status_code == 503, response.data[:300]
        assert response.json["error"]["code"] == "database_unavailable"
        assert int(response.headers["Retry-After"]) > 0
        broken.up()
        assert client.get(profile).status_code == 404

        assert verify_number_code(REPORT_NUMBER, "ABCD2345").code == "unknown_number"
        broken.down()
        with pytest.raises(sa.exc.DBAPIError):
            verify_number_code(REPORT_NUMBER, "ABCD2345")
        broken.up()
        assert verify_number_code(REPORT_NUMBER, "ABCD2345").code == "unknown_number"


def test_connections_left_broken_by_a_restart_are_replaced_before_a_request_uses_them(outage_app, app):
    """A database restart while the pool sleeps (the night): the first request afterwards is
    answered, because a connection idle for DATABASE_PING_AFTER_IDLE_SECONDS is tested first. The
    same restart with a threshold the connection has not reached costs that one request a 503
    (a connection in steady use is not tested: its failure discards the pool) and no more."""
    if app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite"):
        pytest.skip("PostgreSQL only: a SQLite database is a file, there is no connection to lose")
    for idle_seconds, first_status in ((1, 200), (3600, 503)):
        other, broken = outage_app(DATABASE_PING_AFTER_IDLE_SECONDS=idle_seconds)
        client = other.test_client()
        assert client.get("/api/v1/subjects?q=金昌").status_code == 200  # the pool holds it now
        broken.down()  # every open connection is cut ...
        broken.up()  # ... and the server is back before anyone asks
        time.sleep(1.2)
        assert client.get("/api/v1/subjects?q=金昌").status_code == first_status, idle_seconds
        assert client.get("/api/v1/subjects?q=金昌").status_code == 200


# --- storage full or read-only -------------------------------------------------------------


def _issue_personal_report(client, callers):
    return client.post(f"{API}/reports", json={"kind": "personal"}, headers=callers.a.headers)


def _stored_files(root) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file() and p.name != "filler.bin")


@pytest.mark.skipif(not can_mount() and not os.environ.get("CI"), reason="a tmpfs needs root (CI runs as root)")
@pytest.mark.parametrize("fault", ["full", "read-only"])
def test_report_is_not_registered_when_its_file_cannot_be_stored(app, client, callers, tmp_path, monkeypatch, fault):
    reports_before = db.session.scalar(sa.select(sa.func.count()).select_from(IssuedReport))
    with tiny_filesystem(tmp_path / "small") as root:
        monkeypatch.setitem(app.extensions, "storage", LocalStorage(root))
        if fault == "full":
            fill(root)
        else:
            remount_read_only(root)
        response = _issue_personal_report(client, callers)
        assert response.status_code == 503, response.data[:300]
        assert response.json["error"]["code"] == "storage_unavailable"
        assert "Retry-After" in response.headers
        assert _stored_files(root) == []  # no half-written file, no temporary file
    db.session.remove()
    assert db.session.scalar(sa.select(sa.func.count()).select_from(IssuedReport)) == reports_before
    # Healthy storage again: the same request works.
    monkeypatch.setitem(app.extensions, "storage", LocalStorage(tmp_path / "healthy"))
    assert _issue_personal_report(client, callers).status_code == 201


def test_a_report_whose_row_is_not_committed_leaves_no_file(app, client, callers, tmp_path, monkeypatch):
    """The PDF is stored before its registry row is committed; when the commit fails (the
    database went away at that moment) the request gets a 503 and the file is deleted again."""
    root = tmp_path / "commit-fails"
    monkeypatch.setitem(app.extensions, "storage", LocalStorage(root))
    reports_before = db.session.scalar(sa.select(sa.func.count()).select_from(IssuedReport))

    def commit_fails(self):
        raise sa.exc.OperationalError("COMMIT", {}, ConnectionError("server closed the connection unexpectedly"))

    with monkeypatch.context() as patch:
        patch.setattr(sa.orm.Session, "commit", commit_fails)
        response = _issue_personal_report(client, callers)
        assert response.status_code == 503, response.data[:300]
        assert "Retry-After" in response.headers
    db.session.remove()  # the end of the request's transaction, as at the end of a real request
    assert _stored_files(root) == []
    assert db.session.scalar(sa.select(sa.func.count()).select_from(IssuedReport)) == reports_before
    assert _issue_personal_report(client, callers).status_code == 201
    assert len(_stored_files(root)) == 1  # a committed report keeps its file


# --- WeChat answering 5xx or timing out ----------------------------------------------------

SEND = "cgi-bin/message/subscribe/send"


def _accepted_objection(client, callers):
    staff = Staff(callers.dept)
    db.session.commit()
    number = file_objection(client, callers.a, callers.a.records[0].id)["number"]
    objection = db.session.scalar(sa.select(Objection).where(Objection.number == number))
    accept_objection(staff.actor(staff.admin), objection)
    db.session.commit()
    return number


def _deliver(now=None):
    db.session.remove()
    return deliver_pending(dict.fromkeys(CASE_TOPICS, handle_case_event), now=now, backoff_base_seconds=30)


def test_citizen_files_while_wechat_is_down_and_the_message_follows_once(client, callers, fake):
    """WeChat answering HTTP 502 for everything: filing needs no WeChat, so it succeeds; the
    notification waits with backoff and goes out exactly once when WeChat is back."""
    fake.fail_http("*", 502)
    number = _accepted_objection(client, callers)
    assert number
    fake.grant_subscription(callers.a.openid, "TPL-CASE-PROGRESS-0001")

    first = _deliver()
    assert first.retrying and not first.delivered
    event = db.session.scalar(sa.select(OutboxEvent).where(OutboxEvent.topic == "objection.accept"))
    assert event.status is OutboxStatus.PENDING and event.attempts == 1
    assert event.available_at > dt.datetime.now(dt.UTC).replace(tzinfo=None)  # backed off
    assert _deliver().count == 0  # not before the backoff

    fake.clear_failures()
    later = _deliver(now=event.available_at + dt.timedelta(seconds=1))
    assert len(later.delivered) == 1
    assert _deliver(now=event.available_at + dt.timedelta(hours=2)).count == 0
    assert len(fake.subscribe_messages) == 1
    statuses = [a.status for a in db.session.scalars(sa.select(MessageAttempt).order_by(MessageAttempt.id))]
    assert statuses == [MessageAttemptStatus.FAILED, MessageAttemptStatus.SENT]


def test_wechat_5xx_on_an_idempotent_call_is_retried_within_the_request(client, callers, fake):
    """One 502 from stable_token (the token the face check needs) is retried after a short pause:
    the citizen's verification succeeds instead of failing."""
    from tests.wechat.helpers import finish_verification, start_verification

    person = callers.b
    person.token = login(client, fake, person.openid)
    started = start_verification(client, person)
    assert started.status_code == 201, started.json
    assert fake.facial_verify(started.json["verify_id"])
    fake.invalidate_tokens()  # the cached token is refused: a new one must be fetched
    fake.fail_http("cgi-bin/stable_token", 502, times=1)
    fake.fail_http("cityservice/face/identify/queryverifyinfo", 503, times=1)
    fake.requests.clear()
    response = finish_verification(client, person, started.json["verify_id"])
    assert response.status_code == 200, response.json
    paths = [r["path"] for r in fake.requests]
    assert paths.count("cgi-bin/stable_token") == 2  # the 502, then the token
    assert paths.count("cityservice/face/identify/queryverifyinfo") == 3  # the 503, the stale token, the answer


def test_wechat_down_gives_the_citizen_a_clear_503(client, callers, fake, wechat_settings, monkeypatch):
    fake.fail_http("sns/jscode2session", 503)
    fake.add_login_code("code-down", "openid-down")
    response = client.post(f"{API}/session", json={"code": "code-down"})
    assert response.status_code == 503
    assert response.json["error"]["code"] == "wechat_unavailable"
    fake.clear_failures()
    monkeypatch.setattr(wechat_settings, "WECHAT_TIMEOUT_SECONDS", 0.3)
    fake.delay("sns/jscode2session", 1.0, times=1)
    response = client.post(f"{API}/session", json={"code": "code-down"})
    assert response.status_code == 503 and response.json["error"]["code"] == "wechat_unavailable"
    # WeChat is back: the same code (never consumed) signs the citizen in.
    assert client.post(f"{API}/session", json={"code": "code-down"}).status_code == 201
