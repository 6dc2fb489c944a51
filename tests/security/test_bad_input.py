"""Bad input on every surface: oversize bodies, malformed JSON and XML (entity expansion too),
invalid UTF-8, SQL-ish and script strings (stored as sent, shown escaped), path traversal in file
names, PDF bombs. Each gets a clear 4xx in the one error shape, and nothing is stored."""

from __future__ import annotations

import io
import json
import time
import tracemalloc
import zlib

import pytest
import sqlalchemy as sa

from backend.departments.models import Department
from backend.extensions import db
from backend.identifiers import org_code_check_char, uscc_with_check
from backend.imports.models import ImportBatch
from backend.records.models import CreditRecord
from backend.subjects.models import Subject
from backend.workflows.materials.models import Material
from backend.workflows.objections.models import Objection
from miniprogram_api.oa import signature_of
from tests.security.helpers import OA_TOKEN
from tests.wechat.helpers import API, make_pdf, sign
from tests.wechat.helpers import upload as upload_pdf

SCRIPT = "<script>alert('x')</script>"
SQLISH = "'; DROP TABLE credit_record; -- \" OR 1=1 /*"
HOSTILE = f"{SCRIPT}{SQLISH}"
ESCAPED_SCRIPT = "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;"


def count(model) -> int:
    db.session.remove()
    return db.session.scalar(sa.select(sa.func.count()).select_from(model))


def stored_files(storage) -> list[str]:
    return sorted(str(p.relative_to(storage.root)) for p in storage.root.rglob("*") if p.is_file())


def assert_error(response, status: int, code: str | None = None) -> dict:
    assert response.status_code == status, (response.status_code, response.data[:300])
    body = response.json
    assert set(body) == {"error"} and {"code", "message", "details"} <= set(body["error"]), body
    assert body["error"]["message"], body
    if code:
        assert body["error"]["code"] == code, body
    return body["error"]


# --- oversize bodies -----------------------------------------------------------------------


def test_oversize_bodies_are_413_on_every_json_surface(app, callers, storage, monkeypatch):
    monkeypatch.setitem(app.config, "MAX_CONTENT_LENGTH", 4096)
    big = "x" * 8192
    materials, batches = count(Material), count(ImportBatch)
    cases = [
        ("citizen_a", "POST", "/api/v1/verify", {"json_body": {"qr": big}}),
        ("citizen_a", "POST", f"{API}/objections", {"json_body": {"statement": big}}),
        ("department", "POST", "/api/dept/v1/records", {"json_body": {"records": [{"facts": big}]}}),
        ("kiosk_device", "POST", "/kiosk/api/heartbeat", {"json_body": {"printer_message": big}}),
        (
            "citizen_a",
            "POST",
            f"{API}/materials",
            {"data": {"purpose": "evidence", "file": (io.BytesIO(b"%PDF-" + b"0" * 8192), "a.pdf")}},
        ),
    ]
    for role, method, url, kwargs in cases:
        response = callers.request(role, method, url, **kwargs)
        assert_error(response, 413, "payload_too_large")
    assert count(Material) == materials and count(ImportBatch) == batches
    assert stored_files(storage) == []


# --- malformed JSON and invalid UTF-8 ------------------------------------------------------

MALFORMED = [b'{"qr": ', b"[1, 2", b'{"a": 1,}', b"\xff\xfe{}", b'{"qr": "\xc3\x28"}', b'"\xed\xa0\x80"']


@pytest.mark.parametrize(
    "body", MALFORMED, ids=["truncated", "open-array", "trailing-comma", "bom-junk", "bad-utf8", "surrogate"]
)
def test_malformed_json_is_400_in_the_error_shape(callers, body):
    for role, method, url in (
        ("anonymous", "POST", "/api/v1/verify"),
        ("citizen_a", "POST", f"{API}/objections"),
        ("citizen_a", "POST", f"{API}/session"),
        ("department", "POST", "/api/dept/v1/records"),
    ):
        response = callers.request(role, method, url, data=body, content_type="application/json")
        error = assert_error(response, 400)
        assert error["code"] in ("bad_request", "verify_input_required"), (url, error)
    kiosk = callers.request("kiosk_device", "POST", "/kiosk/api/heartbeat", data=body, content_type="application/json")
    assert_error(kiosk, 400)
    assert count(ImportBatch) == 0 and count(Objection) == 0


def test_invalid_utf8_in_query_strings_is_answered_not_crashed(callers):
    for url in ("/api/v1/subjects?q=%FF%FE%C3%28", f"{API}/subjects?q=%ED%A0%80", "/search?q=%FF", "/verify?x=%C0%80"):
        response = callers.request("citizen_a", "GET", url)
        assert response.status_code < 500, (url, response.status_code)
    response = callers.request("anonymous", "GET", "/api/v1/subjects?q=%00")
    assert_error(response, 422, "nul_character")
    page = callers.request("anonymous", "GET", "/search?q=a%00b")
    assert page.status_code == 400


