"""The official account's callbacks: WeChat's published sample vectors, signatures, timestamps,
replayed nonces, and the replies."""

from __future__ import annotations

import hashlib
import time

import pytest
import sqlalchemy as sa
import xmltodict
from wechatpy.crypto import PrpCrypto, WeChatCrypto

from backend.extensions import db
from miniprogram_api import oa
from miniprogram_api.models import WeChatNonce
from tests.wechat.conftest import OA_AES_KEY, OA_APPID, OA_TOKEN
from tests.wechat.helpers import department, enterprise

# WeChat's message encryption samples (WXBizMsgCrypt, Java SDK test): token, key and AppId are
# those of tests/wechat/conftest.py.
SAMPLE_TIMESTAMP = "1409304348"
SAMPLE_NONCE = "xxxxxx"
SAMPLE_RANDOM = "aaaabbbbccccdddd"
SAMPLE_TEXT = "我是中文abcd123"
SAMPLE_TEXT_ENCRYPTED = "jn1L23DB+6ELqJ+6bruv21Y6MD7KeIfP82D6gU39rmkgczbWwt5+3bnyg5K55bgVtVzd832WzZGMhkP72vVOfg=="
SAMPLE_XML = (
    "<xml><ToUserName><![CDATA[oia2Tj我是中文jewbmiOUlr6X-1crbLOvLw]]></ToUserName><FromUserName>"
    "<![CDATA[gh_7f083739789a]]></FromUserName><CreateTime>1407743423</CreateTime><MsgType>"
    "<![CDATA[video]]></MsgType><Video><MediaId><![CDATA[eYJ1MbwPRJtOvIEabaxHs7TX2D-HV71s79GUxqdUkjm6Gs2Ed1KF3ulAOA9H1xG0]]>"
    "</MediaId><Title><![CDATA[testCallBackReplyVideo]]></Title><Description><![CDATA[testCallBackReplyVideo]]>"
    "</Description></Video></xml>"
)
SAMPLE_XML_ENCRYPTED = (
    "jn1L23DB+6ELqJ+6bruv23M2GmYfkv0xBh2h+XTBOKVKcgDFHle6gqcZ1cZrk3e1qjPQ1F4RsLWzQRG9udbKWesxlkupqcEcW7ZQweImX9+wLMa0"
    "GaUzpkycA8+IamDBxn5loLgZpnS7fVAbExOkK5DYHBmv5tptA9tklE/fTIILHR8HLXa5nQvFb3tYPKAlHF3rtTeayNf0QuM+UW/wM9enGIDIJHF7"
    "CLHiDNAYxr+r+OrJCmPQyTy8cVWlu9iSvOHPT/77bZqJucQHQ04sq7KZI27OcqpQNSto2OdHCoTccjggX5Z9Mma0nMJBU+jLKJ38YB1fBIz+vBzs"
    "YjrTmFQ44YfeEuZ+xRTQwr92vhA9OxchWVINGC50qE/6lmkwWTwGX9wtQpsJKhP+oS7rvTY8+VdzETdfakjkwQ5/Xka042OlUb1/slTwo4RscuQ+"
    "RdxSGvDahxAJ6+EAjLt9d8igHngxIbf6YyqqROxuxqIeIch3CssH/LqRs+iAcILvApYZckqmA7FNERspKA5f8GoJ9sv8xmGvZ9Yrf57cExWtnX8a"
    "CMMaBropU/1k+hKP5LVdzbWCG0hGwx/dQudYR/eXp3P0XxjlFiy+9DMlaFExWUZQDajPkdPrEeOwofJb"
)


def sig(*parts: str) -> str:
    return hashlib.sha1("".join(sorted(parts)).encode(), usedforsecurity=False).hexdigest()


@pytest.fixture
def aes_mode(wechat_settings, monkeypatch):
    monkeypatch.setattr(wechat_settings, "WECHAT_OA_AES_KEY", OA_AES_KEY)
    return wechat_settings


