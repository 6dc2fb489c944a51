"""Access matrix: every /api/mp/v1 route × {anonymous, person A, person B}.

Each row builds the request from A's resources (A's records, cases, reports, enterprise), so
person B's column shows what another citizen's token gets: never A's data. Every response is
also searched for the other person's identifying values (name, ID number, record, case and
report numbers). A route without a row fails ``test_every_route_has_a_row``.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import pytest
import sqlalchemy as sa

from backend.citizens.models import WeChatUser
from backend.citizens.tickets import create_kiosk_login_ticket
from backend.extensions import db
from backend.workflows.objections.models import Objection
from backend.workflows.objections.operations import return_objection
from backend.workflows.repairs.models import RepairApplication
from backend.workflows.repairs.operations import return_repair
from miniprogram_api.auth import hash_token, sign_download
from miniprogram_api.models import MpSession
from tests.wechat.helpers import (
    API,
    Person,
    Staff,
    auth,
    department,
    enterprise,
    file_objection,
    file_repair,
    login,
    make_pdf,
    person_record,
    sign,
    verified_person,
)

ORDER = ("anonymous", "B", "A")  # A acts last: A's own requests may change A's resources


class World:
    def __init__(self, client, fake):
        self.client = client
        self.fake = fake
        self.dept = department()
        self.staff = Staff(self.dept)
        db.session.commit()
        self.a = verified_person(client, fake, "张明华", 301)
        self.b = verified_person(client, fake, "李建国", 302)
        for person in (self.a, self.b):
            person_record(self.dept, person)
            person_record(self.dept, person)
        db.session.commit()

    def person(self, who: str) -> Person | None:
        return {"A": self.a, "B": self.b}.get(who)

    def headers(self, who: str) -> dict[str, str]:
        person = self.person(who)
        return person.headers if person else {}

    def record(self, n: int = 0) -> int:
        return self.a.records[n].id

    @cached_property
    def company(self):
        company = enterprise(
            self.dept, self.a.name, name="金昌市金川区恒信工贸有限公司", representative_id=self.a.id_number
        )
        db.session.commit()
        return company

    @cached_property
    def binding_id(self) -> int:
        response = self.client.post(
            f"{API}/enterprise-bindings",
            json={"uscc": self.company.uscc, "method": "legal_representative"},
            headers=self.a.headers,
        )
        assert response.status_code == 201, response.json
        return response.json["id"]

    def _returned(self, model, operation, number: str) -> str:
        case = db.session.scalar(sa.select(model).where(model.number == number))
        operation(self.staff.actor(self.staff.admin), case, ["缴款凭证不清晰"])
        db.session.commit()
        return number

    @cached_property
    def objection(self) -> str:
        number = file_objection(self.client, self.a, self.record(1))["number"]
        return self._returned(Objection, return_objection, number)

    @cached_property
    def repair(self) -> str:
        number = file_repair(self.client, self.a, self.record(1))["number"]
        return self._returned(RepairApplication, return_repair, number)

    @cached_property
    def report(self) -> str:
        response = self.client.post(f"{API}/reports", json={"kind": "personal"}, headers=self.a.headers)
        assert response.status_code == 201, response.json
        return response.json["number"]

    def user_id(self, person: Person) -> int:
        return db.session.scalar(sa.select(WeChatUser.id).where(WeChatUser.openid == person.openid))

    def session_of(self, person: Person) -> MpSession:
        return db.session.scalar(sa.select(MpSession).where(MpSession.token_hash == hash_token(person.token)))

    def secrets_of(self, person: Person) -> list[str]:
        values = [person.name, person.id_number, *(r.decision_number for r in person.records)]
        if person is self.a:
            for name in ("objection", "repair", "report"):
                if name in self.__dict__:
                    values.append(self.__dict__[name])
        return values


@dataclass(frozen=True)
class Row:
    method: str
    rule: str
    build: Callable[[World, str], tuple[str, dict[str, Any]]]  # -> (url, request kwargs)
    expected: dict[str, int]
    # The enterprise's registered legal representative (A) is public registration data.
    public_legal_representative: bool = False


def std(anonymous: int, b: int, a: int) -> dict[str, int]:
    return {"anonymous": anonymous, "B": b, "A": a}


def _json(url: str, body: dict | None = None):
    return lambda w, who: (url.format(w=w), {"json": body(w, who) if callable(body) else body})


def _plain(url: Callable[[World, str], str]):
    return lambda w, who: (url(w, who), {})


def _session_code(w: World, who: str) -> dict:
    code = f"matrix-{who}-{len(w.fake.requests)}"
    w.fake.add_login_code(code, f"matrix-openid-{who}")
    return {"code": code}


def _throwaway_token(w: World, who: str) -> tuple[str, dict]:
    person = w.person(who)
    token = login(w.client, w.fake, person.openid) if person else None
    return f"{API}/session", {"headers": auth(token), "_raw_headers": True}


def _face_start(w: World, who: str) -> tuple[str, dict]:
    # Everyone asks to verify as A (A is already verified as A: asking again is allowed).
    return f"{API}/identity/verification", {"json": {"name": w.a.name, "id_number": w.a.id_number}}


def _face_finish(w: World, who: str) -> tuple[str, dict]:
    # Everyone submits a verify_id WeChat issued to A, after A's scan passed: only A's own
    # account may use it.
    started = w.client.post(
        f"{API}/identity/verification", json={"name": w.a.name, "id_number": w.a.id_number}, headers=w.a.headers
    )
    assert started.status_code == 201, started.json
    assert w.fake.facial_verify(started.json["verify_id"])
    return f"{API}/identity/verification/finish", {"json": {"verify_id": started.json["verify_id"]}}


def _commitment_sign(w: World, who: str) -> tuple[str, dict]:
    shown = w.client.get(f"{API}/records/{w.record()}/commitment?kind=objection", headers=w.a.headers)
    return f"{API}/records/{w.record()}/commitment", {"json": {"kind": "objection",
                                                               "text_sha256": shown.json["text_sha256"]}}  # fmt: skip


def _upload(w: World, who: str) -> tuple[str, dict]:
    data = {"purpose": "evidence", "file": (io.BytesIO(make_pdf(1)), "证明.pdf")}
    return f"{API}/materials", {"data": data, "content_type": "multipart/form-data"}


def _new_case(kind: str):
    def build(w: World, who: str) -> tuple[str, dict]:
        record = w.record(0)
        person = w.person(who)
        commitment = sign(w.client, w.a, record, kind)  # A's commitment for A's record
        material_owner = person or w.a
        from tests.wechat.helpers import upload

        material = upload(w.client, material_owner, "fulfilment" if kind == "repair" else "evidence")
        body = {"record_id": record, "statement": "说明", "commitment_id": commitment, "material_ids": [material]}
        if kind == "objection":
            body["ground"] = "inaccurate"
        return f"{API}/{kind}s", {"json": body}

    return build


def _pdf(w: World, who: str) -> tuple[str, dict]:
    number = w.report
    if who == "anonymous":
        query = {"session": w.session_of(w.a).id, "expires": 9_999_999_999, "signature": "0" * 64}
    else:
        # B holds a validly signed link for B's own session and A's report number.
        session = w.session_of(w.person(who))
        expires, signature = sign_download(number, session)
        query = {"session": session.id, "expires": expires, "signature": signature}
    return f"{API}/reports/{number}/pdf", {"query_string": query}


def _kiosk(w: World, who: str) -> tuple[str, dict]:
    ticket, _ = create_kiosk_login_ticket(f"kiosk-{who}")
    db.session.commit()
    return f"{API}/kiosk-login/{ticket}/confirm", {}


def _needs(*names: str):
    """Create A's resources (case, report) before the listing is requested."""

    def build(w: World, who: str, url: str) -> tuple[str, dict]:
        for name in names:
            getattr(w, name)
        return url, {}

    return build


