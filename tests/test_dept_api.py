"""Department API: signed record batches (HMAC), replay protection, per-record errors."""

from __future__ import annotations

import json
import time

import pytest
import sqlalchemy as sa

from backend.actors import Actor
from backend.audit.models import AuditEvent
from backend.departments.models import ApiNonce
from backend.departments.operations import issue_api_key, revoke_api_key
from backend.dept_api.auth import canonical_query, sign_request, signed_headers, string_to_sign
from backend.extensions import db
from backend.imports.models import ImportBatch, ImportStatus
from backend.records.models import CreditRecord
from backend.subjects.models import Subject
from backend.types import local_date, utcnow
from tests.factories import make_department
from tests.fixtures.import_data import make_id_number, make_uscc

RECORDS_PATH = "/api/dept/v1/records"


@pytest.fixture
def dept_key(app):
    department = make_department()
    key, secret = issue_api_key(Actor.cli("test"), department)
    db.session.commit()
    return department, key.key_id, secret


def record(n: int, **overrides):
    data = {
        "subject_name": f"金昌测试商贸有限公司{n}",
        "uscc": make_uscc(n),
        "legal_representative": "王五",
        "category": "penalty",
        "tier": "general",
        "decision_number": f"金市监罚〔2026〕{n}号",
        "decision_date": "2026-03-02",
        "violation_type": "未按规定公示年度报告",
        "penalty_category": "罚款",
        "penalty_content": "罚款人民币伍仟元",
        "fine_amount": 5000,
    }
    data.update(overrides)
    return data


def post(client, key_id, secret, payload, *, nonce=None, timestamp=None, signature=None, body=None):
    raw = body if body is not None else json.dumps(payload, ensure_ascii=False).encode()
    headers = signed_headers(
        key_id,
        secret,
        "POST",
        RECORDS_PATH,
        raw,
        **{k: v for k, v in {"nonce": nonce, "timestamp": timestamp}.items() if v},
    )
    if signature:
        headers["X-Credit-Signature"] = signature
    return client.post(RECORDS_PATH, data=raw, headers=headers, content_type="application/json")


def _count(model) -> int:
    return db.session.scalar(sa.select(sa.func.count()).select_from(model))


def test_signed_batch_is_stored_and_bad_records_reported_by_index(client, dept_key):
    _, key_id, secret = dept_key
    records = [record(n) for n in range(1, 101)]
    records[3]["uscc"] = records[3]["uscc"][:-1] + ("0" if records[3]["uscc"][-1] != "0" else "1")
    records[40]["decision_date"] = "2026-02-30"
    records[77]["tier"] = "很重"
    records[5]["unexpected"] = "x"
    records[6]["received_date"] = "2026-03-02"  # the receipt day is the server's, not declared
    response = post(client, key_id, secret, {"records": records})
    assert response.status_code == 200, response.json
    body = response.json
    assert body["status"] == "partial"
    assert (body["total"], body["created"], body["updated"], body["unchanged"], body["error_rows"]) == (
        100,
        97,
        0,
        0,
        3,
    )
    assert body["unknown_fields"] == ["received_date", "unexpected"]
    errors = {e["index"]: (e["field"], e["reason"]) for e in body["errors"]}
    assert sorted(errors) == [3, 40, 77]
    assert errors[3][0] == "uscc"
    assert "第18位" in errors[3][1]
    assert errors[40] == ("decision_date", "日期“2026-02-30”不存在")
    assert errors[77][0] == "tier"
    assert _count(CreditRecord) == 97
    assert set(db.session.scalars(sa.select(CreditRecord.received_date))) == {local_date()}

    batch = db.session.get(ImportBatch, body["batch_id"])
    assert batch.channel == "dept_api"
    event = db.session.scalars(sa.select(AuditEvent).where(AuditEvent.action == "import.batch")).one()
    assert (event.actor_type, event.channel, event.details["created"]) == ("department", "dept_api", 97)

    again = post(client, key_id, secret, {"records": records})
    assert again.status_code == 200
    assert (again.json["created"], again.json["updated"], again.json["unchanged"]) == (0, 0, 97)
    assert _count(CreditRecord) == 97


