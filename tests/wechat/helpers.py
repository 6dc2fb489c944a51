"""Builders for the WeChat tests (a plain module: conftest.py is not importable)."""

from __future__ import annotations

import datetime as dt
import itertools
from dataclasses import dataclass, field

from backend.actors import Actor
from backend.extensions import db
from backend.records.models import CreditRecord, PenaltyTier
from backend.staff.models import StaffRole, StaffUser
from backend.subjects.models import Subject
from tests.factories import make_department, make_id_number, make_uscc, record_input, write_records

API = "/api/mp/v1"


def make_pdf(pages: int = 1) -> bytes:
    """A small well-formed PDF (the materials check counts its pages)."""
    kids = " ".join(f"{3 + i} 0 R" for i in range(pages))
    body = [
        b"1 0 obj\n<< /Type /Catalog /Pages 2 0 R >>\nendobj\n",
        f"2 0 obj\n<< /Type /Pages /Kids [{kids}] /Count {pages} >>\nendobj\n".encode(),
    ]
    body += [
        f"{3 + i} 0 obj\n<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] >>\nendobj\n".encode()
        for i in range(pages)
    ]
    return b"%PDF-1.7\n" + b"".join(body) + b"trailer\n<< /Root 1 0 R >>\nstartxref\n0\n%%EOF\n"


_seq = itertools.count(1)


def auth(token: str | None) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"} if token else {}


@dataclass
class Person:
    name: str
    id_number: str
    openid: str
    token: str | None = None
    records: list[CreditRecord] = field(default_factory=list)

    @property
    def headers(self) -> dict[str, str]:
        return auth(self.token)

    @property
    def subject(self) -> Subject:
        from backend.records.operations import find_natural_subject

        subject = find_natural_subject(self.id_number)
        assert subject is not None
        return subject


def login(client, fake, openid: str) -> str:
    code = f"code-{next(_seq)}-{openid}"
    fake.add_login_code(code, openid)
    response = client.post(f"{API}/session", json={"code": code})
    assert response.status_code == 201, response.json
    return response.json["token"]


def start_verification(client, person: Person, *, name=None, id_number=None):
    """Step 1 of face verification 2.0: POST /identity/verification (the server's getverifyid)."""
    return client.post(
        f"{API}/identity/verification",
        json={"name": name or person.name, "id_number": id_number or person.id_number},
        headers=person.headers,
    )


def finish_verification(client, person: Person, verify_id: str):
    """Step 3: POST /identity/verification/finish (the server's queryverifyinfo)."""
    return client.post(f"{API}/identity/verification/finish", json={"verify_id": verify_id}, headers=person.headers)


def face_verify(client, fake, person: Person, *, claimed_name=None, claimed_id=None, verify_ret: int = 10000):
    """The whole 2.0 sequence: start (getverifyid) -> the page's wx.requestFacialVerify, played
    by the fake with ``verify_ret`` -> finish (queryverifyinfo). Returns the last response (the
    start's when it was refused)."""
    started = start_verification(client, person, name=claimed_name, id_number=claimed_id)
    if started.status_code != 201:
        return started
    assert fake.facial_verify(started.json["verify_id"], verify_ret)
    return finish_verification(client, person, started.json["verify_id"])


def verified_person(client, fake, name: str, n: int) -> Person:
    person = Person(name, make_id_number(n), f"openid-{n}-{next(_seq)}")
    person.token = login(client, fake, person.openid)
    response = face_verify(client, fake, person)
    assert response.status_code == 200, response.json
    return person


class Staff:
    """The platform admin (completeness check) and the record department's reviewer."""

    def __init__(self, department):
        self.admin = self._user("wx_admin", StaffRole.PLATFORM_ADMIN, None)
        self.reviewer = self._user("wx_reviewer", StaffRole.DEPT_REVIEWER, department.id)

    @staticmethod
    def _user(username, role, department_id):
        user = StaffUser(
            username=username, display_name=username, password_hash="x", role=role, department_id=department_id
        )
        db.session.add(user)
        db.session.flush()
        return user

    def actor(self, user) -> Actor:
        return Actor.staff(db.session.get(StaffUser, user.id))


