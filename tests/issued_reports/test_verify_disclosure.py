"""A report number alone tells only whether it is registered and its status (issue 14 item 9):
the subject's (masked) name and ID number and the counts of her records come out only with the
verification code, the signed QR token or the registered file itself."""

from __future__ import annotations

import io
import re

import sqlalchemy as sa

from backend.actors import Actor
from backend.audit.models import AuditEvent
from backend.extensions import db
from backend.issued_reports.operations import issue_report
from backend.pii import mask_id_number, mask_name

from .conftest import PERSON_NAME
from .helpers import flip_byte, path_of, pdf_text, read_qr


def _personal(world):
    issued = issue_report(Actor.citizen(world.person.id, "mp"), world.person, "personal")
    db.session.commit()
    return issued


def _subject_facts(world) -> tuple[str, ...]:
    return (mask_name(PERSON_NAME), mask_id_number(world.id_number), "行政处罚信息", "身份证号码")


def _csrf(client) -> str:
    html = client.get("/verify").get_data(as_text=True)
    return re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', html).group(1)


def test_a_file_holding_only_a_report_number_gets_its_status_and_no_facts(world, client):
    issued = _personal(world)
    number = issued.report.number
    text_file = f"报告编号：{number}\n".encode()

    answer = client.post("/api/v1/verify", data={"file": (io.BytesIO(text_file), "n.txt")}).get_json()
    assert not any(fact in str(answer) for fact in _subject_facts(world)), answer
    assert answer["genuine"] is False and answer["code"] == "file_changed" and answer["report"] is None
    assert answer["claimed"] == {"number": number, "status": "valid", "status_label": "有效"}

    page = client.post(
        "/verify",
        data={"csrf_token": _csrf(client), "file": (io.BytesIO(text_file), "n.txt")},
        content_type="multipart/form-data",
    ).get_data(as_text=True)
    assert number in page and "有效" in page
    assert not any(fact in page for fact in _subject_facts(world))
    # Nothing of the person was shown, so nothing is logged as a view of her data.
    views = db.session.scalars(sa.select(AuditEvent).where(AuditEvent.action == "report.verify")).all()
    assert views == []


def test_a_changed_copy_of_a_personal_report_gets_status_only(world, client):
    issued = _personal(world)
    answer = client.post("/api/v1/verify", data={"file": (io.BytesIO(flip_byte(issued.pdf)), "r.pdf")}).get_json()
    assert not any(fact in str(answer) for fact in _subject_facts(world)), answer
    assert answer["code"] == "file_changed" and answer["claimed"]["number"] == issued.report.number


def test_code_token_and_registered_file_still_give_the_facts(world, client, tmp_path):
    issued = _personal(world)
    masked_name = mask_name(PERSON_NAME)
    registered = client.post("/api/v1/verify", data={"file": (io.BytesIO(issued.pdf), "r.pdf")}).get_json()
    assert registered["genuine"] is True and registered["report"]["subject"]["name"] == masked_name
    assert registered["report"]["summary"] and registered["claimed"] is None

    url = read_qr(issued.pdf, tmp_path)
    by_token = client.post("/api/v1/verify", json={"qr": url}).get_json()
    assert by_token["report"]["subject"]["code"] == mask_id_number(world.id_number)
    assert masked_name in client.get(path_of(url)).get_data(as_text=True)

    code = re.search(r"验证码：([0-9A-Z]{4}-[0-9A-Z]{4})", pdf_text(issued.pdf, tmp_path)).group(1)
    form = {"csrf_token": _csrf(client), "number": issued.report.number}
    page = client.post("/verify", data={**form, "code": code}).get_data(as_text=True)
    assert masked_name in page and "行政处罚信息" in page
    wrong = client.post("/verify", data={**form, "code": "AAAA-AAAA"}).get_data(as_text=True)
    assert "报告编号或验证码不正确" in wrong and masked_name not in wrong
