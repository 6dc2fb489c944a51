"""Issue 17 item 7: the mini-program message push (/wechat/mp/push) keeps the users'
subscription state from WeChat's subscribe events, in JSON and XML, plain and safe (AES)
mode, checked like the official account's callbacks. Pushes are built by
``fake_wechat.build_push`` exactly as WeChat signs and encrypts them."""

from __future__ import annotations

import time

import pytest
import sqlalchemy as sa

from backend.extensions import db
from miniprogram_api.fake_wechat import build_push
from miniprogram_api.models import MpSubscription
from tests.wechat.conftest import MP_APPID, OA_AES_KEY, TEMPLATE_CASE, TEMPLATE_REPORT
from tests.wechat.helpers import API, login

PUSH_TOKEN = "push-token-for-tests"
URL = "/wechat/mp/push"


@pytest.fixture
def push(wechat_settings, monkeypatch):
    monkeypatch.setattr(wechat_settings, "WECHAT_MP_PUSH_TOKEN", PUSH_TOKEN)
    monkeypatch.setattr(wechat_settings, "WECHAT_MP_PUSH_AES_KEY", "")
    return wechat_settings


@pytest.fixture
def safe_mode(push, monkeypatch):
    monkeypatch.setattr(push, "WECHAT_MP_PUSH_AES_KEY", OA_AES_KEY)
    return push


_seconds = iter(range(10_000))


def event(openid: str, name: str, items: list[dict], created: int | None = None) -> dict:
    return {
        "ToUserName": "gh_miniprogram",
        "FromUserName": openid,
        "CreateTime": str(created or int(time.time()) + next(_seconds)),
        "MsgType": "event",
        "Event": name,
        "List": items,
    }


def popup(openid: str, template_id: str, status: str = "accept", **kw) -> dict:
    items = [{"TemplateId": template_id, "SubscribeStatusString": status, "PopupScene": "0"}]
    return event(openid, "subscribe_msg_popup_event", items, **kw)


def send(client, message: dict, *, fmt: str = "json", aes: bool = False, **kw):
    query, body, content_type = build_push(
        message, token=PUSH_TOKEN, appid=MP_APPID, aes_key=OA_AES_KEY if aes else "", fmt=fmt, **kw
    )
    return client.post(URL, query_string=query, data=body, content_type=content_type)


def counts(openid_user_id=None) -> dict[str, tuple[int, str]]:
    db.session.remove()
    return {r.template_id: (r.accepted_count, r.last_answer) for r in db.session.scalars(sa.select(MpSubscription))}


@pytest.fixture
def user(client, fake):
    openid = "openid-push"
    return openid, login(client, fake, openid)


def test_url_check_echoes_echostr(client, push):
    query, _, _ = build_push({}, token=PUSH_TOKEN, appid=MP_APPID)
    ok = client.get(URL, query_string={**query, "echostr": "e-123"})
    assert ok.status_code == 200 and ok.data == b"e-123"
    assert client.get(URL, query_string={**query, "signature": "0" * 40, "echostr": "e"}).status_code == 403


@pytest.mark.parametrize("fmt", ["json", "xml"])
def test_popup_event_in_plain_mode_counts_the_grant(client, push, user, fmt):
    openid, _ = user
    response = send(client, popup(openid, TEMPLATE_CASE), fmt=fmt)
    assert response.status_code == 200 and response.data == b"success"
    assert counts() == {TEMPLATE_CASE: (1, "accept")}


@pytest.mark.parametrize("fmt", ["json", "xml"])
def test_popup_event_in_safe_mode_counts_the_grant(client, safe_mode, user, fmt):
    openid, _ = user
    message = event(
        openid,
        "subscribe_msg_popup_event",
        [
            {"TemplateId": TEMPLATE_CASE, "SubscribeStatusString": "accept", "PopupScene": "0"},
            {"TemplateId": TEMPLATE_REPORT, "SubscribeStatusString": "reject", "PopupScene": "0"},
            {"TemplateId": "TPL-NOT-OURS", "SubscribeStatusString": "accept", "PopupScene": "0"},
        ],
    )
    response = send(client, message, fmt=fmt, aes=True)
    assert response.status_code == 200 and response.data == b"success"
    assert counts() == {TEMPLATE_CASE: (1, "accept"), TEMPLATE_REPORT: (0, "reject")}


