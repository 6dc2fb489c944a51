"""`flask wechat ...`: the official account's menu, and the fake WeChat server for the demo."""

from __future__ import annotations

import json
import os
from pathlib import Path

import click
from flask import current_app
from flask.cli import AppGroup

from backend.actors import Actor
from backend.audit.operations import record_event
from backend.extensions import db

from .client import WeChatError, oa_api

wechat_cli = AppGroup("wechat", help="WeChat channel: official account menu, fake server for the demo.")

DEFAULT_MENU = Path(__file__).with_name("menu.json")


def load_menu(path: str | os.PathLike[str] | None = None) -> dict:
    """The menu file with {PUBLIC_BASE_URL} and {WECHAT_MP_APPID} filled in from the settings."""
    settings = current_app.extensions["settings"]
    file = Path(path or settings.WECHAT_OA_MENU_FILE or DEFAULT_MENU)
    text = file.read_text(encoding="utf-8")
    for name in ("PUBLIC_BASE_URL", "WECHAT_MP_APPID"):
        text = text.replace("{" + name + "}", str(getattr(settings, name)).rstrip("/"))
    menu = json.loads(text)
    if not isinstance(menu, dict) or not isinstance(menu.get("button"), list):
        raise click.ClickException(f"{file}: a menu needs a top-level 'button' list")
    return menu


@wechat_cli.command("sync-menu")
@click.option("--file", "path", type=click.Path(exists=True, dir_okay=False), default=None)
def sync_menu_command(path: str | None) -> None:
    """Create the official account's menu from the config file (menu.json by default)."""
    menu = load_menu(path)
    try:
        oa_api().create_menu(menu)
    except WeChatError as exc:
        raise click.ClickException(f"menu not created: {exc.message}") from exc
    record_event(Actor.cli("wechat-sync-menu"), "wechat.menu.sync", details={"buttons": len(menu["button"])})
    db.session.commit()
    click.echo(f"menu created: {len(menu['button'])} top-level buttons")


@wechat_cli.command("fake-server")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8901, show_default=True, type=int)
def fake_server_command(host: str, port: int) -> None:
    """Run the fake WeChat API on loopback for the demo (set WECHAT_API_BASE_URL to it).

    It knows the configured AppIDs and secrets and accepts any wx.login code. It holds the
    subscribe templates and pages the settings name (WECHAT_TEMPLATE_*, WECHAT_TEMPLATE_FIELDS_*,
    WECHAT_PAGE_*) and refuses a send that does not match them as WeChat does; the user's
    consent is taken as given (no one taps "允许" in a demo). Play the face scan of
    wx.requestFacialVerify with POST /__fake__/facial-verify ({verify_id, verify_ret}, 10000 =
    passed) and look at what it received at GET /__fake__/state."""
    # The fake is a test and demo tool: loaded by this command only, never with the app.
    from .demo_flow import fake_templates
    from .fake_wechat import FakeWeChat

    settings = current_app.extensions["settings"]
    apps = {
        appid: secret
        for appid, secret in (
            (settings.WECHAT_MP_APPID, settings.WECHAT_MP_SECRET),
            (settings.WECHAT_OA_APPID, settings.WECHAT_OA_SECRET),
        )
        if appid and secret
    }
    if not apps:
        raise click.ClickException("set WECHAT_MP_APPID/WECHAT_MP_SECRET (and/or the OA ones) first")
    fake = FakeWeChat(apps=apps, auto_login=True, accept_all_subscriptions=True)
    templates, pages = fake_templates(settings)
    fake.set_templates(templates, pages)
    click.echo(f"fake WeChat API on http://{host}:{port}  (WECHAT_API_BASE_URL=http://{host}:{port})")
    fake.serve_forever(host, port)


@wechat_cli.command("demo-flow")
@click.option("--base-url", default=None, help="a running fake server (flask wechat fake-server); default: start one")
def demo_flow_command(base_url: str | None) -> None:
    """Run the mini-program flow against the fake WeChat: sign-in, face verification 2.0
    (getverifyid, wx.requestFacialVerify, queryverifyinfo), the verified person's records."""
    from .demo_flow import DemoFlowError, run_demo_flow

    try:
        run_demo_flow(current_app, base_url, echo=click.echo)
    except DemoFlowError as exc:
        raise click.ClickException(str(exc)) from exc
