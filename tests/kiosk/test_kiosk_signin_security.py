"""Issue 14, item 4: the kiosk signed in whoever the device said, and the agent let any local
program say it. Now only a reading signed by the kiosk's enrolled key, over a one-time challenge
the platform gave that kiosk, signs anyone in; the agent reads the card itself and forwards only
the routes the pages need. Item 12: per-kiosk rate limits on sign-in and verification."""

from __future__ import annotations

import datetime as dt
import json
import re

import pytest
import sqlalchemy as sa
from test_staff_auth import login_as, post_form

from backend.actors import Actor
from backend.app import create_app
from backend.extensions import db, limiter
from backend.issued_reports.keys import EXTENSION_KEY
from backend.staff.models import StaffRole
from backend.subjects.models import NameSource, Subject
from backend.types import utcnow
from kiosk import operations as ops
from kiosk.agent.server import page_route_allowed
from kiosk.agent.signing import DeviceKey, canonical, fingerprint
from kiosk.models import KioskDevice, KioskSession, SigninChallenge
from tests.conftest import sibling_config
from tests.kiosk.helpers import audit_rows, fresh, http, reading_payload, signed_reading

SIGNIN = "/kiosk/api/signin/card"
CHALLENGE = "/kiosk/api/signin/challenge"


def kiosk(credential: str) -> dict[str, str]:
    return {"Authorization": f"Kiosk {credential}", "Accept": "application/json"}


def challenge_for(client, credential: str) -> str:
    answer = client.post(CHALLENGE, headers=kiosk(credential), json={})
    assert answer.status_code == 200, answer.json
    return answer.json["challenge"]


def sessions() -> int:
    fresh()
    return db.session.scalar(sa.select(sa.func.count()).select_from(KioskSession))


def test_an_unsigned_claim_signs_nobody_in(client, world):
    """Before: ``{"id_number": <someone else's>, "face": {"result": "pass"}}`` → 200 and a session
    showing that person's records. After: 400, nobody signed in."""
    claim = world.second.card()
    answer = client.post(SIGNIN, headers=kiosk(world.credential), json=claim)
    assert answer.status_code == 400 and answer.json["error"]["code"] == "reading_invalid"
    assert sessions() == 0


def test_a_forged_signature_is_refused(client, world):
    forger = DeviceKey.generate()  # a local program without the agent's private key
    payload = reading_payload(world, world.second, challenge_for(client, world.credential))
    answer = client.post(SIGNIN, headers=kiosk(world.credential), json=signed_reading(forger, payload))
    assert answer.status_code == 401 and answer.json["error"]["code"] == "reading_signature_invalid"
    # A genuine signature over one reading does not cover another person's number.
    genuine = signed_reading(world.key, reading_payload(world, world.first, challenge_for(client, world.credential)))
    tampered = json.loads(genuine["payload"]) | {"id_number": world.second.id_number}
    forged = {"payload": canonical(tampered).decode(), "signature": genuine["signature"]}
    answer = client.post(SIGNIN, headers=kiosk(world.credential), json=forged)
    assert answer.status_code == 401 and answer.json["error"]["code"] == "reading_signature_invalid"
    assert sessions() == 0
    refused = audit_rows("kiosk.signin.refused")
    assert [row.details["code"] for row in refused] == ["reading_signature_invalid"] * 2
    assert all(world.second.id_number not in str(row.details) for row in refused)


