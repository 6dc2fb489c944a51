"""Subscribe messages through the outbox: delivered, not retried on 43101, retried on transient
errors, never sent twice, every attempt recorded."""

from __future__ import annotations

import datetime as dt

import pytest
import sqlalchemy as sa

from backend.extensions import db
from backend.outbox.models import OutboxEvent, OutboxStatus
from backend.outbox.worker import deliver_pending
from backend.types import LOCAL_TZ, local_date, utcnow
from backend.workflows.objections.models import Objection
from backend.workflows.objections.operations import accept_objection
from miniprogram_api import client as client_module
from miniprogram_api.client import WeChatError, mp_api
from miniprogram_api.models import MessageAttempt, MessageAttemptStatus
from miniprogram_api.notifications import CASE_TOPICS, handle_case_event, quota_reset_after
from tests.wechat.conftest import TEMPLATE_CASE
from tests.wechat.helpers import Staff, department, file_objection, person_record, verified_person

SEND = "cgi-bin/message/subscribe/send"


def _accepted_objection(client, fake):
    dept = department()
    staff = Staff(dept)
    person = verified_person(client, fake, "张明华", 501)
    record = person_record(dept, person)
    record_id = record.id
    db.session.commit()
    number = file_objection(client, person, record_id)["number"]
    objection = db.session.scalar(sa.select(Objection).where(Objection.number == number))
    accept_objection(staff.actor(staff.admin), objection)
    db.session.commit()
    return person, number


def _deliver(now=None):
    db.session.remove()
    return deliver_pending(dict.fromkeys(CASE_TOPICS, handle_case_event), now=now, backoff_base_seconds=30)


def _event(topic="objection.accept") -> OutboxEvent:
    db.session.remove()
    return db.session.scalar(sa.select(OutboxEvent).where(OutboxEvent.topic == topic))


def _attempts() -> list[MessageAttempt]:
    return list(db.session.scalars(sa.select(MessageAttempt).order_by(MessageAttempt.id)))


def test_message_reaches_the_fake_with_template_and_data(client, fake):
    person, number = _accepted_objection(client, fake)
    fake.grant_subscription(person.openid, TEMPLATE_CASE)
    report = _deliver()
    assert len(report.delivered) == 1
    (message,) = fake.subscribe_messages
    assert message["touser"] == person.openid and message["template_id"] == TEMPLATE_CASE
    data = {key: value["value"] for key, value in message["data"].items()}
    assert data["character_string1"] == number
    assert data["thing2"] == "异议申诉"
    assert data["phrase3"] == "已受理"
    assert data["thing4"].startswith("预计") and data["thing4"].endswith("前办结")
    assert person.name not in str(message)  # the message names no one
    assert [a.status for a in _attempts()] == [MessageAttemptStatus.SENT]


def test_not_subscribed_is_recorded_and_not_retried(client, fake):
    _accepted_objection(client, fake)
    report = _deliver()
    assert len(report.delivered) == 1  # done: retrying cannot help
    assert _event().status is OutboxStatus.DELIVERED
    (attempt,) = _attempts()
    assert attempt.status is MessageAttemptStatus.NOT_SUBSCRIBED and attempt.errcode == 43101
    assert fake.subscribe_messages == []


def test_rate_limit_is_retried_with_backoff_then_sent(client, fake):
    person, _ = _accepted_objection(client, fake)
    fake.grant_subscription(person.openid, TEMPLATE_CASE)
    fake.fail(SEND, 45011, times=1)  # the minute quota: backoff
    report = _deliver()
    assert report.retrying and not report.delivered
    event = _event()
    assert event.status is OutboxStatus.PENDING and event.attempts == 1
    assert "45011" in (event.last_error or "")
    assert _deliver().count == 0  # not before the backoff
    later = _deliver(now=event.available_at + dt.timedelta(seconds=1))
    assert len(later.delivered) == 1
    assert [a.status for a in _attempts()] == [MessageAttemptStatus.FAILED, MessageAttemptStatus.SENT]
    assert [a.attempt for a in _attempts()] == [1, 2]
    assert len(fake.subscribe_messages) == 1


