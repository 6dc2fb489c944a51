"""Console sessions are kept server-side (issue 14, item 7): the cookie carries an opaque id,
and logout, a password change and "sign out everywhere" end the session for every copy of the
cookie; a session also ends at an absolute lifetime, however active it is."""

from __future__ import annotations

import datetime as dt
import hashlib

import sqlalchemy as sa
from staff_login import PASSWORD, login_as, login_user, post_form
from test_staff_auth import actions

from backend.extensions import db
from backend.types import utcnow

NEW_PASSWORD = "another-long-passphrase"


def _cookie(app, client) -> str:
    cookie = client.get_cookie(app.config["SESSION_COOKIE_NAME"])
    assert cookie is not None
    return cookie.value


def _replay(app, cookie: str):
    thief = app.test_client()
    thief.set_cookie(app.config["SESSION_COOKIE_NAME"], cookie)
    return thief


def _rows(user):
    """The user's signed-in sessions (not the half-way ones of the password step)."""
    from backend.staff.models import StaffSession

    db.session.expire_all()
    query = sa.select(StaffSession).where(StaffSession.staff_id == user.id, StaffSession.stage == "ok")
    return list(db.session.scalars(query))


def test_cookie_replayed_after_logout_is_refused(app, client):
    login_as(client, "auditor")
    copied = _cookie(app, client)
    assert _replay(app, copied).get("/admin/").status_code == 200  # the copy works while signed in

    post_form(client, "/admin/logout", token_from="/admin/")
    response = _replay(app, copied).get("/admin/")
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/admin/login")


def test_cookie_carries_only_an_opaque_id_stored_hashed(app, client):
    user = login_as(client, "auditor")
    data = app.session_interface.get_signing_serializer(app).loads(_cookie(app, client))
    assert "staff_id" not in data and "stage" not in data
    assert set(data) <= {"staff_sid", "csrf_token", "_flashes"}
    [row] = _rows(user)
    assert row.token_hash == hashlib.sha256(data["staff_sid"].encode()).hexdigest()
    assert row.revoked_at is None
    hours = app.extensions["settings"].STAFF_SESSION_ABSOLUTE_HOURS
    assert row.expires_at - row.created_at == dt.timedelta(hours=hours)


def test_logout_revokes_the_stored_session(app, client):
    user = login_as(client, "auditor")
    post_form(client, "/admin/logout", token_from="/admin/")
    [row] = _rows(user)
    assert row.revoked_at is not None
    assert row.revoked_reason == "logout"


def test_absolute_lifetime_ends_an_active_session(app, client):
    user = login_as(client, "auditor")
    assert client.get("/admin/").status_code == 200
    [row] = _rows(user)
    row.expires_at = utcnow() - dt.timedelta(seconds=1)  # active all along: last_seen is now
    db.session.commit()
    response = client.get("/admin/")
    assert response.status_code == 302
    assert "会话已过期" in client.get(response.headers["Location"]).get_data(as_text=True)


def test_password_change_signs_out_every_session(app, client):
    user = login_as(client, "auditor")
    other = app.test_client()
    login_user(other, user)
    assert other.get("/admin/").status_code == 200

    wrong = post_form(
        client,
        "/admin/account/password",
        {"current_password": "not-the-password", "new_password": NEW_PASSWORD, "confirm_password": NEW_PASSWORD},
        token_from="/admin/account",
    )
    assert wrong.status_code == 422
    assert other.get("/admin/").status_code == 200

    response = post_form(
        client,
        "/admin/account/password",
        {"current_password": PASSWORD, "new_password": NEW_PASSWORD, "confirm_password": NEW_PASSWORD},
        token_from="/admin/account",
    )
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/admin/login")
    assert other.get("/admin/").status_code == 302
    assert client.get("/admin/").status_code == 302
    assert {row.revoked_reason for row in _rows(user)} == {"password_changed"}
    assert len(actions("staff.password_change")) == 1
    assert login_user(app.test_client(), user, password=NEW_PASSWORD).headers["Location"] == "/admin/"


def test_sign_out_everywhere_for_oneself(app, client):
    user = login_as(client, "dept_reviewer")
    other = app.test_client()
    login_user(other, user)
    page = client.get("/admin/account")
    assert page.status_code == 200
    assert page.get_data(as_text=True).count("<strong>当前会话</strong>") == 1

    response = post_form(client, "/admin/account/sessions/revoke", token_from="/admin/account")
    assert response.status_code == 302
    assert other.get("/admin/").status_code == 302
    assert client.get("/admin/").status_code == 302
    assert {row.revoked_reason for row in _rows(user)} == {"signed_out_everywhere"}


def test_admin_signs_a_member_out_everywhere(app, client):
    member_client = app.test_client()
    member = login_as(member_client, "dept_reviewer")
    admin = login_as(client, "platform_admin")
    listing = client.get("/admin/staff")
    assert listing.status_code == 200
    assert member.username in listing.get_data(as_text=True)

    response = post_form(client, f"/admin/staff/{member.id}/sessions/revoke", token_from="/admin/staff")
    assert response.status_code == 302
    assert member_client.get("/admin/").status_code == 302
    assert client.get("/admin/").status_code == 200  # the admin's own session is untouched
    [event] = actions("staff.sessions_revoke")
    assert event.target_id == str(member.id)
    assert event.actor_id == str(admin.id)
    assert {row.revoked_reason for row in _rows(member)} == {"revoked_by_admin"}


def test_guessing_the_password_from_a_session_locks_and_ends_every_session(app, client):
    limit = app.extensions["settings"].STAFF_MAX_FAILED_LOGINS
    user = login_as(client, "auditor")
    other = app.test_client()
    login_user(other, user)
    for _ in range(limit):
        response = post_form(
            client,
            "/admin/account/password",
            {"current_password": "a-wrong-guess", "new_password": NEW_PASSWORD, "confirm_password": NEW_PASSWORD},
            token_from="/admin/account",
        )
    assert response.status_code == 302
    assert "账户已暂时锁定" in client.get(response.headers["Location"]).get_data(as_text=True)
    assert {row.revoked_reason for row in _rows(user)} == {"locked"}
    # The lock running out does not bring the sessions back.
    db.session.get(type(user), user.id).locked_until = None
    db.session.commit()
    assert other.get("/admin/").status_code == 302