@pytest.fixture
def at_sample_time(monkeypatch):
    monkeypatch.setattr(oa, "now_epoch", lambda: float(SAMPLE_TIMESTAMP) + 10)


def post_encrypted(client, encrypted: str, *, timestamp=SAMPLE_TIMESTAMP, nonce=SAMPLE_NONCE, signature=None):
    body = f"<xml><ToUserName><![CDATA[toUser]]></ToUserName><Encrypt><![CDATA[{encrypted}]]></Encrypt></xml>"
    query = {
        "timestamp": timestamp,
        "nonce": nonce,
        "encrypt_type": "aes",
        "msg_signature": signature or sig(OA_TOKEN, timestamp, nonce, encrypted),
        "signature": sig(OA_TOKEN, timestamp, nonce),
        "openid": "gh_7f083739789a",
    }
    return client.post("/wechat/oa", query_string=query, data=body.encode(), content_type="text/xml")


def test_our_aes_matches_the_published_samples(monkeypatch):
    monkeypatch.setattr(PrpCrypto, "get_random_string", lambda self: SAMPLE_RANDOM)
    key = oa._aes_key(OA_AES_KEY)
    assert PrpCrypto(key).encrypt(SAMPLE_TEXT, OA_APPID).decode() == SAMPLE_TEXT_ENCRYPTED
    assert PrpCrypto(key).encrypt(SAMPLE_XML, OA_APPID).decode() == SAMPLE_XML_ENCRYPTED
    assert PrpCrypto(key).decrypt(SAMPLE_TEXT_ENCRYPTED, OA_APPID) == SAMPLE_TEXT


def test_published_sample_message_decrypts_and_verifies_through_the_endpoint(client, aes_mode, at_sample_time):
    response = post_encrypted(client, SAMPLE_XML_ENCRYPTED)
    # The sample is a video message: it opens and verifies, and needs no reply (issue 17 item 5).
    assert response.status_code == 200 and response.data == b"success"


def test_encrypted_text_gets_an_encrypted_signed_reply(client, aes_mode, at_sample_time):
    crypto = WeChatCrypto(OA_TOKEN, OA_AES_KEY, OA_APPID)
    sent = xmltodict.parse(crypto.encrypt_message(text_message("你好").decode(), SAMPLE_NONCE, SAMPLE_TIMESTAMP))
    response = post_encrypted(client, sent["xml"]["Encrypt"])
    assert response.status_code == 200
    reply = xmltodict.parse(response.data.decode())["xml"]
    assert reply["Nonce"] == SAMPLE_NONCE and reply["TimeStamp"] == SAMPLE_TIMESTAMP
    # Our reply is signed and encrypted the same way: WeChat's side can check and open it.
    assert reply["MsgSignature"] == sig(OA_TOKEN, SAMPLE_TIMESTAMP, SAMPLE_NONCE, reply["Encrypt"])
    plain = xmltodict.parse(crypto.decrypt_message(response.data.decode(), reply["MsgSignature"], SAMPLE_TIMESTAMP,
                                                   SAMPLE_NONCE))["xml"]  # fmt: skip
    # The help text, addressed back to its sender.
    assert plain["ToUserName"] == "o-follower"
    assert plain["FromUserName"] == "gh_platform"
    assert plain["MsgType"] == "text"
    assert "查询" in plain["Content"] and "核验" in plain["Content"]


def test_published_plain_text_sample_decrypts_and_is_not_a_message(client, aes_mode, at_sample_time):
    response = post_encrypted(client, SAMPLE_TEXT_ENCRYPTED)
    assert response.status_code == 400  # its plaintext is not XML: refused, nothing answered
    assert response.data != b"success"


def test_a_message_for_another_appid_is_refused(client, aes_mode, at_sample_time, monkeypatch):
    monkeypatch.setattr(aes_mode, "WECHAT_OA_APPID", "wx0000000000000000")
    assert post_encrypted(client, SAMPLE_XML_ENCRYPTED).status_code == 400


