"""Callers of every surface for the security suites (a plain module: conftest.py is not
importable): anonymous, two verified citizens (mini-program bearer tokens), a kiosk device and a
citizen signed in at it, a department's API key (signed requests) and the three staff roles."""

from __future__ import annotations

import contextlib
import copy
import dataclasses
import datetime as dt
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import pytest
import sqlalchemy as sa

from backend.actors import Actor
from backend.departments.models import Department
from backend.departments.operations import issue_api_key
from backend.dept_api.auth import signed_headers
from backend.extensions import db
from backend.issued_reports.keys import EXTENSION_KEY
from backend.records.models import CreditRecord
from backend.staff.models import StaffRole
from backend.storage import LocalStorage
from backend.types import CLOCK, utcnow
from kiosk import operations as kiosk_ops
from kiosk.agent.signing import PAYLOAD_TYPE, DeviceKey
from tests.snapshot import DatabaseSnapshot, copy_cookies, empty_database, fake_state, restore_fake_state
from tests.wechat.helpers import Person, department, person_record, verified_person

MP_APPID = "wxmp0000000000test"
MP_SECRET = "mp-secret-for-tests"
OA_APPID = "wxb11529c136998cb6"
OA_SECRET = "oa-secret-for-tests"
OA_TOKEN = "pamtest"

ROLES = (
    "anonymous",
    "citizen_a",
    "citizen_b",
    "kiosk_device",
    "kiosk_citizen",
    "department",
    "platform_admin",
    "dept_reviewer",
    "auditor",
)
STAFF_ROLES = ("platform_admin", "dept_reviewer", "auditor")
# Names and ID numbers of the people these suites create: personal data that must never reach
# a log (tests/conftest.py scans the logs of the whole run for them).
CITIZEN_A = ("张明华", 311)
CITIZEN_B = ("李建国", 312)


def point_at_fake(app, fake, monkeypatch):
    """The app's WeChat channel pointed at the fake server, fresh clients and token store."""
    settings = app.extensions["settings"]
    values = {
        "WECHAT_API_BASE_URL": fake.base_url,
        "WECHAT_MP_APPID": MP_APPID,
        "WECHAT_MP_SECRET": MP_SECRET,
        "WECHAT_OA_APPID": OA_APPID,
        "WECHAT_OA_SECRET": OA_SECRET,
        "WECHAT_OA_TOKEN": OA_TOKEN,
        "WECHAT_OA_AES_KEY": "",
        "WECHAT_TIMEOUT_SECONDS": 2,
        "WECHAT_TEMPLATE_CASE_PROGRESS": "TPL-CASE-PROGRESS-0001",
        "WECHAT_TEMPLATE_DEADLINE": "TPL-DEADLINE-0002",
        "WECHAT_TEMPLATE_REPORT_READY": "TPL-REPORT-READY-0003",
    }
    for key, value in values.items():
        monkeypatch.setattr(settings, key, value)
    monkeypatch.delitem(app.extensions, "wechat_clients", raising=False)
    monkeypatch.delitem(app.extensions, "wechat_token_store", raising=False)
    return settings


@dataclass
class Built:
    """Something built once per module (``build_once``) and the state to give every test back."""

    value: Any
    client: Any  # the test client the build used (its cookies go to each test's client)
    built_at: dt.datetime  # the frozen moment of the build: timestamps move from it to the test's
    rows: DatabaseSnapshot
    fake: dict[str, Any]

    def restore(self, clock, client, fake) -> Any:
        """This test's database, fake WeChat and client cookies as right after the build, moved
        to the test's own moment (its clock is left alone: some assertions compare with the
        wall clock)."""
        self.rows.restore(shift=clock.now - self.built_at)
        restore_fake_state(fake, self.fake)
        copy_cookies(self.client, client)
        return self.value


@contextlib.contextmanager
def build_once(app, fake_server, report_keys, tmp_path_factory, tag: str, build: Callable[..., Any]):
    """Run ``build(app, client, fake)`` once, on the frozen clock and with a test's settings, copy
    what it wrote (tests/snapshot.py), then empty the database and the fake again."""
    folder = tmp_path_factory.mktemp(f"{tag}-storage")
    with app.app_context(), pytest.MonkeyPatch.context() as patch:
        fake_server.reset()
        fake_server.apps = {MP_APPID: MP_SECRET, OA_APPID: OA_SECRET}
        point_at_fake(app, fake_server, patch)
        patch.setitem(app.extensions, EXTENSION_KEY, report_keys)
        patch.setitem(app.extensions, "storage", LocalStorage(folder / "storage"))
        CLOCK.frozen = utcnow().replace(microsecond=0)
        try:
            client = app.test_client()
            value = build(app, client, fake_server)
            built = Built(value, client, CLOCK.frozen, DatabaseSnapshot.take(tag), fake_state(fake_server))
        finally:
            CLOCK.frozen = None
            db.session.remove()
            empty_database()
            fake_server.reset()
    # Files are not part of the copy: a build that stored any would hand tests a partial world.
    assert not any(folder.rglob("*.*")), f"building {tag} stored files; tests/snapshot.py does not copy them"
    try:
        yield built
    finally:
        with app.app_context():
            built.rows.drop()


def rebind(instance: Any) -> Any:
    """``instance`` (built in another session) loaded in the current one."""
    return db.session.get(type(instance), sa.inspect(instance).identity)


