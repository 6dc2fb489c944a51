"""Binding an enterprise as its legal representative compares identities (the registered
法定代表人证件号码 with the verified person's own ID number), never names alone (issue 14, item 3)."""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa

from backend.audit.models import AuditEvent
from backend.citizens.models import BindingMethod, BindingStatus, EnterpriseBinding, WeChatUser
from backend.citizens.suspension import SUSPENDED_TOPIC, suspend_name_only_bindings
from backend.extensions import db
from backend.outbox.models import OutboxEvent
from backend.outbox.worker import deliver_pending, registered_handlers
from backend.subjects.models import Subject
from miniprogram_api.operations import review_enterprise_binding
from tests.factories import make_id_number, make_uscc, record_input, write_records
from tests.wechat.conftest import TEMPLATE_CASE
from tests.wechat.helpers import API, Staff, department, upload, verified_person

COMPANY = "金昌市金川区宏达建材有限公司"


def registering_department():
    dept = department()
    dept.registers_subjects = True  # 市场监管: registration data, the representative's identity
    db.session.flush()
    return dept


def company(dept, representative: str, representative_id: str | None) -> str:
    uscc = make_uscc()
    write_records(
        record_input(
            dept,
            uscc=uscc,
            subject_name=COMPANY,
            legal_representative=representative,
            legal_representative_id_number=representative_id,
            decision_date=dt.date.today() - dt.timedelta(days=30),
            received_date=dt.date.today() - dt.timedelta(days=28),
        )
    )
    db.session.commit()
    return uscc


def bind(client, person, uscc, method="legal_representative", **extra):
    return client.post(f"{API}/enterprise-bindings", json={"uscc": uscc, "method": method, **extra},
                       headers=person.headers)  # fmt: skip


def test_matching_representative_id_binds_at_once(client, fake):
    dept = registering_department()
    person = verified_person(client, fake, "王建国", 701)
    uscc = company(dept, "王建国", person.id_number)
    bound = bind(client, person, uscc)
    assert bound.status_code == 201 and bound.json["status"] == "active"
    assert client.get(f"{API}/me/records?uscc={uscc}", headers=person.headers).status_code == 200
    # Stored encrypted with a keyed hash: the clear number is nowhere in the row.
    with db.engine.connect() as conn:
        stored = conn.execute(sa.text("SELECT * FROM subject WHERE uscc = :u"), {"u": uscc}).one()
    row = " ".join(str(v) for v in stored)
    assert person.id_number not in row


def test_same_name_with_another_id_number_is_refused(client, fake):
    dept = registering_department()
    person = verified_person(client, fake, "王建国", 702)
    uscc = company(dept, "王建国", make_id_number(703))  # the real 王建国 has another number
    refused = bind(client, person, uscc)
    assert refused.status_code == 403 and refused.json["error"]["code"] == "not_legal_representative"
    assert "授权委托书" in refused.json["error"]["message"]
    # No binding, so the enterprise's unpublished records and its special report stay closed.
    assert db.session.scalar(sa.select(sa.func.count()).select_from(EnterpriseBinding)) == 0
    assert client.get(f"{API}/me/records?uscc={uscc}", headers=person.headers).status_code == 404
    special = client.post(f"{API}/reports", json={"kind": "special", "uscc": uscc}, headers=person.headers)
    assert special.status_code in (403, 404)
    audit = db.session.scalars(sa.select(AuditEvent).where(AuditEvent.action == "mp.enterprise.bind_refused")).one()
    assert audit.details["reason"] == "id_mismatch"
    assert person.id_number not in str(audit.details)


def test_without_a_stored_number_only_the_reviewed_letter_binds(client, fake):
    dept = registering_department()
    person = verified_person(client, fake, "王建国", 704)
    uscc = company(dept, "王建国", None)  # name matches; no registered number to compare
    refused = bind(client, person, uscc)
    assert refused.status_code == 403 and refused.json["error"]["code"] == "representative_id_unknown"
    letter = upload(client, person, "authorisation")
    pending = bind(client, person, uscc, "authorisation_letter", material_id=letter)
    assert pending.status_code == 201 and pending.json["status"] == "pending_review"
    assert client.get(f"{API}/me/records?uscc={uscc}", headers=person.headers).status_code == 404
    staff = Staff(dept)
    review_enterprise_binding(staff.actor(staff.admin), db.session.get(EnterpriseBinding, pending.json["id"]), True)
    db.session.commit()
    assert client.get(f"{API}/me/records?uscc={uscc}", headers=person.headers).status_code == 200


