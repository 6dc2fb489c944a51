"""Security headers on every surface (success and error answers), HSTS and Secure cookies when the
platform runs on https, cookie flags on the console and the kiosk, and no secret in the logs.

Personal data in the logs is checked for the whole run, not here: tests/conftest.py scans every
log record of the session for the fixtures' names and ID numbers (tests/security/log_scan.py);
``test_the_log_scan_finds_what_it_looks_for`` makes sure that scan can fail.
"""

from __future__ import annotations

import logging

import pytest

from backend.app import create_app
from tests.conftest import TEST_PII_KEY, sibling_config
from tests.security.helpers import MP_SECRET, OA_SECRET
from tests.security.log_scan import find_personal_data
from tests.security.test_route_matrix import ROWS
from tests.wechat.helpers import API

# One request per surface, as the role that reaches it, plus error answers.
SURFACE_REQUESTS = [
    ("anonymous", "GET", "/"),
    ("anonymous", "GET", "/search?q=金昌"),
    ("anonymous", "GET", "/api/v1/subjects?q=金昌"),
    ("anonymous", "GET", "/api/v1/subjects/123"),  # 400
    ("anonymous", "GET", "/verify"),
    ("anonymous", "GET", "/v/not-a-token"),
    ("anonymous", "GET", "/.well-known/credit-report-keys.json"),
    ("anonymous", "GET", "/openapi.json"),
    ("anonymous", "GET", "/docs"),
    ("anonymous", "GET", "/healthz"),
    ("anonymous", "GET", "/readyz"),
    ("anonymous", "GET", "/subjects/91620302MA71XY3Q54"),  # 404
    ("anonymous", "GET", "/metrics"),
    ("anonymous", "GET", "/no-such-page"),  # 404
    ("anonymous", "GET", "/admin/login"),
    ("anonymous", "GET", "/admin/"),  # 302
    ("platform_admin", "GET", "/admin/departments"),
    ("auditor", "GET", "/admin/audit"),
    ("citizen_a", "GET", f"{API}/me"),
    ("anonymous", "GET", f"{API}/me"),  # 401
    ("department", "GET", "/api/dept/v1/batches/1"),  # 404
    ("anonymous", "GET", "/api/dept/v1/batches/1"),  # 401
    ("kiosk_device", "GET", "/kiosk/"),
    ("kiosk_citizen", "GET", "/kiosk/mine"),
    ("anonymous", "GET", "/kiosk/"),  # 401
    ("anonymous", "GET", "/wechat/oa"),  # 403
]


def test_surface_list_covers_every_route_prefix(app):
    """Each first path segment of the app's routes has a request above (the full matrix in
    test_route_matrix.py exercises every route; this list checks the headers)."""
    prefixes = {rule.rule.split("/")[1] for rule in app.url_map.iter_rules()}
    covered = {url.split("?")[0].split("/")[1] for _, _, url in SURFACE_REQUESTS}
    assert prefixes - covered - {"static"} == set()
    assert len(ROWS) > 20


def test_security_headers_on_every_surface(callers):
    for role, method, url in SURFACE_REQUESTS:
        response = callers.request(role, method, url)
        headers = response.headers
        csp = headers.get("Content-Security-Policy", "")
        assert "frame-ancestors 'none'" in csp, (url, csp)
        assert "default-src 'self'" in csp, (url, csp)
        assert "unsafe-eval" not in csp
        assert headers.get("X-Frame-Options") == "DENY", url
        assert headers.get("X-Content-Type-Options") == "nosniff", url
        assert headers.get("Referrer-Policy") in ("same-origin", "no-referrer", "strict-origin"), url
        assert "Strict-Transport-Security" not in headers, url  # plain http: HSTS would be ignored
        assert "Server" not in headers or "Python" not in headers["Server"]


def test_kiosk_and_personal_pages_are_not_cached(callers):
    for role, url in (("kiosk_citizen", "/kiosk/mine"), ("kiosk_device", "/kiosk/")):
        assert "no-store" in callers.request(role, "GET", url).headers.get("Cache-Control", "")