def test_wrong_signature_is_refused(client, aes_mode, at_sample_time):
    response = post_encrypted(client, SAMPLE_XML_ENCRYPTED, signature="0" * 40)
    assert response.status_code == 403
    assert b"signature" in response.data


def test_old_timestamp_is_refused(client, aes_mode):
    # The sample's own timestamp (2014) is far outside the window at the real time.
    response = post_encrypted(client, SAMPLE_XML_ENCRYPTED)
    assert response.status_code == 403
    assert b"timestamp" in response.data


def test_replayed_nonce_is_refused(client, aes_mode, at_sample_time):
    """The same (timestamp, nonce) with another message is a replay; the same request again
    is WeChat's retry, answered ``success`` (see test_wechat_retry_of_the_same_request_...)."""
    crypto = WeChatCrypto(OA_TOKEN, OA_AES_KEY, OA_APPID)
    first = xmltodict.parse(crypto.encrypt_message(text_message("你好").decode(), SAMPLE_NONCE, SAMPLE_TIMESTAMP))
    other = xmltodict.parse(crypto.encrypt_message(text_message("查询").decode(), SAMPLE_NONCE, SAMPLE_TIMESTAMP))
    assert post_encrypted(client, first["xml"]["Encrypt"]).status_code == 200
    replay = post_encrypted(client, other["xml"]["Encrypt"])
    assert replay.status_code == 403
    assert b"replayed" in replay.data


def test_aes_mode_refuses_plain_messages(client, aes_mode):
    ts, nonce = str(int(time.time())), "n-plain"
    response = client.post(
        "/wechat/oa",
        query_string={"timestamp": ts, "nonce": nonce, "signature": sig(OA_TOKEN, ts, nonce)},
        data=b"<xml><MsgType>text</MsgType></xml>",
    )
    assert response.status_code == 403


# --- plain mode ----------------------------------------------------------------------------


_msg_ids = iter(range(1234567890123456, 1234567890133456))


def text_message(content: str, *, msg_type: str = "text", extra: str = "", msg_id: int | None = None) -> bytes:
    msg_id = next(_msg_ids) if msg_id is None else msg_id  # each message its own MsgId, as WeChat's
    return (
        "<xml><ToUserName><![CDATA[gh_platform]]></ToUserName><FromUserName><![CDATA[o-follower]]></FromUserName>"
        f"<CreateTime>{int(time.time())}</CreateTime><MsgType><![CDATA[{msg_type}]]></MsgType>"
        f"<Content><![CDATA[{content}]]></Content>{extra}<MsgId>{msg_id}</MsgId></xml>"
    ).encode()


_nonce = iter(range(10_000))


def post_plain(client, body: bytes):
    ts, nonce = str(int(time.time())), f"nonce-{next(_nonce)}"
    return client.post(
        "/wechat/oa",
        query_string={"timestamp": ts, "nonce": nonce, "signature": sig(OA_TOKEN, ts, nonce), "openid": "o-follower"},
        data=body,
        content_type="text/xml",
    )


def reply_text(response) -> str:
    assert response.status_code == 200, response.data
    return xmltodict.parse(response.data.decode())["xml"]["Content"]


def test_get_echo_with_signature(client):
    ts, nonce = str(int(time.time())), "echo-nonce"
    ok = client.get(
        "/wechat/oa", query_string={"timestamp": ts, "nonce": nonce, "signature": sig(OA_TOKEN, ts, nonce),
                                    "echostr": "hello-123"}
    )  # fmt: skip
    assert ok.status_code == 200 and ok.data == b"hello-123"
    bad = client.get("/wechat/oa", query_string={"timestamp": ts, "nonce": nonce, "signature": "x", "echostr": "e"})
    assert bad.status_code == 403