def test_migration_step_suspends_name_only_bindings_and_tells_the_holder(client, fake):
    dept = registering_department()
    person = verified_person(client, fake, "王建国", 705)
    uscc = company(dept, "王建国", None)
    letter_uscc = company(dept, "赵六", None)
    enterprise = db.session.scalar(sa.select(Subject).where(Subject.uscc == uscc))
    other = db.session.scalar(sa.select(Subject).where(Subject.uscc == letter_uscc))
    user = db.session.scalar(sa.select(WeChatUser).where(WeChatUser.openid == person.openid))
    # As bound before this fix: by name alone, active; and an approved letter, which stays.
    name_only = EnterpriseBinding(user_id=user.id, person_subject_id=user.subject_id, subject_id=enterprise.id,
                                  method=BindingMethod.LEGAL_REPRESENTATIVE, status=BindingStatus.ACTIVE)  # fmt: skip
    letter = upload(client, person, "authorisation")
    by_letter = EnterpriseBinding(user_id=user.id, person_subject_id=user.subject_id, subject_id=other.id,
                                  method=BindingMethod.AUTHORISATION_LETTER, status=BindingStatus.ACTIVE,
                                  material_id=letter)  # fmt: skip
    db.session.add_all([name_only, by_letter])
    db.session.commit()
    name_only_id, by_letter_id = name_only.id, by_letter.id
    assert client.get(f"{API}/me/records?uscc={uscc}", headers=person.headers).status_code == 200

    assert suspend_name_only_bindings(db.session.connection()) == 1
    db.session.commit()
    db.session.expire_all()
    assert db.session.get(EnterpriseBinding, name_only_id).status is BindingStatus.SUSPENDED
    assert db.session.get(EnterpriseBinding, by_letter_id).status is BindingStatus.ACTIVE
    assert client.get(f"{API}/me/records?uscc={uscc}", headers=person.headers).status_code == 404
    assert client.get(f"{API}/me/records?uscc={letter_uscc}", headers=person.headers).status_code == 200
    # The holder sees why, in the bindings list ...
    items = {i["id"]: i for i in client.get(f"{API}/enterprise-bindings", headers=person.headers).json["items"]}
    assert items[name_only_id]["status"] == "suspended"
    assert "法定代表人" in items[name_only_id]["status_reason"]
    assert items[by_letter_id]["status"] == "active"
    # ... and in a WeChat message, queued in the same transaction (ids only).
    (event,) = db.session.scalars(sa.select(OutboxEvent).where(OutboxEvent.topic == SUSPENDED_TOPIC)).all()
    assert event.payload == {"binding_id": name_only_id}
    event_id = event.id
    assert suspend_name_only_bindings(db.session.connection()) == 0  # run twice: nothing more
    db.session.commit()
    fake.grant_subscription(person.openid, TEMPLATE_CASE)
    db.session.remove()
    assert deliver_pending(registered_handlers()).delivered == [event_id]
    (message,) = fake.subscribe_messages
    assert message["touser"] == person.openid
    assert person.id_number not in str(message) and "王建国" not in str(message)
    # Once the registering department sends the representative's number, binding again works.
    dept = db.session.merge(dept)
    company_again = record_input(dept, uscc=uscc, subject_name=COMPANY, legal_representative="王建国",
                                 legal_representative_id_number=person.id_number)  # fmt: skip
    write_records(company_again)
    db.session.commit()
    again = bind(client, person, uscc)
    assert again.status_code == 201 and again.json["status"] == "active"


def test_staff_may_reinstate_or_reject_a_suspended_binding(client, fake):
    dept = registering_department()
    person = verified_person(client, fake, "王建国", 706)
    uscc = company(dept, "王建国", None)
    enterprise = db.session.scalar(sa.select(Subject).where(Subject.uscc == uscc))
    user = db.session.scalar(sa.select(WeChatUser).where(WeChatUser.openid == person.openid))
    binding = EnterpriseBinding(user_id=user.id, person_subject_id=user.subject_id, subject_id=enterprise.id,
                                method=BindingMethod.LEGAL_REPRESENTATIVE, status=BindingStatus.ACTIVE)  # fmt: skip
    db.session.add(binding)
    db.session.commit()
    suspend_name_only_bindings(db.session.connection())
    db.session.commit()
    db.session.expire_all()
    staff = Staff(dept)
    review_enterprise_binding(staff.actor(staff.admin), db.session.get(EnterpriseBinding, binding.id), True,
                              "窗口核验法定代表人身份证明书")  # fmt: skip
    db.session.commit()
    assert db.session.get(EnterpriseBinding, binding.id).status is BindingStatus.ACTIVE


def test_a_new_registered_representative_suspends_the_previous_ones_binding(client, fake):
    dept = registering_department()
    person = verified_person(client, fake, "王建国", 707)
    uscc = company(dept, "王建国", person.id_number)
    bound = bind(client, person, uscc)
    assert bound.status_code == 201 and bound.json["status"] == "active"
    # 市场监管 registers a new representative: the former one no longer acts for the enterprise.
    dept = db.session.merge(dept)
    write_records(record_input(dept, uscc=uscc, subject_name=COMPANY, legal_representative="李新",
                               legal_representative_id_number=make_id_number(708)))  # fmt: skip
    db.session.commit()
    binding = db.session.get(EnterpriseBinding, bound.json["id"])
    assert binding.status is BindingStatus.SUSPENDED and "法定代表人" in binding.suspension_reason
    audit = db.session.scalars(sa.select(AuditEvent).where(AuditEvent.action == "mp.enterprise.suspend")).one()
    assert audit.target_id == str(binding.id)
    assert client.get(f"{API}/me/records?uscc={uscc}", headers=person.headers).status_code == 404
    assert db.session.scalars(sa.select(OutboxEvent).where(OutboxEvent.topic == SUSPENDED_TOPIC)).one().payload == {
        "binding_id": binding.id
    }
    # A record from a department that does not register subjects changes no representative.
    other = department_named("SW", "金昌市税务局", 2)
    write_records(record_input(other, uscc=uscc, subject_name=COMPANY, legal_representative="王建国",
                               legal_representative_id_number=person.id_number))  # fmt: skip
    db.session.commit()
    enterprise = db.session.scalar(sa.select(Subject).where(Subject.uscc == uscc))
    assert enterprise.legal_representative == "李新"
    assert enterprise.reveal_legal_representative_id_number() == make_id_number(708)


def department_named(code: str, name: str, n: int):
    from tests.factories import make_department

    return make_department(code=code, name=name, n=n)
