"""Sessions, face verification and enterprise bindings."""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from test_staff_auth import login_as, post_form

from backend.actors import Actor
from backend.audit.models import AuditEvent
from backend.citizens.models import (
    BindingStatus,
    EnterpriseBinding,
    FaceVerification,
    FaceVerificationOutcome,
    WeChatUser,
)
from backend.extensions import db
from backend.issued_reports.content import ReportOptions, build_content
from backend.pii import cipher
from backend.records.operations import find_natural_subject, new_natural_subject_row
from backend.staff.models import StaffRole, StaffUser
from backend.subjects.models import NameSource, Subject
from backend.subjects.names import record_verified_name
from miniprogram_api.auth import hash_token
from miniprogram_api.models import MpSession
from miniprogram_api.operations import review_enterprise_binding
from reports.content import CHINA_TZ, ReportKind
from tests.factories import make_id_number
from tests.wechat.helpers import (
    API,
    Person,
    department,
    enterprise,
    face_verify,
    finish_verification,
    login,
    person_record,
    start_verification,
    upload,
    verified_person,
)


def test_session_token_is_opaque_hashed_and_expires(client, fake):
    token = login(client, fake, "o-session")
    row = db.session.scalar(sa.select(MpSession))
    assert row.token_hash == hash_token(token) and token not in row.token_hash
    user = db.session.scalar(sa.select(WeChatUser).where(WeChatUser.openid == "o-session"))
    assert user.session_key_encrypted and user.session_key_encrypted.startswith(cipher().active_kid + ".")
    assert client.get(f"{API}/me", headers={"Authorization": f"Bearer {token}"}).status_code == 200
    row.expires_at = dt.datetime(2020, 1, 1)
    db.session.commit()
    expired = client.get(f"{API}/me", headers={"Authorization": f"Bearer {token}"})
    assert expired.status_code == 401 and expired.json["error"]["code"] == "token_invalid"
    assert client.get(f"{API}/me", headers={"Authorization": "Bearer nonsense"}).status_code == 401


def test_login_code_errors(client, fake):
    fake.add_login_code("once-only", "o-x")
    assert client.post(f"{API}/session", json={"code": "once-only"}).status_code == 201
    reused = client.post(f"{API}/session", json={"code": "once-only"})
    assert reused.status_code == 401 and reused.json["error"]["code"] == "login_code_invalid"
    unknown = client.post(f"{API}/session", json={"code": "never-issued"})
    assert unknown.status_code == 401
    fake.fail("sns/jscode2session", -1)
    fake.add_login_code("busy", "o-y")
    busy = client.post(f"{API}/session", json={"code": "busy"})
    assert busy.status_code == 503 and busy.json["error"]["code"] == "wechat_unavailable"
    assert "errcode" not in busy.json["error"]["message"]


def test_a_failed_scan_is_refused_and_logged(client, fake):
    person = Person("张明华", make_id_number(401), "o-mismatch")
    person.token = login(client, fake, person.openid)
    refused = face_verify(client, fake, person, verify_ret=90011)  # 人脸数据采集无效
    assert refused.status_code == 403 and refused.json["error"]["code"] == "face_not_passed"
    user = db.session.scalar(sa.select(WeChatUser).where(WeChatUser.openid == person.openid))
    assert user.subject_id is None
    attempt = db.session.scalar(sa.select(FaceVerification))
    assert attempt.outcome is FaceVerificationOutcome.FAILED and attempt.identify_ret == 90011
    event = db.session.scalar(sa.select(AuditEvent).where(AuditEvent.action == "mp.identity.verify"))
    assert event.details["outcome"] == "failed" and event.details["verify_ret"] == 90011
    assert person.id_number not in str(event.details)  # only masked
    assert event.channel == "mp"


def test_a_verify_id_is_used_once(client, fake):
    person = Person("张明华", make_id_number(403), "o-name")
    person.token = login(client, fake, person.openid)
    started = start_verification(client, person)
    assert started.status_code == 201
    assert fake.facial_verify(started.json["verify_id"])
    assert finish_verification(client, person, started.json["verify_id"]).status_code == 200
    again = finish_verification(client, person, started.json["verify_id"])
    assert again.status_code == 409 and again.json["error"]["code"] == "face_result_used"