def test_a_signed_reading_must_be_canonical_and_name_this_kiosk(client, world):
    challenge = challenge_for(client, world.credential)
    payload = reading_payload(world, world.first, challenge)
    # Signed by the right key, but spaced differently from the canonical form.
    loose = json.dumps(payload, ensure_ascii=False, sort_keys=True)
    import base64

    signature = base64.b64encode(world.key._key.sign(loose.encode())).decode()
    answer = client.post(SIGNIN, headers=kiosk(world.credential), json={"payload": loose, "signature": signature})
    assert answer.status_code == 400 and answer.json["error"]["code"] == "reading_invalid"
    other_device = signed_reading(world.key, payload | {"device": "JC-OTHER-01"})
    answer = client.post(SIGNIN, headers=kiosk(world.credential), json=other_device)
    assert answer.status_code == 400 and answer.json["error"]["code"] == "reading_invalid"
    # The challenge is still good: the refused forms did not consume it.
    answer = client.post(SIGNIN, headers=kiosk(world.credential), json=signed_reading(world.key, payload))
    assert answer.status_code == 200 and sessions() == 1


def test_a_replayed_challenge_is_refused(client, world):
    body = signed_reading(world.key, reading_payload(world, world.first, challenge_for(client, world.credential)))
    assert client.post(SIGNIN, headers=kiosk(world.credential), json=body).status_code == 200
    replay = client.post(SIGNIN, headers=kiosk(world.credential), json=body)
    assert replay.status_code == 401 and replay.json["error"]["code"] == "challenge_used"
    assert sessions() == 1


def test_the_challenge_of_another_kiosk_is_refused(client, world):
    other, other_credential = ops.register_device(Actor.cli("test"), "JC-ZWDT-02", "金昌市政务服务中心", "二楼")
    ops.enrol_device_key(other, DeviceKey.generate().public_key_b64())
    db.session.commit()
    borrowed = challenge_for(client, other_credential)
    body = signed_reading(world.key, reading_payload(world, world.first, borrowed))
    answer = client.post(SIGNIN, headers=kiosk(world.credential), json=body)
    assert answer.status_code == 401 and answer.json["error"]["code"] == "challenge_invalid"
    made_up = signed_reading(world.key, reading_payload(world, world.first, "not-a-challenge"))
    answer = client.post(SIGNIN, headers=kiosk(world.credential), json=made_up)
    assert answer.status_code == 401 and answer.json["error"]["code"] == "challenge_invalid"
    assert sessions() == 0


def test_an_expired_challenge_is_refused(client, world):
    challenge = challenge_for(client, world.credential)
    row = db.session.scalars(sa.select(SigninChallenge)).one()
    assert row.expires_at - row.created_at == dt.timedelta(seconds=60)  # KIOSK_SIGNIN_CHALLENGE_SECONDS
    row.expires_at = utcnow() - dt.timedelta(seconds=1)
    db.session.commit()
    body = signed_reading(world.key, reading_payload(world, world.first, challenge))
    answer = client.post(SIGNIN, headers=kiosk(world.credential), json=body)
    assert answer.status_code == 401 and answer.json["error"]["code"] == "challenge_expired"
    assert sessions() == 0


def test_the_face_comparison_must_pass(client, world):
    body = signed_reading(
        world.key, reading_payload(world, world.first, challenge_for(client, world.credential), "fail")
    )
    answer = client.post(SIGNIN, headers=kiosk(world.credential), json=body)
    assert answer.status_code == 403 and answer.json["error"]["code"] == "face_not_passed"
    # The refusal consumed the challenge: the same reading cannot be tried again.
    again = client.post(SIGNIN, headers=kiosk(world.credential), json=body)
    assert again.status_code == 401 and again.json["error"]["code"] == "challenge_used"
    assert sessions() == 0


def test_the_chip_name_must_match_the_verified_name(client, world):
    # The first reading verifies the person's name (the chip through a signed reading).
    body = signed_reading(world.key, reading_payload(world, world.first, challenge_for(client, world.credential)))
    assert client.post(SIGNIN, headers=kiosk(world.credential), json=body).status_code == 200
    subject = world.first.subject
    assert subject.name_source is NameSource.KIOSK_CARD and subject.name_discrepancy_at is None
    # A card with the same number and another name (a forged card, a misread chip).
    payload = reading_payload(world, world.first, challenge_for(client, world.credential), name="王小二")
    answer = client.post(SIGNIN, headers=kiosk(world.credential), json=signed_reading(world.key, payload))
    assert answer.status_code == 403 and answer.json["error"]["code"] == "card_name_mismatch"
    fresh()
    subject = db.session.get(Subject, subject.id)
    assert subject.reveal_name() == world.first.name and subject.name_discrepancy_at is not None
    flagged = audit_rows("subject.name.discrepancy")
    assert len(flagged) == 1 and flagged[0].details["source"] == "kiosk_card"
    assert "王小二" not in str(flagged[0].details) and world.first.name not in str(flagged[0].details)


