"""Shared fixtures: one app per session on a migrated database, cleaned after every test.

The database is SQLite in a temporary folder, or PostgreSQL when TEST_DATABASE_URL is set
(`make test` runs the suite on both).
"""

from __future__ import annotations

import base64
import datetime as dt
import os

import pytest
import sqlalchemy as sa

from backend.app import create_app
from backend.extensions import db, limiter
from backend.types import CLOCK, local_date, utcnow
from tests.snapshot import empty_database

# TEST_CRYPTO_SUITE=sm runs the whole suite on the 国密 suite (SM4-GCM, HMAC-SM3, SM2, SM3): every
# app the tests build reads CRYPTO_SUITE from the environment, and the test key ring holds an SM4
# key (first, so the suite encrypts with it) beside the AES key.
TEST_CRYPTO_SUITE = os.environ.get("TEST_CRYPTO_SUITE", "international") or "international"
_TEST_AES_KEY = "test1:" + base64.b64encode(bytes(range(32))).decode()
_TEST_SM4_KEY = "testsm1:sm4:" + base64.b64encode(bytes(range(100, 116))).decode()
if TEST_CRYPTO_SUITE == "sm":
    os.environ["CREDIT_CRYPTO_SUITE"] = "sm"
    TEST_PII_KEY = f"{_TEST_SM4_KEY},{_TEST_AES_KEY}"
    TEST_HASH_KEY = "sm3:test-hash-key"
else:
    TEST_PII_KEY = _TEST_AES_KEY
    TEST_HASH_KEY = "test-hash-key"
# One PBKDF2 round instead of scrypt (~0.2 s per hash): allowed under ENV=testing only
# (backend/config.py refuses it anywhere else; tests/test_password_hash.py).
TEST_PASSWORD_HASH = "pbkdf2:sha256:1"


def _database_url(tmp_path_factory) -> str:
    url = os.environ.get("TEST_DATABASE_URL")
    if url:
        return url
    return "sqlite:///" + str(tmp_path_factory.mktemp("db") / "test.db")


def sibling_config(app, **overrides) -> dict:
    """The configuration of the suite's app (same database and keys), for a second app that a
    test builds with some settings changed (``create_app(sibling_config(app, X=...))``)."""
    settings = app.extensions["settings"]
    config = {
        "ENV": "testing",
        "DATABASE_URL": app.config["SQLALCHEMY_DATABASE_URI"],
        "SECRET_KEY": app.config["SECRET_KEY"],
        "PII_ENCRYPTION_KEYS": TEST_PII_KEY,
        "PII_HASH_KEY": settings.PII_HASH_KEY,
        "RATELIMIT_ENABLED": False,
        "PUBLIC_BASE_URL": "http://credit.test",
        "STORAGE_DIR": settings.STORAGE_DIR,
        "STAFF_PASSWORD_HASH": TEST_PASSWORD_HASH,
    }
    config.update(overrides)
    return config


@pytest.fixture(scope="session")
def app(tmp_path_factory):
    url = _database_url(tmp_path_factory)
    app = create_app(
        {
            "ENV": "testing",
            "DATABASE_URL": url,
            "SECRET_KEY": "test-secret-key-" + "x" * 32,
            "PII_ENCRYPTION_KEYS": TEST_PII_KEY,
            "PII_HASH_KEY": TEST_HASH_KEY,
            "RATELIMIT_ENABLED": False,
            "PUBLIC_BASE_URL": "http://credit.test",
            "STORAGE_DIR": str(tmp_path_factory.mktemp("storage")),
            "STAFF_PASSWORD_HASH": TEST_PASSWORD_HASH,
        }
    )
    with app.app_context():
        if db.engine.dialect.name == "postgresql":
            with db.engine.begin() as conn:
                conn.execute(sa.text("DROP SCHEMA public CASCADE"))
                conn.execute(sa.text("CREATE SCHEMA public"))
        from flask_migrate import upgrade

        upgrade()
    yield app
    with app.app_context():
        db.engine.dispose()


@pytest.fixture(autouse=True)
def _app_context_and_clean_database(request):
    """A fresh app context per test (``g`` and the session do not leak between tests), and
    every table emptied afterwards."""
    if "app" not in request.fixturenames:
        yield
        return
    app = request.getfixturevalue("app")
    with app.app_context():
        yield
        db.session.remove()
        empty_database()


@pytest.fixture(autouse=True)
def _rate_limiter_switches_restored():
    """The limiter is one object shared by every app of the process, and ``create_app`` sets its
    switches: a test that builds an app with rate limits on (production defaults) would leave
    them on for every later test, whose logins then run into 429s on a fast machine."""
    saved = (limiter.enabled, limiter.initialized)
    yield
    if (limiter.enabled, limiter.initialized) != saved:
        limiter.reset()
        limiter.enabled, limiter.initialized = saved


class FrozenClock:
    """The platform's clock for one test: fixed at the moment the test starts, moved only by
    ``advance``. A test that reads ``clock.today`` and the code it calls see the same day, at any
    hour (a module-level ``local_date()`` was computed at collection and went stale when the
    suite crossed midnight in Jinchang)."""

    def __init__(self, start: dt.datetime) -> None:
        self.set(start)

    @property
    def now(self) -> dt.datetime:
        assert CLOCK.frozen is not None
        return CLOCK.frozen

    @property
    def today(self) -> dt.date:
        return local_date(self.now)

    def set(self, moment: dt.datetime) -> None:
        CLOCK.frozen = moment.replace(microsecond=0)

    def advance(self, **delta: float) -> dt.datetime:
        self.set(self.now + dt.timedelta(**delta))
        return self.now


@pytest.fixture(autouse=True)
def clock():
    """Every test runs on a fixed clock (``backend.types.utcnow``); see ``FrozenClock``."""
    CLOCK.frozen = None
    frozen = FrozenClock(utcnow())
    yield frozen
    CLOCK.frozen = None


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


# --- personal data never reaches a log: every record of the session is scanned at the end -----

_LOG_CAPTURE = pytest.StashKey()


def pytest_sessionstart(session):
    from tests.security.log_scan import SessionLogCapture

    capture = SessionLogCapture()
    capture.start()
    session.config.stash[_LOG_CAPTURE] = capture


@pytest.hookimpl(wrapper=True)
def pytest_fixture_setup(fixturedef, request):
    result = yield
    capture = request.config.stash.get(_LOG_CAPTURE, None)
    if capture is not None:
        capture.ensure()
    return result


def pytest_sessionfinish(session, exitstatus):
    capture = session.config.stash.get(_LOG_CAPTURE, None)
    if capture is None:
        return
    findings = capture.finish()
    if not findings:
        capture.path.unlink(missing_ok=True)
        return
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    if reporter is not None:
        reporter.ensure_newline()
        reporter.write_sep("=", f"personal data in the logs of this run: {capture.path}", red=True)
        for line in findings[:20]:
            reporter.write_line(line, red=True)
    session.exitstatus = pytest.ExitCode.TESTS_FAILED
