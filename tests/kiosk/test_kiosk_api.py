"""The kiosk channel over the Flask test client: device credentials, disabled kiosks, sign-in
refusals, sessions bound to one kiosk and ended on idle, free prints, print documents handed out
once, heartbeats and the fleet pages of the console."""

from __future__ import annotations

import datetime as dt
import re

import pytest
import sqlalchemy as sa
from test_staff_auth import login_as, post_form

from backend.actors import Actor
from backend.extensions import db
from backend.staff.models import StaffRole
from backend.types import utcnow
from kiosk import operations as ops
from kiosk.agent.printer import JAMMED, OFFLINE, PAPER_OUT, READY, state_from_reasons
from kiosk.models import KioskDevice, KioskSession, PrinterState, PrintJob
from tests.kiosk.helpers import audit_rows, reading_payload, signed_reading


def kiosk(credential: str) -> dict[str, str]:
    return {"Authorization": f"Kiosk {credential}", "Accept": "application/json"}


def card_attempt(client, world, citizen, face: str = "pass", **changes):
    """What the agent does for a placed card: a challenge, the reading signed with its key."""
    headers = kiosk(world.credential)
    challenge = client.post("/kiosk/api/signin/challenge", headers=headers, json={})
    assert challenge.status_code == 200, challenge.json
    payload = reading_payload(world, citizen, challenge.json["challenge"], face, **changes)
    return client.post("/kiosk/api/signin/card", headers=headers, json=signed_reading(world.key, payload))


def sign_in(client, world, citizen):
    response = card_attempt(client, world, citizen)
    assert response.status_code == 200, response.json
    return response


def test_every_call_needs_the_device_credential(client, world):
    missing = client.post("/kiosk/api/heartbeat", json={})
    assert missing.status_code == 401 and missing.json["error"]["code"] == "device_credential_missing"
    wrong = client.post("/kiosk/api/heartbeat", json={}, headers=kiosk(world.device.code + ":guess"))
    assert wrong.status_code == 401 and wrong.json["error"]["code"] == "device_credential_invalid"
    page = client.get("/kiosk/")
    assert page.status_code == 401 and "终端未认证" in page.get_data(as_text=True)
    asset = client.get("/kiosk/static/kiosk.css")
    assert asset.status_code == 200  # assets are public
    asset.close()
    assert client.get("/kiosk/", headers=kiosk(world.credential)).status_code == 200

    new = ops.reissue_credential(Actor.cli("test"), db.session.get(KioskDevice, world.device.id))
    db.session.commit()
    assert client.get("/kiosk/", headers=kiosk(world.credential)).status_code == 401
    assert client.get("/kiosk/", headers=kiosk(new)).status_code == 200


def test_a_disabled_kiosk_shows_paused_and_signs_everyone_out(client, world):
    sign_in(client, world, world.first)
    ops.set_device_enabled(Actor.cli("test"), db.session.get(KioskDevice, world.device.id), False, "打印机维修")
    db.session.commit()
    page = client.get("/kiosk/mine", headers={"Authorization": f"Kiosk {world.credential}"})
    assert page.status_code == 503 and "暂停服务" in page.get_data(as_text=True)
    api = client.post("/kiosk/api/print", headers=kiosk(world.credential), json={})
    assert api.status_code == 503 and api.json["error"]["code"] == "kiosk_disabled"
    beat = client.post("/kiosk/api/heartbeat", headers=kiosk(world.credential), json={"printer_state": "ready"})
    assert beat.status_code == 200 and beat.json["enabled"] is False
    assert db.session.scalars(sa.select(KioskSession.end_reason)).all() == ["disabled"]


def test_card_refusals(client, world, kiosk_settings):
    refused = card_attempt(client, world, world.first, "fail")
    assert refused.status_code == 403 and refused.json["error"]["code"] == "face_not_passed"
    row = audit_rows("kiosk.signin.refused")[0]
    assert world.first.id_number not in str(row.details) and row.details["device"] == world.device.code
    assert card_attempt(client, world, world.first, valid_until="2020-01-01").status_code == 403
    bad = card_attempt(client, world, world.first, id_number="620302199002302519")  # no such day
    assert bad.status_code == 422 and bad.json["error"]["code"] == "card_number_invalid"
    assert client.post("/kiosk/api/signin/card", headers=kiosk(world.credential), data="x").status_code == 400
    assert db.session.scalar(sa.select(sa.func.count()).select_from(KioskSession)) == 0
    # Where the hall has no camera, the face comparison can be switched off.
    kiosk_settings(KIOSK_FACE_MATCH_REQUIRED=False)
    assert card_attempt(client, world, world.first, "not_done").status_code == 200


