"""Fixtures of the kiosk tests: the real app behind a real HTTP server, the agent in front of it,
CUPS with a cups-pdf printer and a printer without paper, and the system Chromium through
Playwright (no browser download). A missing tool fails the run: CI installs them."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import pytest
from werkzeug.serving import make_server

import backend.workflows.models  # noqa: F401  (workflow tables in the metadata, for cleaning)
from backend.issued_reports.keys import EXTENSION_KEY, ReportKeys
from backend.storage import LocalStorage
from kiosk.agent.reader import VirtualReader
from kiosk.agent.server import Agent, AgentConfig, serve
from reports import signing, tokens
from tests.kiosk.helpers import (
    CHROMIUM,
    PACKAGES,
    PDF_QUEUE,
    KioskWorld,
    ensure_cups,
    http,
    missing_tools,
)


@pytest.fixture(scope="session", autouse=True)
def _system_tools():
    missing = missing_tools()
    if missing:
        pytest.fail(f"kiosk tests need {missing}: apt-get install {PACKAGES}", pytrace=False)
    ensure_cups()


@pytest.fixture(scope="session")
def report_keys_for_kiosk(tmp_path_factory) -> ReportKeys:
    folder = tmp_path_factory.mktemp("kiosk-report-keys")
    private = tokens.generate_key()
    pdf_key, pdf_cert = signing.generate_self_signed(directory=folder)
    return ReportKeys(
        kid="k1",
        private_key=private,
        public_keys=tokens.trust_keys([("k1", private)]),
        pdf_key_path=str(pdf_key),
        pdf_cert_path=str(pdf_cert),
        pdf_chain_paths=(),
        pdf_passphrase=None,
    )


@pytest.fixture(autouse=True)
def kiosk_env(app, report_keys_for_kiosk, tmp_path, monkeypatch):
    monkeypatch.setitem(app.extensions, EXTENSION_KEY, report_keys_for_kiosk)
    monkeypatch.setitem(app.extensions, "storage", LocalStorage(tmp_path / "storage"))


@pytest.fixture
def kiosk_settings(app, monkeypatch) -> Callable[..., None]:
    def override(**values):
        for key, value in values.items():
            assert hasattr(app.extensions["settings"], key), key
            monkeypatch.setattr(app.extensions["settings"], key, value)

    return override


@pytest.fixture(scope="session")
def live_server(app) -> Iterator[str]:
    """The real app on 127.0.0.1 and a free port, served by werkzeug in a thread."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="live-server", daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()


@pytest.fixture
def world(app) -> KioskWorld:
    return KioskWorld()


@dataclass
class RunningAgent:
    agent: Agent
    url: str

    def insert_card(self, card: dict) -> None:
        response = http("POST", f"{self.url}/agent/reader/insert", json=card)
        assert response.status_code == 200, response.text


@pytest.fixture
def start_agent(live_server, world) -> Iterator[Callable[..., RunningAgent]]:
    """Start the kiosk agent (virtual reader) in front of the live server, on a free port."""
    started: list = []

    def start(queue: str = PDF_QUEUE, credential: str | None = None) -> RunningAgent:
        config = AgentConfig(
            platform_url=live_server,
            credential=credential or world.credential,
            printer_queue=queue,
            listen_port=0,
            print_timeout=30,
            request_timeout=30,
        )
        agent = Agent(config, VirtualReader(), world.key)
        server = serve(agent)
        started.append((agent, server))
        return RunningAgent(agent, f"http://127.0.0.1:{server.server_address[1]}")

    yield start
    for agent, server in started:
        agent.stop()
        server.shutdown()
        server.server_close()


@pytest.fixture(scope="module")
def browser():
    # Module scope: Playwright's sync API keeps an asyncio loop running until it is stopped, and
    # later tests (pyHanko's signing) call asyncio.run(), which refuses a running loop.
    from playwright.sync_api import sync_playwright

    playwright = sync_playwright().start()
    chromium = playwright.chromium.launch(
        executable_path=CHROMIUM,
        args=[
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
        ],
    )
    yield chromium
    chromium.close()
    playwright.stop()


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1920, "height": 1080}, locale="zh-CN")
    context.set_default_timeout(60_000)  # generous: CI machines can be loaded
    tab = context.new_page()
    yield tab
    context.close()
