"""The kiosk end to end, in the system Chromium: idle screen, virtual ID card, own records,
printing through the agent and CUPS, scan-to-sign-in, idle timeout, objections, paper out."""

from __future__ import annotations

import re
from urllib.parse import parse_qs, urlsplit

import sqlalchemy as sa
from playwright.sync_api import expect
from test_staff_auth import login_as

from backend.citizens.models import KioskLoginTicket
from backend.citizens.tickets import _ticket_hash
from backend.extensions import db
from backend.staff.models import StaffRole
from backend.types import utcnow
from backend.workflows.objections.operations import get_objection
from kiosk import operations as ops
from kiosk.models import KioskSession, PrinterState, PrintJob, PrintJobState
from tests.issued_reports.helpers import read_qr
from tests.kiosk.helpers import (
    EMPTY_QUEUE,
    PDF_QUEUE,
    audit_rows,
    fresh,
    fresh_empty_queue,
    http,
    queued_jobs,
    run,
    text_of,
    verified_wechat_token,
    wait_cups_pdf,
)

PRINT_WAIT = 60_000


def at(path: str):
    """A URL predicate on the path alone (``signin?next=/kiosk/mine`` is not the records page)."""
    return lambda url: urlsplit(url).path == path


def sign_in_with_card(page, agent, citizen) -> None:
    agent.insert_card(citizen.card())
    page.goto(agent.url + "/kiosk/")
    page.get_by_role("link", name=re.compile("我的信用")).click()
    page.wait_for_url(at("/kiosk/mine"))


def only_job() -> PrintJob:
    fresh()
    jobs = db.session.scalars(sa.select(PrintJob)).all()
    assert len(jobs) == 1
    return jobs[0]


def test_card_sign_in_records_print_and_the_printed_qr_verifies(page, start_agent, world, live_server, tmp_path):
    agent = start_agent()
    sign_in_with_card(page, agent, world.first)
    record = world.first.records[0]
    expect(page.get_by_text(record.decision_number)).to_be_visible()
    expect(page.get_by_text(world.second.records[0].decision_number)).to_have_count(0)

    page.get_by_role("link", name="打印信用报告").click()
    page.locator("[data-print=personal]").click()
    expect(page.locator("#progress-title")).to_have_text("打印完成", timeout=PRINT_WAIT)

    job = only_job()
    assert job.state is PrintJobState.DONE and job.printer_queue == PDF_QUEUE and job.cups_job_id
    pdf = wait_cups_pdf(job.cups_job_id).read_bytes()
    qr = read_qr(pdf, tmp_path)
    verdict = http("POST", f"{live_server}/api/v1/verify", json={"qr": qr})
    assert verdict.status_code == 200 and verdict.json()["status"] == "valid", verdict.text
    assert verdict.json()["report"]["number"] in text_of(wait_cups_pdf(job.cups_job_id))

    code = world.device.code
    for action in ("kiosk.signin", "kiosk.records.view", "kiosk.print.start", "kiosk.print.done"):
        rows = audit_rows(action)
        assert rows and all(row.details["device"] == code for row in rows), action
    issue = audit_rows("report.issue")
    assert len(issue) == 1 and issue[0].actor_label.endswith("@" + code) and issue[0].channel == "kiosk"
    assert ops.prints_today(world.first.subject.id) == 1


def test_scan_to_sign_in_once_and_refuse_expired_or_reused_tickets(page, start_agent, world, tmp_path):
    agent = start_agent()
    page.goto(agent.url + "/kiosk/signin?next=/kiosk/mine")
    image = page.locator("#qr-image[data-content]")
    expect(image).to_have_count(1)
    # The QR on the screen encodes the ticket: decode the pixels as the phone would.
    image.screenshot(path=str(tmp_path / "qr.png"))
    decoded = run("zbarimg", "-q", "--raw", str(tmp_path / "qr.png")).stdout.strip()
    assert decoded == image.get_attribute("data-content")
    ticket = parse_qs(urlsplit(decoded).query)["ticket"][0]

    token = verified_wechat_token(world.first)
    bearer = {"Authorization": f"Bearer {token}"}
    confirm_url = f"{agent.agent.config.platform_url}/api/mp/v1/kiosk-login/{ticket}/confirm"
    assert http("POST", confirm_url, headers=bearer).status_code == 200
    page.wait_for_url(at("/kiosk/mine"))
    expect(page.get_by_text(world.first.records[0].decision_number)).to_be_visible()
    fresh()
    session = db.session.scalars(sa.select(KioskSession)).one()
    assert session.method.value == "mp_scan" and session.subject_id == world.first.subject.id

    # Reused: the mini-program cannot confirm again, the kiosk cannot take it again.
    assert http("POST", confirm_url, headers=bearer).status_code == 409
    again = http("POST", f"{agent.url}/kiosk/api/signin/qr/poll", json={"ticket": ticket})
    assert again.status_code == 409 and again.json()["error"]["code"] == "ticket_used"

    # Expired: shown, never confirmed in time.
    fresh_ticket = http("POST", f"{agent.url}/kiosk/api/signin/qr").json()["ticket"]
    fresh()
    row = db.session.scalar(
        sa.select(KioskLoginTicket).where(KioskLoginTicket.ticket_hash == _ticket_hash(fresh_ticket))
    )
    row.expires_at = utcnow()
    db.session.commit()
    late = f"{agent.agent.config.platform_url}/api/mp/v1/kiosk-login/{fresh_ticket}/confirm"
    assert http("POST", late, headers=bearer).status_code == 404
    poll = http("POST", f"{agent.url}/kiosk/api/signin/qr/poll", json={"ticket": fresh_ticket})
    assert poll.status_code == 404 and poll.json()["error"]["code"] == "ticket_invalid"


