"""Report messages through the outbox: "report ready" for a report issued in the mini-program,
and the "deadline" reminder before such a report's validity ends (once, however often the jobs
run). Both reach the fake WeChat server with the configured template ids and field mapping."""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa

from backend.actors import Actor
from backend.citizens.models import WeChatUser
from backend.extensions import db
from backend.issued_reports.models import IssuedReport
from backend.issued_reports.operations import issue_report, revoke_report
from backend.jobs import run_jobs_once
from backend.outbox.models import OutboxEvent, OutboxStatus
from backend.outbox.worker import deliver_pending, registered_handlers
from backend.types import local_date, utcnow
from backend.workflows.cases import local_time_text
from miniprogram_api.models import MessageAttempt, MessageAttemptStatus
from miniprogram_api.notifications import shape_value
from tests.wechat.conftest import TEMPLATE_DEADLINE, TEMPLATE_REPORT
from tests.wechat.helpers import API, department, enterprise, verified_person

SEND = "cgi-bin/message/subscribe/send"


def _chinese_day(day: dt.date) -> str:
    return f"{day.year}年{day.month}月{day.day}日"


def _issue(client, person, kind: str = "personal", **body) -> dict:
    response = client.post(f"{API}/reports", json={"kind": kind, **body}, headers=person.headers)
    assert response.status_code == 201, response.json
    return response.json


def _deliver(now=None):
    db.session.remove()
    return deliver_pending(registered_handlers(), now=now, backoff_base_seconds=30)


def _events(topic: str) -> list[OutboxEvent]:
    db.session.remove()
    return list(db.session.scalars(sa.select(OutboxEvent).where(OutboxEvent.topic == topic).order_by(OutboxEvent.id)))


def _attempts(topic: str) -> list[MessageAttempt]:
    db.session.remove()
    return list(
        db.session.scalars(sa.select(MessageAttempt).where(MessageAttempt.topic == topic).order_by(MessageAttempt.id))
    )


def _values(message: dict) -> dict[str, str]:
    return {key: item["value"] for key, item in message["data"].items()}


def test_report_ready_reaches_the_fake_with_template_and_data(client, fake):
    person = verified_person(client, fake, "张明华", 601)
    fake.grant_subscription(person.openid, TEMPLATE_REPORT)
    issued = _issue(client, person)
    # Queued in the request's transaction, with ids only.
    (event,) = _events("report.issued")
    report = db.session.scalar(sa.select(IssuedReport).where(IssuedReport.number == issued["number"]))
    user = db.session.scalar(sa.select(WeChatUser).where(WeChatUser.openid == person.openid))
    assert event.payload == {"report_id": report.id, "user_id": user.id}
    assert fake.subscribe_messages == []  # nothing is sent before the outbox runs

    delivery = _deliver()
    assert delivery.delivered == [event.id]
    (message,) = fake.subscribe_messages
    assert message["touser"] == person.openid and message["template_id"] == TEMPLATE_REPORT
    assert _values(message) == {
        "character_string1": issued["number"],
        "thing2": "个人公共信用信息报告",
        "thing3": "张*华",
        "time4": shape_value("time4", local_time_text(report.issued_at)),
        "date5": _chinese_day(report.valid_until),
    }
    assert message["page"] == f"pages/report/detail?number={issued['number']}"
    assert "张明华" not in str(message) and person.id_number not in str(message)
    (attempt,) = _attempts("report.issued")
    assert attempt.status is MessageAttemptStatus.SENT and attempt.template_id == TEMPLATE_REPORT
    assert attempt.outbox_event_id == event.id and attempt.user_id == user.id


def test_an_enterprise_report_names_the_enterprise(client, fake):
    dept = department()
    company = enterprise(dept, "王建国", name="金昌市金川区宏达建材有限公司")
    uscc = company.uscc
    db.session.commit()
    person = verified_person(client, fake, "李四", 602)
    fake.grant_subscription(person.openid, TEMPLATE_REPORT)
    _issue(client, person, "enterprise", uscc=uscc)
    assert _deliver().delivered
    (message,) = fake.subscribe_messages
    assert _values(message)["thing2"] == "法人和非法人组织公共信用信息报告"
    assert _values(message)["thing3"] == "金昌市金川区宏达建材有限公司"


