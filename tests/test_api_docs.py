"""/docs (issue 14, item 16): Swagger UI served from the platform itself, pinned and started by
a script file of ours, under a CSP that names no other host, and really rendering in Chromium."""

from __future__ import annotations

import hashlib
import os
import re
import threading
from pathlib import Path

import pytest
from werkzeug.serving import make_server

VENDOR = Path(__file__).resolve().parent.parent / "backend" / "static" / "swagger-ui"
SWAGGER_UI_SHA256 = {  # npm swagger-ui-dist 5.35.0 (backend/static/swagger-ui/README.md)
    "swagger-ui-bundle.js": "e6a898692f2d768e807c3ba4626068a69a2c5dd960dd6c76f3e4d3a3de180af2",
    "swagger-ui.css": "5ed08757e53da3e026d6cbecc61fe5d43585c9560b302d534ad56692519a273d",
}
CHROMIUM = Path("/usr/bin/chromium")


def test_the_page_names_no_other_host_and_has_no_inline_script(client):
    response = client.get("/docs")
    assert response.status_code == 200 and response.mimetype == "text/html"
    html = response.get_data(as_text=True)
    assert not re.search(r"(?i)(https?:)?//[a-z0-9.-]+\.[a-z]{2,}", html), html
    scripts = re.findall(r"<script([^>]*)>(.*?)</script>", html, re.S)
    assert len(scripts) == 2 and all('src="' in attrs and body.strip() == "" for attrs, body in scripts)
    assert "style=" not in html and "<style" not in html


def test_every_asset_of_the_page_is_served_by_the_app(client):
    html = client.get("/docs").get_data(as_text=True)
    assets = re.findall(r'(?:src|href)="(/[^"]+)"', html)
    assert {a.rsplit("/", 1)[-1] for a in assets} == {"swagger-ui.css", "swagger-ui-bundle.js", "api-docs.js"}
    for url in assets:
        response = client.get(url)
        assert response.status_code == 200, url
        assert response.mimetype in ("text/css", "text/javascript", "application/javascript"), url
        response.close()
    spec = re.search(r'data-spec-url="([^"]+)"', html).group(1)
    assert client.get(spec).get_json()["info"]["title"].startswith("信用金昌")


def test_the_csp_of_the_page_allows_this_site_only(client):
    csp = client.get("/docs").headers["Content-Security-Policy"]
    assert "http" not in csp and "cdn" not in csp
    directives = dict(d.strip().split(" ", 1) for d in csp.split(";"))
    assert directives["script-src"] == "'self'"
    assert directives["default-src"] == "'self'"


def test_the_vendored_files_are_the_pinned_release_with_their_licence():
    for name, digest in SWAGGER_UI_SHA256.items():
        assert hashlib.sha256((VENDOR / name).read_bytes()).hexdigest() == digest, name
    assert "Apache License" in (VENDOR / "LICENSE").read_text()
    assert "5.35.0" in (VENDOR / "README.md").read_text()


@pytest.mark.skipif(
    not CHROMIUM.exists() and not os.environ.get("CI"), reason="needs the system Chromium (tests/kiosk/README.md)"
)
def test_the_page_renders_the_operations_in_chromium(app):
    from playwright.sync_api import expect, sync_playwright

    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    problems: list[str] = []
    outside: list[str] = []
    try:
        base = f"http://127.0.0.1:{server.server_port}"
        # Not a module fixture: Playwright's loop must stop before later tests call asyncio.run().
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(
                executable_path=str(CHROMIUM), args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"]
            )
            page = browser.new_page()
            page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
            page.on("pageerror", lambda e: problems.append(str(e)))
            page.on("request", lambda r: outside.append(r.url) if not r.url.startswith((base, "data:")) else None)
            page.goto(base + "/docs")
            expect(page.locator(".opblock-summary-path", has_text="/api/dept/v1/records").first).to_be_visible(
                timeout=30_000
            )
            assert page.locator(".opblock").count() >= 5
            expect(page.locator(".info .title")).to_contain_text("信用金昌")
            browser.close()
    finally:
        server.shutdown()
        thread.join()
    assert outside == []
    assert [p for p in problems if "Content Security Policy" in p or "Refused" in p] == []