def test_idle_timeout_clears_everything_and_the_next_citizen_sees_only_theirs(page, start_agent, world, kiosk_settings):
    kiosk_settings(KIOSK_IDLE_TIMEOUT_SECONDS=4, KIOSK_IDLE_WARNING_SECONDS=2)
    agent = start_agent()
    sign_in_with_card(page, agent, world.first)
    first_number = world.first.records[0].decision_number
    expect(page.get_by_text(first_number)).to_be_visible()
    page.evaluate("sessionStorage.setItem('kiosk.large', '1'); localStorage.setItem('left-behind', 'x')")

    expect(page.locator("#idle-warning")).to_be_visible(timeout=10_000)  # the countdown shows
    page.wait_for_url(at("/kiosk/"), timeout=15_000)
    assert first_number not in page.content()
    assert page.evaluate("sessionStorage.length + localStorage.length") == 0
    fresh()
    assert db.session.scalars(sa.select(KioskSession.end_reason)).all() == ["idle"]

    page.go_back()
    page.wait_for_load_state()
    assert first_number not in page.content()
    assert "张*华" not in page.content()
    page.go_back()
    page.wait_for_load_state()
    assert first_number not in page.content()

    sign_in_with_card(page, agent, world.second)
    expect(page.get_by_text(world.second.records[0].decision_number)).to_be_visible()
    assert first_number not in page.content()


def test_objection_filed_at_the_kiosk_reaches_the_console_and_its_receipt_prints(page, start_agent, world, client, app):
    agent = start_agent()
    sign_in_with_card(page, agent, world.first)
    page.goto(agent.url + "/kiosk/objection")
    page.get_by_role("link", name="选择此记录").click()
    page.get_by_label(re.compile("信息有误")).check()
    page.get_by_role("button", name=re.compile("签署承诺书")).click()
    page.wait_for_url(re.compile(r"/kiosk/cases/"))
    number = page.locator("#case-number").inner_text().strip()

    page.get_by_role("button", name="打印回执").click()
    expect(page.locator("#progress-title")).to_have_text("打印完成", timeout=PRINT_WAIT)
    receipt = text_of(wait_cups_pdf(only_job().cups_job_id))
    # cups-pdf re-renders through Ghostscript, which drops the CJK text map: check the Latin parts.
    assert number in receipt and world.device.code in receipt

    fresh()
    objection = get_objection(number)
    assert objection.channel == "kiosk" and objection.record_id == world.first.records[0].id
    assert objection.commitment.signer_key == f"citizen:{world.first.subject.id}"
    login_as(client, StaffRole.PLATFORM_ADMIN)
    queue = client.get("/admin/cases").get_data(as_text=True)
    assert number in queue
    found = client.get(f"/admin/cases?q={number}&state=all").get_data(as_text=True)
    assert number in found and "自助服务终端" in client.get(f"/admin/cases/objection/{objection.id}").get_data(
        as_text=True
    )


def test_paper_out_tells_the_citizen_marks_the_fleet_and_counts_only_what_left(page, start_agent, world, client):
    """The printer runs out of paper with the report already handed to it: the citizen is told,
    the fleet page shows it, and the print counts (the platform cannot tell a failure from a
    report taken away: issue 14, item 13). The next try meets the known fault before the document
    is fetched: cancelled, not counted."""
    fresh_empty_queue()
    agent = start_agent(queue=EMPTY_QUEUE)
    sign_in_with_card(page, agent, world.first)
    page.get_by_role("link", name="打印信用报告").click()
    left_before = int(page.locator("#prints-left").inner_text())
    page.locator("[data-print=personal]").click()
    expect(page.locator("#progress-title")).to_have_text("未能打印", timeout=PRINT_WAIT)
    expect(page.locator("#progress-text")).to_contain_text("缺纸")
    expect(page.locator("#progress-text")).to_contain_text("已计入")

    job = only_job()
    assert job.state is PrintJobState.FAILED and job.printer_queue == EMPTY_QUEUE and job.cups_job_id
    assert queued_jobs(EMPTY_QUEUE) == []  # cancelled: it must not come out after the refill
    assert ops.prints_today(world.first.subject.id) == 1
    assert world.refreshed_device().printer_state is PrinterState.PAPER_OUT
    page.get_by_role("button", name="知道了").click()
    expect(page.locator("#prints-left")).to_have_text(str(left_before - 1))

    page.locator("[data-print=personal]").click()
    expect(page.locator("#progress-title")).to_have_text("未能打印", timeout=PRINT_WAIT)
    expect(page.locator("#progress-text")).to_contain_text("不计入")
    fresh()
    second = db.session.scalars(sa.select(PrintJob).order_by(PrintJob.id.desc())).first()
    assert second.id != job.id and second.state is PrintJobState.FAILED and second.sent_at is None
    assert ops.prints_today(world.first.subject.id) == 1
    page.get_by_role("button", name="知道了").click()
    expect(page.locator("#prints-left")).to_have_text(str(left_before - 1))

    login_as(client, StaffRole.PLATFORM_ADMIN)
    fleet = client.get("/admin/kiosks").get_data(as_text=True)
    row = re.search(rf'<tr data-device="{world.device.code}".*?</tr>', fleet, re.S)
    assert row and "缺纸" in row.group(0) and 'class="fault"' in row.group(0)
    assert audit_rows("kiosk.print.failed")[0].details["printer_state"] == "paper_out"
