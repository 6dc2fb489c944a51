"""Staff console sign-in: passwords, lockout, CSRF, session handling, TOTP for every role.

The sign-in helpers live in staff_login.py and are re-exported here for the modules that
import them from this one.
"""

from __future__ import annotations

import datetime as dt

import pytest
import sqlalchemy as sa
from staff_login import (  # noqa: F401  (re-exported: other test modules import them from here)
    PASSWORD,
    SETUP,
    csrf_token,
    login_as,
    login_user,
    make_department,
    make_staff,
    post_form,
    totp_code,
)

from backend.audit.models import AuditEvent
from backend.departments.models import Department
from backend.errors import ApiError
from backend.extensions import db
from backend.staff.models import StaffRole, StaffSession, StaffUser
from backend.staff.operations import create_staff, totp_secret
from backend.types import utcnow


def actions(action: str) -> list[AuditEvent]:
    db.session.expire_all()
    return list(db.session.scalars(sa.select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.id)))


# --- Tests ------------------------------------------------------------------------------


def test_login_success_then_logout(app, client):
    user = login_as(client, "auditor")
    page = client.get("/admin/")
    assert page.status_code == 200
    assert user.display_name in page.get_data(as_text=True)
    [event] = actions("staff.login")
    assert event.actor_id == str(user.id)
    assert event.channel == "admin"

    response = post_form(client, "/admin/logout", token_from="/admin/")
    assert response.status_code == 302
    assert client.get("/admin/").status_code == 302
    assert len(actions("staff.logout")) == 1


def test_console_requires_login(app, client):
    response = client.get("/admin/records")
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/admin/login")


def test_wrong_password_and_unknown_user_get_the_same_answer(app, client):
    user = make_staff("auditor")
    wrong = post_form(client, "/admin/login", {"username": user.username, "password": "wrong-password-1"})
    unknown = post_form(client, "/admin/login", {"username": "nobody-here", "password": "wrong-password-1"})
    for response in (wrong, unknown):
        assert response.status_code == 200
        assert "用户名或密码错误" in response.get_data(as_text=True)
    assert client.get("/admin/").status_code == 302
    db.session.expire_all()
    assert db.session.get(StaffUser, user.id).failed_logins == 1
    assert [e.target_id for e in actions("staff.login_failed")] == [str(user.id), "nobody-here"]


def test_lockout_after_max_failures(app, client):
    limit = app.extensions["settings"].STAFF_MAX_FAILED_LOGINS
    user = make_staff("auditor")
    for _ in range(limit - 1):
        response = post_form(client, "/admin/login", {"username": user.username, "password": "not-the-password"})
        assert "用户名或密码错误" in response.get_data(as_text=True)
    response = post_form(client, "/admin/login", {"username": user.username, "password": "not-the-password"})
    text = response.get_data(as_text=True)
    assert "账户已暂时锁定" in text

    db.session.expire_all()
    locked_until = db.session.get(StaffUser, user.id).locked_until
    minutes = app.extensions["settings"].STAFF_LOCKOUT_MINUTES
    assert locked_until is not None
    assert abs((locked_until - utcnow()) - dt.timedelta(minutes=minutes)) < dt.timedelta(seconds=30)
    assert f"{locked_until + dt.timedelta(hours=8):%Y-%m-%d %H:%M}" in text
    assert len(actions("staff.lockout")) == 1

    # Even the right password is refused while locked.
    response = post_form(client, "/admin/login", {"username": user.username, "password": PASSWORD})
    assert "账户已暂时锁定" in response.get_data(as_text=True)
    assert client.get("/admin/").status_code == 302
    assert len(actions("staff.login_locked")) == 1

    # Once the lock has passed, the right password (and the one-time code) works again.
    db.session.get(StaffUser, user.id).locked_until = utcnow() - dt.timedelta(seconds=1)
    db.session.commit()
    assert login_user(client, user).headers["Location"] == "/admin/"
    assert client.get("/admin/").status_code == 200


def test_unknown_user_name_locks_the_same_way(app, client):
    # Otherwise the lockout message would tell which user names exist.
    limit = app.extensions["settings"].STAFF_MAX_FAILED_LOGINS
    texts = [
        post_form(client, "/admin/login", {"username": "ghost", "password": "whatever-123"}).get_data(as_text=True)
        for _ in range(limit + 1)
    ]
    assert all("用户名或密码错误" in t for t in texts[: limit - 1])
    assert "账户已暂时锁定" in texts[limit - 1]
    assert "账户已暂时锁定" in texts[limit]


def test_post_without_csrf_token_is_refused(app, client):
    user = make_staff("auditor")
    response = client.post("/admin/login", data={"username": user.username, "password": PASSWORD})
    assert response.status_code == 400
    assert "页面已过期" in response.get_data(as_text=True)
    assert client.get("/admin/").status_code == 302
    assert actions("staff.login") == []

    bad = client.post(
        "/admin/login", data={"username": user.username, "password": PASSWORD, "csrf_token": "forged-token"}
    )
    assert bad.status_code == 400


def test_state_changes_need_csrf_token_when_signed_in(app, client):
    login_as(client, "platform_admin")
    response = client.post(
        "/admin/departments", data={"code": "SWJ", "name": "金昌市税务局", "uscc": "914403001922038216"}
    )
    assert response.status_code == 400
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Department)) == 0
    assert client.post("/admin/logout").status_code == 400
    assert client.get("/admin/").status_code == 200  # still signed in


