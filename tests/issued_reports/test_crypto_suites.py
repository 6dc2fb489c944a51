"""Reports under both crypto suites: an SM2 signature over the registered file, checked by
/verify and by an independent SM2 implementation from the published key alone; a platform that
switched from the international suite keeps verifying the reports it issued before."""

from __future__ import annotations

import base64
import hashlib
import io

import pytest

from backend.actors import Actor
from backend.extensions import db
from backend.issued_reports.keys import EXTENSION_KEY, ReportKeys
from backend.issued_reports.models import IssuedReport
from backend.issued_reports.operations import issue_report
from reports import sm2, tokens
from tests.crypto.independent import independent_sm2, needs_independent

from .helpers import path_of, read_qr


def _keys(base: ReportKeys, active_kid: str, private: dict) -> ReportKeys:
    return ReportKeys(
        kid=active_kid,
        private_key=private[active_kid],
        public_keys=tokens.trust_keys(private.items()),
        pdf_key_path=base.pdf_key_path,
        pdf_cert_path=base.pdf_cert_path,
        pdf_chain_paths=base.pdf_chain_paths,
        pdf_passphrase=base.pdf_passphrase,
    )


@pytest.fixture
def both(app, keys, monkeypatch):
    """Key sets before and after the switch: Ed25519 ``ed1`` signs, then SM2 ``sm1`` does."""
    private = {"ed1": tokens.generate_key(), "sm1": sm2.generate_key()}
    international = _keys(keys, "ed1", private)
    gm = _keys(keys, "sm1", private)

    def use(which: ReportKeys) -> ReportKeys:
        monkeypatch.setitem(app.extensions, EXTENSION_KEY, which)
        return which

    return use, international, gm


def _issue(world):
    issued = issue_report(Actor.public("203.0.113.9"), world.enterprise, "enterprise")
    db.session.commit()
    return issued


def test_sm2_report_verifies_by_qr_and_by_file_with_its_file_signature(world, client, tmp_path, both):
    use, _, gm = both
    use(gm)
    issued = _issue(world)
    report = issued.report
    assert (report.file_signature_alg, report.file_signature_kid) == ("SM2-SM3", "sm1")

    by_qr = client.post("/api/v1/verify", json={"qr": read_qr(issued.pdf, tmp_path)}).get_json()
    assert by_qr["genuine"] is True and by_qr["signature"]["alg"] == "SM2-SM3" and by_qr["signature"]["kid"] == "sm1"
    by_file = client.post("/api/v1/verify", data={"file": (io.BytesIO(issued.pdf), "r.pdf")}).get_json()
    assert by_file["genuine"] is True and by_file["file"]["identical"] is True
    assert by_file["file"]["registered_signature_valid"] is True
    assert by_file["file"]["signature_valid"] is True  # PAdES kept beside it
    assert by_file["signature"]["file"] == {
        "alg": "SM2-SM3",
        "kid": "sm1",
        "value": report.file_signature,
        "valid": True,
        "keys_url": "/.well-known/credit-report-keys.json",
    }


@needs_independent
def test_independent_tool_checks_the_file_signature_from_the_published_key(world, client, both):
    use, _, gm = both
    use(gm)
    issued = _issue(world)
    answer = client.post("/api/v1/verify", data={"file": (io.BytesIO(issued.pdf), "r.pdf")}).get_json()
    jwk = {k["kid"]: k for k in client.get("/.well-known/credit-report-keys.json").get_json()["keys"]}
    assert {jwk["ed1"]["alg"], jwk["sm1"]["alg"]} == {"EdDSA", "SM2-SM3"}  # published side by side
    key = jwk[answer["signature"]["file"]["kid"]]
    point = (
        base64.urlsafe_b64decode(key["x"] + "=" * (-len(key["x"]) % 4)).hex()
        + base64.urlsafe_b64decode(key["y"] + "=" * (-len(key["y"]) % 4)).hex()
    )
    signature = base64.b64decode(answer["signature"]["file"]["value"])
    assert independent_sm2.Verify(signature, issued.pdf, point, 64, uid=key["sm2_uid"])
    assert not independent_sm2.Verify(signature, issued.pdf + b"\n", point, 64, uid=key["sm2_uid"])


def test_a_registry_row_vouching_for_another_file_is_refused(world, client, both):
    use, _, gm = both
    use(gm)
    issued = _issue(world)
    forged = issued.pdf.replace(b"/Producer", b"/Producex", 1)
    assert forged != issued.pdf
    # Someone with write access to the database points the row at a file of their making.
    issued.report.pdf_hash = hashlib.sha256(forged).hexdigest()
    db.session.commit()
    answer = client.post("/api/v1/verify", data={"file": (io.BytesIO(forged), "r.pdf")}).get_json()
    assert answer["genuine"] is False and answer["code"] == "file_signature_invalid"
    assert answer["report"] is None and answer["file"]["registered_signature_valid"] is False
    assert "篡改" in answer["reason"]


def test_after_the_switch_old_reports_keep_verifying(world, client, tmp_path, both):
    use, international, gm = both
    use(international)
    old = _issue(world)
    assert old.report.file_signature_alg == "Ed25519"
    use(gm)  # the city switched suite: SM2 signs from now on, Ed25519 still verifies
    new = _issue(world)
    assert new.report.file_signature_alg == "SM2-SM3"
    for issued, alg in ((old, "EdDSA"), (new, "SM2-SM3")):
        url = read_qr(issued.pdf, tmp_path)
        answer = client.post("/api/v1/verify", json={"qr": url}).get_json()
        assert answer["genuine"] is True and answer["signature"]["alg"] == alg, answer
        assert client.get(path_of(url)).status_code == 200
        by_file = client.post("/api/v1/verify", data={"file": (io.BytesIO(issued.pdf), "r.pdf")}).get_json()
        assert by_file["genuine"] is True and by_file["file"]["registered_signature_valid"] is True


def test_reports_from_before_file_signatures_still_verify(world, client, both):
    use, international, _ = both
    use(international)
    issued = _issue(world)
    row = db.session.get(IssuedReport, issued.report.id)
    row.file_signature = row.file_signature_alg = row.file_signature_kid = None  # issued before 0019
    db.session.commit()
    answer = client.post("/api/v1/verify", data={"file": (io.BytesIO(issued.pdf), "r.pdf")}).get_json()
    assert answer["genuine"] is True and answer["file"]["registered_signature_valid"] is None
    assert "file" not in answer["signature"]