def test_a_session_lives_on_one_kiosk_and_ends_on_idle_or_the_next_card(client, world):
    _, other_credential = ops.register_device(Actor.cli("test"), "JC-ZWDT-02", "金昌市政务服务中心", "二楼")
    db.session.commit()
    sign_in(client, world, world.first)
    mine = client.get("/kiosk/mine", headers=kiosk(world.credential))
    assert mine.status_code == 200 and world.first.records[0].decision_number in mine.get_data(as_text=True)
    elsewhere = client.get("/kiosk/mine", headers=kiosk(other_credential))
    assert elsewhere.status_code == 302 and "/kiosk/signin" in elsewhere.headers["Location"]

    sign_in(client, world, world.second)  # the first citizen walked away without 结束
    reasons = dict(db.session.execute(sa.select(KioskSession.subject_id, KioskSession.end_reason)).all())
    assert reasons[world.first.subject.id] == "replaced" and reasons[world.second.subject.id] is None
    mine = client.get("/kiosk/mine", headers=kiosk(world.credential)).get_data(as_text=True)
    assert world.first.records[0].decision_number not in mine

    session = db.session.scalar(sa.select(KioskSession).where(KioskSession.ended_at.is_(None)))
    session.last_seen_at = utcnow() - dt.timedelta(seconds=61)  # the page's countdown did not run
    db.session.commit()
    assert client.get("/kiosk/mine", headers=kiosk(world.credential)).status_code == 302
    db.session.refresh(session)
    assert session.end_reason == "idle"
    signout = client.get("/kiosk/signout", headers=kiosk(world.credential))
    assert signout.headers["Clear-Site-Data"] == '"cache", "storage"'
    assert signout.headers["Cache-Control"] == "no-store"


def test_free_prints_count_the_job_not_the_agents_word(client, world, kiosk_settings):
    """Issue 14, item 13: an agent answering ``ok: false`` after taking the document printed five
    extra reports. A report counts once its document left the platform, whatever the agent says
    next; only a job cancelled before its document was handed out does not count."""
    kiosk_settings(KIOSK_FREE_PRINTS_PER_DAY=2)
    sign_in(client, world, world.first)
    headers = kiosk(world.credential)

    def new_job() -> int:
        job = client.post("/kiosk/api/print", headers=headers, json={"kind": "personal"})
        assert job.status_code == 200, job.json
        return job.json["job"]

    def report(job: int, ok: bool, state: str = "ready"):
        return client.post(
            f"/kiosk/api/print-jobs/{job}/result",
            headers=headers,
            json={"ok": ok, "printer_queue": "q", "cups_job_id": "q-1", "pages": 2, "printer_state": state},
        )

    # The printer was out of paper before the agent took the document: cancelled, not counted.
    cancelled = new_job()
    assert report(cancelled, True).status_code == 409  # nothing printed what was never fetched
    answer = report(cancelled, False, "paper_out")
    assert answer.status_code == 200 and answer.json["counted"] is False and "不计入" in answer.json["message"]
    assert client.get(f"/kiosk/api/print-jobs/{cancelled}/document", headers=headers).status_code == 409
    assert ops.prints_today(world.first.subject.id) == 0

    # The agent took the document, then said it failed: it counts all the same.
    for _ in range(2):
        job = new_job()
        document = client.get(f"/kiosk/api/print-jobs/{job}/document", headers=headers)
        assert document.status_code == 200 and document.data.startswith(b"%PDF")
        again = client.get(f"/kiosk/api/print-jobs/{job}/document", headers=headers)
        assert again.status_code == 409  # the agent fetches once; no second copy leaves
        answer = report(job, False)
        assert answer.status_code == 200 and answer.json["counted"] is True and answer.json["done"] is False
        assert "已计入" in answer.json["message"]
    refused = client.post("/kiosk/api/print", headers=headers, json={"kind": "personal"})
    assert refused.status_code == 429 and refused.json["error"]["code"] == "free_prints_used"
    assert ops.prints_today(world.first.subject.id) == 2
    others = client.post(
        "/kiosk/api/print", headers=headers, json={"kind": "personal", "subject": world.second.subject.id}
    )
    assert others.status_code == 403


