"""The request owns its transaction (backend/db_session.py, issue 15 item 2): a view's writes are
committed when it succeeds, rolled back when it fails, and a refused attempt stays on record only
through ``commit_refusal()``."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from flask import Response, abort

from backend.actors import Actor
from backend.app import create_app
from backend.audit.models import AuditEvent
from backend.audit.operations import record_event
from backend.db_session import commit_refusal, refusals_committed
from backend.errors import ApiError
from backend.extensions import db
from backend.staff.models import StaffUser
from tests.conftest import sibling_config
from tests.staff_login import login_user, make_staff, post_form

ACTOR = Actor("system", None, "boundary-test", "public")


def _write(action: str) -> None:
    record_event(ACTOR, action, target_type="test", target_id=action)


def committed(action: str) -> int:
    """Rows of ``action`` that another connection sees: committed ones only."""
    with db.engine.connect() as connection:
        return connection.scalar(sa.select(sa.func.count()).select_from(AuditEvent).where(AuditEvent.action == action))


@pytest.fixture(scope="module")
def probe_app(app):
    """A sibling app (same database) with routes that write, then end in each way a view can."""
    probe = create_app(sibling_config(app))

    @probe.get("/probe/ok")
    def ok():
        _write("probe.ok")
        return {"ok": True}

    @probe.post("/probe/redirect")
    def redirected():
        _write("probe.redirect")
        return "", 303, {"Location": "/probe/ok"}

    @probe.post("/probe/raises")
    def raises():
        _write("probe.raises")
        raise RuntimeError("boom after a write")

    @probe.post("/probe/api-error")
    def api_error():
        _write("probe.api_error")
        raise ApiError("拒绝", code="refused", status=409)

    @probe.post("/probe/abort")
    def aborted():
        _write("probe.abort")
        abort(403)

    @probe.post("/probe/returns-422")
    def returns_422():
        _write("probe.422")
        return {"error": "表单有误"}, 422

    @probe.post("/probe/refusal")
    def refusal():
        _write("probe.refusal.kept")
        commit_refusal()
        _write("probe.refusal.after")  # written after the kept part: the error rolls it back
        raise ApiError("拒绝", code="refused", status=403)

    @probe.get("/probe/stream")
    def stream():
        _write("probe.stream")

        def body():
            yield f"committed={committed('probe.stream')}"  # read while the body is sent

        return Response(body(), mimetype="text/plain")

    yield probe
    with probe.app_context():  # its pooled connections closed now, not by the garbage collector
        db.session.remove()
        db.engine.dispose()


def test_a_view_that_succeeds_is_committed(probe_app):
    client = probe_app.test_client()
    assert client.get("/probe/ok").status_code == 200
    assert client.post("/probe/redirect").status_code == 303
    assert committed("probe.ok") == 1
    assert committed("probe.redirect") == 1


def test_an_exception_after_a_write_rolls_everything_back(probe_app):
    probe_app.config["PROPAGATE_EXCEPTIONS"] = False  # answered as a production 500
    try:
        response = probe_app.test_client().post("/probe/raises")
    finally:
        probe_app.config["PROPAGATE_EXCEPTIONS"] = None
    assert response.status_code == 500
    assert "boom" not in response.get_data(as_text=True)
    assert committed("probe.raises") == 0


def test_an_error_answer_after_a_write_rolls_it_back(probe_app):
    client = probe_app.test_client()
    assert client.post("/probe/api-error").status_code == 409
    assert client.post("/probe/abort").status_code == 403
    assert client.post("/probe/returns-422").status_code == 422
    assert committed("probe.api_error") == 0
    assert committed("probe.abort") == 0
    assert committed("probe.422") == 0


def test_commit_refusal_keeps_what_was_written_before_it_and_only_that(probe_app):
    response = probe_app.test_client().post("/probe/refusal")
    assert response.status_code == 403
    assert response.get_json()["error"]["code"] == "refused"
    assert committed("probe.refusal.kept") == 1
    assert committed("probe.refusal.after") == 0


def test_a_refused_login_keeps_its_audit_row_through_commit_refusal(app, client):
    user = make_staff("auditor")
    db.session.commit()
    response = post_form(client, "/admin/login", {"username": user.username, "password": "wrong-password-1"})
    assert "用户名或密码错误" in response.get_data(as_text=True)
    assert refusals_committed() == 1  # the named way, not the success path's commit
    assert committed("staff.login_failed") == 1
    with db.engine.connect() as connection:
        count = connection.scalar(sa.select(StaffUser.failed_logins).where(StaffUser.id == user.id))
    assert count == 1


def test_a_refused_password_change_keeps_the_failure_although_the_answer_is_422(app, client):
    user = make_staff("auditor")
    db.session.commit()
    login_user(client, user)
    response = post_form(
        client,
        "/admin/account/password",
        {"current_password": "not-my-password-9", "new_password": "x" * 16, "confirm_password": "x" * 16},
        token_from="/admin/account",
    )
    assert response.status_code == 422
    assert refusals_committed() == 1
    assert committed("staff.login_failed") == 1


def test_a_successful_console_request_does_not_use_commit_refusal(app, client):
    user = make_staff("auditor")
    db.session.commit()
    login_user(client, user)
    assert client.get("/admin/").status_code == 200
    assert refusals_committed() == 0


def test_a_streamed_body_sees_the_committed_writes_of_its_view(probe_app):
    response = probe_app.test_client().get("/probe/stream")
    assert response.status_code == 200
    assert response.get_data(as_text=True) == "committed=1"