def test_timeout_is_retried(client, fake, wechat_settings, monkeypatch):
    person, _ = _accepted_objection(client, fake)
    fake.grant_subscription(person.openid, TEMPLATE_CASE)
    monkeypatch.setattr(wechat_settings, "WECHAT_TIMEOUT_SECONDS", 0.3)
    fake.delay(SEND, 1.0, times=1)
    assert _deliver().retrying
    assert _attempts()[0].status is MessageAttemptStatus.FAILED


def test_an_event_already_sent_is_not_sent_again(client, fake):
    """A crash after sending and before the event was marked delivered: the next worker finds
    the SENT attempt under the same idempotency key and sends nothing."""
    person, _ = _accepted_objection(client, fake)
    fake.grant_subscription(person.openid, TEMPLATE_CASE, count=2)
    assert _deliver().delivered
    event = _event()
    event.status = OutboxStatus.PENDING  # as if the mark had never been written
    event.delivered_at = None
    db.session.commit()
    assert _deliver().delivered
    assert len(fake.subscribe_messages) == 1


def test_cases_filed_at_the_counter_are_skipped(client, fake):
    _person, number = _accepted_objection(client, fake)
    objection = db.session.scalar(sa.select(Objection).where(Objection.number == number))
    objection.applicant_key = "staff:1"
    db.session.commit()
    assert _deliver().delivered
    assert [a.status for a in _attempts()] == [MessageAttemptStatus.SKIPPED]


def test_daily_quota_waits_for_the_reset_at_beijing_midnight(client, fake):
    """45009 (the day's quota is spent): the event waits until just after midnight in Beijing,
    is not FAILED even on its last allowed attempt, and is sent after the reset."""
    person, _ = _accepted_objection(client, fake)
    fake.grant_subscription(person.openid, TEMPLATE_CASE)
    fake.fail(SEND, 45009, times=1)
    db.session.remove()
    before = utcnow()
    report = deliver_pending(dict.fromkeys(CASE_TOPICS, handle_case_event), max_attempts=1)
    assert report.retrying and not report.failed
    event = _event()
    assert event.status is OutboxStatus.PENDING and event.attempts == 0  # waiting is not a failure
    assert "45009" in (event.last_error or "")
    reset = event.available_at.replace(tzinfo=dt.UTC).astimezone(LOCAL_TZ)
    assert reset.date() == local_date(before) + dt.timedelta(days=1)
    assert (reset.hour, reset.minute) == (0, 5)
    assert event.available_at == quota_reset_after(before)
    assert _deliver(now=event.available_at - dt.timedelta(minutes=1)).count == 0
    assert _deliver(now=event.available_at + dt.timedelta(seconds=1)).delivered
    assert [a.status for a in _attempts()] == [MessageAttemptStatus.FAILED, MessageAttemptStatus.SENT]
    assert len(fake.subscribe_messages) == 1


def test_busy_reads_are_retried_with_backoff_and_sends_are_not(fake, monkeypatch):
    monkeypatch.setattr(client_module, "BUSY_RETRY_PAUSES", (0, 0))
    api = mp_api()
    fake.fail("cgi-bin/get_api_domain_ip", -1, times=2)
    assert api.api_domain_ip()
    assert len([r for r in fake.requests if r["path"] == "cgi-bin/get_api_domain_ip"]) == 3
    fake.fail("cgi-bin/get_api_domain_ip", -1)  # busy for good: bounded
    with pytest.raises(WeChatError) as info:
        api.api_domain_ip()
    assert info.value.errcode == -1 and info.value.transient
    assert len([r for r in fake.requests if r["path"] == "cgi-bin/get_api_domain_ip"]) == 6
    fake.accept_all_subscriptions = True
    fake.fail(SEND, -1, times=1)
    with pytest.raises(WeChatError):
        api.send_subscribe_message("o-user", "TPL", {"thing1": "测试"})
    assert len([r for r in fake.requests if r["path"] == SEND]) == 1  # the outbox retries a send