def test_not_subscribed_is_recorded_and_not_retried(client, fake):
    person = verified_person(client, fake, "王五", 603)
    _issue(client, person)
    assert len(_deliver().delivered) == 1  # done: retrying cannot help
    (event,) = _events("report.issued")
    assert event.status is OutboxStatus.DELIVERED and event.attempts == 1
    (attempt,) = _attempts("report.issued")
    assert attempt.status is MessageAttemptStatus.NOT_SUBSCRIBED and attempt.errcode == 43101
    later = _deliver(now=utcnow() + dt.timedelta(days=1))
    assert later.count == 0
    assert len(_attempts("report.issued")) == 1 and fake.subscribe_messages == []


def test_transient_error_is_retried_then_sent(client, fake):
    person = verified_person(client, fake, "赵六", 604)
    fake.grant_subscription(person.openid, TEMPLATE_REPORT)
    _issue(client, person)
    fake.fail(SEND, -1, times=1)  # WeChat's "system busy"
    assert _deliver().retrying
    (event,) = _events("report.issued")
    later = _deliver(now=event.available_at + dt.timedelta(seconds=1))
    assert later.delivered == [event.id]
    assert [a.status for a in _attempts("report.issued")] == [MessageAttemptStatus.FAILED, MessageAttemptStatus.SENT]
    assert len(fake.subscribe_messages) == 1


def test_no_template_configured_sends_nothing(client, fake, wechat_settings, monkeypatch):
    monkeypatch.setattr(wechat_settings, "WECHAT_TEMPLATE_REPORT_READY", "")
    person = verified_person(client, fake, "孙八", 605)
    fake.grant_subscription(person.openid, TEMPLATE_REPORT)  # a send would go through
    _issue(client, person)
    delivery = _deliver()
    assert len(delivery.delivered) == 1 and not delivery.retrying and not delivery.failed
    (event,) = _events("report.issued")
    assert event.status is OutboxStatus.DELIVERED and event.last_error is None
    (attempt,) = _attempts("report.issued")
    assert attempt.status is MessageAttemptStatus.SKIPPED and attempt.template_id is None
    assert attempt.error == "未配置“信用报告出具通知”订阅消息模板"
    assert fake.subscribe_messages == []


def test_reports_issued_elsewhere_queue_no_message(client, fake):
    person = verified_person(client, fake, "周九", 606)
    subject = person.subject
    issue_report(Actor.cli("counter-test"), subject, "personal", channel="cli")
    db.session.commit()
    assert _events("report.issued") == []


def _expiring_report(client, fake, person, days_left: int) -> IssuedReport:
    number = _issue(client, person)["number"]
    report = db.session.scalar(sa.select(IssuedReport).where(IssuedReport.number == number))
    report.valid_until = local_date() + dt.timedelta(days=days_left)
    db.session.commit()
    return report


def test_expiry_reminder_is_sent_once_however_often_the_jobs_run(client, fake, wechat_settings, monkeypatch):
    monkeypatch.setattr(wechat_settings, "WECHAT_REPORT_EXPIRY_REMINDER_DAYS", 3)
    person = verified_person(client, fake, "吴十", 607)
    fake.grant_subscription(person.openid, TEMPLATE_DEADLINE, count=5)  # more than one would fit
    fresh = _issue(client, person)["number"]  # valid for 30 days: not yet
    first = run_jobs_once()
    assert first.reminders == 0 and _events("report.expiring") == []

    report = _expiring_report(client, fake, person, days_left=2)
    number, valid_until = report.number, report.valid_until
    again = run_jobs_once()
    assert again.reminders == 1
    third = run_jobs_once()
    assert third.reminders == 0
    run_jobs_once(today=local_date() + dt.timedelta(days=1))  # the next day: still once

    (event,) = _events("report.expiring")
    assert event.status is OutboxStatus.DELIVERED
    assert set(event.payload) == {"report_id", "valid_until"}
    deadline = [m for m in fake.subscribe_messages if m["template_id"] == TEMPLATE_DEADLINE]
    assert len(deadline) == 1
    (message,) = deadline
    assert message["touser"] == person.openid
    assert _values(message) == {
        "thing1": "信用报告有效期届满",
        "character_string2": number,
        "date3": _chinese_day(valid_until),
        "thing4": "如仍需使用，请重新出具报告",
    }
    assert message["page"] == f"pages/report/detail?number={number}"
    assert number != fresh
    assert [a.status for a in _attempts("report.expiring")] == [MessageAttemptStatus.SENT]