def test_lowercase_x_and_failed_verification(client, fake):
    person = Person("王晓", "11010519491231002X", "o-x")
    person.token = login(client, fake, person.openid)
    failed = face_verify(client, fake, person, verify_ret=90100)
    assert failed.status_code == 403 and failed.json["error"]["code"] == "face_not_passed"
    # A lower-case x is the same number: WeChat gets it (and its cert_hash) with an upper-case X.
    ok = face_verify(client, fake, person, claimed_id="11010519491231002x")
    assert ok.status_code == 200
    assert ok.json["id_number_masked"] == "1101**********002X"
    getverifyid = [r for r in fake.requests if r["path"].endswith("getverifyid")]
    assert getverifyid[-1]["json"]["cert_info"]["cert_no"] == "11010519491231002X"


def test_unknown_verify_id_and_invalid_claims(client, fake):
    token = login(client, fake, "o-bad")
    headers = {"Authorization": f"Bearer {token}"}
    unknown = client.post(f"{API}/identity/verification/finish", json={"verify_id": "never-issued"}, headers=headers)
    assert unknown.status_code == 422 and unknown.json["error"]["code"] == "face_result_invalid"
    bad_number = client.post(
        f"{API}/identity/verification", json={"name": "张三", "id_number": "620302199002302519"}, headers=headers
    )
    assert bad_number.status_code == 422 and bad_number.json["error"]["code"] == "id_number_invalid"
    assert not [r for r in fake.requests if "face" in r["path"]]  # refused before asking WeChat


def test_an_account_bound_to_one_person_cannot_switch(client, fake):
    person = verified_person(client, fake, "张明华", 405)
    other = Person("李四", make_id_number(406), person.openid, token=person.token)
    switched = face_verify(client, fake, other)
    assert switched.status_code == 409 and switched.json["error"]["code"] == "already_bound_other"


def test_legal_representative_binds_at_once(client, fake):
    dept = department()
    person = verified_person(client, fake, "王建国", 407)
    company = enterprise(dept, "王建国", representative_id=person.id_number)
    stranger_company = enterprise(dept, "赵六", name="金昌市某某化工有限公司", representative_id=make_id_number(499))
    uscc, other_uscc = company.uscc, stranger_company.uscc
    db.session.commit()
    bound = client.post(
        f"{API}/enterprise-bindings", json={"uscc": uscc, "method": "legal_representative"}, headers=person.headers
    )
    assert bound.status_code == 201 and bound.json["status"] == "active"
    twice = client.post(
        f"{API}/enterprise-bindings", json={"uscc": uscc, "method": "legal_representative"}, headers=person.headers
    )
    assert twice.status_code == 409
    refused = client.post(
        f"{API}/enterprise-bindings", json={"uscc": other_uscc, "method": "legal_representative"},
        headers=person.headers,
    )  # fmt: skip
    assert refused.status_code == 403 and refused.json["error"]["code"] == "not_legal_representative"
    # The bound enterprise's records, including unpublished ones, are now the person's to see.
    records = client.get(f"{API}/me/records?uscc={uscc}", headers=person.headers)
    assert records.status_code == 200 and records.json["subject_kind"] == "legal"
    assert client.get(f"{API}/me/records?uscc={other_uscc}", headers=person.headers).status_code == 404


def test_authorisation_letter_waits_for_staff_review(client, fake):
    dept = department()
    person = verified_person(client, fake, "钱七", 408)
    company = enterprise(dept, "王建国")
    uscc = company.uscc
    db.session.commit()
    no_letter = client.post(
        f"{API}/enterprise-bindings", json={"uscc": uscc, "method": "authorisation_letter"}, headers=person.headers
    )
    assert no_letter.status_code == 400
    evidence = upload(client, person, "evidence")
    wrong = client.post(
        f"{API}/enterprise-bindings",
        json={"uscc": uscc, "method": "authorisation_letter", "material_id": evidence},
        headers=person.headers,
    )
    assert wrong.status_code == 400
    letter = upload(client, person, "authorisation")
    pending = client.post(
        f"{API}/enterprise-bindings",
        json={"uscc": uscc, "method": "authorisation_letter", "material_id": letter},
        headers=person.headers,
    )
    assert pending.status_code == 201 and pending.json["status"] == "pending_review"
    # Not yet: the enterprise's own records stay closed.
    assert client.get(f"{API}/me/records?uscc={uscc}", headers=person.headers).status_code == 404
    admin = StaffUser(username="adm", display_name="adm", password_hash="x", role=StaffRole.PLATFORM_ADMIN)
    db.session.add(admin)
    db.session.flush()
    binding = db.session.get(EnterpriseBinding, pending.json["id"])
    review_enterprise_binding(Actor.staff(admin), binding, approve=True)
    db.session.commit()
    assert db.session.get(EnterpriseBinding, pending.json["id"]).status is BindingStatus.ACTIVE
    assert client.get(f"{API}/me/records?uscc={uscc}", headers=person.headers).status_code == 200
    me = client.get(f"{API}/me", headers=person.headers).json
    assert [(e["uscc"], e["method"], e["status"]) for e in me["enterprises"]] == [
        (uscc, "authorisation_letter", "active")
    ]