def test_a_kiosk_without_an_enrolled_key_cannot_sign_anyone_in(client, world):
    device = db.session.get(KioskDevice, world.device.id)
    new_credential = ops.reissue_credential(Actor.cli("test"), device)  # a replaced PC
    db.session.commit()
    answer = client.post(CHALLENGE, headers=kiosk(new_credential), json={})
    assert answer.status_code == 403 and answer.json["error"]["code"] == "device_key_missing"
    # The old key's signatures are worthless with the new credential.
    body = signed_reading(world.key, reading_payload(world, world.first, "x"))
    answer = client.post(SIGNIN, headers=kiosk(new_credential), json=body)
    assert answer.status_code == 403 and answer.json["error"]["code"] == "device_key_missing"
    assert sessions() == 0


def test_device_key_enrolment_is_once_per_credential_and_shown_in_the_console(client, world):
    device = db.session.get(KioskDevice, world.device.id)
    new_credential = ops.reissue_credential(Actor.cli("test"), device)
    db.session.commit()
    bad = client.post("/kiosk/api/device-key", headers=kiosk(new_credential), json={"public_key": "abc"})
    assert bad.status_code == 422 and bad.json["error"]["code"] == "device_key_invalid"
    key = DeviceKey.generate()
    enrolled = client.post(
        "/kiosk/api/device-key", headers=kiosk(new_credential), json={"public_key": key.public_key_b64()}
    )
    assert enrolled.status_code == 200 and enrolled.json["fingerprint"] == fingerprint(key.public_key_b64())
    again = client.post(
        "/kiosk/api/device-key", headers=kiosk(new_credential), json={"public_key": key.public_key_b64()}
    )
    assert again.status_code == 200  # a retried enrolment
    other = DeviceKey.generate().public_key_b64()
    replaced = client.post("/kiosk/api/device-key", headers=kiosk(new_credential), json={"public_key": other})
    assert replaced.status_code == 409 and replaced.json["error"]["code"] == "device_key_enrolled"
    assert [row.details["device"] for row in audit_rows("kiosk.device.key")] == [world.device.code] * 2

    login_as(client, StaffRole.PLATFORM_ADMIN)
    fleet = client.get("/admin/kiosks").get_data(as_text=True)
    row = re.search(rf'<tr data-device="{world.device.code}".*?</tr>', fleet, re.S).group(0)
    assert fingerprint(key.public_key_b64()) in row
    created = post_form(client, "/admin/kiosks", {"code": "jc-yc-02", "hall": "永昌县政务服务中心", "location": "入口"})
    assert "python3 -m kiosk.agent enrol" in created.get_data(as_text=True)
    fleet = client.get("/admin/kiosks").get_data(as_text=True)
    row = re.search(r'<tr data-device="JC-YC-02".*?</tr>', fleet, re.S).group(0)
    assert "未登记密钥" in row


