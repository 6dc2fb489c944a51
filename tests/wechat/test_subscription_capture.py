"""Issue 17 item 7: what ``wx.requestSubscribeMessage`` really returns is accepted (its errMsg,
the accept variants, templates the platform does not use), and long-term subscriptions are not
used up by a send."""

from __future__ import annotations

import sqlalchemy as sa

from backend.extensions import db
from miniprogram_api.models import MpSubscription
from tests.wechat.conftest import TEMPLATE_CASE, TEMPLATE_DEADLINE, TEMPLATE_REPORT
from tests.wechat.helpers import API, Person, auth, login
from tests.wechat.test_notifications import _accepted_objection, _deliver


def _signed_in(client, fake, openid="openid-capture") -> Person:
    person = Person("未核身", "", openid)
    person.token = login(client, fake, openid)
    return person


def _counts() -> dict[str, tuple[int, str]]:
    db.session.remove()
    rows = db.session.scalars(sa.select(MpSubscription)).all()
    return {row.template_id: (row.accepted_count, row.last_answer) for row in rows}


def test_the_raw_client_result_with_errmsg_is_recorded(client, fake):
    """Before: 422 answer_invalid for the whole batch ("requestSubscribeMessage:ok")."""
    person = _signed_in(client, fake)
    raw = {"errMsg": "requestSubscribeMessage:ok", TEMPLATE_CASE: "accept", TEMPLATE_REPORT: "reject"}
    response = client.post(f"{API}/subscriptions", json={"answers": raw}, headers=person.headers)
    assert response.status_code == 200, response.json
    assert response.json["ignored"] == []
    assert _counts() == {TEMPLATE_CASE: (1, "accept"), TEMPLATE_REPORT: (0, "reject")}


def test_accept_variants_are_consent(client, fake):
    """acceptWithAudio (voice reminder on) and acceptWithAlert: before, 422 for the batch."""
    person = _signed_in(client, fake)
    raw = {TEMPLATE_CASE: "acceptWithAudio", TEMPLATE_DEADLINE: "acceptWithAlert", TEMPLATE_REPORT: "ban"}
    response = client.post(f"{API}/subscriptions", json={"answers": raw}, headers=person.headers)
    assert response.status_code == 200, response.json
    assert _counts() == {
        TEMPLATE_CASE: (1, "acceptWithAudio"),
        TEMPLATE_DEADLINE: (1, "acceptWithAlert"),
        TEMPLATE_REPORT: (0, "ban"),
    }


def test_unknown_templates_and_answers_are_reported_not_fatal(client, fake):
    person = _signed_in(client, fake)
    raw = {"TPL-NOT-OURS": "accept", TEMPLATE_CASE: "accept", TEMPLATE_DEADLINE: "somethingNew"}
    response = client.post(f"{API}/subscriptions", json={"answers": raw}, headers=person.headers)
    assert response.status_code == 200, response.json
    assert sorted((i["template_id"], i["reason"]) for i in response.json["ignored"]) == [
        (TEMPLATE_DEADLINE, "unknown_answer"),
        ("TPL-NOT-OURS", "unknown_template"),
    ]
    assert _counts() == {TEMPLATE_CASE: (1, "accept")}  # nothing stored for a template not ours


def test_long_term_subscription_is_not_used_up_by_sends(client, fake, wechat_settings, monkeypatch):
    """政务民生 mini-programs: one acceptance, several state changes. Before: the first send
    used the acceptance up (accepted_count 0), the next message was not sent."""
    monkeypatch.setattr(wechat_settings, "WECHAT_LONG_TERM_SUBSCRIPTIONS", True)
    fake.accept_all_subscriptions = True  # WeChat keeps a long-term subscription too
    person, _number = _accepted_objection(client, fake)  # its "accepted" message is queued
    answered = client.post(f"{API}/subscriptions", json={"answers": {TEMPLATE_CASE: "accept"}}, headers=person.headers)
    assert answered.json["long_term"] is True
    # A second acceptance of a long-term template is no second grant.
    client.post(f"{API}/subscriptions", json={"answers": {TEMPLATE_CASE: "accept"}}, headers=person.headers)
    assert _counts() == {TEMPLATE_CASE: (1, "accept")}
    assert len(_deliver().delivered) == 1
    assert len(fake.subscribe_messages) == 1
    assert _counts() == {TEMPLATE_CASE: (1, "accept")}  # still subscribed
    # Turned off (the client reports reject): the subscription ends.
    client.post(f"{API}/subscriptions", json={"answers": {TEMPLATE_CASE: "reject"}}, headers=auth(person.token))
    assert _counts() == {TEMPLATE_CASE: (0, "reject")}