def test_a_job_left_pending_stops_counting_and_is_never_handed_out(client, world, kiosk_settings):
    kiosk_settings(KIOSK_FREE_PRINTS_PER_DAY=1)
    sign_in(client, world, world.first)
    headers = kiosk(world.credential)
    job = client.post("/kiosk/api/print", headers=headers, json={"kind": "personal"}).json["job"]
    assert ops.prints_today(world.first.subject.id) == 1  # counted from its creation
    row = db.session.get(PrintJob, job)
    row.created_at = utcnow() - dt.timedelta(minutes=11)  # KIOSK_PRINT_JOB_MINUTES is 10
    db.session.commit()
    assert ops.prints_today(world.first.subject.id) == 0
    # Not counted any more, so its document must not come out later either.
    assert client.get(f"/kiosk/api/print-jobs/{job}/document", headers=headers).status_code == 409


def test_a_print_document_is_only_for_the_session_that_asked(client, world):
    sign_in(client, world, world.first)
    job = client.post("/kiosk/api/print", headers=kiosk(world.credential), json={"kind": "personal"}).json["job"]
    sign_in(client, world, world.second)
    stolen = client.get(f"/kiosk/api/print-jobs/{job}/document", headers=kiosk(world.credential))
    assert stolen.status_code == 404
    assert db.session.get(PrintJob, job).state.value == "pending"


def test_heartbeat_fleet_page_and_console_management(client, world):
    beat = client.post(
        "/kiosk/api/heartbeat",
        headers=kiosk(world.credential),
        json={"agent_version": "1.0.0", "printer_queue": "hall-1", "printer_state": "jammed", "paper_counter": 42},
    )
    assert beat.status_code == 200 and beat.json["heartbeat_seconds"] == 30
    device = db.session.get(KioskDevice, world.device.id)
    db.session.refresh(device)
    assert device.printer_state is PrinterState.JAMMED and device.paper_counter == 42

    login_as(client, StaffRole.DEPT_REVIEWER)
    assert client.get("/admin/kiosks").status_code == 403
    client.post("/admin/logout", data={})
    client.delete_cookie("credit_session")
    login_as(client, StaffRole.PLATFORM_ADMIN)
    fleet = client.get("/admin/kiosks").get_data(as_text=True)
    row = re.search(rf'<tr data-device="{world.device.code}".*?</tr>', fleet, re.S).group(0)
    assert "在线" in row and "卡纸" in row and ">42<" in row

    created = post_form(
        client, "/admin/kiosks", {"code": "jc-yc-01", "hall": "永昌县政务服务中心", "location": "大厅入口"}
    )
    page = created.get_data(as_text=True)
    credential = re.search(r'id="credential">([^<]+)<', page).group(1)
    assert created.status_code == 200 and credential.startswith("JC-YC-01:")
    assert client.get("/kiosk/", headers=kiosk(credential)).status_code == 200
    assert credential not in client.get("/admin/kiosks").get_data(as_text=True)  # shown once
    new = db.session.scalar(sa.select(KioskDevice).where(KioskDevice.code == "JC-YC-01"))
    post_form(client, f"/admin/kiosks/{new.id}/disable", {"reason": "搬迁"}, token_from="/admin/kiosks")
    db.session.refresh(new)
    assert new.enabled is False and new.disabled_reason == "搬迁"
    assert client.get("/kiosk/", headers=kiosk(credential)).status_code == 503
    post_form(client, f"/admin/kiosks/{new.id}/enable", token_from="/admin/kiosks")
    db.session.refresh(new)
    assert new.enabled is True
    assert [row.details["device"] for row in audit_rows("kiosk.device.disable")] == ["JC-YC-01"]


