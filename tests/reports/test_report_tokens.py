"""Signed QR tokens: round trip, tampering, key rotation, size of the QR code."""

from __future__ import annotations

import base64
import hashlib
import json
from datetime import date

import pytest

from reports import tokens
from reports.content import ReportKind
from reports.tokens import TokenError

HASH = hashlib.sha256(b"report content").hexdigest()
BASE = "https://credit.jinchang.gov.cn"  # 30 characters


def _sign(key, kid="2026a", number="XYJC-20260512-7K3M9Q2XHD", kind="special", **kw):
    return tokens.sign_token(
        key, kid, number=number, kind=kind, issued_on=kw.get("issued_on", date(2026, 5, 12)), content_hash=HASH
    )


def test_round_trip(token_key):
    token = _sign(token_key)
    payload = tokens.verify_token(token, tokens.trust_keys([("2026a", token_key)]))
    assert payload.kid == "2026a"
    assert payload.number == "XYJC-20260512-7K3M9Q2XHD"
    assert payload.kind is ReportKind.SPECIAL
    assert payload.issued_on == date(2026, 5, 12)
    assert payload.content_hash_prefix == bytes.fromhex(HASH)[:16]
    assert payload.matches_hash(HASH)
    assert not payload.matches_hash(hashlib.sha256(b"other").hexdigest())


@pytest.mark.parametrize("number", ["xyjc-2026-0512-abc", "金昌报告-001", "JC20260512A7K3M9Q2XH4P", "A"])
def test_any_report_number_round_trips(token_key, number):
    token = _sign(token_key, number=number, kind=ReportKind.ENTERPRISE)
    payload = tokens.verify_token(token, {"2026a": token_key.public_key()})
    assert payload.number == number
    assert payload.kind is ReportKind.ENTERPRISE


def test_every_single_character_change_is_rejected(token_key):
    token = _sign(token_key)
    keys = {"2026a": token_key.public_key()}
    reasons = set()
    for i, ch in enumerate(token):
        forged = token[:i] + str((int(ch) + 1) % 10) + token[i + 1 :]
        with pytest.raises(TokenError) as info:
            tokens.verify_token(forged, keys)
        reasons.add(info.value.reason)
    assert TokenError.BAD_SIGNATURE in reasons
    assert reasons <= {TokenError.BAD_SIGNATURE, TokenError.MALFORMED, TokenError.UNKNOWN_KEY}


def test_a_change_in_the_signed_part_is_a_bad_signature(token_key):
    token = _sign(token_key)
    last = token[:-1] + str((int(token[-1]) + 1) % 10)
    with pytest.raises(TokenError) as info:
        tokens.verify_token(last, {"2026a": token_key.public_key()})
    assert info.value.reason == TokenError.BAD_SIGNATURE


def test_unknown_key_id_has_its_own_reason(token_key):
    token = _sign(token_key, kid="2025z")
    with pytest.raises(TokenError) as info:
        tokens.verify_token(token, {"2026a": token_key.public_key()})
    assert info.value.reason == TokenError.UNKNOWN_KEY


def test_token_signed_by_another_key_under_a_known_id_is_a_bad_signature(token_key):
    forger = tokens.generate_key()
    token = _sign(forger, kid="2026a")
    with pytest.raises(TokenError) as info:
        tokens.verify_token(token, {"2026a": token_key.public_key()})
    assert info.value.reason == TokenError.BAD_SIGNATURE


def test_rotation_old_and_new_keys_both_verify(token_key):
    new_key = tokens.generate_key()
    keys = tokens.trust_keys([("2026a", token_key), ("2027a", new_key)])
    assert tokens.verify_token(_sign(token_key, kid="2026a"), keys).kid == "2026a"
    assert tokens.verify_token(_sign(new_key, kid="2027a"), keys).kid == "2027a"


@pytest.mark.parametrize("junk", ["", "abc", "0123", "12", "9" * 700, "１２３", "1" * 40, "-5"])
def test_malformed_tokens(token_key, junk):
    with pytest.raises(TokenError) as info:
        tokens.verify_token(junk, {"2026a": token_key.public_key()})
    assert info.value.reason == TokenError.MALFORMED


def test_truncated_and_extended_tokens_are_rejected(token_key):
    token = _sign(token_key)
    keys = {"2026a": token_key.public_key()}
    for forged in (token[:-1], token + "7", token[:-3]):
        with pytest.raises(TokenError):
            tokens.verify_token(forged, keys)


def test_bad_inputs_to_sign_token(token_key):
    with pytest.raises(ValueError, match="key id"):
        _sign(token_key, kid="has space")
    with pytest.raises(ValueError, match="empty"):
        _sign(token_key, number="")
    with pytest.raises(ValueError, match="date"):
        _sign(token_key, issued_on=date(2019, 1, 1))


def test_token_from_scanned_text():
    assert tokens.token_from_url(" https://credit.jinchang.gov.cn/v/12345?from=qr \n") == "12345"
    assert tokens.token_from_url("12345") == "12345"
    assert tokens.token_url("https://x.cn/", "12345") == "https://x.cn/v/12345"


def test_qr_version_is_at_most_8_for_a_30_character_base(token_key):
    assert len(BASE) == 30
    for kid, number in (("2026a", "XYJC-20260512-7K3M9Q2XHD"), ("k1", "xyjc-20260512-7k3m9q2xhd-01")):
        url = tokens.token_url(BASE, _sign(token_key, kid=kid, number=number))
        assert tokens.qr_version(url) <= 8, url


def test_decimal_token_gives_a_smaller_qr_than_base64url(token_key):
    # Why the token is a decimal number: the same bytes as base64url need a larger QR code.
    token = _sign(token_key)
    raw = int(token).to_bytes((int(token).bit_length() + 7) // 8, "big")
    b64 = base64.urlsafe_b64encode(raw).rstrip(b"=").decode()
    assert tokens.qr_version(tokens.token_url(BASE, token)) < tokens.qr_version(tokens.token_url(BASE, b64))


def test_public_key_document_and_jwk_round_trip():
    token_key = tokens.generate_key()  # Ed25519's JWK; SM2's: test_report_tokens_sm2.py
    doc = tokens.public_keys_document({"2026a": token_key})
    assert list(doc) == ["keys"]
    (jwk,) = doc["keys"]
    assert jwk["kty"] == "OKP"
    assert jwk["crv"] == "Ed25519"
    assert jwk["kid"] == "2026a"
    assert jwk["use"] == "sig"
    assert "d" not in jwk  # never the private part
    assert len(base64.urlsafe_b64decode(jwk["x"] + "=")) == 32
    json.loads(tokens.public_keys_json({"2026a": token_key}))
    public = tokens.public_key_from_jwk(jwk)
    assert tokens.verify_token(_sign(token_key), {"2026a": public}).number == "XYJC-20260512-7K3M9Q2XHD"


def test_pem_save_and_load(tmp_path):
    token_key = tokens.generate_key()  # Ed25519; SM2's PEM: tests/crypto/test_vectors.py
    path = tmp_path / "keys" / "report-token.pem"
    tokens.save_private_key(token_key, path)
    assert path.stat().st_mode & 0o077 == 0
    loaded = tokens.load_private_key(path)
    assert tokens.verify_token(_sign(loaded), {"2026a": token_key.public_key()}).kid == "2026a"
    protected = tokens.private_key_to_pem(token_key, passphrase=b"secret")
    assert tokens.load_private_key(protected, passphrase=b"secret").public_key() == token_key.public_key()
    public = tokens.load_public_key(tokens.public_key_to_pem(token_key.public_key()))
    assert public == token_key.public_key()
