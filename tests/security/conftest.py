"""Fixtures of the robustness and security suites: the fake WeChat server on loopback, report keys
and a storage folder per test, and every kind of caller the platform knows (see helpers.py)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest

import backend.workflows.models  # noqa: F401  (workflow tables in the metadata, for cleaning)
from backend.extensions import db
from backend.issued_reports.keys import EXTENSION_KEY, ReportKeys
from backend.storage import LocalStorage
from backend.types import CLOCK, utcnow
from reports import signing, tokens
from tests.security.helpers import MP_APPID, MP_SECRET, OA_APPID, OA_SECRET, OA_TOKEN, Callers
from tests.security.outage import FlakyWeChat
from tests.snapshot import DatabaseSnapshot, copy_cookies, empty_database, fake_state, restore_fake_state


@pytest.fixture(scope="session")
def fake_server():
    server = FlakyWeChat(apps={MP_APPID: MP_SECRET, OA_APPID: OA_SECRET}).start()
    yield server
    server.stop()


@pytest.fixture
def fake(fake_server):
    fake_server.reset()
    fake_server.apps = {MP_APPID: MP_SECRET, OA_APPID: OA_SECRET}
    yield fake_server
    fake_server.reset()


@pytest.fixture(autouse=True)
def wechat_settings(app, fake, monkeypatch):
    """The app's WeChat channel pointed at the fake server, fresh clients and token store."""
    return _point_at_fake(app, fake, monkeypatch)


def _point_at_fake(app, fake, monkeypatch):
    settings = app.extensions["settings"]
    values = {
        "WECHAT_API_BASE_URL": fake.base_url,
        "WECHAT_MP_APPID": MP_APPID,
        "WECHAT_MP_SECRET": MP_SECRET,
        "WECHAT_OA_APPID": OA_APPID,
        "WECHAT_OA_SECRET": OA_SECRET,
        "WECHAT_OA_TOKEN": OA_TOKEN,
        "WECHAT_OA_AES_KEY": "",
        "WECHAT_TIMEOUT_SECONDS": 2,
        "WECHAT_TEMPLATE_CASE_PROGRESS": "TPL-CASE-PROGRESS-0001",
        "WECHAT_TEMPLATE_DEADLINE": "TPL-DEADLINE-0002",
        "WECHAT_TEMPLATE_REPORT_READY": "TPL-REPORT-READY-0003",
    }
    for key, value in values.items():
        monkeypatch.setattr(settings, key, value)
    monkeypatch.delitem(app.extensions, "wechat_clients", raising=False)
    monkeypatch.delitem(app.extensions, "wechat_token_store", raising=False)
    return settings


@pytest.fixture(scope="session")
def security_report_keys(tmp_path_factory) -> ReportKeys:
    folder = tmp_path_factory.mktemp("security-report-keys")
    private = tokens.generate_key()
    pdf_key, pdf_cert = signing.generate_self_signed(directory=folder)
    return ReportKeys(
        kid="s1",
        private_key=private,
        public_keys=tokens.trust_keys([("s1", private)]),
        pdf_key_path=str(pdf_key),
        pdf_cert_path=str(pdf_cert),
        pdf_chain_paths=(),
        pdf_passphrase=None,
    )


@pytest.fixture(autouse=True)
def storage(app, security_report_keys, tmp_path, monkeypatch) -> LocalStorage:
    monkeypatch.setitem(app.extensions, EXTENSION_KEY, security_report_keys)
    store = LocalStorage(tmp_path / "storage")
    monkeypatch.setitem(app.extensions, "storage", store)
    return store


@dataclass
class BuiltCallers:
    callers: Callers
    client: Any  # the client the citizens signed in with
    built_at: Any  # the frozen moment of the build; each test starts on it
    rows: DatabaseSnapshot
    fake: dict[str, Any]


@pytest.fixture(scope="module")
def built_callers(app, fake_server, security_report_keys, tmp_path_factory):
    """``Callers`` built once per module over HTTP (about 1.5 s), on the frozen clock and with the
    same settings as a test; then the database and the fake are emptied again and every test
    gets the built rows and fake state back (``callers``)."""
    folder = tmp_path_factory.mktemp("callers-storage")
    with app.app_context(), pytest.MonkeyPatch.context() as patch:
        fake_server.reset()
        fake_server.apps = {MP_APPID: MP_SECRET, OA_APPID: OA_SECRET}
        _point_at_fake(app, fake_server, patch)
        patch.setitem(app.extensions, EXTENSION_KEY, security_report_keys)
        patch.setitem(app.extensions, "storage", LocalStorage(folder / "storage"))
        CLOCK.frozen = utcnow().replace(microsecond=0)
        try:
            client = app.test_client()
            callers = Callers(app, client, fake_server)
            rows = DatabaseSnapshot.take("callers")
            built = BuiltCallers(callers, client, CLOCK.frozen, rows, fake_state(fake_server))
        finally:
            CLOCK.frozen = None
            db.session.remove()
            empty_database()
            fake_server.reset()
    # Files are not part of the copy: a build that stored any would hand tests a partial world.
    assert not any(folder.rglob("*.*")), "building the callers stored files; tests/snapshot.py does not copy them"
    yield built
    with app.app_context():
        built.rows.drop()


@pytest.fixture
def callers(app, client, fake, clock, built_callers) -> Callers:
    """Two verified citizens, a kiosk (device and a signed-in citizen), a department's API key and
    the three staff roles, each with its own test client: the module's built world, restored
    for this test as it was right after the build (rows, fake WeChat state, cookies, moment)."""
    clock.set(built_callers.built_at)
    built_callers.rows.restore()
    restore_fake_state(fake, built_callers.fake)
    copy_cookies(built_callers.client, client)
    return built_callers.callers.for_test(fake)