def test_safe_mode_refuses_plain_bad_signatures_and_other_appids(client, safe_mode, user, monkeypatch):
    openid, _ = user
    assert send(client, popup(openid, TEMPLATE_CASE)).status_code == 403  # plain while AES is set
    query, body, ctype = build_push(popup(openid, TEMPLATE_CASE), token=PUSH_TOKEN, appid=MP_APPID, aes_key=OA_AES_KEY)
    bad = client.post(URL, query_string={**query, "msg_signature": "0" * 40}, data=body, content_type=ctype)
    assert bad.status_code == 403
    other = send(client, popup(openid, TEMPLATE_CASE), aes=True, nonce="n-other")
    monkeypatch.setattr(safe_mode, "WECHAT_MP_APPID", "wx0000000000000000")
    query, body, ctype = build_push(popup(openid, TEMPLATE_CASE), token=PUSH_TOKEN, appid=MP_APPID, aes_key=OA_AES_KEY)
    assert client.post(URL, query_string=query, data=body, content_type=ctype).status_code == 400
    assert other.status_code == 200
    stale = send(client, popup(openid, TEMPLATE_REPORT), aes=True, timestamp=str(int(time.time()) - 3600))
    assert stale.status_code == 403


def test_a_retried_push_counts_once(client, push, user):
    openid, _ = user
    message = popup(openid, TEMPLATE_CASE)
    query, body, ctype = build_push(message, token=PUSH_TOKEN, appid=MP_APPID)
    for _ in range(3):
        response = client.post(URL, query_string=query, data=body, content_type=ctype)
        assert response.status_code == 200 and response.data == b"success"
    assert send(client, message).data == b"success"  # the same event with a new nonce
    assert counts() == {TEMPLATE_CASE: (1, "accept")}


def test_change_event_turns_a_subscription_off(client, push, user):
    openid, _ = user
    send(client, popup(openid, TEMPLATE_CASE))
    send(client, popup(openid, TEMPLATE_CASE))
    assert counts() == {TEMPLATE_CASE: (2, "accept")}
    change = event(
        openid, "subscribe_msg_change_event", {"TemplateId": TEMPLATE_CASE, "SubscribeStatusString": "reject"}
    )
    assert send(client, change, fmt="xml").data == b"success"
    assert counts() == {TEMPLATE_CASE: (0, "reject")}


def test_sent_event_changes_nothing(client, push, user):
    openid, _ = user
    send(client, popup(openid, TEMPLATE_CASE))
    sent = event(
        openid,
        "subscribe_msg_sent_event",
        {"TemplateId": TEMPLATE_CASE, "MsgID": "1700827132819554304", "ErrorCode": "0", "ErrorStatus": "success"},
    )
    assert send(client, sent).data == b"success"
    assert counts() == {TEMPLATE_CASE: (1, "accept")}


def test_with_the_push_configured_the_client_report_does_not_count_twice(client, push, user):
    openid, token = user
    send(client, popup(openid, TEMPLATE_CASE))
    reported = client.post(
        f"{API}/subscriptions",
        json={"answers": {"errMsg": "requestSubscribeMessage:ok", TEMPLATE_CASE: "accept"}},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert reported.status_code == 200
    assert counts() == {TEMPLATE_CASE: (1, "accept")}


def test_unknown_users_and_other_pushes_are_answered_success(client, push):
    assert send(client, popup("openid-never-signed-in", TEMPLATE_CASE)).data == b"success"
    other = {"ToUserName": "gh_x", "FromUserName": "o-x", "CreateTime": "1", "MsgType": "text", "Content": "hi"}
    assert send(client, other).data == b"success"
    assert counts() == {}


def test_not_configured_is_503_and_malformed_is_400(client, wechat_settings, push, monkeypatch):
    query, _, _ = build_push({}, token=PUSH_TOKEN, appid=MP_APPID)
    assert client.post(URL, query_string=query, data=b"not json or xml").status_code == 400
    evil = b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e "boom">]><xml><Event>&e;</Event></xml>'
    assert client.post(URL, query_string=query, data=evil).status_code == 400
    monkeypatch.setattr(wechat_settings, "WECHAT_MP_PUSH_TOKEN", "")
    assert client.post(URL, query_string=query, data=b"{}").status_code == 503
