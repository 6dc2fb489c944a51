"""Department API requests signed with HMAC-SM3 (the reference client ``sign_request``), beside
HMAC-SHA256; the 国密 suite can be made to refuse the latter."""

from __future__ import annotations

import json

import pytest

from backend.actors import Actor
from backend.crypto.primitives import sm3
from backend.departments.operations import issue_api_key
from backend.dept_api.auth import METHOD_HEADER, sign_request, signed_headers, string_to_sign
from backend.extensions import db
from tests.factories import make_department

RECORDS_PATH = "/api/dept/v1/records"
BODY = b'{"records": []}'


def test_hmac_sm3_reference_vector():
    # Checked independently with the OpenSSL 3.0 command line:
    #   printf '%s' '{"records": []}' | openssl dgst -sm3
    #   openssl dgst -sm3 -hmac s3cret <the string to sign, without a final newline>
    message = string_to_sign("post", RECORDS_PATH, 1767225600, "abcdefghijklmnop", BODY, algorithm="HMAC-SM3")
    assert message == (
        "POST\n/api/dept/v1/records\n\n1767225600\nabcdefghijklmnop\n"
        "092a967c801583d114a4cc7a1967b9aa53892289bcb1f07d0fdf2351b5572786"
    )
    assert sm3(BODY).hex() == message.rsplit("\n", 1)[1]
    assert sign_request("s3cret", "POST", RECORDS_PATH, BODY, 1767225600, "abcdefghijklmnop", algorithm="HMAC-SM3") == (
        "fb053a4b99f553fd07682081868d3a9757c2deafc95fddef9f1949e1be2ce0d1"
    )


@pytest.fixture
def dept_key(app):
    key, secret = issue_api_key(Actor.cli("test"), make_department())
    db.session.commit()
    return key.key_id, secret


def _post(client, key_id, secret, **kwargs):
    raw = json.dumps({"records": []}).encode()
    headers = signed_headers(key_id, secret, "POST", RECORDS_PATH, raw, **kwargs)
    return client.post(RECORDS_PATH, data=raw, headers=headers, content_type="application/json"), headers


def _status_after_auth(response) -> bool:
    """True when the signature was accepted (whatever the batch's own answer)."""
    return response.status_code not in (401, 403)


def test_both_methods_are_accepted(client, dept_key):
    response, headers = _post(client, *dept_key, algorithm="HMAC-SM3")
    assert headers[METHOD_HEADER] == "HMAC-SM3"
    assert _status_after_auth(response), response.get_json()
    response, headers = _post(client, *dept_key)
    assert METHOD_HEADER not in headers
    assert _status_after_auth(response), response.get_json()


def test_a_signature_checked_with_the_other_method_fails(client, dept_key):
    raw = json.dumps({"records": []}).encode()
    headers = signed_headers(*dept_key, "POST", RECORDS_PATH, raw, algorithm="HMAC-SM3")
    del headers[METHOD_HEADER]  # an SM3 signature read as SHA-256
    response = client.post(RECORDS_PATH, data=raw, headers=headers, content_type="application/json")
    assert response.status_code == 401 and response.get_json()["error"]["code"] == "invalid_signature"
    headers = signed_headers(*dept_key, "POST", RECORDS_PATH, raw)
    headers[METHOD_HEADER] = "HMAC-MD5"
    response = client.post(RECORDS_PATH, data=raw, headers=headers, content_type="application/json")
    assert response.get_json()["error"]["code"] == "invalid_signature_method"


def test_the_sm_suite_can_require_hmac_sm3(app, client, dept_key, monkeypatch):
    settings = app.extensions["settings"]
    monkeypatch.setattr(settings, "DEPT_API_REQUIRE_SM3", True)
    monkeypatch.setattr(settings, "CRYPTO_SUITE", "sm")
    response, _ = _post(client, *dept_key)
    assert response.status_code == 401
    assert response.get_json()["error"]["code"] == "signature_method_refused"
    assert "HMAC-SM3" in response.get_json()["error"]["message"]
    response, _ = _post(client, *dept_key, algorithm="HMAC-SM3")
    assert _status_after_auth(response), response.get_json()
