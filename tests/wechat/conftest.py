"""Fixtures for the WeChat channel: one fake WeChat server on loopback for the session, the app's
WeChat settings pointed at it, report keys and storage in temporary folders."""

from __future__ import annotations

import pytest

import backend.workflows.models  # noqa: F401  (workflow tables in the metadata, for cleaning)
from backend.issued_reports.keys import EXTENSION_KEY, ReportKeys
from backend.storage import LocalStorage
from reports import signing, tokens
from tests.wechat.fake_server import FakeWeChat

MP_APPID = "wxmp0000000000test"
MP_SECRET = "mp-secret-for-tests"
OA_APPID = "wxb11529c136998cb6"  # the AppId of WeChat's published encryption samples
OA_SECRET = "oa-secret-for-tests"
OA_TOKEN = "pamtest"
OA_AES_KEY = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"
TEMPLATE_CASE = "TPL-CASE-PROGRESS-0001"
TEMPLATE_DEADLINE = "TPL-DEADLINE-0002"
TEMPLATE_REPORT = "TPL-REPORT-READY-0003"
MP_PAGES = {"pages/index/index", "pages/case/detail", "pages/report/detail", "pages/enterprise/bindings"}


@pytest.fixture(scope="session")
def fake_server():
    server = FakeWeChat(apps={MP_APPID: MP_SECRET, OA_APPID: OA_SECRET}).start()
    yield server
    server.stop()


@pytest.fixture
def fake(fake_server):
    fake_server.reset()
    fake_server.apps = {MP_APPID: MP_SECRET, OA_APPID: OA_SECRET}
    fake_server.auto_login = False
    fake_server.accept_all_subscriptions = False
    # The templates as a deployment picks them in the console, with the default keywords
    # (backend/config.py); "TPL" is test_client's one-keyword template.
    fake_server.set_templates(
        {
            TEMPLATE_CASE: ["character_string1", "thing2", "phrase3", "thing4", "time5"],
            TEMPLATE_REPORT: ["character_string1", "thing2", "thing3", "time4", "date5"],
            TEMPLATE_DEADLINE: ["thing1", "character_string2", "date3", "thing4"],
            "TPL": ["thing1"],
        },
        pages=MP_PAGES,
    )
    yield fake_server
    fake_server.reset()


@pytest.fixture(autouse=True)
def wechat_settings(app, fake, monkeypatch):
    """Point the app at the fake server (plain mode for the official account unless a test
    sets the AES key), with a fresh token store and clients per test."""
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
        "WECHAT_TEMPLATE_CASE_PROGRESS": TEMPLATE_CASE,
        "WECHAT_TEMPLATE_DEADLINE": TEMPLATE_DEADLINE,
        "WECHAT_TEMPLATE_REPORT_READY": TEMPLATE_REPORT,
    }
    for key, value in values.items():
        monkeypatch.setattr(settings, key, value)
    monkeypatch.delitem(app.extensions, "wechat_clients", raising=False)
    monkeypatch.delitem(app.extensions, "wechat_token_store", raising=False)
    return settings


@pytest.fixture(scope="session")
def report_keys_for_tests(tmp_path_factory) -> ReportKeys:
    folder = tmp_path_factory.mktemp("wechat-report-keys")
    token_key = folder / "t1.pem"
    tokens.save_private_key(tokens.generate_key(), token_key)
    pdf_key, pdf_cert = signing.generate_self_signed(directory=folder)
    private = tokens.load_private_key(token_key)
    return ReportKeys(
        kid="t1",
        private_key=private,
        public_keys=tokens.trust_keys([("t1", private)]),
        pdf_key_path=str(pdf_key),
        pdf_cert_path=str(pdf_cert),
        pdf_chain_paths=(),
        pdf_passphrase=None,
    )


@pytest.fixture(autouse=True)
def report_env(app, report_keys_for_tests, tmp_path, monkeypatch):
    monkeypatch.setitem(app.extensions, EXTENSION_KEY, report_keys_for_tests)
    monkeypatch.setitem(app.extensions, "storage", LocalStorage(tmp_path / "storage"))