def _list(url: str, *names: str):
    return lambda w, who: _needs(*names)(w, who, url)


def _special_report(w: World, who: str) -> tuple[str, dict]:
    assert w.binding_id  # A is bound to the enterprise as its legal representative
    return f"{API}/reports", {"json": {"kind": "special", "uscc": w.company.uscc}}


S = "/api/mp/v1"
OBJ = f"{S}/objections/<number>"
REP = f"{S}/repairs/<number>"
NOTE = {"json": {"note": "已补充"}}
REASON = {"json": {"reason": "不再申请"}}

ROWS = [
    Row("POST", f"{S}/session", lambda w, who: (f"{API}/session", {"json": _session_code(w, who)}),
        std(201, 201, 201)),
    Row("DELETE", f"{S}/session", _throwaway_token, std(401, 200, 200)),
    Row("POST", f"{S}/identity/verification", _face_start, std(401, 409, 201)),
    Row("POST", f"{S}/identity/verification/finish", _face_finish, std(401, 422, 200)),
    Row("GET", f"{S}/me", _list(f"{API}/me"), std(401, 200, 200)),
    Row("GET", f"{S}/me/records", _list(f"{API}/me/records"), std(401, 200, 200)),
    Row("POST", f"{S}/enterprise-bindings",
        _json(f"{API}/enterprise-bindings", lambda w, who: {"uscc": w.company.uscc, "method": "legal_representative"}),
        std(401, 403, 201)),
    Row("GET", f"{S}/enterprise-bindings", _list(f"{API}/enterprise-bindings", "binding_id"), std(401, 200, 200)),
    Row("DELETE", f"{S}/enterprise-bindings/<int:binding_id>",
        _plain(lambda w, who: f"{API}/enterprise-bindings/{w.binding_id}"), std(401, 404, 200)),
    Row("GET", f"{S}/subjects", _list(f"{API}/subjects?q=金昌"), std(200, 200, 200)),
    Row("GET", f"{S}/subjects/<uscc>", _plain(lambda w, who: f"{API}/subjects/{w.company.uscc}"),
        std(200, 200, 200), public_legal_representative=True),
    Row("GET", f"{S}/records/<int:record_id>/eligibility",
        _plain(lambda w, who: f"{API}/records/{w.record()}/eligibility"), std(401, 404, 200)),
    Row("GET", f"{S}/records/<int:record_id>/commitment",
        _plain(lambda w, who: f"{API}/records/{w.record()}/commitment?kind=objection"), std(401, 404, 200)),
    Row("POST", f"{S}/records/<int:record_id>/commitment", _commitment_sign, std(401, 404, 201)),
    Row("POST", f"{S}/materials", _upload, std(401, 201, 201)),
    Row("POST", f"{S}/objections", _new_case("objection"), std(401, 404, 201)),
    Row("GET", f"{S}/objections", _list(f"{API}/objections", "objection"), std(401, 200, 200)),
    Row("GET", OBJ, _plain(lambda w, who: f"{API}/objections/{w.objection}"), std(401, 404, 200)),
    Row("POST", f"{OBJ}/supplement", lambda w, who: (f"{API}/objections/{w.objection}/supplement", NOTE),
        std(401, 404, 200)),
    Row("POST", f"{OBJ}/withdraw", lambda w, who: (f"{API}/objections/{w.objection}/withdraw", REASON),
        std(401, 404, 200)),
    Row("POST", f"{S}/repairs", _new_case("repair"), std(401, 404, 201)),
    Row("GET", f"{S}/repairs", _list(f"{API}/repairs", "repair"), std(401, 200, 200)),
    Row("GET", REP, _plain(lambda w, who: f"{API}/repairs/{w.repair}"), std(401, 404, 200)),
    Row("POST", f"{REP}/supplement", lambda w, who: (f"{API}/repairs/{w.repair}/supplement", NOTE),
        std(401, 404, 200)),
    Row("POST", f"{REP}/withdraw", lambda w, who: (f"{API}/repairs/{w.repair}/withdraw", REASON),
        std(401, 404, 200)),
    # B may not get a special report of A's enterprise; A (its legal representative) may.
    Row("POST", f"{S}/reports", _special_report, std(401, 403, 201)),
    Row("GET", f"{S}/reports", _list(f"{API}/reports", "report"), std(401, 200, 200)),
    Row("GET", f"{S}/reports/<number>/download-url",
        _plain(lambda w, who: f"{API}/reports/{w.report}/download-url"), std(401, 404, 200)),
    Row("GET", f"{S}/reports/<number>/pdf", _pdf, std(401, 404, 200)),
    Row("POST", f"{S}/verify", _json(f"{API}/verify", {"qr": "not-a-report-token"}), std(200, 200, 200)),
    Row("POST", f"{S}/kiosk-login/<ticket>/confirm", _kiosk, std(401, 200, 200)),
    Row("GET", f"{S}/subscriptions", _list(f"{API}/subscriptions"), std(401, 200, 200)),
    Row("POST", f"{S}/subscriptions", _json(f"{API}/subscriptions", {"answers": {"TPL-X": "accept"}}),
        std(401, 200, 200)),
]  # fmt: skip