@pytest.fixture
def https_app(app, tmp_path):
    secure = create_app(
        sibling_config(app, PUBLIC_BASE_URL="https://credit.example.cn", STORAGE_DIR=str(tmp_path / "https-storage"))
    )
    yield secure
    from backend.extensions import db

    with secure.app_context():
        db.engine.dispose()


def test_https_adds_hsts_and_secure_console_cookies(https_app, callers):
    client = https_app.test_client()
    for url in ("/", "/api/v1/subjects?q=金昌", "/admin/login", "/kiosk/", "/no-such-page"):
        hsts = client.get(url, base_url="https://credit.example.cn").headers.get("Strict-Transport-Security", "")
        assert "max-age=" in hsts and int(hsts.split("max-age=")[1].split(";")[0]) >= 31536000, url
    login = https_app.test_client().get("/admin/login", base_url="https://credit.example.cn")
    cookies = login.headers.getlist("Set-Cookie")
    console = [c for c in cookies if c.startswith("credit_session=")]
    assert console, cookies
    for cookie in console:
        flags = {part.strip().lower() for part in cookie.split(";")[1:]}
        assert {"secure", "httponly", "samesite=lax"} <= flags, cookie


def _kiosk_card_signin(client, callers, **kwargs):
    return callers.kiosk_card_signin(client, callers.b, **kwargs)


def _kiosk_cookie_flags(response) -> set[str]:
    (cookie,) = [c for c in response.headers.getlist("Set-Cookie") if c.startswith("kiosk_session=")]
    return {part.strip().lower() for part in cookie.split(";")[1:]}


def test_https_makes_the_kiosk_session_cookie_secure(https_app, app, callers):
    """On https (PUBLIC_BASE_URL, or the request itself behind the proxy) the citizen's kiosk
    cookie is Secure, set and cleared alike; the kiosk browser on the agent's loopback origin
    keeps Secure cookies."""
    kiosk = https_app.test_client()
    signed_in = _kiosk_card_signin(kiosk, callers, base_url="https://credit.example.cn")
    assert signed_in.status_code == 200, signed_in.json
    assert {"secure", "httponly", "samesite=strict", "path=/"} <= _kiosk_cookie_flags(signed_in)
    signed_out = kiosk.get("/kiosk/signout", headers=callers.kiosk_auth, base_url="https://credit.example.cn")
    assert signed_out.status_code == 200
    cleared = _kiosk_cookie_flags(signed_out)
    assert {"secure", "httponly", "samesite=strict", "path=/"} <= cleared and "max-age=0" in cleared
    # PUBLIC_BASE_URL on http, the request itself on https (X-Forwarded-Proto behind nginx).
    on_https = _kiosk_card_signin(app.test_client(), callers, base_url="https://credit.test")
    assert on_https.status_code == 200, on_https.json
    assert "secure" in _kiosk_cookie_flags(on_https)


def test_console_and_kiosk_cookies_are_httponly_and_samesite(app, client, callers):
    from test_staff_auth import PASSWORD, make_staff, post_form

    user = make_staff("auditor")
    fresh = app.test_client()
    response = post_form(fresh, "/admin/login", {"username": user.username, "password": PASSWORD})
    console = [c for c in response.headers.getlist("Set-Cookie") if c.startswith("credit_session=")]
    assert console
    for cookie in console:
        flags = {part.strip().lower() for part in cookie.split(";")[1:]}
        assert {"httponly", "samesite=lax"} <= flags, cookie
    signed_in = _kiosk_card_signin(app.test_client(), callers)
    assert signed_in.status_code == 200, signed_in.json
    flags = _kiosk_cookie_flags(signed_in)
    assert {"httponly", "samesite=strict"} <= flags, flags
    assert "secure" not in flags  # plain http (development): a browser on another host would drop it


