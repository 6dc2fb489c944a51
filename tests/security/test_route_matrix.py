"""One access matrix: every route of every surface × every kind of caller, with its expected status.

Roles: anonymous; citizens A and B (mini-program bearer tokens); a kiosk device (its credential)
and a citizen signed in at it (credential + session cookie); a department's API key (signed
requests); staff: platform admin, department reviewer, auditor.

Two surfaces already have a matrix of their own, whose rows this one reuses rather than copies:

- the staff console (tests/test_admin_access_matrix.py ``EXPECTED``): its own roles are checked
  there against a world of cases; here the callers of other surfaces, who must get exactly what
  an anonymous visitor gets (a token, a kiosk credential or a signature is no console login);
- the mini-program API (tests/wechat/test_access_matrix.py ``ROWS``): citizens A and B and
  anonymous are checked there; here staff, kiosks and departments, again as anonymous.

Every other route has a row here with every role. ``test_every_route_has_a_row`` fails for a
route (or a method of a route) that no table covers, so nothing ships without a decision on who
may call it.
"""

from __future__ import annotations

import copy
import dataclasses
import json
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

import pytest
import test_admin_access_matrix as console_matrix  # tests/ is on sys.path (rootdir conftest)

from backend.extensions import db
from tests.security.helpers import ROLES, STAFF_ROLES, Callers, build_once, rebind
from tests.wechat import test_access_matrix as mp_matrix

IGNORED_METHODS = {"HEAD", "OPTIONS"}
CONSOLE_ROLES = {"platform_admin": "platform_admin", "dept_reviewer": "reviewer_own", "auditor": "auditor"}
MP_ROLES = {"citizen_a": "A", "citizen_b": "B"}
KIOSK_ROLES = ("kiosk_device", "kiosk_citizen")


def everyone(status: int) -> dict[str, int]:
    return dict.fromkeys(ROLES, status)


def kiosk(device: int, citizen: int, others: int = 401) -> dict[str, int]:
    """Kiosk routes: the device credential is required; the other surfaces' callers have none."""
    return {**everyone(others), "kiosk_device": device, "kiosk_citizen": citizen}


def department(status: int, others: int = 401) -> dict[str, int]:
    return {**everyone(others), "department": status}


@dataclass(frozen=True)
class Row:
    endpoint: str
    method: str
    url: str  # formatted with the world's values: {uscc}, {record}, {batch}, {token}
    expected: dict[str, int]
    body: dict[str, Any] | None = field(default=None, compare=False)
    form: dict[str, str] | None = field(default=None, compare=False)


