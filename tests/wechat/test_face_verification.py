"""WeChat face verification 2.0 (issue 17, items 1 and 4).

The sequence these tests exercise, as WeChat documents it
(https://developers.weixin.qq.com/miniprogram/dev/server/API/face/api_getverifyid,
.../api_queryverifyinfo):

1. page -> POST /api/mp/v1/identity/verification {name, id_number}
   server -> POST cityservice/face/identify/getverifyid
             {out_seq_no, cert_info: {cert_type: IDENTITY_CARD, cert_name, cert_no}, openid}
   WeChat -> {errcode: 0, verify_id, expires_in: 3600};  page <- 201 {verify_id, expires_at}
2. page -> wx.requestFacialVerify({verifyId})  (played here by ``fake.facial_verify``)
3. page -> POST /api/mp/v1/identity/verification/finish {verify_id}
   server -> POST cityservice/face/identify/queryverifyinfo {verify_id, out_seq_no, cert_hash, openid}
   WeChat -> {errcode: 0, verify_ret: 10000};  page <- 200 /me (verified)
"""

from __future__ import annotations

import datetime as dt
import logging
import re

import pytest
import sqlalchemy as sa
from prometheus_client.parser import text_string_to_metric_families
from test_staff_auth import login_as

from backend.citizens.models import FaceVerification, FaceVerifySession, WeChatUser
from backend.extensions import db
from backend.staff.models import StaffRole
from backend.subjects.models import NameSource
from miniprogram_api.client import WeChatError, mp_api
from miniprogram_api.demo_flow import DEMO_ID_NUMBER, DEMO_NAME, run_demo_flow
from miniprogram_api.face import cert_hash
from miniprogram_api.models import WeChatConfigError
from tests.factories import make_id_number
from tests.wechat.conftest import MP_APPID
from tests.wechat.helpers import API, Person, face_verify, finish_verification, login, start_verification


def _person(client, fake, n: int, name: str = "张明华") -> Person:
    person = Person(name, make_id_number(n), f"o-face-{n}")
    person.token = login(client, fake, person.openid)
    return person


def _calls(fake, name: str) -> list[dict]:
    return [r for r in fake.requests if r["path"] == f"cityservice/face/identify/{name}"]


def _config_errors(client, errcode: str) -> float:
    text = client.get("/metrics", environ_base={"REMOTE_ADDR": "127.0.0.1"}).get_data(as_text=True)
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == "credit_wechat_config_errors_total" and sample.labels.get("errcode") == errcode:
                return sample.value
    return 0.0


def test_cert_hash_matches_wechats_worked_example():
    # api_queryverifyinfo, 注意事项: base64 of each field, joined, SHA-256, lower-case hex.
    assert (
        cert_hash("IDENTITY_CARD", "张三", "310101199801011234")
        == "3c241f7ff324977aeb91f173bb2a7b06569e6fd784d5573db34a636d8671108b"
    )


def test_happy_path_follows_the_documented_sequence(client, fake):
    person = _person(client, fake, 501)
    started = start_verification(client, person)
    assert started.status_code == 201, started.json
    verify_id = started.json["verify_id"]
    (ask,) = _calls(fake, "getverifyid")
    body = ask["json"]
    assert body["cert_info"] == {"cert_type": "IDENTITY_CARD", "cert_name": person.name, "cert_no": person.id_number}
    assert body["openid"] == person.openid
    assert re.fullmatch(r"[0-9A-Za-z_-]{5,32}", body["out_seq_no"])
    assert ask["query"].get("access_token")
    # The verify_id is valid for WeChat's 3600 s, kept hashed, the claim encrypted.
    session = db.session.scalar(sa.select(FaceVerifySession))
    assert 3590 <= (session.expires_at - session.created_at).total_seconds() <= 3600
    assert verify_id not in session.verify_id_hash and session.out_seq_no == body["out_seq_no"]
    assert person.name not in session.claim_encrypted and person.id_number not in session.claim_encrypted

    assert fake.facial_verify(verify_id, 10000)  # wx.requestFacialVerify on the phone
    finished = finish_verification(client, person, verify_id)
    assert finished.status_code == 200, finished.json
    assert finished.json["verified"] is True and finished.json["name"] == person.name
    (query,) = _calls(fake, "queryverifyinfo")
    assert query["json"] == {
        "verify_id": verify_id,
        "out_seq_no": body["out_seq_no"],
        "cert_hash": cert_hash("IDENTITY_CARD", person.name, person.id_number),
        "openid": person.openid,
    }
    assert person.subject.name_source is NameSource.WECHAT_FACE
    user = db.session.scalar(sa.select(WeChatUser).where(WeChatUser.openid == person.openid))
    assert user.subject_id == person.subject.id
    assert db.session.scalar(sa.select(FaceVerifySession)).used_at is not None


