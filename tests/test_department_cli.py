"""`flask credit department create|list|issue-key|revoke-key`: what the console does, from a
shell. The issued key signs a department request; a revoked one is refused at once."""

from __future__ import annotations

import sqlalchemy as sa

from backend.audit.models import AuditEvent
from backend.departments.models import Department, DepartmentApiKey
from backend.dept_api.auth import signed_headers
from backend.extensions import db
from tests.factories import make_uscc

BATCH_PATH = "/api/dept/v1/batches/999999"


def _run(runner, *args):
    return runner.invoke(args=["credit", "department", *args])


def _create(runner, code="scjg", name="金昌市市场监督管理局"):
    return _run(runner, "create", "--code", code, "--name", name, "--uscc", make_uscc(7), "--abbreviation", "金市监罚")


def test_create_list_issue_and_revoke(runner, client):
    result = _create(runner)
    assert result.exit_code == 0, result.output
    assert "created department scjg" in result.output
    department = db.session.scalar(sa.select(Department).where(Department.code == "scjg"))
    assert department is not None and department.abbreviation == "金市监罚"

    issued = _run(runner, "issue-key", "--department", "scjg", "--label", "市场监管系统")
    assert issued.exit_code == 0, issued.output
    lines = dict(line.split("=", 1) for line in issued.output.strip().splitlines())
    key_id, secret = lines["key_id"], lines["secret"]
    # The key works: a signed request is authenticated (404 for a batch that does not exist, not 401).
    response = client.get(BATCH_PATH, headers=signed_headers(key_id, secret, "GET", BATCH_PATH))
    assert response.status_code == 404, response.json

    listing = _run(runner, "list")
    assert listing.exit_code == 0
    assert "scjg\t金昌市市场监督管理局" in listing.output
    assert key_id in listing.output and "市场监管系统" in listing.output
    assert secret not in listing.output  # shown once, at issue

    revoked = _run(runner, "revoke-key", key_id)
    assert revoked.exit_code == 0 and f"revoked key {key_id} of scjg" in revoked.output
    db.session.remove()
    assert db.session.scalar(sa.select(DepartmentApiKey.revoked_at).where(DepartmentApiKey.key_id == key_id))
    response = client.get(BATCH_PATH, headers=signed_headers(key_id, secret, "GET", BATCH_PATH))
    assert response.status_code == 401
    assert key_id not in _run(runner, "list").output
    assert "was revoked already" in _run(runner, "revoke-key", key_id).output

    actions = set(db.session.scalars(sa.select(AuditEvent.action)))
    assert {"department.create", "department.api_key.issue", "department.api_key.revoke"} <= actions


def test_bad_input_is_named_and_nothing_is_written(runner):
    bad_code = _create(runner, code="市场监管")
    assert bad_code.exit_code != 0 and "部门代码只能包含字母、数字、下划线和连字符" in bad_code.output
    bad_uscc = _run(runner, "create", "--code", "x", "--name", "某局", "--uscc", "123")
    assert bad_uscc.exit_code != 0 and "Error:" in bad_uscc.output
    assert _create(runner).exit_code == 0
    duplicate = _create(runner, code="scjg2")
    assert duplicate.exit_code != 0 and "与已有部门“金昌市市场监督管理局”重复" in duplicate.output
    unknown = _run(runner, "issue-key", "--department", "nope")
    assert unknown.exit_code == 2 and "unknown department 'nope'" in unknown.output
    assert _run(runner, "revoke-key", "dk_nope").exit_code == 2
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Department)) == 1
