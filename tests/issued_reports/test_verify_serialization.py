"""The verification answer is written out by hand (``verdict_json``) for speed; it must stay
exactly what the documented ``VerifyResultSchema`` gives, for every kind of verdict, on both
routes that send it (the public API and the mini-program's)."""

from __future__ import annotations

import datetime as dt
import io

from backend.actors import Actor
from backend.extensions import db
from backend.issued_reports.operations import issue_report, revoke_report
from backend.issued_reports.schemas import VerifyResultSchema
from backend.issued_reports.verification import verify_number_code, verify_pdf, verify_token_text
from backend.issued_reports.views import verdict_data, verdict_json
from backend.types import utcnow

from .helpers import flip_byte


def _same(verdict) -> dict:
    expected = VerifyResultSchema().dump(verdict_data(verdict))
    assert verdict_json(verdict) == expected
    return expected


def test_hand_written_verdict_equals_the_schema_dump(world, client, app):
    valid = issue_report(Actor.public(), world.enterprise, "enterprise")
    revoked = issue_report(Actor.citizen(world.person.id, "mp"), world.person, "personal")
    revoke_report(Actor.cli("test"), revoked.report, "报告内容有误 <b>&</b>")
    old = issue_report(Actor.public(), world.enterprise, "enterprise", now=utcnow() - dt.timedelta(days=40))
    db.session.commit()

    answers = {
        "valid": _same(verify_token_text(valid.verification_url)),
        "revoked": _same(verify_token_text(revoked.verification_url)),
        "expired": _same(verify_token_text(old.verification_url)),
        "forged": _same(verify_token_text(valid.verification_url[:-3] + "AAA")),
        "by code": _same(verify_number_code(valid.report.number, "wrong-code")),
        "file": _same(verify_pdf(valid.pdf)),
        "changed file": _same(verify_pdf(flip_byte(valid.pdf))),
        "revoked number in a text": _same(verify_pdf(f"{revoked.report.number}".encode())),
    }
    assert answers["valid"]["status"] == "valid" and answers["valid"]["report"]["summary"]
    assert answers["revoked"]["report"]["revoked_at"] and answers["revoked"]["report"]["subject"]["kind"] == "natural"
    assert answers["expired"]["status"] == "expired"
    assert answers["forged"]["report"] is None and answers["forged"]["genuine"] is False
    assert answers["file"]["file"]["identical"] is True
    assert answers["revoked number in a text"]["claimed"]["status"] == "revoked"
    assert answers["changed file"]["file"]["signature_intact"] is False
    assert answers["changed file"]["claimed"]["number"] == valid.report.number
    assert answers["changed file"]["report"] is None

    # What the routes send is that dictionary.
    assert client.post("/api/v1/verify", json={"qr": valid.verification_url}).get_json() == answers["valid"]
    upload = client.post("/api/v1/verify", data={"file": (io.BytesIO(valid.pdf), "r.pdf")}).get_json()
    assert upload == answers["file"]