def test_replayed_request_is_refused(client, dept_key):
    _, key_id, secret = dept_key
    payload = {"records": [record(1)]}
    first = post(client, key_id, secret, payload, nonce="n" * 24)
    assert first.status_code == 200, first.json
    replay = post(client, key_id, secret, payload, nonce="n" * 24)
    assert replay.status_code == 401
    assert replay.json["error"]["code"] == "replayed_nonce"
    assert "随机串" in replay.json["error"]["message"]
    assert _count(ImportBatch) == 1


def test_replay_of_exact_captured_request_is_refused(client, dept_key):
    _, key_id, secret = dept_key
    raw = json.dumps({"records": [record(1)]}).encode()
    headers = signed_headers(key_id, secret, "POST", RECORDS_PATH, raw)
    assert client.post(RECORDS_PATH, data=raw, headers=headers, content_type="application/json").status_code == 200
    replay = client.post(RECORDS_PATH, data=raw, headers=headers, content_type="application/json")
    assert (replay.status_code, replay.json["error"]["code"]) == (401, "replayed_nonce")


def test_stale_timestamp_is_refused(app, client, dept_key):
    _, key_id, secret = dept_key
    skew = app.extensions["settings"].DEPT_API_MAX_CLOCK_SKEW_SECONDS
    for timestamp in (int(time.time()) - skew - 5, int(time.time()) + skew + 5):
        response = post(client, key_id, secret, {"records": [record(1)]}, timestamp=str(timestamp))
        assert response.status_code == 401
        assert response.json["error"]["code"] == "stale_timestamp"
        assert "秒" in response.json["error"]["message"]
    bad = post(client, key_id, secret, {"records": [record(1)]}, timestamp="yesterday")
    assert bad.json["error"]["code"] == "stale_timestamp"
    assert _count(CreditRecord) == 0


def test_wrong_signature_is_refused(client, dept_key):
    _, key_id, secret = dept_key
    payload = {"records": [record(1)]}
    wrong_secret = post(client, key_id, secret + "x", payload)
    assert (wrong_secret.status_code, wrong_secret.json["error"]["code"]) == (401, "invalid_signature")
    assert wrong_secret.json["error"]["message"] == "请求签名不正确"
    forged = post(client, key_id, secret, payload, signature="0" * 64)
    assert forged.json["error"]["code"] == "invalid_signature"

    # A body changed after signing.
    raw = json.dumps(payload).encode()
    headers = signed_headers(key_id, secret, "POST", RECORDS_PATH, raw)
    tampered = json.dumps({"records": [record(1, fine_amount=1)]}).encode()
    response = client.post(RECORDS_PATH, data=tampered, headers=headers, content_type="application/json")
    assert response.json["error"]["code"] == "invalid_signature"
    assert _count(CreditRecord) == 0
    # A refused signature does not use up the nonce.
    assert _count(ApiNonce) == 0


def test_unknown_revoked_and_missing_credentials(client, dept_key):
    _, key_id, secret = dept_key
    payload = {"records": [record(1)]}
    unknown = post(client, "dk_doesnotexist", secret, payload)
    assert (unknown.status_code, unknown.json["error"]["code"]) == (401, "unknown_key")
    missing = client.post(RECORDS_PATH, json=payload)
    assert (missing.status_code, missing.json["error"]["code"]) == (401, "missing_credentials")
    short_nonce = post(client, key_id, secret, payload, nonce="short")
    assert short_nonce.json["error"]["code"] == "invalid_nonce"

    from backend.departments.models import DepartmentApiKey

    key = db.session.scalar(sa.select(DepartmentApiKey).where(DepartmentApiKey.key_id == key_id))
    revoke_api_key(Actor.cli("test"), key)
    db.session.commit()
    revoked = post(client, key_id, secret, payload)
    assert (revoked.status_code, revoked.json["error"]["code"]) == (401, "unknown_key")


def test_sign_request_reference_vector():
    # Checked independently: printf '%s' "$MSG" | openssl dgst -sha256 -hmac s3cret
    body = b'{"records": []}'
    assert string_to_sign("post", RECORDS_PATH, 1767225600, "abcdefghijklmnop", body) == (
        "POST\n/api/dept/v1/records\n\n1767225600\nabcdefghijklmnop\n"
        "4112b9a18df6832f78b3cd60888edc481078e0c103e6e091738f525ed4a7ce13"
    )
    assert sign_request("s3cret", "POST", RECORDS_PATH, body, 1767225600, "abcdefghijklmnop") == (
        "b5cdd3c776bff9fd98e9a474fba355449ea8463d1cb5b6108f31112f0fd1d864"
    )