@pytest.mark.parametrize("verify_ret", [90002, 90011, 90018, None])
def test_anything_but_verify_ret_10000_is_refused(client, fake, verify_ret):
    person = _person(client, fake, 502)
    started = start_verification(client, person)
    if verify_ret is not None:  # None: the page never ran the scan
        assert fake.facial_verify(started.json["verify_id"], verify_ret)
    refused = finish_verification(client, person, started.json["verify_id"])
    assert refused.status_code == 403 and refused.json["error"]["code"] == "face_not_passed"
    assert refused.json["error"]["message"] == "人脸核身未通过，请重新核身"
    user = db.session.scalar(sa.select(WeChatUser).where(WeChatUser.openid == person.openid))
    assert user.subject_id is None
    # The verify_id is spent: a second submission after a failed scan is refused too.
    again = finish_verification(client, person, started.json["verify_id"])
    assert again.status_code == 409 and again.json["error"]["code"] == "face_result_used"


def test_a_verify_id_is_single_use_and_bound_to_its_user(client, fake):
    person = _person(client, fake, 503)
    other = _person(client, fake, 504, name="李四")
    started = start_verification(client, person)
    verify_id = started.json["verify_id"]
    assert fake.facial_verify(verify_id)
    stolen = finish_verification(client, other, verify_id)
    assert stolen.status_code == 422 and stolen.json["error"]["code"] == "face_result_invalid"
    assert finish_verification(client, person, verify_id).status_code == 200
    reused = finish_verification(client, person, verify_id)
    assert reused.status_code == 409 and reused.json["error"]["code"] == "face_result_used"
    assert len(_calls(fake, "queryverifyinfo")) == 1  # refused before asking WeChat again
    assert db.session.scalar(sa.select(sa.func.count()).select_from(FaceVerification)) == 1


def test_the_fake_refuses_what_wechat_refuses(app, fake):
    """The fake checks queryverifyinfo against getverifyid as WeChat does: a different
    cert_hash, openid or out_seq_no, an unknown or expired verify_id; getverifyid refuses a
    reused out_seq_no and a malformed cert_info; the retired 1.0 getinfo is gone."""
    api = mp_api()
    name, number, openid = "张三", make_id_number(505), "o-fake-check"
    good_hash = cert_hash("IDENTITY_CARD", name, number)
    answer = api.face_get_verify_id("seq_00001", name, number, openid)
    verify_id = answer["verify_id"]
    assert answer["expires_in"] == 3600 and len(verify_id) <= 256
    fake.facial_verify(verify_id)

    def refused(call) -> int:
        with pytest.raises(WeChatError) as caught:
            call()
        return caught.value.errcode

    other_hash = cert_hash("IDENTITY_CARD", "张四", number)
    assert refused(lambda: api.face_query_verify_info(verify_id, "seq_00001", other_hash, openid)) == 40097
    assert refused(lambda: api.face_query_verify_info(verify_id, "seq_00001", good_hash, "o-someone-else")) == 40097
    assert refused(lambda: api.face_query_verify_info(verify_id, "seq_00002", good_hash, openid)) == 40097
    assert refused(lambda: api.face_query_verify_info("fv_unknown", "seq_00001", good_hash, openid)) == 61010
    assert api.face_query_verify_info(verify_id, "seq_00001", good_hash, openid)["verify_ret"] == 10000
    fake.expire_verify_id(verify_id)
    assert refused(lambda: api.face_query_verify_info(verify_id, "seq_00001", good_hash, openid)) == 61010
    assert refused(lambda: api.face_get_verify_id("seq_00001", name, number, openid)) == 40097  # reused
    assert refused(lambda: api.face_get_verify_id("seq_00003", name, "12345", openid)) == 40097  # cert_no
    assert refused(lambda: api.face_get_verify_id("bad seq!", name, number, openid)) == 40097
    old = api.client._http.post(f"{fake.base_url}/cityservice/face/identify/getinfo", json={"verify_result": "x"})
    assert old.json()["errcode"] == 404  # 1.0 is retired: not served


def test_the_retired_1_0_endpoint_is_gone(client, fake):
    person = _person(client, fake, 506)
    body = {"verify_result": "vr", "name": person.name, "id_number": person.id_number}
    assert client.post(f"{API}/identity/face-verify", json=body, headers=person.headers).status_code == 404