def department():
    return make_department()


def person_record(dept, person: Person, *, days_ago: int = 200, tier=PenaltyTier.GENERAL, **overrides) -> CreditRecord:
    item = record_input(
        dept,
        uscc=None,
        id_number=person.id_number,
        subject_name=person.name,
        tier=tier,
        decision_date=dt.date.today() - dt.timedelta(days=days_ago),
        received_date=dt.date.today() - dt.timedelta(days=days_ago - 2),
        **overrides,
    )
    write_records(item)
    db.session.flush()
    record = db.session.scalars(
        db.select(CreditRecord).where(CreditRecord.decision_number == item.decision_number)
    ).one()
    person.records.append(record)
    return record


def enterprise(
    dept, legal_representative: str, name: str = "金昌市金川区宏达建材有限公司", representative_id: str | None = None
) -> Subject:
    """An enterprise with a record; ``representative_id`` is its registered 法定代表人证件号码 (as a
    registering department sends it), which binding as legal representative compares."""
    uscc = make_uscc()
    write_records(
        record_input(
            dept,
            uscc=uscc,
            subject_name=name,
            legal_representative=legal_representative,
            decision_date=dt.date.today() - dt.timedelta(days=30),
            received_date=dt.date.today() - dt.timedelta(days=28),
        )
    )
    db.session.flush()
    subject = db.session.scalar(db.select(Subject).where(Subject.uscc == uscc))
    if subject.legal_representative is None:
        subject.legal_representative = legal_representative
    if representative_id is not None:
        from backend.pii import cipher
        from backend.subjects.models import LEGAL_REPRESENTATIVE_ID_CONTEXT

        subject.legal_representative_id_number_hash = cipher().lookup_hash(representative_id, "id_number")
        subject.legal_representative_id_number_encrypted = cipher().encrypt(
            representative_id, LEGAL_REPRESENTATIVE_ID_CONTEXT
        )
    db.session.flush()
    return subject


def upload(client, person: Person, purpose: str = "evidence", data: bytes | None = None) -> int:
    from io import BytesIO

    response = client.post(
        f"{API}/materials",
        data={"purpose": purpose, "file": (BytesIO(data or make_pdf(1)), "证明.pdf")},
        headers=person.headers,
        content_type="multipart/form-data",
    )
    assert response.status_code == 201, response.json
    return response.json["id"]


def sign(client, person: Person, record_id: int, kind: str) -> int:
    shown = client.get(f"{API}/records/{record_id}/commitment?kind={kind}", headers=person.headers)
    assert shown.status_code == 200, shown.json
    signed = client.post(
        f"{API}/records/{record_id}/commitment",
        json={"kind": kind, "text_sha256": shown.json["text_sha256"]},
        headers=person.headers,
    )
    assert signed.status_code == 201, signed.json
    return signed.json["id"]


def file_objection(client, person: Person, record_id: int) -> dict:
    commitment = sign(client, person, record_id, "objection")
    material = upload(client, person)
    response = client.post(
        f"{API}/objections",
        json={
            "record_id": record_id,
            "ground": "inaccurate",
            "statement": "处罚决定已被撤销，附撤销决定书。",
            "commitment_id": commitment,
            "material_ids": [material],
        },
        headers=person.headers,
    )
    assert response.status_code == 201, response.json
    return response.json


def file_repair(client, person: Person, record_id: int) -> dict:
    commitment = sign(client, person, record_id, "repair")
    material = upload(client, person, "fulfilment")
    response = client.post(
        f"{API}/repairs",
        json={
            "record_id": record_id,
            "statement": "罚款已缴清，整改已完成。",
            "commitment_id": commitment,
            "material_ids": [material],
        },
        headers=person.headers,
    )
    assert response.status_code == 201, response.json
    return response.json
