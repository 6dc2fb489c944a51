"""The mini-program flow of the demo, run against the fake WeChat server (`make demo` runs it
through `flask wechat demo-flow`): sign-in, face verification 2.0, the verified person's page.

It drives the real API (/api/mp/v1, through Flask's test client) the way the mini-program does,
and plays the phone's part (``wx.login``'s code, ``wx.requestFacialVerify``'s face scan) through
the fake's control endpoints, so every server-side step is the production code talking to a
WeChat that answers as documented. Never against the real WeChat: the base URL must be loopback.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable
from typing import Any

import requests
from flask import Flask

from backend.config import WECHAT_TEMPLATE_VALUES, parse_template_fields
from backend.identifiers import id_number_with_check

from .client import is_loopback_url
from .fake_wechat import FakeWeChat

API = "/api/mp/v1"
DEMO_MP_APPID = "wxdemo000000000mp"
DEMO_MP_SECRET = "demo-mp-secret"  # noqa: S105 (the fake's demo AppSecret, not a real one)
DEMO_NAME = "李金昌"
DEMO_ID_NUMBER = id_number_with_check("62030219900101001")  # a made-up, well-formed number


class DemoFlowError(RuntimeError):
    pass


PAGE_SETTINGS = ("WECHAT_PAGE_CASE_DETAIL", "WECHAT_PAGE_REPORT_DETAIL", "WECHAT_PAGE_BINDINGS")


def fake_templates(settings) -> tuple[dict[str, list[str]], set[str]]:
    """The templates (id -> keywords) and pages the fake holds, as a deployment picks them in the
    WeChat console: the ones the settings name, so the demo's sends are refused (40037, 47003,
    41030) where WeChat would refuse them instead of passing whatever keys and page they carry."""
    templates = {}
    for purpose in WECHAT_TEMPLATE_VALUES:
        template_id = getattr(settings, f"WECHAT_TEMPLATE_{purpose}")
        if template_id:
            keywords = parse_template_fields(purpose, getattr(settings, f"WECHAT_TEMPLATE_FIELDS_{purpose}"))
            templates[template_id] = list(keywords)
    return templates, {getattr(settings, name) for name in PAGE_SETTINGS}


def run_demo_flow(app: Flask, base_url: str | None = None, echo: Callable[[str], Any] = print) -> dict[str, Any]:
    """Run the flow; ``base_url`` is a running fake (``flask wechat fake-server``), else one is
    started on loopback for the run. Returns /me of the verified user."""
    settings = app.extensions["settings"]
    appid = settings.WECHAT_MP_APPID or DEMO_MP_APPID
    secret = settings.WECHAT_MP_SECRET or DEMO_MP_SECRET
    fake = None
    if base_url is None:
        fake = FakeWeChat(apps={appid: secret}, auto_login=True, accept_all_subscriptions=True)
        fake.set_templates(*fake_templates(settings))  # as strict as the demo's fake server
        fake.start()
        base_url = fake.base_url
    if not is_loopback_url(base_url):
        raise DemoFlowError("the demo flow runs against the fake WeChat server on loopback only")
    _wait_for(base_url)
    saved = {k: getattr(settings, k) for k in ("WECHAT_API_BASE_URL", "WECHAT_MP_APPID", "WECHAT_MP_SECRET")}
    settings.WECHAT_API_BASE_URL, settings.WECHAT_MP_APPID, settings.WECHAT_MP_SECRET = base_url, appid, secret
    app.extensions.pop("wechat_clients", None)
    try:
        return _flow(app, base_url, echo)
    finally:
        for key, value in saved.items():
            setattr(settings, key, value)
        app.extensions.pop("wechat_clients", None)
        if fake is not None:
            fake.stop()


def _wait_for(base_url: str, seconds: float = 15) -> None:
    """`make demo` starts the fake server in the background just before this runs."""
    deadline = time.monotonic() + seconds
    while True:
        try:
            requests.get(f"{base_url.rstrip('/')}/__fake__/state", timeout=1)
            return
        except requests.ConnectionError as exc:
            if time.monotonic() > deadline:
                raise DemoFlowError(f"the fake WeChat server does not answer at {base_url}") from exc
            time.sleep(0.2)


def _expect(response, status: int, step: str) -> dict[str, Any]:
    if response.status_code != status:
        raise DemoFlowError(f"{step}: HTTP {response.status_code} {response.get_data(as_text=True)[:300]}")
    return response.get_json()


def _flow(app: Flask, base_url: str, echo: Callable[[str], Any]) -> dict[str, Any]:
    client = app.test_client()
    code = "demo" + secrets.token_hex(8)  # wx.login() on the phone; the fake accepts any code
    token = _expect(client.post(f"{API}/session", json={"code": code}), 201, "POST /session")["token"]
    headers = {"Authorization": f"Bearer {token}"}
    echo("mini-program: wx.login -> POST /api/mp/v1/session (sns/jscode2session): signed in")
    started = _expect(
        client.post(
            f"{API}/identity/verification", json={"name": DEMO_NAME, "id_number": DEMO_ID_NUMBER}, headers=headers
        ),
        201,
        "POST /identity/verification",
    )
    echo("mini-program: POST /api/mp/v1/identity/verification (getverifyid): verify_id received")
    scan = requests.post(
        f"{base_url.rstrip('/')}/__fake__/facial-verify",
        json={"verify_id": started["verify_id"], "verify_ret": 10000},
        timeout=5,
    )
    if scan.status_code != 200 or scan.json().get("errcode") != 0:
        raise DemoFlowError(f"wx.requestFacialVerify (fake): {scan.text[:300]}")
    echo("mini-program: wx.requestFacialVerify({verifyId}) (played by the fake): face scan passed")
    me = _expect(
        client.post(f"{API}/identity/verification/finish", json={"verify_id": started["verify_id"]}, headers=headers),
        200,
        "POST /identity/verification/finish",
    )
    echo(
        "mini-program: POST /api/mp/v1/identity/verification/finish (queryverifyinfo, verify_ret 10000): "
        f"verified as {me['name']} {me['id_number_masked']}"
    )
    records = _expect(client.get(f"{API}/me/records", headers=headers), 200, "GET /me/records")
    echo(f"mini-program: GET /api/mp/v1/me/records: {len(records['records'])} records of the verified person")
    return me