@pytest.mark.parametrize(
    ("method", "path", "allowed"),
    [
        ("GET", "/kiosk/", True),
        ("GET", "/kiosk/mine", True),
        ("GET", "/kiosk/verify", True),
        ("GET", "/kiosk/enterprise/91620302MA71XY3Q54", True),
        ("GET", "/kiosk/enterprise/NOT-A-CODE", True),  # the platform answers with its error page
        ("POST", "/kiosk/objection/12", True),
        ("GET", "/kiosk/cases/YY-20261203-0001", True),
        ("GET", "/kiosk/static/kiosk.js", True),
        ("POST", "/kiosk/api/print", True),
        ("POST", "/kiosk/api/signin/qr/poll", True),
        ("POST", "/kiosk/api/cases/YY-20261203-0001/receipt", True),
        ("POST", "/kiosk/api/signin/card", False),
        ("POST", "/kiosk/api/signin/challenge", False),
        ("POST", "/kiosk/api/device-key", False),
        ("POST", "/kiosk/api/heartbeat", False),
        ("GET", "/kiosk/api/print-jobs/1/document", False),
        ("POST", "/kiosk/api/print-jobs/1/result", False),
        ("POST", "/kiosk/mine", False),
        ("GET", "/kiosk/static/../api/heartbeat", False),
        ("GET", "/kiosk/static/..", False),
        ("GET", "/kiosk/api/signin%2Fcard", False),
        ("DELETE", "/kiosk/", False),
    ],
)
def test_agent_allow_list(method, path, allowed):
    assert page_route_allowed(method, path) is allowed


def test_the_agent_refuses_a_card_claim_and_signs_the_card_it_reads(start_agent, world):
    """Before: ``curl -X POST agent/kiosk/api/signin/card`` with someone else's number and a face
    pass → 200 and their records. After: the agent answers 404 and nobody is signed in; the
    card on the reader signs its holder in through /agent/read-card."""
    agent = start_agent()
    claim = http("POST", f"{agent.url}/kiosk/api/signin/card", json=world.second.card())
    assert claim.status_code == 404 and "kiosk_session" not in claim.cookies
    for path in ("/kiosk/api/signin/challenge", "/kiosk/api/device-key", "/kiosk/api/heartbeat"):
        assert http("POST", f"{agent.url}{path}", json={}).status_code == 404, path
    assert sessions() == 0

    assert http("POST", f"{agent.url}/agent/read-card", json={}).json() == {"card": False}
    # Whatever the page sends with the request is ignored: the reader's card is what counts.
    agent.insert_card(world.first.card())
    read = http("POST", f"{agent.url}/agent/read-card", json=world.second.card())
    assert read.status_code == 200 and read.json() == {"signed_in": True}
    mine = http("GET", f"{agent.url}/kiosk/mine", cookies=read.cookies, allow_redirects=False)
    assert mine.status_code == 200 and world.first.records[0].decision_number in mine.text
    assert world.second.records[0].decision_number not in mine.text
    fresh()
    assert db.session.scalars(sa.select(KioskSession.subject_id)).all() == [world.first.subject.id]

    agent.insert_card(world.second.card("fail"))
    refused = http("POST", f"{agent.url}/agent/read-card", json={})
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "face_not_passed"


# --- item 12: per-kiosk rate limits ---------------------------------------------------------


@pytest.fixture
def limited(app):
    """A second app with rate limits on and small kiosk budgets; the limiter's switches are
    restored after (tests/conftest.py)."""
    saved = (limiter.enabled, limiter.initialized)
    limited = create_app(
        sibling_config(
            app, RATELIMIT_ENABLED=True, KIOSK_RATELIMIT_VERIFY="5/minute", KIOSK_RATELIMIT_SIGNIN="4/minute"
        )
    )
    limited.extensions[EXTENSION_KEY] = app.extensions[EXTENSION_KEY]
    limited.extensions["storage"] = app.extensions["storage"]
    try:
        yield limited.test_client()
    finally:
        limiter.reset()
        limiter.enabled, limiter.initialized = saved
        with limited.app_context():
            db.session.remove()
            db.engine.dispose()


HALL = {"REMOTE_ADDR": "10.20.0.1"}  # every kiosk of the hall behind one address