def test_subscribe_event_gets_the_welcome(client):
    body = (
        "<xml><ToUserName><![CDATA[gh_platform]]></ToUserName><FromUserName><![CDATA[o-follower]]></FromUserName>"
        f"<CreateTime>{int(time.time())}</CreateTime><MsgType><![CDATA[event]]></MsgType>"
        "<Event><![CDATA[subscribe]]></Event></xml>"
    ).encode()
    assert "欢迎关注" in reply_text(post_plain(client, body))


def test_menu_click(client):
    body = (
        "<xml><ToUserName><![CDATA[gh_platform]]></ToUserName><FromUserName><![CDATA[o-follower]]></FromUserName>"
        f"<CreateTime>{int(time.time())}</CreateTime><MsgType><![CDATA[event]]></MsgType>"
        "<Event><![CDATA[CLICK]]></Event><EventKey><![CDATA[VERIFY_HELP]]></EventKey></xml>"
    ).encode()
    assert "核验 报告编号" in reply_text(post_plain(client, body))


def test_query_command_summarises_an_enterprise(client):
    dept = department()
    company = enterprise(dept, "王建国", name="金昌市永昌县明达商贸有限公司")
    uscc = company.uscc
    db.session.commit()
    text = reply_text(post_plain(client, text_message("查询 明达商贸")))
    assert "金昌市永昌县明达商贸有限公司" in text
    assert uscc in text
    assert "行政处罚 1 条" in text
    assert f"http://credit.test/subjects/{uscc}" in text
    assert "未找到" in reply_text(post_plain(client, text_message("查询 不存在的公司名称")))
    assert "请在“查询”后输入" in reply_text(post_plain(client, text_message("查询")))


def test_verify_command_tells_the_report_status(client):
    from backend.actors import Actor
    from backend.issued_reports.operations import issue_report, revoke_report
    from backend.staff.models import StaffRole, StaffUser

    dept = department()
    company = enterprise(dept, "王建国")
    issued = issue_report(Actor.cli("test"), company, "enterprise")
    number = issued.report.number
    db.session.commit()
    text = reply_text(post_plain(client, text_message(f"核验 {number.lower()}")))
    assert number in text and "登记状态：有效" in text
    admin = StaffUser(username="a", display_name="a", password_hash="x", role=StaffRole.PLATFORM_ADMIN)
    db.session.add(admin)
    db.session.flush()
    revoke_report(Actor.staff(admin), issued.report, "信息有误")
    db.session.commit()
    text = reply_text(post_plain(client, text_message(f"核验 {number}")))
    assert "登记状态：已撤销" in text and "信息有误" not in text  # the reason may tell of the subject
    assert "未找到编号" in reply_text(post_plain(client, text_message("核验 JCXY-20260101-0000000000")))
    assert "请在“核验”后输入" in reply_text(post_plain(client, text_message("核验")))


def test_verify_command_tells_a_persons_report_facts_only_with_its_code(client, monkeypatch):
    """Issue 14 item 9: ``核验 <number>`` alone gave the masked name of the report's subject."""
    from backend.actors import Actor
    from backend.audit.models import AuditEvent
    from backend.issued_reports import operations as report_ops
    from backend.pii import mask_id_number, mask_name
    from backend.records.operations import find_natural_subject
    from tests.factories import make_id_number, record_input, write_records

    id_number = make_id_number(731)
    write_records(record_input(department(), uscc=None, id_number=id_number, subject_name="赵丽娟"))
    db.session.flush()
    person = find_natural_subject(id_number)
    monkeypatch.setattr(report_ops, "new_verification_code", lambda: "ABCD-2345")
    issued = report_ops.issue_report(Actor.citizen(person.id, "mp"), person, "personal")
    number = issued.report.number
    db.session.commit()
    facts = (mask_name("赵丽娟"), mask_id_number(id_number), "个人公共信用信息报告")

    text = reply_text(post_plain(client, text_message(f"核验 {number}")))
    assert number in text and "登记状态：有效" in text and "验证码" in text
    assert not any(fact in text for fact in facts)
    wrong = reply_text(post_plain(client, text_message(f"核验 {number} ABCD-2346")))
    assert "验证码不正确" in wrong and not any(fact in wrong for fact in facts)
    assert db.session.scalar(sa.select(sa.func.count()).select_from(AuditEvent).where(
        AuditEvent.action == "report.verify")) == 0  # fmt: skip

    text = reply_text(post_plain(client, text_message(f"核验 {number.lower()} abcd 2345")))
    assert mask_name("赵丽娟") in text and "个人公共信用信息报告" in text and "状态：有效" in text
    views = db.session.scalars(sa.select(AuditEvent).where(AuditEvent.action == "report.verify")).all()
    assert [(v.subject_id, v.details["via"]) for v in views] == [(person.id, "oa")]