# --- malformed XML and entity expansion on the official account ----------------------------

BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
<!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
<!ENTITY lol9 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">]>
<xml><ToUserName>gh</ToUserName><FromUserName>o-evil</FromUserName><CreateTime>1</CreateTime>
<MsgType>text</MsgType><Content>&lol9;</Content><MsgId>1</MsgId></xml>"""
EXTERNAL_ENTITY = b"""<?xml version="1.0"?>
<!DOCTYPE xml [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<xml><ToUserName>gh</ToUserName><FromUserName>o-evil</FromUserName><CreateTime>1</CreateTime>
<MsgType>text</MsgType><Content>&#26597;&#35810; &xxe;</Content><MsgId>2</MsgId></xml>"""
NOT_XML = b"<xml><MsgType>text</MsgType><Content>unclosed"

_nonce = iter(range(1, 1_000_000))


def post_oa(client, body: bytes):
    timestamp, nonce = str(int(time.time())), f"bad-input-{next(_nonce)}"
    return client.post(
        "/wechat/oa",
        query_string={"timestamp": timestamp, "nonce": nonce, "signature": signature_of(OA_TOKEN, timestamp, nonce)},
        data=body,
        content_type="text/xml",
    )


@pytest.mark.parametrize("body", [BILLION_LAUGHS, EXTERNAL_ENTITY, NOT_XML], ids=["billion-laughs", "xxe", "not-xml"])
def test_hostile_xml_is_refused_unparsed(client, fake, body):
    started = time.perf_counter()
    response = post_oa(client, body)
    assert response.status_code == 400, (response.status_code, response.data)
    assert b"root:" not in response.data and b"lol" not in response.data
    assert time.perf_counter() - started < 2
    assert fake.custom_messages == [] and fake.subscribe_messages == []
    # Unsigned, the same body is refused before it is read at all.
    unsigned = client.post("/wechat/oa?timestamp=1&nonce=x&signature=x", data=body, content_type="text/xml")
    assert unsigned.status_code == 403


# --- SQL-ish and script strings: stored as sent, shown escaped -----------------------------


def test_hostile_department_name_is_stored_and_listed_escaped(callers):
    from test_staff_auth import post_form

    admin = callers.clients["platform_admin"]
    uscc = uscc_with_check("11620300" + "01392609" + org_code_check_char("01392609"))
    response = post_form(
        admin, "/admin/departments", {"code": "EVIL-1", "name": HOSTILE, "uscc": uscc, "abbreviation": SCRIPT[:20]}
    )
    assert response.status_code == 302, response.get_data(as_text=True)[:2000]
    department = db.session.scalar(sa.select(Department).where(Department.code == "EVIL-1"))
    assert department.name == HOSTILE  # stored exactly, nothing "sanitised" away
    assert count(CreditRecord) >= 1  # the SQL-ish text did nothing
    listing = admin.get("/admin/departments").get_data(as_text=True)
    assert ESCAPED_SCRIPT in listing and SCRIPT not in listing
    detail = admin.get(f"/admin/departments/{department.id}").get_data(as_text=True)
    assert SCRIPT not in detail and "&lt;script&gt;" in detail


def test_hostile_record_from_a_department_is_shown_escaped_everywhere(callers):
    from tests.factories import make_uscc

    uscc = make_uscc()
    record = {
        "subject_name": "金昌" + SCRIPT,
        "uscc": uscc,
        "legal_representative": SQLISH[:30],
        "category": "penalty",
        "tier": "general",
        "decision_number": "金市监罚〔2026〕" + SQLISH[:20],
        "decision_date": "2026-03-02",
        "violation_type": HOSTILE,
        "penalty_category": "罚款",
        "penalty_content": SCRIPT,
        "facts": HOSTILE,
    }
    response = callers.request("department", "POST", "/api/dept/v1/records", json_body={"records": [record]})
    assert response.status_code == 200 and response.json["created"] == 1, response.json
    subject = db.session.scalar(sa.select(Subject).where(Subject.uscc == uscc))
    assert subject is not None and subject.name == "金昌" + SCRIPT
    profile = callers.request("anonymous", "GET", f"/api/v1/subjects/{uscc}")
    assert profile.status_code == 200 and profile.json["name"] == "金昌" + SCRIPT  # JSON carries it verbatim
    assert profile.headers["Content-Type"].startswith("application/json")
    for url in (f"/subjects/{uscc}", "/search?q=金昌"):
        page = callers.request("anonymous", "GET", url).get_data(as_text=True)
        assert SCRIPT not in page and ESCAPED_SCRIPT in page, url
    kiosk_page = callers.request("kiosk_device", "GET", f"/kiosk/enterprise/{uscc}").get_data(as_text=True)
    assert SCRIPT not in kiosk_page and ESCAPED_SCRIPT in kiosk_page
    console = callers.request("auditor", "GET", f"/admin/subjects/{subject.id}").get_data(as_text=True)
    assert SCRIPT not in console and ESCAPED_SCRIPT in console


@pytest.mark.parametrize("q", ["%", "_", "' OR '1'='1", "%' OR 1=1 --", "\\", "金昌%"])
def test_search_wildcards_and_quotes_match_literally(callers, q):
    """A LIKE wildcard or a quote is a character to look for, not a way to list everything."""
    response = callers.request("anonymous", "GET", "/api/v1/subjects", query_string={"q": q})
    assert response.status_code in (200, 400), response.data[:300]
    if response.status_code == 200:
        assert response.json["items"] == [], (q, len(response.json["items"]))


def test_hostile_objection_statement_round_trips_and_is_escaped_in_the_console(client, callers):
    person = callers.a
    record_id = person.records[0].id
    commitment = sign(client, person, record_id, "objection")
    material = upload_pdf(client, person)
    response = client.post(
        f"{API}/objections",
        json={
            "record_id": record_id,
            "ground": "inaccurate",
            "statement": HOSTILE,
            "commitment_id": commitment,
            "material_ids": [material],
        },
        headers=person.headers,
    )
    assert response.status_code == 201, response.json
    number = response.json["number"]
    shown = client.get(f"{API}/objections/{number}", headers=person.headers)
    assert shown.json["statement"] == HOSTILE
    objection = db.session.scalar(sa.select(Objection).where(Objection.number == number))
    page = callers.clients["platform_admin"].get(f"/admin/cases/objection/{objection.id}").get_data(as_text=True)
    assert SCRIPT not in page and ESCAPED_SCRIPT in page


# --- file names and PDF bombs --------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "problem"),
    [
        ("../../../../etc/passwd.pdf", "path"),
        ("..\\..\\windows\\win.ini.pdf", "path"),  # arrives as "....windowswin.ini.pdf"
        ("/etc/cron.d/x.pdf", "path"),
        ("....//x.pdf", "path"),
        ("materials/202611/x.pdf", "path"),
        ("C:evil.pdf", "path"),
        ("..", "path"),
        ("证明\x1b[31m.pdf", "control_character"),
        ("证明\t.pdf", "control_character"),
        ("证明\x7f.pdf", "control_character"),
    ],
)
def test_path_traversal_in_upload_names_is_refused_and_nothing_is_stored(
    client, callers, storage, tmp_path, name, problem
):
    outside = sorted(str(p) for p in tmp_path.parent.rglob("*passwd*"))
    response = client.post(
        f"{API}/materials",
        data={"purpose": "evidence", "file": (io.BytesIO(make_pdf(1)), name)},
        headers=callers.a.headers,
        content_type="multipart/form-data",
    )
    error = assert_error(response, 400, "bad_file_name")
    assert error["details"] == {"problem": problem}
    expected = "文件名不能包含路径" if problem == "path" else "文件名不能包含控制字符"
    assert error["message"].startswith(expected), error
    assert count(Material) == 0 and stored_files(storage) == []
    assert sorted(str(p) for p in tmp_path.parent.rglob("*passwd*")) == outside


