"""Property-based tests of every JSON API against its own /openapi.json (schemathesis 4).

Each operation gets a bounded number of generated requests (derandomized: the same run every
time) with valid credentials: the mini-program's bearer token of a verified citizen, and the
department API's HMAC signature computed over the exact bytes schemathesis sends. Every response
must be no 5xx, have a documented status code and content type, and match its documented schema
(headers included). The official account (/wechat/oa, XML) is covered in test_bad_input.py.
"""

from __future__ import annotations

import io
import re
from urllib.parse import urlsplit

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis.checks import CHECKS

from backend.dept_api.auth import signed_headers
from backend.extensions import db
from miniprogram_api.operations import open_session
from tests.security.helpers import MP_APPID

EXAMPLES = 25
CHECK_NAMES = (
    "not_a_server_error",
    "status_code_conformance",
    "content_type_conformance",
    "response_schema_conformance",
    "response_headers_conformance",
)
# Operations grouped by surface, so a failure names the surface; together they are every
# operation of /openapi.json (test_every_operation_is_in_a_group).
GROUPS = {
    "public": r"^/api/v1/subjects",
    "verification": r"^(/api/v1/verify|/\.well-known/)",
    "mini-program": r"^/api/mp/v1/",
    "department": r"^/api/dept/v1/",
    "operations": r"^/(healthz|readyz)$",
}


class Credentials:
    """WSGI middleware: adds the caller's credentials to every generated request, after
    schemathesis has built it, so that the department's signature covers the final body."""

    def __init__(self, app, callers):
        self.app = app
        self.callers = callers

    def __call__(self, environ, start_response):
        path = environ.get("PATH_INFO", "")
        method = environ["REQUEST_METHOD"]
        if path.startswith("/api/dept/"):
            length = int(environ.get("CONTENT_LENGTH") or 0)
            body = environ["wsgi.input"].read(length) if length else b""
            environ["wsgi.input"] = io.BytesIO(body)
            query = environ.get("QUERY_STRING", "")  # signed too; WSGI gives its raw bytes as latin-1
            target = path + ("?" + query.encode("latin-1").decode("utf-8", "replace") if query else "")
            headers = signed_headers(self.callers.dept_key_id, self.callers.dept_secret, method, target, body)
            for name, value in headers.items():
                environ["HTTP_" + name.upper().replace("-", "_")] = value
        elif path.startswith("/api/mp/"):
            environ["HTTP_AUTHORIZATION"] = f"Bearer {self._token(method, path)}"
        return self.app(environ, start_response)

    def _token(self, method: str, path: str) -> str:
        if method == "DELETE" and path == "/api/mp/v1/session":
            # Signing out would end the citizen's token for every later example: a fresh one each time.
            with self.app.app_context():
                token, _ = open_session(MP_APPID, self.callers.a.openid)
                db.session.commit()
            return token
        return self.callers.a.token


def _load(app, callers):
    return schemathesis.openapi.from_wsgi("/openapi.json", Credentials(app, callers))


def _checks():
    by_name = {check.__name__: check for check in CHECKS.get_all()}
    return [by_name[name] for name in CHECK_NAMES]


def _run_operation(operation, checks) -> None:
    strategy = operation.as_strategy()

    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        derandomize=True,
        database=None,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(case=strategy)
    def run(case):
        response = case.call()
        case.validate_response(response, checks=checks)

    run()


def test_every_operation_is_in_a_group(app, client):
    spec = client.get("/openapi.json").json

    ungrouped = [path for path in spec["paths"] if not any(re.search(pattern, path) for pattern in GROUPS.values())]
    assert ungrouped == []
    assert not any(path.startswith("/wechat") for path in spec["paths"])  # XML: not in the JSON document


@pytest.mark.parametrize("group", list(GROUPS))
def test_operations_conform_to_their_schema(app, callers, group):
    schema = _load(app, callers).include(path_regex=GROUPS[group])
    checks = _checks()
    failures = []
    ran = 0
    for result in schema.get_all_operations():
        operation = result.ok()
        ran += 1
        try:
            _run_operation(operation, checks)
        except (Exception, BaseExceptionGroup) as exc:  # every operation's failures, then one report
            failures.append(f"{operation.method.upper()} {operation.path}: {exc}")
    assert ran > 0
    assert failures == [], "\n\n".join(failures)


def test_middleware_signs_the_final_body(app, callers):
    """The department API accepted the generated requests because they were signed, not
    because it accepts anything: the same request unsigned is refused."""
    wrapped = Credentials(app, callers)
    from werkzeug.test import Client

    signed = Client(wrapped).get("/api/dept/v1/batches/999")
    unsigned = app.test_client().get("/api/dept/v1/batches/999")
    assert signed.status_code == 404 and unsigned.status_code == 401
    assert urlsplit(signed.request.url).path == "/api/dept/v1/batches/999"