def test_login_starts_a_fresh_session(app, client):
    with client.session_transaction() as sess:
        sess["planted"] = "by-an-attacker"
    login_as(client, "auditor")
    with client.session_transaction() as sess:
        assert "planted" not in sess
        assert "staff_sid" in sess


def test_idle_session_expires(app, client):
    user = login_as(client, "auditor")
    minutes = app.extensions["settings"].STAFF_SESSION_MINUTES
    db.session.execute(
        sa.update(StaffSession)
        .where(StaffSession.staff_id == user.id)
        .values(last_seen_at=utcnow() - dt.timedelta(minutes=minutes, seconds=5))
    )
    db.session.commit()
    response = client.get("/admin/")
    assert response.status_code == 302
    assert "会话已过期" in client.get(response.headers["Location"]).get_data(as_text=True)
    assert client.get("/admin/").status_code == 302


def test_session_cookie_flags(app, client):
    user = make_staff("auditor")
    response = post_form(client, "/admin/login", {"username": user.username, "password": PASSWORD})
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie
    assert "SameSite=Lax" in cookie


def test_admin_enrols_totp_then_needs_a_code_every_time(app, client):
    admin = make_staff("platform_admin")
    response = post_form(client, "/admin/login", {"username": admin.username, "password": PASSWORD})
    assert response.headers["Location"].startswith("/admin/login/totp")
    # Password alone is not a session.
    assert client.get("/admin/").status_code == 302

    page = client.get("/admin/login/totp").get_data(as_text=True)
    db.session.expire_all()
    stored = db.session.get(StaffUser, admin.id)
    secret = totp_secret(stored)
    assert secret in page
    assert "otpauth://totp/" in page
    assert secret not in stored.totp_secret_encrypted  # stored encrypted
    assert not stored.totp_confirmed

    wrong = post_form(client, "/admin/login/totp", {"code": "000000" if totp_code(admin) != "000000" else "111111"})
    assert "动态口令错误" in wrong.get_data(as_text=True)
    assert client.get("/admin/").status_code == 302

    code = totp_code(admin)
    response = post_form(client, "/admin/login/totp", {"code": code})
    assert response.status_code == 302
    assert client.get("/admin/").status_code == 200
    db.session.expire_all()
    assert db.session.get(StaffUser, admin.id).totp_confirmed
    assert len(actions("staff.totp_enrol")) == 1
    assert len(actions("staff.login")) == 1

    post_form(client, "/admin/logout", token_from="/admin/")
    response = post_form(client, "/admin/login", {"username": admin.username, "password": PASSWORD})
    assert response.headers["Location"].startswith("/admin/login/totp")
    page = client.get("/admin/login/totp").get_data(as_text=True)
    assert secret not in page  # shown only while enrolling
    reused = post_form(client, "/admin/login/totp", {"code": code})
    assert "动态口令错误或已使用过" in reused.get_data(as_text=True)
    assert client.get("/admin/").status_code == 302

    response = post_form(client, "/admin/login/totp", {"code": totp_code(admin, offset_steps=1)})
    assert response.status_code == 302
    assert client.get("/admin/").status_code == 200


def test_wrong_totp_codes_lock_the_account(app, client):
    limit = app.extensions["settings"].STAFF_MAX_FAILED_LOGINS
    admin = make_staff("platform_admin")
    post_form(client, "/admin/login", {"username": admin.username, "password": PASSWORD})
    client.get("/admin/login/totp")
    good = {totp_code(admin, n) for n in (-1, 0, 1)}
    bad = next(c for c in ("123456", "654321", "111111", "222222") if c not in good)
    for _ in range(limit):
        response = post_form(client, "/admin/login/totp", {"code": bad})
    assert response.status_code == 302
    assert "账户已暂时锁定" in client.get(response.headers["Location"]).get_data(as_text=True)
    db.session.expire_all()
    assert db.session.get(StaffUser, admin.id).is_locked()


def test_reviewers_and_auditors_owe_the_one_time_code_too(app, client):
    # Was: "sign in with password only" (issue 14, item 8). See test_staff_second_factor.py.
    reviewer = make_staff("dept_reviewer")
    response = post_form(client, "/admin/login", {"username": reviewer.username, "password": PASSWORD})
    assert response.headers["Location"].startswith("/admin/login/totp")
    assert client.get("/admin/").status_code == 302


def test_create_staff_checks_its_input(app):
    with pytest.raises(ApiError, match="至少需要 10 个字符"):
        create_staff(SETUP, username="short", display_name="甲", role=StaffRole.AUDITOR, password="123456789")
    with pytest.raises(ApiError, match="必须属于一个部门"):
        create_staff(SETUP, username="rev", display_name="乙", role=StaffRole.DEPT_REVIEWER, password=PASSWORD)
    create_staff(SETUP, username="dup", display_name="丙", role=StaffRole.AUDITOR, password=PASSWORD)
    with pytest.raises(ApiError, match="已被使用"):
        create_staff(SETUP, username="dup", display_name="丁", role=StaffRole.AUDITOR, password=PASSWORD)
    db.session.rollback()