# --- issue 14, item 5: only a verified source names a person -------------------------------


def _personal_report_name(subject) -> str:
    issued = dt.datetime.now(CHINA_TZ)
    built = build_content(
        subject, ReportKind.PERSONAL, ReportOptions(), number="XYJC-TEST", issued_at=issued,
        valid_until=issued.date() + dt.timedelta(days=30),
    )  # fmt: skip
    return built.content.subject.name


def _name_events() -> list[AuditEvent]:
    db.session.expire_all()
    return list(
        db.session.scalars(
            sa.select(AuditEvent).where(AuditEvent.action.like("subject.name.%")).order_by(AuditEvent.id)
        )
    )


def test_face_verification_corrects_a_name_no_verified_source_wrote(client, fake):
    """Before: a kiosk sign-in gave a new ID number a made-up name, the real person's face
    verification kept it, and her personal report printed it. After: WeChat's verified name
    replaces it, and the disagreement is logged and marked for staff."""
    number = make_id_number(407)
    # What the unsigned kiosk sign-in wrote (a row without a name source, as before 0010).
    db.session.execute(sa.insert(Subject), [new_natural_subject_row(number, "王假名")])
    db.session.commit()
    person = Person("张明华", number, "o-real")
    person.token = login(client, fake, person.openid)
    verified = face_verify(client, fake, person)
    assert verified.status_code == 200 and verified.json["name"] == "张明华"
    subject = person.subject
    db.session.refresh(subject)
    assert subject.reveal_name() == "张明华" and subject.name_source is NameSource.WECHAT_FACE
    assert subject.name_verified_at is not None and subject.name_discrepancy_at is not None
    assert _personal_report_name(subject) == "张明华"
    events = _name_events()
    assert [e.action for e in events] == ["subject.name.verified", "subject.name.discrepancy"]
    assert events[0].details == {"source": "wechat_face", "replaced_source": None}
    assert all("王假名" not in str(e.details) and "张明华" not in str(e.details) for e in events)

    # Staff see the mark on the subject page.
    login_as(client, StaffRole.PLATFORM_ADMIN)
    page = post_form(client, f"/admin/subjects/{subject.id}", {"reason": "核对姓名来源"}).get_data(as_text=True)
    assert 'id="name-discrepancy"' in page and "微信人脸核身（已核验）" in page


def test_a_verified_name_is_never_overwritten_by_another_source(client, fake):
    number = make_id_number(408)
    dept = department()
    # The chip read at an enrolled kiosk verified the name first.
    db.session.execute(sa.insert(Subject), [new_natural_subject_row(number, "张明华")])
    subject = find_natural_subject(number)
    record_verified_name(Actor.cli("test"), subject, "张明华", NameSource.KIOSK_CARD)
    db.session.commit()
    # A department's record naming the person differently changes nothing.
    person_record(dept, Person("张明", number, "o-dept"))
    db.session.commit()
    db.session.refresh(subject)
    assert subject.reveal_name() == "张明华"
    # WeChat verifies the number with another name (a name change, a clerical error somewhere):
    # the verification stands, the verified name is kept and staff are told.
    person = Person("张铭华", number, "o-other-name")
    person.token = login(client, fake, person.openid)
    assert face_verify(client, fake, person).status_code == 200
    db.session.refresh(subject)
    assert subject.reveal_name() == "张明华" and subject.name_source is NameSource.KIOSK_CARD
    assert subject.name_discrepancy_at is not None
    [event] = _name_events()
    assert event.action == "subject.name.discrepancy"
    assert event.details == {"source": "wechat_face", "kept_source": "kiosk_card", "corrected": False}
    # The same verified name again is no discrepancy: a name with a full-width space still agrees.
    assert record_verified_name(Actor.cli("test"), subject, "张　明华", NameSource.WECHAT_FACE)
    assert len(_name_events()) == 1