def test_atomic_batch_with_a_bad_record_stores_nothing(client, dept_key):
    _, key_id, secret = dept_key
    records = [record(1), record(2, fine_amount=-5), record(3)]
    response = post(client, key_id, secret, {"records": records, "atomic": True})
    assert response.status_code == 422
    error = response.json["error"]
    assert error["code"] == "batch_rejected"
    assert error["details"]["status"] == "rejected"
    assert error["details"]["errors"] == [{"index": 1, "field": "fine_amount", "reason": "金额不能为负数"}]
    assert _count(CreditRecord) == 0
    assert _count(Subject) == 0
    batch = db.session.get(ImportBatch, error["details"]["batch_id"])
    assert batch.status is ImportStatus.REJECTED


def test_natural_person_via_api_is_encrypted(client, dept_key):
    _, key_id, secret = dept_key
    number = make_id_number(37)
    person = record(1, subject_name="赵小红", uscc=None, id_number=number, legal_representative=None)
    response = post(client, key_id, secret, {"records": [person, "not an object"]})
    assert response.status_code == 200, response.json
    assert response.json["created"] == 1
    assert response.json["errors"] == [{"index": 1, "field": None, "reason": "记录应为 JSON 对象"}]
    with db.engine.connect() as conn:
        for table in ("credit_record", "subject"):
            for values in conn.execute(sa.text(f"SELECT * FROM {table}")):
                flat = " ".join(str(v) for v in values)
                assert number not in flat
                assert "赵小红" not in flat


def test_batch_too_large_and_empty(app, client, dept_key, monkeypatch):
    _, key_id, secret = dept_key
    monkeypatch.setattr(app.extensions["settings"], "DEPT_API_MAX_BATCH", 2)
    response = post(client, key_id, secret, {"records": [record(1), record(2), record(3)]})
    assert response.status_code == 413
    assert response.json["error"]["code"] == "batch_too_large"
    assert response.json["error"]["message"] == "一次最多报送 2 条记录，本次 3 条：请分批报送"
    empty = post(client, key_id, secret, {"records": []})
    assert empty.status_code == 422
    assert "records 不能为空" in json.dumps(empty.json["error"]["details"], ensure_ascii=False)
    assert _count(CreditRecord) == 0


def test_get_batch_only_for_own_department(client, dept_key):
    _, key_id, secret = dept_key
    created = post(client, key_id, secret, {"records": [record(1), record(2, decision_date="x")]})
    batch_id = created.json["batch_id"]
    path = f"/api/dept/v1/batches/{batch_id}"
    response = client.get(path, headers=signed_headers(key_id, secret, "GET", path))
    assert response.status_code == 200
    assert response.json["status"] == "partial"
    assert response.json["errors"][0]["index"] == 1

    other = make_department(code="SWJ", name="国家税务总局金昌市税务局", n=2)
    other_key, other_secret = issue_api_key(Actor.cli("test"), other)
    db.session.commit()
    foreign = client.get(path, headers=signed_headers(other_key.key_id, other_secret, "GET", path))
    assert foreign.status_code == 404
    assert foreign.json["error"]["code"] == "not_found"


def test_expired_nonces_are_purged(client, dept_key):
    _, key_id, secret = dept_key
    db.session.add(ApiNonce(key_id=key_id, nonce="old-nonce-0000000000", expires_at=utcnow().replace(year=2000)))
    db.session.commit()
    assert post(client, key_id, secret, {"records": [record(1)]}).status_code == 200
    nonces = db.session.scalars(sa.select(ApiNonce.nonce)).all()
    assert "old-nonce-0000000000" not in nonces
    assert len(nonces) == 1


def test_openapi_documents_records_and_security(client):
    spec = client.get("/openapi.json").json
    operation = spec["paths"]["/api/dept/v1/records"]["post"]
    assert operation["security"] == [{"CreditKey": [], "CreditTimestamp": [], "CreditNonce": [], "CreditSignature": []}]
    schemes = spec["components"]["securitySchemes"]
    assert schemes["CreditSignature"] == {"type": "apiKey", "in": "header", "name": "X-Credit-Signature"}
    assert "HMAC-SHA256" in schemes["CreditKey"]["description"]
    request_schema = json.dumps(spec["components"]["schemas"], ensure_ascii=False)
    for name in ("decision_number", "publicity_end_date", "source_department_code", "fine_amount"):
        assert name in request_schema
    assert "/api/dept/v1/batches/{batch_id}" in spec["paths"]