def test_a_report_revoked_before_the_reminder_goes_out_is_skipped(client, fake):
    person = verified_person(client, fake, "郑一", 608)
    fake.grant_subscription(person.openid, TEMPLATE_DEADLINE)
    report = _expiring_report(client, fake, person, days_left=0)
    from miniprogram_api.operations import queue_report_expiry_reminders

    assert queue_report_expiry_reminders(local_date()) == 1
    revoke_report(Actor.cli("counter-test"), report, "报告内容有误")
    db.session.commit()
    _deliver()
    (attempt,) = _attempts("report.expiring")
    assert attempt.status is MessageAttemptStatus.SKIPPED and attempt.error == "报告已撤销，无需提醒"
    # The one "deadline" message is the revocation's (report.revoked), not the expiry reminder.
    deadline = [_values(m)["thing1"] for m in fake.subscribe_messages if m["template_id"] == TEMPLATE_DEADLINE]
    assert deadline == ["信用报告已撤销"]


def test_no_deadline_template_configured_sends_nothing(client, fake, wechat_settings, monkeypatch):
    monkeypatch.setattr(wechat_settings, "WECHAT_TEMPLATE_DEADLINE", "")
    person = verified_person(client, fake, "冯二", 609)
    fake.grant_subscription(person.openid, TEMPLATE_DEADLINE)
    _expiring_report(client, fake, person, days_left=1)
    run_jobs_once()
    (attempt,) = _attempts("report.expiring")
    assert attempt.status is MessageAttemptStatus.SKIPPED
    assert [m for m in fake.subscribe_messages if m["template_id"] == TEMPLATE_DEADLINE] == []


def test_a_revoked_mini_program_report_is_announced_to_its_holder(client, fake):
    person = verified_person(client, fake, "钱六", 610)
    fake.grant_subscription(person.openid, TEMPLATE_DEADLINE)
    number = _issue(client, person)["number"]
    report = db.session.scalar(sa.select(IssuedReport).where(IssuedReport.number == number))
    revoke_report(Actor.cli("counter-test"), report, "报告内容有误")
    db.session.commit()
    revoked_on = local_date(report.revoked_at)

    _deliver()
    (event,) = _events("report.revoked")
    assert event.status is OutboxStatus.DELIVERED  # before: no handler, pending for ever
    (message,) = [m for m in fake.subscribe_messages if m["template_id"] == TEMPLATE_DEADLINE]
    assert message["touser"] == person.openid
    assert _values(message) == {
        "thing1": "信用报告已撤销",
        "character_string2": number,
        "date3": _chinese_day(revoked_on),
        "thing4": "报告已失效，如需使用请重新出具",
    }
    assert [a.status for a in _attempts("report.revoked")] == [MessageAttemptStatus.SENT]


def test_a_revoked_counter_report_is_delivered_without_a_message(client, fake):
    person = verified_person(client, fake, "孙七", 611)
    fake.grant_subscription(person.openid, TEMPLATE_DEADLINE)
    issued = issue_report(Actor.cli("counter-test"), person.subject, "personal", channel="cli")
    db.session.commit()
    report = db.session.get(IssuedReport, issued.report.id)
    revoke_report(Actor.cli("counter-test"), report, "报告内容有误")
    db.session.commit()
    _deliver()
    (event,) = _events("report.revoked")
    assert event.status is OutboxStatus.DELIVERED
    (attempt,) = _attempts("report.revoked")
    assert attempt.status is MessageAttemptStatus.SKIPPED and attempt.error == "报告不是在小程序中出具的，无需通知"
    assert fake.subscribe_messages == []