def test_a_nul_in_an_upload_name_is_refused_before_the_view(client, callers, storage):
    response = client.post(
        f"{API}/materials",
        data={"purpose": "authorisation", "file": (io.BytesIO(make_pdf(1)), "证明\x00.pdf.exe")},
        headers=callers.a.headers,
        content_type="multipart/form-data",
    )
    assert_error(response, 422, "nul_character")
    assert count(Material) == 0 and stored_files(storage) == []


@pytest.mark.parametrize("name", ["证明.pdf", "v1.2 证明 (1).pdf", ".证明.pdf", "", "C.pdf"])
def test_plain_upload_names_are_accepted_and_stored_under_random_keys(client, callers, storage, name):
    response = client.post(
        f"{API}/materials",
        data={"purpose": "authorisation", "file": (io.BytesIO(make_pdf(1)), name)},
        headers=callers.a.headers,
        content_type="multipart/form-data",
    )
    assert response.status_code == 201, response.json
    material = db.session.get(Material, response.json["id"])
    assert material.storage_key.startswith("materials/") and ".." not in material.storage_key
    assert not material.original_name.startswith(".")
    assert stored_files(storage) == [material.storage_key]


def multipart(fields: dict[str, str], file_field: str, filename: str, data: bytes) -> tuple[bytes, str]:
    """A multipart body built here: werkzeug's test client spools a large upload to a temporary
    file it never closes (a ResourceWarning, an error under our warning filter)."""
    boundary = "----security-suite-boundary"
    parts = [
        f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'.encode()
        for name, value in fields.items()
    ]
    parts.append(
        f'--{boundary}\r\nContent-Disposition: form-data; name="{file_field}"; filename="{filename}"\r\n'
        "Content-Type: application/pdf\r\n\r\n".encode()
        + data
        + b"\r\n"
    )
    return b"".join(parts) + f"--{boundary}--\r\n".encode(), f"multipart/form-data; boundary={boundary}"