# --- the signature covers the query string (issue 14, item 18) -----------------------------


def _batch_path(client, key_id, secret) -> str:
    created = post(client, key_id, secret, {"records": [record(1)]})
    return f"/api/dept/v1/batches/{created.json['batch_id']}"


def test_a_query_string_added_to_a_signed_request_is_refused(client, dept_key):
    _, key_id, secret = dept_key
    path = _batch_path(client, key_id, secret)
    # Signed over the path alone, sent with a query an intermediary (or attacker) appended.
    headers = {**signed_headers(key_id, secret, "GET", path), "X-Credit-Nonce": "n" * 16}
    headers["X-Credit-Signature"] = sign_request(secret, "GET", path, b"", headers["X-Credit-Timestamp"], "n" * 16)
    response = client.get(path + "?include=errors", headers=headers)
    assert (response.status_code, response.json["error"]["code"]) == (401, "invalid_signature")


def test_a_changed_query_value_is_refused_and_a_signed_one_accepted(client, dept_key):
    _, key_id, secret = dept_key
    path = _batch_path(client, key_id, secret)
    signed = signed_headers(key_id, secret, "GET", path + "?a=1")
    changed = client.get(path + "?a=2", headers=signed)
    assert (changed.status_code, changed.json["error"]["code"]) == (401, "invalid_signature")
    # The same parameters in another order and another (equivalent) percent-encoding still verify.
    signed = signed_headers(key_id, secret, "GET", path + "?b=金 川&a=1")
    same = client.get(path + "?a=%31&b=%E9%87%91+%E5%B7%9D", headers=signed)
    assert same.status_code == 200, same.json


def test_canonical_query_reference_vector():
    assert canonical_query("") == ""
    assert canonical_query(b"b=2&a=1&a=0&c=%e9%87%91+x&d&&e=~-._*") == "a=0&a=1&b=2&c=%E9%87%91%20x&d=&e=~-._%2A"
    assert canonical_query("q=金川") == canonical_query("q=%E9%87%91%E5%B7%9D") == "q=%E9%87%91%E5%B7%9D"
    body = b""
    assert string_to_sign("get", "/api/dept/v1/batches/7", 1767225600, "abcdefghijklmnop", body, query="b=2&a=1") == (
        "GET\n/api/dept/v1/batches/7\na=1&b=2\n1767225600\nabcdefghijklmnop\n"
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    )
    # Checked independently as above (printf '%s' "$MSG" | openssl dgst -sha256 -hmac s3cret).
    signature = sign_request(
        "s3cret", "GET", "/api/dept/v1/batches/7", b"", 1767225600, "abcdefghijklmnop", query="b=2&a=1"
    )
    assert signature == "fc837e6109029553ce589efbfd418fe5c7cf0437b3563411344373fe62b8f81d"


def test_representative_id_number_from_the_api_is_stored_encrypted(client, dept_key):
    department, key_id, secret = dept_key
    department.registers_subjects = True
    db.session.commit()
    number = make_id_number(38)
    good = record(1, legal_representative_id_number=number, legal_representative_id_type="居民身份证")
    bad = record(2, legal_representative_id_number="62030219900307001")  # 17 characters
    response = post(client, key_id, secret, {"records": [good, bad]})
    assert response.status_code == 200, response.json
    assert response.json["created"] == 1 and response.json["unknown_fields"] == []
    (error,) = response.json["errors"]
    assert (error["index"], error["field"]) == (1, "legal_representative_id_number")
    subject = db.session.scalar(sa.select(Subject).where(Subject.uscc == good["uscc"]))
    assert subject.reveal_legal_representative_id_number() == number
    with db.engine.connect() as conn:
        for table in ("credit_record", "subject", "import_row_error", "audit_event"):
            for values in conn.execute(sa.text(f"SELECT * FROM {table}")):
                assert number not in " ".join(str(v) for v in values), table