def test_no_secret_is_logged(app, client, callers, caplog):
    """Credentials pass through every surface at the most verbose level of our own loggers; none
    of them appears in any record (the fake WeChat server's own access log is WeChat's, not ours)."""
    caplog.set_level(logging.DEBUG, logger="backend")
    caplog.set_level(logging.DEBUG, logger="miniprogram_api")
    caplog.set_level(logging.DEBUG, logger="kiosk")
    caplog.set_level(logging.INFO)
    from test_staff_auth import PASSWORD, make_staff, post_form

    from backend.dept_api.auth import signed_headers

    user = make_staff("auditor")
    post_form(app.test_client(), "/admin/login", {"username": user.username, "password": "wrong-" + PASSWORD})
    post_form(app.test_client(), "/admin/login", {"username": user.username, "password": PASSWORD})
    callers.request("department", "GET", "/api/dept/v1/batches/1")
    bad = signed_headers(callers.dept_key_id, callers.dept_secret, "GET", "/api/dept/v1/batches/2")
    client.get("/api/dept/v1/batches/1", headers=bad)  # signed for another path
    callers.request("citizen_a", "GET", f"{API}/me")
    client.get(f"{API}/me", headers={"Authorization": "Bearer " + callers.a.token[::-1]})
    callers.request("kiosk_device", "GET", "/kiosk/")
    client.get("/kiosk/", headers={"Authorization": callers.kiosk_auth["Authorization"] + "x"})
    callers.fake.fail("cgi-bin/stable_token", 40013)  # a WeChat error names the AppID, never the secret
    callers.fake.invalidate_tokens()
    from tests.wechat.helpers import face_verify

    face_verify(client, callers.fake, callers.b)
    secrets = {
        "department secret": callers.dept_secret,
        "bearer token": callers.a.token,
        "kiosk credential": callers.kiosk_auth["Authorization"].split(" ", 1)[1],
        "staff password": PASSWORD,
        "SECRET_KEY": app.config["SECRET_KEY"],
        "PII key": TEST_PII_KEY.split(":", 1)[1],
        "PII hash key": app.extensions["settings"].PII_HASH_KEY,
        "mini-program AppSecret": MP_SECRET,
        "official account AppSecret": OA_SECRET,
    }
    ours = [r for r in caplog.records if not (r.name == "werkzeug" and "fake" in r.threadName)]
    assert ours, "nothing was logged: the test would prove nothing"
    text = "\n".join(f"{r.name} {r.getMessage()} {r.exc_text or ''}" for r in ours)
    leaked = [name for name, value in secrets.items() if value and value in text]
    assert leaked == [], leaked


def test_the_log_scan_finds_what_it_looks_for():
    from tests.factories import make_id_number

    number = make_id_number(77)
    assert find_personal_data(f"INFO backend looked up {number} for a citizen")
    assert find_personal_data(f"{number.lower()}") or not number.endswith("X")
    assert find_personal_data("WARNING kiosk sign-in refused for 张明华")
    assert find_personal_data("masked 6203**********3113, report JCXY-20260101-ABCDEFGHJK") == []
    assert find_personal_data(f"request id 9{number}0 (longer number)") == []


def test_an_unexpected_error_logs_its_traceback_with_id_numbers_masked(tmp_path, caplog):
    """An exception's message may quote the input that caused it: the log keeps the traceback
    (operators need it) with the ID number masked."""
    from tests.factories import make_id_number

    number = make_id_number(78)
    other = create_app(
        {
            "ENV": "testing",
            "DATABASE_URL": f"sqlite:///{tmp_path}/boom.db",
            "SECRET_KEY": "k" * 40,
            "PII_ENCRYPTION_KEYS": TEST_PII_KEY,
            "PII_HASH_KEY": "h",
        }
    )

    @other.get("/api/v1/_security_boom")
    def boom():
        raise ValueError(f"cannot use {number}")

    caplog.set_level(logging.ERROR, logger="backend")
    response = other.test_client().get("/api/v1/_security_boom")
    assert response.status_code == 500 and number not in response.get_data(as_text=True)
    text = "\n".join(r.getMessage() for r in caplog.records if r.name == "backend.errors")
    assert "ValueError" in text and "Traceback" in text
    assert number not in text and f"{number[:4]}**********{number[-4:]}" in text