def test_anything_else_gets_help(client):
    assert "可以这样使用" in reply_text(post_plain(client, text_message("你好")))


def test_oversized_and_entity_bodies_are_refused(client, wechat_settings, monkeypatch):
    monkeypatch.setattr(wechat_settings, "WECHAT_OA_MAX_BODY_BYTES", 1024)
    assert post_plain(client, text_message("x" * 2000)).status_code == 413
    evil = b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e "boom">]><xml><MsgType>text</MsgType></xml>'
    response = post_plain(client, evil)
    assert response.status_code == 400 and b"success" not in response.data  # not parsed, nothing answered


# --- issue 17 items 5 and 6: events that need no reply, WeChat's retries ------------------


def event_message(event: str, extra: str = "", *, sender: str = "o-follower", created: int | None = None) -> bytes:
    return (
        f"<xml><ToUserName><![CDATA[gh_platform]]></ToUserName><FromUserName><![CDATA[{sender}]]></FromUserName>"
        f"<CreateTime>{created or int(time.time())}</CreateTime><MsgType><![CDATA[event]]></MsgType>"
        f"<Event><![CDATA[{event}]]></Event>{extra}</xml>"
    ).encode()


@pytest.mark.parametrize(
    "body",
    [
        event_message("unsubscribe"),
        event_message("VIEW", "<EventKey><![CDATA[http://credit.test/verify]]></EventKey><MenuId>1</MenuId>"),
        event_message("view_miniprogram", "<EventKey><![CDATA[pages/index/index]]></EventKey><MenuId>1</MenuId>"),
        event_message("LOCATION", "<Latitude>38.5</Latitude><Longitude>102.2</Longitude><Precision>65</Precision>"),
        event_message("TEMPLATESENDJOBFINISH", "<MsgID>200163836</MsgID><Status><![CDATA[success]]></Status>"),
        event_message("SCAN", "<EventKey><![CDATA[123]]></EventKey><Ticket><![CDATA[t]]></Ticket>"),
        event_message("some_future_event"),
        event_message("CLICK", "<EventKey><![CDATA[NOT_OUR_KEY]]></EventKey>"),
        text_message("", msg_type="image", extra="<PicUrl><![CDATA[http://x/p.jpg]]></PicUrl>"),
    ],
    ids=["unsubscribe", "VIEW", "view_miniprogram", "LOCATION", "TEMPLATESENDJOBFINISH", "SCAN", "unknown",
         "foreign_click", "image"],
)  # fmt: skip
def test_events_that_need_no_reply_are_answered_success(client, body):
    """Issue 17 item 5: these got the help text, a message the follower never asked for."""
    response = post_plain(client, body)
    assert response.status_code == 200
    assert response.data == b"success"


def test_our_menu_clicks_subscribe_and_text_still_get_replies(client):
    assert "核验 报告编号" in reply_text(
        post_plain(client, event_message("CLICK", "<EventKey><![CDATA[VERIFY_HELP]]></EventKey>"))
    )
    assert "欢迎关注" in reply_text(post_plain(client, event_message("subscribe")))
    assert "可以这样使用" in reply_text(post_plain(client, text_message("帮助")))


