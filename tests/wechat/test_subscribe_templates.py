"""Subscribe-message templates: keywords and pages are settings from the environment, checked
at start; the fake refuses what WeChat refuses (keywords not in the template, values beyond
their type's limits, unknown pages, no subscription); the sender cuts values to the limits."""

from __future__ import annotations

import base64

import pytest
import sqlalchemy as sa

from backend.config import ConfigError, load_settings
from backend.extensions import db
from backend.outbox.worker import deliver_pending
from backend.workflows.objections.models import Objection
from backend.workflows.objections.operations import accept_objection
from miniprogram_api.client import WeChatError, mp_api
from miniprogram_api.models import MessageAttempt, MessageAttemptStatus
from miniprogram_api.notifications import CASE_TOPICS, handle_case_event, shape_value
from tests.wechat.conftest import MP_PAGES, TEMPLATE_CASE
from tests.wechat.helpers import Staff, department, file_objection, person_record, verified_person

SEND = "cgi-bin/message/subscribe/send"
ENV = {
    "SECRET_KEY": "s" * 40,
    "PII_ENCRYPTION_KEYS": "p1:" + base64.b64encode(b"\x05" * 32).decode(),
    "PII_HASH_KEY": "hash",
}
# A template as another deployment might pick it in the console: other keywords, other order.
CUSTOM_KEYWORDS = "thing1:case_type,character_string7:number,phrase2:progress,time3:time,phrase9:note"


def _accepted_objection(client, fake):
    dept = department()
    staff = Staff(dept)
    person = verified_person(client, fake, "张明华", 601)
    record = person_record(dept, person)
    record_id = record.id
    db.session.commit()
    number = file_objection(client, person, record_id)["number"]
    objection = db.session.scalar(sa.select(Objection).where(Objection.number == number))
    accept_objection(staff.actor(staff.admin), objection)
    db.session.commit()
    return person, number


def _deliver():
    db.session.remove()
    return deliver_pending(dict.fromkeys(CASE_TOPICS, handle_case_event), backoff_base_seconds=30)


def _attempts() -> list[MessageAttempt]:
    db.session.remove()
    return list(db.session.scalars(sa.select(MessageAttempt).order_by(MessageAttempt.id)))


def _from_environment(tmp_path, monkeypatch, settings, **env: str) -> None:
    """Load the settings as gunicorn's create_app() does (environment only) and use the WeChat
    template settings so loaded."""
    loaded = load_settings(tmp_path, environ={**ENV, **env})
    for name in env:
        monkeypatch.setattr(settings, name, getattr(loaded, name))


def test_keywords_and_page_come_from_the_environment(client, fake, wechat_settings, tmp_path, monkeypatch):
    _from_environment(
        tmp_path,
        monkeypatch,
        wechat_settings,
        WECHAT_TEMPLATE_FIELDS_CASE_PROGRESS=CUSTOM_KEYWORDS,
        WECHAT_PAGE_CASE_DETAIL="pages/cases/show",
    )
    fake.set_templates(
        {TEMPLATE_CASE: ["thing1", "character_string7", "phrase2", "time3", "phrase9"]},
        pages={*MP_PAGES, "pages/cases/show"},
    )
    person, number = _accepted_objection(client, fake)
    fake.grant_subscription(person.openid, TEMPLATE_CASE)
    assert _deliver().delivered
    (message,) = fake.subscribe_messages
    data = {key: value["value"] for key, value in message["data"].items()}
    assert data["thing1"] == "异议申诉" and data["character_string7"] == number and data["phrase2"] == "已受理"
    assert data["time3"].count("年") == 1  # 2026年12月3日 17:40, the documented format
    assert 1 <= len(data["phrase9"]) <= 5  # a long note cut to a phrase of Chinese characters
    assert message["page"] == f"pages/cases/show?type=objection&number={number}"
    assert [a.status for a in _attempts()] == [MessageAttemptStatus.SENT]


def test_default_keywords_against_another_template_are_47003_and_recorded(client, fake):
    fake.set_templates({TEMPLATE_CASE: ["thing1", "character_string7", "phrase2", "time3"]}, pages=MP_PAGES)
    person, _ = _accepted_objection(client, fake)
    fake.grant_subscription(person.openid, TEMPLATE_CASE)
    assert _deliver().retrying
    (attempt,) = _attempts()
    assert attempt.status is MessageAttemptStatus.FAILED and attempt.errcode == 47003
    assert fake.subscribe_messages == []