class Callers:
    def __init__(self, app, client, fake, *, dept=None, a: Person | None = None, b: Person | None = None):
        """With ``dept``, ``a`` and ``b`` given (another suite's world), those are used instead."""
        from test_staff_auth import login_as  # tests/ is on sys.path (rootdir conftest)

        self.app = app
        self.fake = fake
        if dept is None:
            dept = department()
            db.session.commit()
            a = verified_person(client, fake, *CITIZEN_A)
            b = verified_person(client, fake, *CITIZEN_B)
            for person in (a, b):
                person_record(dept, person)
            db.session.commit()
        self.dept = dept
        self.a: Person = a
        self.b: Person = b
        key, self.dept_secret = issue_api_key(Actor.cli("test"), self.dept, "security")
        self.dept_key_id = key.key_id
        self.device, credential = kiosk_ops.register_device(
            Actor.cli("test"), "JC-SEC-01", "金昌市政务服务中心", "一楼东侧"
        )
        self.kiosk_key = DeviceKey.generate()  # the agent's device key (kiosk/README.md)
        kiosk_ops.enrol_device_key(self.device, self.kiosk_key.public_key_b64())
        db.session.commit()
        self.kiosk_auth = {"Authorization": f"Kiosk {credential}"}
        self.clients: dict[str, Any] = {"kiosk_citizen": app.test_client()}
        self.ensure_kiosk_session()
        for role, user_role in (
            ("platform_admin", StaffRole.PLATFORM_ADMIN),
            ("dept_reviewer", StaffRole.DEPT_REVIEWER),
            ("auditor", StaffRole.AUDITOR),
        ):
            staff_client = app.test_client()
            login_as(staff_client, user_role, department=self.dept if user_role is StaffRole.DEPT_REVIEWER else None)
            self.clients[role] = staff_client
        # What for_test loads again in a later session (the objects above expire at commit).
        self._ids = {
            "dept": self.dept.id,
            "device": self.device.id,
            "a": [r.id for r in self.a.records],
            "b": [r.id for r in self.b.records],
        }

    def for_test(self, fake) -> Callers:
        """These callers for a test that starts from the rows they were built with (restored by
        tests/snapshot.py): the ORM objects loaded in the test's session, every client a new
        one holding the same cookies (a test that signs one out leaves the next one alone)."""
        other = copy.copy(self)
        other.fake = fake
        other.dept = db.session.get(Department, self._ids["dept"])
        other.device = db.session.get(type(self.device), self._ids["device"])
        other.a = dataclasses.replace(self.a, records=[db.session.get(CreditRecord, i) for i in self._ids["a"]])
        other.b = dataclasses.replace(self.b, records=[db.session.get(CreditRecord, i) for i in self._ids["b"]])
        other.clients = {}
        for role, built in self.clients.items():
            other.clients[role] = self.app.test_client()
            copy_cookies(built, other.clients[role])
        return other

    def ensure_kiosk_session(self) -> None:
        """Citizen A signed in at the kiosk with the ID card (again, if a request signed out)."""
        kiosk_client = self.clients["kiosk_citizen"]
        touched = kiosk_client.post("/kiosk/api/touch", json={}, headers=self.kiosk_auth)
        if touched.status_code == 200 and touched.json["signed_in"]:
            return
        signed_in = self.kiosk_card_signin(kiosk_client, self.a)
        assert signed_in.status_code == 200, signed_in.json

    def kiosk_card_signin(self, client, person: Person, **kwargs):
        """What the agent does for ``person``'s card: a challenge, the reading signed with its key."""
        challenge = client.post("/kiosk/api/signin/challenge", json={}, headers=self.kiosk_auth, **kwargs)
        assert challenge.status_code == 200, challenge.json
        text, signature = self.kiosk_key.sign_reading(
            {
                "type": PAYLOAD_TYPE,
                "challenge": challenge.json["challenge"],
                "device": self.device.code,
                "id_number": person.id_number,
                "name": person.name,
                "valid_until": "2036-01-01",
                "face_result": "pass",
                "face_score": 0.93,
                "read_at": "2026-12-03T08:00:00Z",
                "reader": "virtual",
            }
        )
        return client.post(
            "/kiosk/api/signin/card",
            json={"payload": text, "signature": signature},
            headers=self.kiosk_auth,
            **kwargs,
        )

    def record_of(self, person: Person) -> CreditRecord:
        return db.session.scalars(sa.select(CreditRecord).where(CreditRecord.id == person.records[0].id)).one()

    def client_for(self, role: str):
        return self.clients.get(role) or self.app.test_client()

    def headers_for(self, role: str, method: str, url: str, body: bytes) -> dict[str, str]:
        if role == "citizen_a":
            return dict(self.a.headers)
        if role == "citizen_b":
            return dict(self.b.headers)
        if role in ("kiosk_device", "kiosk_citizen"):
            return dict(self.kiosk_auth)
        if role == "department":
            parts = urlsplit(url)  # the signature covers the query string too
            target = parts.path + (f"?{parts.query}" if parts.query else "")
            return signed_headers(self.dept_key_id, self.dept_secret, method, target, body)
        return {}

    def request(self, role: str, method: str, url: str, *, json_body: Any = None, **kwargs):
        """``method url`` as ``role``; a JSON body is serialised here so that the department's
        signature covers the exact bytes sent."""
        headers = dict(kwargs.pop("headers", None) or {})
        body = b""
        if json_body is not None:
            body = json.dumps(json_body, ensure_ascii=False).encode()
            kwargs["data"] = body
            kwargs["content_type"] = "application/json"
        elif isinstance(kwargs.get("data"), bytes):
            body = kwargs["data"]
        headers.update(self.headers_for(role, method, url, body))
        return self.client_for(role).open(url, method=method, headers=headers, **kwargs)