def test_expired_verify_id_is_refused(client, fake):
    person = _person(client, fake, 507)
    # Expired on our side: refused without asking WeChat.
    started = start_verification(client, person)
    fake.facial_verify(started.json["verify_id"])
    session = db.session.scalar(sa.select(FaceVerifySession))
    session.expires_at = session.created_at - dt.timedelta(seconds=1)
    db.session.commit()
    expired = finish_verification(client, person, started.json["verify_id"])
    assert expired.status_code == 422 and expired.json["error"]["code"] == "face_result_invalid"
    assert not _calls(fake, "queryverifyinfo")
    # Expired on WeChat's side (our clock behind): WeChat's refusal is a 422 "请重新核身" too.
    started = start_verification(client, person)
    fake.facial_verify(started.json["verify_id"])
    fake.expire_verify_id(started.json["verify_id"])
    expired = finish_verification(client, person, started.json["verify_id"])
    assert expired.status_code == 422 and expired.json["error"]["code"] == "face_result_invalid"
    assert "请重新核身" in expired.json["error"]["message"]
    # A fresh start works.
    assert face_verify(client, fake, person).status_code == 200


@pytest.mark.parametrize("errcode", [48001, 40125])
def test_configuration_errors_are_503_with_an_operator_alert(app, client, fake, caplog, errcode):
    """Before: 48001 (API not authorised) and 40125 (wrong secret) gave the citizen 422 "请重新核身",
    round in circles; after: 503 with a neutral message, an ERROR log line, the
    credit_wechat_config_errors_total counter and a console banner."""
    person = _person(client, fake, 508 if errcode == 48001 else 509)
    before = _config_errors(client, str(errcode))
    if errcode == 48001:
        fake.fail("cityservice/face/identify/getverifyid", 48001, errmsg="api unauthorized")
    else:
        fake.apps = {MP_APPID: "the-secret-was-reset"}  # our configured secret is now wrong
        fake.invalidate_tokens()
    with caplog.at_level(logging.ERROR, logger="miniprogram_api.alerts"):
        response = start_verification(client, person)
    assert response.status_code == 503, response.json
    assert response.json["error"]["code"] == "service_unavailable"
    assert response.json["error"]["message"] == "服务暂不可用，请稍后再试或到信用服务窗口办理"
    assert "请重新核身" not in response.json["error"]["message"]
    assert any(r.levelno == logging.ERROR and str(errcode) in r.getMessage() for r in caplog.records)
    assert _config_errors(client, str(errcode)) == before + 1
    assert db.session.scalar(sa.select(WeChatConfigError.errcode)) == errcode

    login_as(client, StaffRole.PLATFORM_ADMIN)
    page = client.get("/admin/").get_data(as_text=True)
    assert 'id="wechat-config-alert"' in page and f"errcode {errcode}" in page
    # The banner stays while the error is recent, then goes.
    row = db.session.scalar(sa.select(WeChatConfigError))
    row.occurred_at -= dt.timedelta(hours=2)
    db.session.commit()
    assert 'id="wechat-config-alert"' not in client.get("/admin/").get_data(as_text=True)


def test_configuration_error_at_the_query_is_503_and_keeps_the_verify_id(client, fake):
    person = _person(client, fake, 510)
    started = start_verification(client, person)
    fake.facial_verify(started.json["verify_id"])
    fake.fail("cityservice/face/identify/queryverifyinfo", 48001, errmsg="api unauthorized", times=1)
    response = finish_verification(client, person, started.json["verify_id"])
    assert response.status_code == 503 and response.json["error"]["code"] == "service_unavailable"
    # Once the operators fixed it, the citizen's scan still counts.
    assert finish_verification(client, person, started.json["verify_id"]).status_code == 200


def test_other_errors_are_422_or_transient_503(client, fake):
    person = _person(client, fake, 511)
    fake.fail("cityservice/face/identify/getverifyid", 40097, errmsg="invalid args", times=1)
    refused = start_verification(client, person)
    assert refused.status_code == 422 and refused.json["error"]["code"] == "face_result_invalid"
    fake.fail("cityservice/face/identify/getverifyid", -1, errmsg="system error", times=1)
    busy = start_verification(client, person)
    assert busy.status_code == 503 and busy.json["error"]["code"] == "wechat_unavailable"
    assert db.session.scalar(sa.select(sa.func.count()).select_from(WeChatConfigError)) == 0


def test_the_demo_runs_the_mini_program_flow_against_the_fake(app, client, fake):
    lines: list[str] = []
    me = run_demo_flow(app, echo=lines.append)
    assert me["verified"] is True and me["name"] == DEMO_NAME
    assert me["id_number_masked"].endswith(DEMO_ID_NUMBER[-4:])
    assert any("getverifyid" in line for line in lines) and any("queryverifyinfo" in line for line in lines)
    assert fake.base_url == app.extensions["settings"].WECHAT_API_BASE_URL  # restored afterwards