NO_CASE = "YY-20260101-NOTEXIST"
ONE_BAD_RECORD = {"records": [{"subject_name": "金昌测试商贸有限公司"}]}  # a batch, its record refused
# Routes outside the console and the mini-program API. Order matters once: signing out at the
# kiosk ends the citizen's session, so it comes last.
ROWS = [
    # Public pages and the public JSON API: open to all, the same answer whoever asks.
    Row("public_web.home", "GET", "/", everyone(200)),
    Row("public_web.search", "GET", "/search?q=金昌", everyone(200)),
    Row("public_web.profile", "GET", "/subjects/{uscc}", everyone(200)),
    Row("static", "GET", "/static/none.css", everyone(404)),
    Row("static", "GET", "/static/swagger-ui/swagger-ui.css", everyone(200)),  # the API docs page's
    Row("public_api.search_subjects", "GET", "/api/v1/subjects?q=金昌", everyone(200)),
    Row("public_api.get_subject", "GET", "/api/v1/subjects/{uscc}", everyone(200)),
    # Verification of printed reports.
    Row("verify.scan", "GET", "/v/not-a-token", everyone(200)),
    Row("verify.verify_page", "GET", "/verify", everyone(200)),
    Row("verify.verify_page", "POST", "/verify", everyone(422), form={}),  # no CSRF token, nothing verified
    Row("verify_api.verify_api", "POST", "/api/v1/verify", everyone(200), body={"qr": "not-a-token"}),
    Row("verify_api.public_keys", "GET", "/.well-known/credit-report-keys.json", everyone(200)),
    # Integrators and operations. /metrics answers the loopback address the test client uses.
    Row("openapi.spec", "GET", "/openapi.json", everyone(200)),
    Row("api_docs.docs", "GET", "/docs", everyone(200)),
    Row("health.healthz", "GET", "/healthz", everyone(200)),
    Row("health.readyz", "GET", "/readyz", everyone(200)),
    Row("metrics.metrics", "GET", "/metrics", everyone(200)),
    # Department API: the signature is the only way in.
    Row("dept_api.submit_records", "POST", "/api/dept/v1/records", department(200), body=ONE_BAD_RECORD),
    Row("dept_api.get_batch", "GET", "/api/dept/v1/batches/{batch}", department(200)),
    Row("dept_api.list_derived_tiers", "GET", "/api/dept/v1/records/derived-tiers", department(200)),
    # A decision number the department never sent: its own 404, nobody else's business (401).
    Row(
        "dept_api.confirm_tier",
        "POST",
        "/api/dept/v1/records/tier",
        department(404),
        body={"decision_number": "金市监罚〔2026〕不存在号", "tier": "general"},
    ),
    # Official account callbacks: WeChat's signature, which no caller here has.
    Row("wechat_oa.oa_verify_server", "GET", "/wechat/oa?echostr=x", everyone(403)),
    Row("wechat_oa.oa_receive", "POST", "/wechat/oa", everyone(403)),
    # Mini-program message push: WeChat's signature too; off (503) until its token is configured.
    Row("wechat_oa.mp_push_verify_server", "GET", "/wechat/mp/push?echostr=x", everyone(503)),
    Row("wechat_oa.mp_push_receive", "POST", "/wechat/mp/push", everyone(503)),
    # Kiosk: pages and the agent's API need the device credential; personal pages a session.
    Row("kiosk.static", "GET", "/kiosk/static/kiosk.css", everyone(200)),
    Row("kiosk.home", "GET", "/kiosk/", kiosk(200, 200)),
    Row("kiosk.signin", "GET", "/kiosk/signin", kiosk(200, 302)),
    Row("kiosk.mine", "GET", "/kiosk/mine", kiosk(302, 200)),
    Row("kiosk.print_page", "GET", "/kiosk/print", kiosk(302, 200)),
    Row("kiosk.enterprise_search", "GET", "/kiosk/enterprise?q=金昌", kiosk(200, 200)),
    Row("kiosk.enterprise", "GET", "/kiosk/enterprise/{uscc}", kiosk(200, 200)),
    Row("kiosk.choose_objection_record", "GET", "/kiosk/objection", kiosk(302, 200)),
    Row("kiosk.objection", "GET", "/kiosk/objection/{record}", kiosk(302, 200)),
    Row("kiosk.objection", "POST", "/kiosk/objection/{record}", kiosk(302, 422), form={}),
    Row("kiosk.objection", "GET", "/kiosk/objection/{other_record}", kiosk(302, 404)),  # B's record
    Row("kiosk.choose_repair_record", "GET", "/kiosk/repair", kiosk(302, 200)),
    Row("kiosk.repair", "GET", "/kiosk/repair/{record}", kiosk(302, 200)),
    Row("kiosk.repair", "POST", "/kiosk/repair/{record}", kiosk(302, 422), form={}),
    Row("kiosk.receipt", "GET", f"/kiosk/cases/{NO_CASE}", kiosk(302, 404)),
    Row("kiosk.verify", "GET", "/kiosk/verify", kiosk(200, 200)),
    Row("kiosk.heartbeat", "POST", "/kiosk/api/heartbeat", kiosk(200, 200), body={"printer_state": "ready"}),
    Row("kiosk.touch", "POST", "/kiosk/api/touch", kiosk(200, 200), body={}),
    Row("kiosk.device_key", "POST", "/kiosk/api/device-key", kiosk(422, 422), body={"public_key": "x"}),
    Row("kiosk.signin_challenge", "POST", "/kiosk/api/signin/challenge", kiosk(200, 200), body={}),
    Row("kiosk.signin_card", "POST", "/kiosk/api/signin/card", kiosk(400, 400), body={}),  # no signed reading
    Row("kiosk.qr_ticket", "POST", "/kiosk/api/signin/qr", kiosk(200, 200), body={}),
    Row("kiosk.qr_poll", "POST", "/kiosk/api/signin/qr/poll", kiosk(404, 404), body={"ticket": "unknown"}),
    Row("kiosk.start_print", "POST", "/kiosk/api/print", kiosk(401, 404), body={"subject": 999999999}),
    Row("kiosk.print_receipt", "POST", f"/kiosk/api/cases/{NO_CASE}/receipt", kiosk(401, 404), body={}),
    Row("kiosk.print_document", "GET", "/kiosk/api/print-jobs/999999/document", kiosk(401, 404)),
    Row("kiosk.print_result", "POST", "/kiosk/api/print-jobs/999999/result", kiosk(404, 404), body={"ok": False}),
    Row("kiosk.signout", "GET", "/kiosk/signout", kiosk(200, 200)),
]