def test_a_page_the_mini_program_does_not_have_is_41030(client, fake):
    fake.set_templates(
        {TEMPLATE_CASE: ["character_string1", "thing2", "phrase3", "thing4", "time5"]}, pages={"pages/index/index"}
    )
    person, _ = _accepted_objection(client, fake)
    fake.grant_subscription(person.openid, TEMPLATE_CASE)
    assert _deliver().retrying
    assert [a.errcode for a in _attempts()] == [41030]


@pytest.mark.parametrize(
    ("env", "named"),
    [
        ({"WECHAT_TEMPLATE_FIELDS_CASE_PROGRESS": "thingy1:number"}, "WECHAT_TEMPLATE_FIELDS_CASE_PROGRESS"),
        ({"WECHAT_TEMPLATE_FIELDS_REPORT_READY": "thing1:citizen_name"}, "WECHAT_TEMPLATE_FIELDS_REPORT_READY"),
        ({"WECHAT_TEMPLATE_FIELDS_DEADLINE": "thing1:item,thing1:note"}, "WECHAT_TEMPLATE_FIELDS_DEADLINE"),
        ({"WECHAT_TEMPLATE_FIELDS_DEADLINE": "thing1"}, "WECHAT_TEMPLATE_FIELDS_DEADLINE"),
        ({"WECHAT_PAGE_CASE_DETAIL": "/pages/case/detail?x=1"}, "WECHAT_PAGE_CASE_DETAIL"),
    ],
)
def test_a_wrong_template_setting_stops_the_start_naming_it(tmp_path, env, named):
    with pytest.raises(ConfigError, match=named):
        load_settings(tmp_path, environ={**ENV, **env})


SENDS = [
    ({"thing1": "一" * 21}, 47003),  # thing: 20 characters at most
    ({"thing1": "一" * 20, "thing2": "x"}, 47003),  # a keyword the template does not have
    ({}, 47003),
]


def test_the_fake_refuses_what_wechat_refuses(fake):
    fake.accept_all_subscriptions = True
    fake.set_templates(
        {"T1": ["thing1"], "T2": ["phrase1", "character_string2", "time3", "date4", "name5"]}, pages=MP_PAGES
    )
    api = mp_api()
    for data, errcode in SENDS:
        with pytest.raises(WeChatError) as info:
            api.send_subscribe_message("o-user", "T1", data)
        assert info.value.errcode == errcode, data
    good = {"phrase1": "已受理", "character_string2": "YY-2026-000001", "time3": "2026年12月3日 15:01"}
    good |= {"date4": "2026年12月3日", "name5": "张明华"}
    bad_values = {
        "phrase1": "accepted",  # phrase: up to 5 Chinese characters
        "character_string2": "编号0001",  # character_string: digits, letters, symbols
        "time3": "下午三点",
        "date4": "12/03/2026",
        "name5": "张" * 11,
    }
    for key, bad in bad_values.items():
        with pytest.raises(WeChatError) as info:
            api.send_subscribe_message("o-user", "T2", {**good, key: bad})
        assert info.value.errcode == 47003 and key in (info.value.errmsg or ""), key
    with pytest.raises(WeChatError) as info:
        api.send_subscribe_message("o-user", "T2", good, page="pages/nowhere?x=1")
    assert info.value.errcode == 41030
    with pytest.raises(WeChatError) as info:
        api.send_subscribe_message("o-user", "T9", good)
    assert info.value.errcode == 40037
    api.send_subscribe_message("o-user", "T2", good, page="pages/case/detail?number=1")
    fake.accept_all_subscriptions = False
    with pytest.raises(WeChatError) as info:
        api.send_subscribe_message("o-user", "T2", good)
    assert info.value.errcode == 43101
    assert len(fake.subscribe_messages) == 1


def test_values_are_cut_to_their_keyword_type():
    enterprise = "金昌市金川区某某新能源材料科技股份有限公司第一分公司"
    assert shape_value("thing3", enterprise) == enterprise[:19] + "…"
    assert shape_value("character_string1", "YY-2026-000001 编号") == "YY-2026-000001"
    assert len(shape_value("character_string1", "A" * 40)) == 32
    assert shape_value("phrase3", "已受理（线上）") == "已受理线上"
    assert shape_value("time5", "2026-12-03 09:05") == "2026年12月3日 09:05"
    assert shape_value("date5", "2026-12-03") == "2026年12月3日"
    assert shape_value("name1", "张" * 12) == "张" * 9 + "…"