def test_verification_guesses_are_limited_per_kiosk(limited, world):
    """Before: 200 number-and-code guesses through one kiosk in 10 s, every one answered. After:
    the kiosk's budget (KIOSK_RATELIMIT_VERIFY) runs out, another kiosk at the same address is
    not affected."""
    _, other_credential = ops.register_device(Actor.cli("test"), "JC-ZWDT-02", "金昌市政务服务中心", "二楼")
    db.session.commit()
    statuses = [
        limited.get(
            f"/kiosk/verify?number=JCXY-20261203-AAAAAAAA{i:02d}&code=ABCD-EFGH",
            headers={"Authorization": f"Kiosk {world.credential}"},
            environ_base=HALL,
        ).status_code
        for i in range(8)
    ]
    assert statuses == [200] * 5 + [429] * 3
    refused = limited.get(
        "/kiosk/verify?number=JCXY-20261203-AAAAAAAA99&code=ABCD-EFGH",
        headers=kiosk(world.credential),
        environ_base=HALL,
    )
    assert refused.status_code == 429 and refused.json["error"]["code"] == "rate_limited"
    other = limited.get(
        "/kiosk/verify?number=JCXY-20261203-AAAAAAAA01&code=ABCD-EFGH",
        headers={"Authorization": f"Kiosk {other_credential}"},
        environ_base=HALL,
    )
    assert other.status_code == 200
    # Pages without a verification are not counted.
    assert limited.get("/kiosk/verify", headers={"Authorization": f"Kiosk {world.credential}"}).status_code == 200


def test_sign_in_attempts_are_limited_per_kiosk(limited, world):
    statuses = [
        limited.post(CHALLENGE, headers=kiosk(world.credential), json={}, environ_base=HALL).status_code
        for _ in range(6)
    ]
    assert statuses == [200] * 4 + [429] * 2
    claim = limited.post(SIGNIN, headers=kiosk(world.credential), json={}, environ_base=HALL)
    assert claim.status_code == 429
    qr = limited.post("/kiosk/api/signin/qr", headers=kiosk(world.credential), json={}, environ_base=HALL)
    assert qr.status_code == 429


def test_the_enrol_command_creates_the_key_and_enrols_it_once(live_server, world, tmp_path, monkeypatch, capsys):
    from kiosk.agent.__main__ import main

    device = db.session.get(KioskDevice, world.device.id)
    credential = ops.reissue_credential(Actor.cli("test"), device)  # a new PC
    db.session.commit()
    monkeypatch.setenv("KIOSK_DEVICE_CREDENTIAL", credential)
    state = tmp_path / "state"
    assert main(["enrol", "--platform", live_server, "--state-dir", str(state)]) == 0
    key_file = state / "device-key.pem"
    assert key_file.stat().st_mode & 0o777 == 0o600
    key = DeviceKey.load(state)
    fresh()
    device = db.session.get(KioskDevice, world.device.id)
    assert device.public_key == key.public_key_b64()
    assert fingerprint(key.public_key_b64()) in capsys.readouterr().out
    assert main(["enrol", "--platform", live_server, "--state-dir", str(state)]) == 0  # retried: same key
    # A new key needs a new credential: whoever copied this one cannot swap the kiosk's key.
    assert main(["enrol", "--platform", live_server, "--state-dir", str(state), "--new-key"]) == 1
    assert "重新签发凭据" in capsys.readouterr().err
    fresh()
    assert db.session.get(KioskDevice, world.device.id).public_key == key.public_key_b64()


def test_the_agent_refuses_the_virtual_reader_outside_development(tmp_path, monkeypatch, capsys):
    from kiosk.agent.__main__ import main

    monkeypatch.setenv("KIOSK_DEVICE_CREDENTIAL", "JC-X-01:secret")
    args = ["--platform", "http://127.0.0.1:9", "--printer", "q", "--state-dir", str(tmp_path), "--reader", "virtual"]
    assert main(args) == 2
    assert "development" in capsys.readouterr().err