def _methods(rule) -> set[str]:
    return set(rule.methods) - IGNORED_METHODS


def _surface(rule) -> str:
    if rule.endpoint.startswith("admin."):
        return "console"
    if rule.rule.startswith("/api/mp/v1"):
        return "mini-program"
    return "own"


def full_matrix(app) -> dict[tuple[str, str], dict[str, int]]:
    """(method, rule) -> expected status per role, for every route the app has (KeyError: none)."""
    own = {(row.endpoint, row.method): row.expected for row in ROWS}
    mp_rows = {(row.method, row.rule): row.expected for row in mp_matrix.ROWS}
    matrix: dict[tuple[str, str], dict[str, int]] = {}
    for rule in app.url_map.iter_rules():
        for method in _methods(rule):
            surface = _surface(rule)
            if surface == "console":
                # GET when the route has one, else the POST without a CSRF token (as there).
                first = console_matrix.EXPECTED[rule.endpoint][0][1]
                expected = {role: first[CONSOLE_ROLES.get(role, "anonymous")] for role in ROLES}
            elif surface == "mini-program":
                row = mp_rows[(method, rule.rule)]
                expected = {role: row[MP_ROLES.get(role, "anonymous")] for role in ROLES}
            else:
                expected = own[(rule.endpoint, method)]
            matrix[(method, rule.rule)] = expected
    return matrix


def test_every_route_has_a_row(app):
    own = {(row.endpoint, row.method) for row in ROWS}
    mp_rows = {(row.method, row.rule) for row in mp_matrix.ROWS}
    missing = []
    for rule in app.url_map.iter_rules():
        for method in sorted(_methods(rule)):
            surface = _surface(rule)
            if surface == "console":
                covered = rule.endpoint in console_matrix.EXPECTED
            elif surface == "mini-program":
                covered = (method, rule.rule) in mp_rows
            else:
                covered = (rule.endpoint, method) in own
            if not covered:
                missing.append(f"{method} {rule.rule} ({rule.endpoint})")
    assert missing == [], f"routes without a row in the access matrix: {missing}"
    matrix = full_matrix(app)
    assert all(set(expected) == set(ROLES) for expected in matrix.values())
    live = {(r.endpoint, m) for r in app.url_map.iter_rules() if _surface(r) == "own" for m in _methods(r)}
    assert own - live == set(), f"rows for routes that no longer exist: {sorted(own - live)}"


class World(mp_matrix.World):
    """The mini-program matrix's world (citizens A and B, their records, an enterprise), plus a
    kiosk with A signed in, a department key with one batch, and the three staff logins."""

    def __init__(self, app, client, fake):
        super().__init__(client, fake)
        self.callers = Callers(app, client, fake, dept=self.dept, a=self.a, b=self.b)
        first = self.callers.request("department", "POST", "/api/dept/v1/records", json_body=ONE_BAD_RECORD)
        assert first.status_code == 200, first.json
        self.values = {
            "uscc": self.company.uscc,
            "record": self.a.records[0].id,
            "other_record": self.b.records[0].id,
            "batch": first.json["batch_id"],
        }

    def for_test(self, client, fake) -> World:
        """This world for a test that starts from the rows it was built with (``built_world``):
        ORM objects loaded in the test's session, the test's client, and none of the cases,
        reports or bindings the rows create on demand (each test makes its own, as before)."""
        lazy = {"objection", "repair", "report", "binding_id"}
        other = copy.copy(self)
        other.__dict__ = {k: v for k, v in self.__dict__.items() if k not in lazy}
        other.client, other.fake = client, fake
        other.dept = rebind(self.dept)
        other.staff = copy.copy(self.staff)
        other.staff.admin, other.staff.reviewer = rebind(self.staff.admin), rebind(self.staff.reviewer)
        other.a = dataclasses.replace(self.a, records=[rebind(r) for r in self.a.records])
        other.b = dataclasses.replace(self.b, records=[rebind(r) for r in self.b.records])
        other.__dict__["company"] = rebind(self.company)
        other.callers = self.callers.for_test(fake)
        other.callers.dept, other.callers.a, other.callers.b = other.dept, other.a, other.b
        other.values = dict(self.values)
        return other

    def send(self, role: str, method: str, url: str, **kwargs):
        if role == "kiosk_citizen":
            self.callers.ensure_kiosk_session()
        return self.callers.request(role, method, url, **kwargs)


