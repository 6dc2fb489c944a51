"""SM2 QR tokens: round trip, an independent verifier (snowland-smx) both ways, no algorithm
confusion with Ed25519 kids, the published JWK, and the QR code's size and scannability."""

from __future__ import annotations

import hashlib
import os
from dataclasses import replace
from datetime import date

import pytest
from report_helpers import BASE_URL, KID, run_tool

from reports import render, signing, sm2, tokens
from reports.content import ReportKind
from reports.samples import sample_content
from reports.tokens import TokenError
from tests.crypto.independent import independent_sm2, needs_independent

HASH = hashlib.sha256(b"report content").hexdigest()
BASE = "https://credit.jinchang.gov.cn"
UID = sm2.DEFAULT_USER_ID.decode()


@pytest.fixture(scope="module")
def sm2_key():
    return sm2.generate_key()


def _sign(key, kid="sm2026", number="XYJC-20260512-7K3M9Q2XHD"):
    return tokens.sign_token(key, kid, number=number, kind="special", issued_on=date(2026, 5, 12), content_hash=HASH)


def _body_and_signature(token: str) -> tuple[bytes, bytes]:
    raw = int(token).to_bytes((int(token).bit_length() + 7) // 8, "big")
    return raw[:-64], raw[-64:]


def test_sm2_token_round_trip_names_its_algorithm(sm2_key):
    token = _sign(sm2_key)
    assert int(token).to_bytes((int(token).bit_length() + 7) // 8, "big")[0] >> 4 == tokens.TOKEN_VERSION_SM2
    payload = tokens.verify_token(token, tokens.trust_keys([("sm2026", sm2_key)]))
    assert payload.algorithm == "SM2-SM3"
    assert payload.number == "XYJC-20260512-7K3M9Q2XHD" and payload.kind is ReportKind.SPECIAL
    assert payload.matches_hash(HASH)


@needs_independent
def test_sm2_token_checked_by_the_independent_implementation(sm2_key):
    body, signature = _body_and_signature(_sign(sm2_key))
    point = sm2.public_point(sm2_key)[1:].hex()
    assert independent_sm2.Verify(signature, body, point, 64, uid=UID)
    tampered = bytearray(body)
    tampered[5] ^= 1
    assert not independent_sm2.Verify(signature, bytes(tampered), point, 64, uid=UID)


@needs_independent
def test_token_signed_by_the_independent_implementation_verifies(sm2_key):
    body, _ = _body_and_signature(_sign(sm2_key))
    d_hex = f"{sm2_key.private_numbers().private_value:064x}"
    signature = independent_sm2.Sign(body, d_hex, os.urandom(32).hex(), 64, uid=UID)
    token = str(int.from_bytes(body + signature, "big"))
    assert tokens.verify_token(token, tokens.trust_keys([("sm2026", sm2_key)])).algorithm == "SM2-SM3"


def test_both_suites_verify_side_by_side_and_never_across(sm2_key, token_key):
    ed = tokens.generate_key()
    ring = tokens.trust_keys([("ed1", ed), ("sm2026", sm2_key)])
    assert tokens.verify_token(_sign(ed, kid="ed1"), ring).algorithm == "Ed25519"
    assert tokens.verify_token(_sign(sm2_key), ring).algorithm == "SM2-SM3"
    # An SM2 token naming an Ed25519 kid (or the other way round) is refused before any check.
    with pytest.raises(TokenError) as exc:
        tokens.verify_token(_sign(sm2_key, kid="ed1"), ring)
    assert exc.value.reason == TokenError.BAD_SIGNATURE
    with pytest.raises(TokenError):
        tokens.verify_token(_sign(ed, kid="sm2026"), ring)


def test_a_changed_sm2_token_is_refused(sm2_key):
    token = _sign(sm2_key)
    raw = bytearray(int(token).to_bytes((int(token).bit_length() + 7) // 8, "big"))
    raw[-70] ^= 1  # inside the hash prefix
    with pytest.raises(TokenError) as exc:
        tokens.verify_token(str(int.from_bytes(raw, "big")), tokens.trust_keys([("sm2026", sm2_key)]))
    assert exc.value.reason == TokenError.BAD_SIGNATURE


def test_sm2_jwk_is_published_beside_ed25519_and_round_trips(sm2_key):
    ed = tokens.generate_key()
    doc = tokens.public_keys_document({"ed1": ed, "sm2026": sm2_key})
    jwk = {k["kid"]: k for k in doc["keys"]}
    assert jwk["ed1"]["alg"] == "EdDSA"
    assert jwk["sm2026"] == {
        "kty": "EC",
        "crv": "SM2",
        "x": jwk["sm2026"]["x"],
        "y": jwk["sm2026"]["y"],
        "kid": "sm2026",
        "use": "sig",
        "alg": "SM2-SM3",
        "sm2_uid": "1234567812345678",
    }
    public = tokens.public_key_from_jwk(jwk["sm2026"])
    assert sm2.public_point(public) == sm2.public_point(sm2_key)
    assert tokens.verify_token(_sign(sm2_key), {"sm2026": public}).algorithm == "SM2-SM3"
    with pytest.raises(ValueError, match="user ID"):
        tokens.public_key_from_jwk({**jwk["sm2026"], "sm2_uid": "ALICE123@YAHOO.COM"})


def test_qr_version_at_level_m_is_the_same_for_sm2_and_ed25519(sm2_key):
    """Measured: both signatures are 64 bytes, so the token has the same length and the QR the
    same version (8 for a 30-character base URL at level M, as before)."""
    ed = tokens.generate_key()
    for kid, number in (("2026a", "XYJC-20260512-7K3M9Q2XHD"), ("k1", "xyjc-20260512-7k3m9q2xhd-01")):
        ed_url = tokens.token_url(BASE, _sign(ed, kid=kid, number=number))
        sm_url = tokens.token_url(BASE, _sign(sm2_key, kid=kid, number=number))
        # The decimal of a 1-byte-longer header value differs by at most one digit.
        assert abs(len(sm_url) - len(ed_url)) <= 1
        assert tokens.qr_version(sm_url, "M") == tokens.qr_version(ed_url, "M") <= 8


def test_printed_sm2_qr_code_decodes_back(sm2_key, signer, tmp_path):
    content = sample_content("enterprise", number="XYJC-20260512-SM7K3M9Q2X")
    token = tokens.sign_token(
        sm2_key,
        KID,
        number=content.number,
        kind=content.kind,
        issued_on=content.issued_at.date(),
        content_hash=content.content_hash,
    )
    url = tokens.token_url(BASE_URL, token)
    pdf = signing.sign_pdf(render.render_pdf(replace(content, verification_url=url)), signer)
    path = tmp_path / "report.pdf"
    path.write_bytes(pdf)
    run_tool("pdftoppm", "-r", "150", "-png", str(path), str(tmp_path / "page"))
    decoded = []
    for image in sorted(tmp_path.glob("page*.png")):
        result = run_tool("zbarimg", "-q", "--raw", str(image), check=False)
        decoded += [line for line in result.stdout.splitlines() if line]
    assert decoded == [url]
    payload = tokens.verify_token(tokens.token_from_url(decoded[0]), tokens.trust_keys([(KID, sm2_key)]))
    assert payload.algorithm == "SM2-SM3" and payload.number == content.number
