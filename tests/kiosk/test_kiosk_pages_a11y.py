"""Every kiosk page at both screen orientations: a screenshot for review (tests/kiosk/output/)
and an axe-core audit with no serious or critical violation; touch targets of 60 px or more."""

from __future__ import annotations

import json
from urllib.parse import urlsplit

import pytest
import sqlalchemy as sa

from backend.actors import Actor
from backend.extensions import db
from backend.workflows.objections.models import Objection
from kiosk import operations as ops
from kiosk.models import KioskDevice
from tests.kiosk.helpers import AXE, OUTPUT, fresh

ORIENTATIONS = {"landscape": (1920, 1080), "portrait": (1080, 1920)}
MIN_TARGET_PX = 60
# Interactive elements a finger has to hit (the hidden dialogs' buttons are checked when shown).
TARGETS = "a.btn, button, a.tile, a.result, a.case-link, label.radio, .key, input:not([type=hidden]):not([type=radio])"


@pytest.fixture
def axe_page(browser):
    # The pages forbid inline scripts (CSP); the audit injects axe, so only this context bypasses it.
    context = browser.new_context(viewport={"width": 1920, "height": 1080}, locale="zh-CN", bypass_csp=True)
    context.set_default_timeout(60_000)  # generous: CI machines can be loaded
    tab = context.new_page()
    yield tab
    context.close()


def audit(page, name: str, orientation: str) -> list[str]:
    OUTPUT.mkdir(exist_ok=True)
    page.screenshot(path=str(OUTPUT / f"{name}-{orientation}.png"), full_page=True)
    page.add_script_tag(path=str(AXE))
    result = page.evaluate("async () => JSON.stringify(await axe.run(document, {resultTypes: ['violations']}))")
    problems = [
        f"{name}/{orientation}: {v['id']} ({v['impact']}): {v['help']} at {[n['target'] for n in v['nodes']][:3]}"
        for v in json.loads(result)["violations"]
        if v["impact"] in ("serious", "critical")
    ]
    small = page.evaluate(
        """([selector, min]) => Array.from(document.querySelectorAll(selector))
             .filter(el => el.offsetParent !== null)
             .map(el => [el.outerHTML.slice(0, 80), el.getBoundingClientRect()])
             .filter(([, r]) => r.height < min || r.width < min)
             .map(([html, r]) => html + ' ' + Math.round(r.width) + 'x' + Math.round(r.height))""",
        [TARGETS, MIN_TARGET_PX],
    )
    problems += [f"{name}/{orientation}: touch target under {MIN_TARGET_PX}px: {s}" for s in small]
    return problems


def test_every_page_at_both_orientations(axe_page, start_agent, world):
    page = axe_page
    agent = start_agent()
    record = world.first.records[0]
    public = [
        ("home", "/kiosk/"),
        ("signin", "/kiosk/signin?next=/kiosk/mine"),
        ("enterprise-search", "/kiosk/enterprise?q=金昌"),
        ("enterprise", f"/kiosk/enterprise/{world.uscc}"),
        ("verify", "/kiosk/verify"),
        ("verify-result", "/kiosk/verify?qr=not-a-report"),
        ("error", "/kiosk/enterprise/NOT-A-CODE"),
    ]
    personal = [
        ("mine", "/kiosk/mine"),
        ("print", "/kiosk/print"),
        ("objection-records", "/kiosk/objection"),
        ("objection-form", f"/kiosk/objection/{record.id}"),
        ("repair-records", "/kiosk/repair"),
        ("repair-form", f"/kiosk/repair/{record.id}"),
    ]
    problems: list[str] = []
    for orientation, (width, height) in ORIENTATIONS.items():
        page.set_viewport_size({"width": width, "height": height})
        for name, path in public:
            page.goto(agent.url + path)
            problems += audit(page, name, orientation)
        agent.insert_card(world.first.card())
        page.goto(agent.url + "/kiosk/signin?next=/kiosk/mine")
        # The path, not the end of the URL: "signin?next=/kiosk/mine" ends the same way, and
        # leaving it before the agent's sign-in answered would drop the session cookie.
        page.wait_for_url(lambda url: urlsplit(url).path == "/kiosk/mine")
        for name, path in personal:
            page.goto(agent.url + path)
            problems += audit(page, name, orientation)
        # Large text (大字模式) on the records page.
        page.goto(agent.url + "/kiosk/mine")
        page.get_by_role("button", name="大字模式").click()
        problems += audit(page, "mine-large-text", orientation)
        page.get_by_role("button", name="大字模式").click()
        # The receipt of a filed objection, then the idle warning shown over a page.
        if orientation == "landscape":
            page.goto(agent.url + f"/kiosk/objection/{record.id}")
            page.locator("input[value=inaccurate]").check()
            page.locator("#sign-and-file").click()
            page.wait_for_url(lambda url: "/kiosk/cases/" in url)
        fresh()
        number = db.session.scalar(sa.select(Objection.number))
        page.goto(agent.url + f"/kiosk/cases/{number}")
        problems += audit(page, "receipt", orientation)
        page.evaluate("document.getElementById('idle-warning').hidden = false")
        problems += audit(page, "idle-warning", orientation)
        page.goto(agent.url + "/kiosk/signout")
        problems += audit(page, "signout", orientation)
        page.wait_for_url(lambda url: url.endswith("/kiosk/"))

    device = db.session.get(KioskDevice, world.device.id)
    ops.set_device_enabled(Actor.cli("test"), device, False, "维护")
    db.session.commit()
    for orientation, (width, height) in ORIENTATIONS.items():
        page.set_viewport_size({"width": width, "height": height})
        page.goto(agent.url + "/kiosk/")
        assert "暂停服务" in page.content()
        problems += audit(page, "paused", orientation)

    assert not problems, "\n".join(problems)
    assert len(list(OUTPUT.glob("*-landscape.png"))) >= 17 and len(list(OUTPUT.glob("*-portrait.png"))) >= 17