def _page_tree_bomb(count_: int) -> bytes:
    """A few hundred bytes that declare a page tree of ``count_`` pages (none of them present)."""
    head = b"%PDF-1.7\n"
    objects = [
        b"1 0 obj\n<< /Type /Catalog /Pages 2 0 R >>\nendobj\n",
        f"2 0 obj\n<< /Type /Pages /Kids [2 0 R] /Count {count_} >>\nendobj\n".encode(),
    ]
    # A correct cross-reference table: the file is read as written, not rebuilt by the parser.
    offsets = [len(head), len(head) + len(objects[0])]
    xref = b"xref\n0 3\n0000000000 65535 f \n" + b"".join(b"%010d 00000 n \n" % o for o in offsets)
    start = len(head) + len(objects[0]) + len(objects[1])
    tail = f"trailer\n<< /Size 3 /Root 1 0 R >>\nstartxref\n{start}\n%%EOF\n".encode()
    return head + b"".join(objects) + xref + tail


def _flate_bomb(inflated_mb: int) -> bytes:
    """An object stream that inflates to ``inflated_mb`` MB of zeros from about 1/1000 the size."""
    compressor = zlib.compressobj(9)
    chunk = b"\0" * (1024 * 1024)
    raw = b"".join(compressor.compress(chunk) for _ in range(inflated_mb)) + compressor.flush()
    stream = (
        f"3 0 obj\n<< /Type /ObjStm /N 1 /First 4 /Filter /FlateDecode /Length {len(raw)} >>\nstream\n".encode()
        + raw
        + b"\nendstream\nendobj\n"
    )
    head = b"%PDF-1.7\n1 0 obj\n<< /Type /Catalog /Pages 2 0 R >>\nendobj\n"
    return head + stream + b"trailer\n<< /Root 1 0 R >>\nstartxref\n0\n%%EOF\n"


@pytest.mark.parametrize(
    ("bomb", "code"),
    [
        (_page_tree_bomb(10**9), "material_too_many_pages"),
        (_flate_bomb(1024), "material_broken"),  # 1 GB inflated from ~1 MB: no pages inside
    ],
    ids=["page-tree", "flate"],
)
def test_pdf_bombs_are_refused_with_a_reason_in_bounded_memory(client, callers, storage, bomb, code):
    assert len(bomb) < 2 * 1024 * 1024
    body, content_type = multipart({"purpose": "evidence"}, "file", "炸弹.pdf", bomb)
    tracemalloc.start()
    started = time.perf_counter()
    response = client.post(f"{API}/materials", data=body, headers=callers.a.headers, content_type=content_type)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    error = assert_error(response, 422 if response.status_code == 422 else 400, code)
    assert "页" in error["message"] or "文件" in error["message"], error
    assert peak < 100 * 1024 * 1024, f"peak {peak / 1e6:.0f} MB"
    assert time.perf_counter() - started < 10
    assert count(Material) == 0 and stored_files(storage) == []


def test_a_real_pdf_still_uploads(client, callers, storage):
    material_id = upload_pdf(client, callers.a, data=make_pdf(3))
    assert db.session.get(Material, material_id).pages == 3
    assert json.dumps(stored_files(storage))


def test_an_id_too_large_for_the_database_is_a_422_not_a_500(callers):
    """Ids in request bodies go to INTEGER columns: a number beyond them is refused by the schema
    (PostgreSQL would otherwise raise "integer out of range" in the driver: a 500)."""
    too_big = 2**31
    for path, body in (
        (
            "/api/mp/v1/objections",
            {"record_id": too_big, "ground": "beyond_period", "statement": "x", "commitment_id": 1},
        ),
        ("/api/mp/v1/repairs", {"record_id": 1, "statement": "x", "commitment_id": too_big}),
        (
            "/api/mp/v1/objections",
            {
                "record_id": 1,
                "ground": "beyond_period",
                "statement": "x",
                "commitment_id": 1,
                "material_ids": [too_big],
            },
        ),
    ):
        response = callers.request("citizen_a", "POST", path, json_body=body)
        assert response.status_code == 422, (path, response.status_code, response.get_json())
        assert "2147483647" in json.dumps(response.get_json(), ensure_ascii=False)
