"""Fixtures of the robustness and security suites: the fake WeChat server on loopback, report keys
and a storage folder per test, and every kind of caller the platform knows (see helpers.py)."""

from __future__ import annotations

import pytest

import backend.workflows.models  # noqa: F401  (workflow tables in the metadata, for cleaning)
from backend.issued_reports.keys import EXTENSION_KEY, ReportKeys
from backend.storage import LocalStorage
from reports import signing, tokens
from tests.security.helpers import MP_APPID, MP_SECRET, OA_APPID, OA_SECRET, Callers, build_once, point_at_fake
from tests.security.outage import FlakyWeChat


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
    return point_at_fake(app, fake, monkeypatch)


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


@pytest.fixture(scope="module")
def built_callers(app, fake_server, security_report_keys, tmp_path_factory):
    """``Callers`` built once per module over HTTP (about 1.5 s); see ``build_once``."""
    with build_once(app, fake_server, security_report_keys, tmp_path_factory, "callers", Callers) as built:
        yield built


@pytest.fixture
def callers(app, client, fake, clock, built_callers) -> Callers:
    """Two verified citizens, a kiosk (device and a signed-in citizen), a department's API key and
    the three staff roles, each with its own test client: the module's built world, restored
    for this test as it was right after the build (rows, fake WeChat state, cookies, moment)."""
    return built_callers.restore(clock, client, fake).for_test(fake)