@pytest.mark.parametrize(
    ("state", "reasons", "expected"),
    [
        ("3", (), READY),
        ("5", ("media-empty-error", "paused"), PAPER_OUT),
        ("3", ("media-needed-warning",), PAPER_OUT),
        ("4", ("media-jam-error",), JAMMED),
        ("3", ("offline-report",), OFFLINE),
        ("5", ("paused",), OFFLINE),
        (None, (), OFFLINE),
    ],
)
def test_printer_state_from_ipp_reasons(state, reasons, expected):
    assert state_from_reasons(state, reasons) == expected


def test_repair_at_the_kiosk_uses_the_proof_uploaded_in_wechat(client, world):
    from backend.workflows.materials.models import MaterialPurpose
    from backend.workflows.materials.operations import upload_material
    from backend.workflows.repairs.operations import get_repair
    from tests.wechat.helpers import make_pdf

    record = world.first.records[0]
    sign_in(client, world, world.first)
    headers = {"Authorization": f"Kiosk {world.credential}"}
    page = client.get(f"/kiosk/repair/{record.id}", headers=headers).get_data(as_text=True)
    assert 'id="proof-missing"' in page and 'id="sign-and-file"' not in page

    # The same person uploaded the receipt of the paid fine in the mini-program.
    upload_material(
        Actor.citizen(world.first.subject.id, "mp"), make_pdf(), "罚款缴纳凭证.pdf", MaterialPurpose.FULFILMENT
    )
    db.session.commit()
    page = client.get(f"/kiosk/repair/{record.id}", headers=headers).get_data(as_text=True)
    assert "罚款缴纳凭证.pdf" in page and 'id="proof-missing"' not in page
    digest = re.search(r'name="commitment_hash" value="([0-9a-f]{64})"', page).group(1)
    stale = client.post(f"/kiosk/repair/{record.id}", headers=headers, data={"commitment_hash": "0" * 64})
    assert stale.status_code == 422 and "承诺书内容已更新" in stale.get_data(as_text=True)
    filed = client.post(f"/kiosk/repair/{record.id}", headers=headers, data={"commitment_hash": digest})
    assert filed.status_code == 302 and "/kiosk/cases/" in filed.headers["Location"]
    number = filed.headers["Location"].rsplit("/", 1)[-1]
    case = get_repair(number)
    assert case.channel == "kiosk" and len(case.materials) == 1 and case.commitment.channel == "kiosk"
    receipt = client.get(f"/kiosk/cases/{number}", headers=headers).get_data(as_text=True)
    assert number in receipt
    # Another citizen at the same kiosk does not get this case by its number.
    sign_in(client, world, world.second)
    assert client.get(f"/kiosk/cases/{number}", headers=headers).status_code == 404


def test_a_legal_representative_prints_the_enterprise_reports(client, world):
    from backend.citizens.models import BindingMethod, BindingStatus, EnterpriseBinding, WeChatUser
    from backend.subjects.models import Subject

    enterprise = db.session.scalar(sa.select(Subject).where(Subject.uscc == world.uscc))
    person = world.first.subject
    user = WeChatUser(appid="wx-test", openid="o-rep", subject_id=person.id, verified_at=utcnow())
    db.session.add(user)
    db.session.flush()
    db.session.add(
        EnterpriseBinding(
            user_id=user.id,
            person_subject_id=person.id,
            subject_id=enterprise.id,
            method=BindingMethod.LEGAL_REPRESENTATIVE,
            status=BindingStatus.ACTIVE,
        )
    )
    db.session.commit()
    sign_in(client, world, world.first)
    page = client.get("/kiosk/print", headers={"Authorization": f"Kiosk {world.credential}"}).get_data(as_text=True)
    assert f'data-print="special" data-subject="{enterprise.id}"' in page
    for kind in ("enterprise", "special"):
        job = client.post(
            "/kiosk/api/print", headers=kiosk(world.credential), json={"kind": kind, "subject": enterprise.id}
        )
        assert job.status_code == 200, job.json
    sign_in(client, world, world.second)
    refused = client.post(
        "/kiosk/api/print", headers=kiosk(world.credential), json={"kind": "special", "subject": enterprise.id}
    )
    assert refused.status_code == 403