def post_fixed(client, body: bytes, ts: str, nonce: str):
    query = {"timestamp": ts, "nonce": nonce, "signature": sig(OA_TOKEN, ts, nonce), "openid": "o-follower"}
    return client.post("/wechat/oa", query_string=query, data=body, content_type="text/xml")


def test_wechat_retry_of_the_same_request_gets_success_not_403(client):
    """Issue 17 item 6: WeChat re-sends the same request after 5 s without an answer; it was
    refused as a replayed nonce (403: the follower saw "该公众号暂时无法提供服务")."""
    ts, body = str(int(time.time())), text_message("你好")
    assert "可以这样使用" in reply_text(post_fixed(client, body, ts, "retry-nonce-1"))
    for _ in range(3):
        retry = post_fixed(client, body, ts, "retry-nonce-1")
        assert retry.status_code == 200 and retry.data == b"success"


def test_a_retry_with_a_new_nonce_is_deduplicated_by_msg_id(client):
    body = text_message("查询 某某", msg_id=9_000_000_000_000_001)
    assert post_plain(client, body).status_code == 200
    again = post_plain(client, body)  # new timestamp and nonce, the same MsgId
    assert again.status_code == 200 and again.data == b"success"
    # Another message is answered as usual.
    assert "可以这样使用" in reply_text(post_plain(client, text_message("你好")))


def test_events_are_deduplicated_by_sender_and_create_time(client):
    created = int(time.time())
    assert "欢迎关注" in reply_text(post_plain(client, event_message("subscribe", created=created)))
    assert post_plain(client, event_message("subscribe", created=created)).data == b"success"
    # Another follower at the same second is another event.
    other = event_message("subscribe", sender="o-other", created=created)
    assert "欢迎关注" in reply_text(post_plain(client, other))


def test_an_answer_later_than_the_budget_goes_out_as_a_customer_service_message(client, fake, monkeypatch):
    from backend.outbox.models import OutboxEvent
    from backend.outbox.worker import deliver_pending

    clock = iter([100.0, 106.0])  # the answer took 6 s: WeChat has stopped waiting
    monkeypatch.setattr(oa, "monotonic", lambda: next(clock))
    response = post_plain(client, text_message("你好"))
    assert response.status_code == 200 and response.data == b"success"
    events = db.session.scalars(sa.select(OutboxEvent).where(OutboxEvent.topic == oa.OA_REPLY_TOPIC)).all()
    assert len(events) == 1 and events[0].payload["openid"] == "o-follower"
    deliver_pending({oa.OA_REPLY_TOPIC: oa.handle_custom_reply})
    assert len(fake.custom_messages) == 1
    sent = fake.custom_messages[0]
    assert sent["touser"] == "o-follower" and sent["msgtype"] == "text"
    assert "可以这样使用" in sent["text"]["content"]


def test_duplicates_are_shared_through_redis(client, wechat_settings, monkeypatch, app):
    """With Redis configured the stores live there (shared by every gunicorn worker)."""
    import uuid

    from tests.wechat.test_client import _redis

    _redis()
    monkeypatch.setattr(wechat_settings, "REDIS_URL", "redis://127.0.0.1:6379/15")
    monkeypatch.delitem(app.extensions, "wechat_token_store", raising=False)
    # Redis outlives the test run: MsgIds of their own, not the sequence other runs used.
    ts, nonce = str(int(time.time())), f"redis-{uuid.uuid4().hex}"
    body = text_message("你好", msg_id=uuid.uuid4().int % 10**18)
    assert "可以这样使用" in reply_text(post_fixed(client, body, ts, nonce))
    assert post_fixed(client, body, ts, nonce).data == b"success"
    other = text_message("查询", msg_id=uuid.uuid4().int % 10**18)
    assert post_fixed(client, other, ts, nonce).status_code == 403  # a replay
    assert db.session.scalar(sa.select(sa.func.count()).select_from(WeChatNonce)) == 0  # nothing in the DB
