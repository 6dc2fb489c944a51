"""The full citizen journey through the mini-program API, against the fake WeChat server."""

from __future__ import annotations

import io

import sqlalchemy as sa

from backend.extensions import db
from backend.jobs import run_jobs_once
from backend.outbox.models import OutboxEvent, OutboxStatus
from backend.records.models import CreditRecord, RecordStatus
from backend.workflows.objections.models import Objection, ObjectionOutcome
from backend.workflows.objections.operations import accept_objection, decide_objection
from miniprogram_api.models import MessageAttempt, MessageAttemptStatus
from tests.wechat.conftest import TEMPLATE_CASE, TEMPLATE_REPORT
from tests.wechat.helpers import (
    API,
    Person,
    Staff,
    department,
    face_verify,
    file_objection,
    login,
    person_record,
)


def test_citizen_journey(client, fake):
    dept = department()
    staff = Staff(dept)
    person = Person("张明华", "620302199003072516", "openid-zhang")
    record = person_record(dept, person)
    record_id, decision_number = record.id, record.decision_number
    db.session.commit()

    # Session: wx.login code -> our own opaque token.
    person.token = login(client, fake, person.openid)
    assert client.get(f"{API}/me", headers=person.headers).json["verified"] is False
    # Before face verification, personal data is out of reach.
    assert client.get(f"{API}/me/records", headers=person.headers).status_code == 403

    # Face verification binds the natural person to the openid.
    verified = face_verify(client, fake, person)
    assert verified.status_code == 200, verified.json
    assert verified.json["verified"] is True
    assert verified.json["name"] == "张明华"
    assert verified.json["id_number_masked"] == "6203**********2516"

    # Own records, including the non-public one.
    records = client.get(f"{API}/me/records", headers=person.headers)
    assert records.status_code == 200
    assert [r["decision_number"] for r in records.json["records"]] == [decision_number]
    assert records.json["records"][0]["published"] is False

    # The citizen subscribes to progress messages (wx.requestSubscribeMessage, twice accepted).
    for _ in range(2):
        fake.grant_subscription(person.openid, TEMPLATE_CASE)
        answered = client.post(
            f"{API}/subscriptions", json={"answers": {TEMPLATE_CASE: "accept"}}, headers=person.headers
        )
        assert answered.status_code == 200
    assert answered.json["subscriptions"][0]["accepted_count"] == 2

    # File an objection with a signed commitment and an uploaded material.
    filed = file_objection(client, person, record_id)
    number = filed["number"]
    assert filed["state"] == "submitted"
    assert filed["applicant_kind"] == "self"
    assert len(filed["materials"]) == 1

    # Staff accept and the department decides, through the workflow operations.
    objection = db.session.scalar(sa.select(Objection).where(Objection.number == number))
    accept_objection(staff.actor(staff.admin), objection)
    db.session.commit()
    decide_objection(staff.actor(staff.reviewer), objection, ObjectionOutcome.DELETED, "原处罚决定已被依法撤销")
    db.session.commit()

    # The outbox worker delivers the subscribe messages to the (fake) WeChat server.
    run_jobs_once()
    sent = [m for m in fake.subscribe_messages if m["touser"] == person.openid]
    assert [m["data"]["phrase3"]["value"] for m in sent] == ["已受理", "已决定"]
    assert all(m["template_id"] == TEMPLATE_CASE for m in sent)
    assert sent[1]["data"]["character_string1"]["value"] == number
    assert sent[1]["data"]["thing2"]["value"] == "异议申诉"
    assert sent[1]["data"]["thing4"]["value"] == "已删除记录"
    assert sent[1]["page"] == f"pages/case/detail?type=objection&number={number}"
    assert sent[1]["miniprogram_state"] == "formal"
    attempts = db.session.scalars(sa.select(MessageAttempt).order_by(MessageAttempt.id)).all()
    assert [a.status for a in attempts] == [MessageAttemptStatus.SENT, MessageAttemptStatus.SENT]
    delivered = db.session.scalars(
        sa.select(OutboxEvent.topic).where(OutboxEvent.status == OutboxStatus.DELIVERED)
    ).all()
    assert {"objection.accept", "objection.decide"} <= set(delivered)
    subscriptions = client.get(f"{API}/subscriptions", headers=person.headers).json
    assert subscriptions["subscriptions"][0]["accepted_count"] == 0

    # The citizen sees the result, with its history.
    detail = client.get(f"{API}/objections/{number}", headers=person.headers)
    assert detail.status_code == 200
    assert detail.json["state"] == "decided"
    assert detail.json["outcome"] == "deleted"
    assert detail.json["decision_reason"] == "原处罚决定已被依法撤销"
    assert [h["action"] for h in detail.json["history"]] == ["file", "accept", "decide"]
    assert detail.json["history"][0]["who"] == "申请人"
    assert db.session.get(CreditRecord, record_id).status is RecordStatus.WITHDRAWN

    # A personal report (the citizen accepts the "report ready" message when asking for it),
    # downloaded through its short-lived link and verified publicly.
    fake.grant_subscription(person.openid, TEMPLATE_REPORT)
    client.post(f"{API}/subscriptions", json={"answers": {TEMPLATE_REPORT: "accept"}}, headers=person.headers)
    issued = client.post(f"{API}/reports", json={"kind": "personal"}, headers=person.headers)
    assert issued.status_code == 201, issued.json
    assert issued.json["status"] == "valid"
    link = issued.json["download_url"]
    assert link.startswith("http://credit.test/api/mp/v1/reports/")
    pdf = client.get(link.removeprefix("http://credit.test"))
    assert pdf.status_code == 200
    assert pdf.data.startswith(b"%PDF")
    listed = client.get(f"{API}/reports", headers=person.headers).json["items"]
    assert [r["number"] for r in listed] == [issued.json["number"]]
    # The next jobs pass tells the citizen, in WeChat, that the report is ready.
    run_jobs_once()
    (ready,) = [m for m in fake.subscribe_messages if m["template_id"] == TEMPLATE_REPORT]
    assert ready["touser"] == person.openid
    assert ready["data"]["character_string1"]["value"] == issued.json["number"]
    assert ready["data"]["thing3"]["value"] == "张*华"
    assert ready["page"] == f"pages/report/detail?number={issued.json['number']}"

    verdict = client.post(
        "/api/v1/verify", data={"file": (io.BytesIO(pdf.data), "report.pdf")}, content_type="multipart/form-data"
    )
    assert verdict.status_code == 200
    assert verdict.json["genuine"] is True
    assert verdict.json["status"] == "valid"
    assert verdict.json["report"]["number"] == issued.json["number"]
    assert verdict.json["report"]["subject"]["name"] == "张*华"
    # The same check from inside the mini-program.
    in_app = client.post(
        f"{API}/verify", data={"file": (io.BytesIO(pdf.data), "report.pdf")}, content_type="multipart/form-data"
    )
    assert in_app.json["genuine"] is True

    # Logging out revokes the token.
    assert client.delete(f"{API}/session", headers=person.headers).status_code == 200
    assert client.get(f"{API}/me", headers=person.headers).status_code == 401
