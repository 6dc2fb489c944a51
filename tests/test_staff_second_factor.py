"""Every staff role signs in with two factors, and the console answers only on the management
networks (issue 14, item 8; 等保 2.0 level 3, GB/T 22239-2019 8.1.4.1 and 8.1.3.1)."""

from __future__ import annotations

import pytest
from staff_login import PASSWORD, TOTP_PATH, login_as, make_staff, post_form, unused_totp_code

from backend.app import create_app
from backend.config import ConfigError, load_settings
from backend.extensions import db
from backend.staff.models import StaffUser
from backend.staff.operations import totp_secret
from tests.conftest import sibling_config
from tests.test_config import GOOD, report_key_env

OUTSIDE = "203.0.113.9"
INSIDE = "10.1.2.3"
CONSOLE_PATHS = (
    "/admin/login",
    "/admin/",
    "/admin/kiosks",  # kiosk/console_views.py
    "/admin/reports",  # backend/issued_reports/console_views.py
    "/admin/wechat/bindings",  # miniprogram_api/console_views.py
    "/admin/static/admin/console.css",
    "/admin/no-such-page",
    "//admin/login",
    "/admin",
)


@pytest.mark.parametrize("role", ["dept_reviewer", "auditor"])
def test_every_role_enrols_and_gives_a_one_time_code(app, client, role):
    user = make_staff(role)
    response = post_form(client, "/admin/login", {"username": user.username, "password": PASSWORD})
    assert response.headers["Location"].startswith(TOTP_PATH)
    assert client.get("/admin/").status_code == 302  # the password alone is no session

    page = client.get(TOTP_PATH).get_data(as_text=True)
    assert 'src="data:image/svg+xml;base64,' in page  # the QR code to scan
    db.session.expire_all()
    stored = db.session.get(StaffUser, user.id)
    assert totp_secret(stored) not in stored.totp_secret_encrypted  # encrypted at rest

    response = post_form(client, TOTP_PATH, {"code": unused_totp_code(user)})
    assert response.headers["Location"] == "/admin/"
    assert client.get("/admin/").status_code == 200


@pytest.fixture
def fenced(app, tmp_path):
    fenced = create_app(sibling_config(app, ADMIN_ALLOWED_NETWORKS=("10.0.0.0/8",), STORAGE_DIR=str(tmp_path)))
    yield fenced
    with fenced.app_context():
        db.engine.dispose()


def test_console_answers_only_on_management_networks(app, fenced):
    outside = fenced.test_client()
    inside = fenced.test_client()
    for path in CONSOLE_PATHS:
        assert outside.get(path, environ_base={"REMOTE_ADDR": OUTSIDE}).status_code == 404, path
    assert outside.post("/admin/login", data={}, environ_base={"REMOTE_ADDR": OUTSIDE}).status_code == 404
    assert inside.get("/admin/login", environ_base={"REMOTE_ADDR": INSIDE}).status_code == 200
    assert inside.get("/admin/", environ_base={"REMOTE_ADDR": INSIDE}).status_code == 302
    # The public side does not change.
    assert outside.get("/api/v1/subjects?q=金昌", environ_base={"REMOTE_ADDR": OUTSIDE}).status_code == 200


@pytest.fixture
def proxied(app, tmp_path):
    proxied = create_app(
        sibling_config(app, ADMIN_ALLOWED_NETWORKS=("10.0.0.0/8",), TRUSTED_PROXY_HOPS=1, STORAGE_DIR=str(tmp_path))
    )
    yield proxied
    with proxied.app_context():
        db.engine.dispose()


def test_behind_the_proxy_the_forwarded_client_address_decides(app, proxied):
    client = proxied.test_client()
    nginx = {"REMOTE_ADDR": "127.0.0.1"}

    def get(forwarded: str | None):
        headers = {"X-Forwarded-For": forwarded} if forwarded else {}
        return client.get("/admin/login", environ_base=nginx, headers=headers).status_code

    assert get(INSIDE) == 200
    assert get(OUTSIDE) == 404
    # A client cannot put a management address in front of its own: nginx appends the real one.
    assert get(f"{INSIDE}, {OUTSIDE}") == 404
    assert get(None) == 404  # nginx itself (loopback) is not a management network here


def test_production_default_closes_the_console_and_development_allows_private_networks(tmp_path):
    from backend.admin.auth import management_networks

    base = GOOD
    development = load_settings(tmp_path, environ={"ENV": "development", **base})
    allowed = [str(n) for n in management_networks(development)]
    assert "127.0.0.0/8" in allowed and "10.0.0.0/8" in allowed and "192.168.0.0/16" in allowed
    assert "0.0.0.0/0" not in allowed

    production = load_settings(tmp_path, environ={"ENV": "production", **base, **report_key_env(tmp_path)})
    assert management_networks(production) == ()
    with pytest.raises(ConfigError, match="ADMIN_ALLOWED_NETWORKS"):
        load_settings(
            tmp_path,
            environ={"ENV": "production", **base, **report_key_env(tmp_path), "ADMIN_ALLOWED_NETWORKS": "127.0.0.1/32"},
        )
    with pytest.raises(ConfigError, match="ADMIN_ALLOWED_NETWORKS"):
        load_settings(tmp_path, environ={"ENV": "development", **base, "ADMIN_ALLOWED_NETWORKS": "10.0.0.0/33"})


def test_admin_resets_a_lost_authenticator(app, client):
    member_client = app.test_client()
    member = login_as(member_client, "auditor")
    login_as(client, "platform_admin")
    response = post_form(client, f"/admin/staff/{member.id}/totp/reset", token_from="/admin/staff")
    assert response.status_code == 302
    assert member_client.get("/admin/").status_code == 302  # the old device's session is over
    db.session.expire_all()
    stored = db.session.get(StaffUser, member.id)
    assert stored.totp_secret_encrypted is None and not stored.totp_confirmed

    fresh = app.test_client()
    post_form(fresh, "/admin/login", {"username": member.username, "password": PASSWORD})
    assert 'src="data:image/svg+xml;base64,' in fresh.get(TOTP_PATH).get_data(as_text=True)  # enrols anew
    response = post_form(fresh, TOTP_PATH, {"code": unused_totp_code(member)})
    assert response.headers["Location"] == "/admin/"