@pytest.fixture(scope="module")
def built_world(app, fake_server, security_report_keys, tmp_path_factory):
    """The world built once for the module (about 2 s over HTTP); see helpers.build_once."""
    with build_once(app, fake_server, security_report_keys, tmp_path_factory, "world", World) as built:
        assert not {"objection", "repair", "report", "binding_id"} & set(built.value.__dict__)
        yield built


@pytest.fixture
def world(app, client, fake, clock, built_world):
    return built_world.restore(clock, client, fake).for_test(client, fake)


def _check(failures: list[str], role: str, method: str, url: str, response, expected: int) -> None:
    if response.status_code != expected:
        failures.append(f"{method} {url} as {role}: {response.status_code}, expected {expected}")
    response.close()


def test_routes_outside_console_and_mini_program(world):
    failures: list[str] = []
    for row in ROWS:
        url = row.url.format(**world.values)
        for role in ROLES:
            kwargs: dict[str, Any] = {}
            if row.body is not None:
                kwargs["json_body"] = row.body
            if row.form is not None:
                kwargs["data"] = row.form
            response = world.send(role, row.method, url, **kwargs)
            _check(failures, role, row.method, url, response, row.expected[role])
    assert failures == [], "\n".join(failures)


def test_console_refuses_other_surfaces_credentials(app, world):
    """A bearer token, a kiosk credential or a department's signature opens nothing in the
    console: each gets what an anonymous visitor gets, on every console route."""
    ids = defaultdict(lambda: 1)
    failures: list[str] = []
    rules = {r.endpoint: _methods(r) for r in app.url_map.iter_rules() if r.endpoint.startswith("admin.")}
    foreign = [role for role in ROLES if role not in STAFF_ROLES and role != "anonymous"]
    for endpoint, methods in sorted(rules.items()):
        method = "GET" if "GET" in methods else "POST"
        for template, expected in console_matrix.EXPECTED[endpoint]:
            url = template.format_map(ids)
            for role in foreign:
                kwargs = {"data": {}} if method == "POST" else {}
                _check(failures, role, method, url, world.send(role, method, url, **kwargs), expected["anonymous"])
    assert failures == [], "\n".join(failures)


@pytest.mark.parametrize("row", mp_matrix.ROWS, ids=[f"{r.method} {r.rule}" for r in mp_matrix.ROWS])
def test_mini_program_refuses_other_surfaces_credentials(world, row):
    """Staff sessions, kiosks and departments are anonymous to the mini-program API (a fresh
    world per row, as in the mini-program's own matrix: rows create cases)."""
    failures: list[str] = []
    foreign = [role for role in ROLES if role not in MP_ROLES and role != "anonymous"]
    for role in foreign:
        url, kwargs = row.build(world, "anonymous")
        kwargs.pop("_raw_headers", None)
        kwargs.pop("headers", None)
        if "json" in kwargs:
            kwargs["json_body"] = kwargs.pop("json")
        response = world.send(role, row.method, url, **kwargs)
        _check(failures, role, row.method, url, response, row.expected["anonymous"])
    db.session.remove()
    assert failures == [], "\n".join(failures)


def test_department_signature_is_bound_to_its_request(world):
    """A valid signature for one request does not open another: other path, other body."""
    callers = world.callers
    body = json.dumps({"records": []}).encode()
    from backend.dept_api.auth import signed_headers

    headers = signed_headers(callers.dept_key_id, callers.dept_secret, "POST", "/api/dept/v1/records", body)
    other_body = world.client.post(
        "/api/dept/v1/records", data=b'{"records": [{}]}', headers=headers, content_type="application/json"
    )
    assert other_body.status_code == 401 and other_body.json["error"]["code"] == "invalid_signature"
    other_path = world.client.get(f"/api/dept/v1/batches/{world.values['batch']}", headers=headers)
    assert other_path.status_code == 401