def _mp_routes(app) -> set[tuple[str, str]]:
    return {
        (method, rule.rule)
        for rule in app.url_map.iter_rules()
        if rule.rule.startswith("/api/mp/v1")
        for method in rule.methods - {"HEAD", "OPTIONS"}
    }


def test_every_route_has_a_row(app):
    rows = {(row.method, row.rule) for row in ROWS}
    assert len(rows) == len(ROWS), "duplicate rows"
    routes = _mp_routes(app)
    assert routes - rows == set(), f"routes without a row in the access matrix: {sorted(routes - rows)}"
    assert rows - routes == set(), f"rows for routes that do not exist: {sorted(rows - routes)}"


def test_every_route_is_documented(client, app):
    spec = client.get("/openapi.json").json
    for method, rule in _mp_routes(app):
        path = rule.replace("<int:", "{").replace("<", "{").replace(">", "}")
        operation = spec["paths"][path][method.lower()]
        assert operation.get("summary"), (method, rule)
        ok = [s for s in operation["responses"] if s.startswith("2")]
        assert ok, (method, rule)
        content = operation["responses"][ok[0]].get("content", {})
        assert content and all("schema" in c for c in content.values()), (method, rule)
        if method in ("POST",) and rule not in ("/api/mp/v1/kiosk-login/<ticket>/confirm",):
            assert "requestBody" in operation, (method, rule)


@pytest.mark.parametrize("row", ROWS, ids=[f"{r.method} {r.rule}" for r in ROWS])
def test_access(client, fake, row: Row):
    world = World(client, fake)
    for who in ORDER:
        url, kwargs = row.build(world, who)
        if not kwargs.pop("_raw_headers", False):
            kwargs["headers"] = world.headers(who)
        response = client.open(url, method=row.method, **kwargs)
        assert response.status_code == row.expected[who], (who, response.status_code, response.data[:300])
        if row.rule.endswith("/pdf"):
            assert response.status_code != 200 or response.data.startswith(b"%PDF")
            continue  # binary: who may read it is what the status says
        body = response.get_data(as_text=True)
        others = {"A": [world.b], "B": [world.a], "anonymous": [world.a, world.b]}[who]
        for other in others:
            for secret in world.secrets_of(other):
                if row.public_legal_representative and secret == other.name:
                    continue
                assert secret not in body, (who, "sees", secret, "of", other.name)
