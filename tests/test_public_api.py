"""The public query API: /api/v1/subjects search and profile, errors, rate limit, no personal data."""

from __future__ import annotations

import datetime as dt
import decimal
import json

import pytest
import sqlalchemy as sa

from backend.app import create_app
from backend.extensions import db, limiter
from backend.records.labels import CATEGORY_ORDER
from backend.records.models import CreditRecord, PenaltyTier, RecordCategory, RecordStatus
from backend.types import local_date
from tests.conftest import TEST_PII_KEY
from tests.factories import make_department, make_id_number, make_uscc, record_input, write_records

ENTERPRISE = "金昌市金川区宏达建材有限公司"
OTHER_ENTERPRISE = "甘肃金川镍钴新材料有限责任公司"
PERSON_NAME = "金川明"


def _days_ago(days: int) -> dt.date:
    return local_date() - dt.timedelta(days=days)


@pytest.fixture
def world(app):
    """One enterprise with records in every visibility situation, another one, and a person."""
    dept = make_department()
    uscc = make_uscc(11)
    other_uscc = make_uscc(12)
    person_id = make_id_number(31)

    def rec(number: str, **overrides):
        values = dict(
            uscc=uscc,
            subject_name=ENTERPRISE,
            decision_number=number,
            decision_date=_days_ago(30),
            received_date=_days_ago(28),
        )
        values.update(overrides)
        return record_input(dept, **values)

    inputs = [
        rec("金市监罚〔2026〕1号", fine_amount=decimal.Decimal("5000")),  # visible penalty
        rec("金市监罚〔2026〕2号", facts="异议中的事实"),  # will be under objection
        rec("金市监罚〔2024〕3号", decision_date=_days_ago(800), received_date=_days_ago(798)),  # past its end
        rec("金市监罚〔2026〕4号", tier=PenaltyTier.MINOR),  # minor: not published
        rec("金市监罚〔2026〕5号"),  # will be repaired
        rec("金市监罚〔2026〕6号"),  # will be withdrawn
        rec("金市监罚〔2026〕7号"),  # will be expired
        rec(
            "甘许〔2025〕8号",
            category=RecordCategory.LICENCE,
            tier=None,
            title="建筑业企业资质",
            violation_type=None,
            penalty_category=None,
            penalty_content=None,
        ),
        rec("金市监罚〔2026〕9号", uscc=other_uscc, subject_name=OTHER_ENTERPRISE),
        rec("金市监罚〔2026〕10号", uscc=None, id_number=person_id, subject_name=PERSON_NAME),
    ]
    write_records(*inputs)
    for number, status in (
        ("金市监罚〔2026〕2号", RecordStatus.UNDER_OBJECTION),
        ("金市监罚〔2026〕5号", RecordStatus.REPAIRED),
        ("金市监罚〔2026〕6号", RecordStatus.WITHDRAWN),
        ("金市监罚〔2026〕7号", RecordStatus.EXPIRED),
    ):
        db.session.execute(sa.update(CreditRecord).where(CreditRecord.decision_number == number).values(status=status))
    db.session.commit()
    return {"uscc": uscc, "other_uscc": other_uscc, "person_id": person_id}


def _numbers(payload: dict) -> set[str]:
    return {r["decision_number"] for group in payload["categories"] for r in group["records"]}


def _assert_no_person(raw: str, world) -> None:
    text = json.dumps(json.loads(raw), ensure_ascii=False)  # compare unescaped text
    for secret in (PERSON_NAME, "金*明", world["person_id"], "金市监罚〔2026〕10号"):
        assert secret not in text


# ----- search ---------------------------------------------------------------------------------


def test_search_finds_enterprises_containing_jinchuan(client, world):
    resp = client.get("/api/v1/subjects", query_string={"q": "金川"})
    assert resp.status_code == 200
    body = resp.get_json()
    assert {item["name"] for item in body["items"]} == {ENTERPRISE, OTHER_ENTERPRISE}
    assert {item["uscc"] for item in body["items"]} == {world["uscc"], world["other_uscc"]}
    assert set(body["items"][0]) == {"uscc", "name", "area_code"}
    assert body["page"] == 1
    assert body["has_more"] is False
    _assert_no_person(resp.get_data(as_text=True), world)


def test_search_three_characters_finds_the_middle_of_names(client, world):
    body = client.get("/api/v1/subjects", query_string={"q": "宏达建材"}).get_json()
    assert [item["name"] for item in body["items"]] == [ENTERPRISE]


def test_search_by_uscc(client, world):
    body = client.get("/api/v1/subjects", query_string={"q": world["other_uscc"].lower()}).get_json()
    assert [item["uscc"] for item in body["items"]] == [world["other_uscc"]]
    assert body["total"] == 1


def test_search_never_returns_a_natural_person(client, world):
    for query in (PERSON_NAME, "金*明", world["person_id"], "明"):
        resp = client.get("/api/v1/subjects", query_string={"q": query})
        assert resp.status_code == 200
        assert resp.get_json()["items"] == []
        _assert_no_person(resp.get_data(as_text=True), world)


def test_search_pagination(client, app):
    dept = make_department()
    write_records(
        *[record_input(dept, uscc=make_uscc(400 + n), subject_name=f"金昌{n:02d}号商贸有限公司") for n in range(7)]
    )
    db.session.commit()
    first = client.get("/api/v1/subjects", query_string={"q": "商贸", "per_page": 3}).get_json()
    third = client.get("/api/v1/subjects", query_string={"q": "商贸", "per_page": 3, "page": 3}).get_json()
    assert (len(first["items"]), first["has_more"], first["per_page"]) == (3, True, 3)
    assert (len(third["items"]), third["has_more"], third["page"]) == (1, False, 3)
    big = client.get("/api/v1/subjects", query_string={"q": "商贸", "per_page": 10_000}).get_json()
    assert big["per_page"] == app.extensions["settings"].SEARCH_MAX_PAGE_SIZE
    assert len(big["items"]) == 7


@pytest.mark.parametrize("query", [{}, {"q": ""}, {"q": "   "}])
def test_search_empty_query_is_a_400_in_chinese(client, app, query):
    resp = client.get("/api/v1/subjects", query_string=query)
    assert resp.status_code == 400
    error = resp.get_json()["error"]
    assert error["code"] == "empty_query"
    assert "请输入企业名称" in error["message"]


@pytest.mark.parametrize("query", [{"q": "金川", "page": 0}, {"q": "金川", "per_page": "abc"}, {"q": "金" * 101}])
def test_search_bad_parameters_are_a_422_in_the_error_shape(client, app, query):
    resp = client.get("/api/v1/subjects", query_string=query)
    assert resp.status_code == 422
    assert resp.get_json()["error"]["code"] == "validation_error"


# ----- profile --------------------------------------------------------------------------------


def test_profile_shows_only_visible_records_grouped_in_fixed_order(client, world):
    resp = client.get(f"/api/v1/subjects/{world['uscc']}")
    assert resp.status_code == 200
    body = resp.get_json()
    assert body["uscc"] == world["uscc"]
    assert body["name"] == ENTERPRISE
    assert body["as_of"] == local_date().isoformat()
    assert _numbers(body) == {"金市监罚〔2026〕1号", "金市监罚〔2026〕2号", "甘许〔2025〕8号"}
    assert [g["category"] for g in body["categories"]] == [c.value for c in CATEGORY_ORDER]
    assert body["counts"]["penalty"] == 2
    assert body["counts"]["licence"] == 1
    assert body["counts"]["dishonest_list"] == 0
    assert body["total_records"] == 3
    penalty = next(g for g in body["categories"] if g["category"] == "penalty")
    assert penalty["label"] == "行政处罚"
    assert penalty["count"] == 2


def test_profile_record_fields_and_labels(client, world):
    body = client.get(f"/api/v1/subjects/{world['uscc']}").get_json()
    records = {r["decision_number"]: r for g in body["categories"] for r in g["records"]}
    fined = records["金市监罚〔2026〕1号"]
    assert fined["category_label"] == "行政处罚"
    assert fined["tier"] == "general"
    assert fined["tier_label"] == "一般"
    assert fined["department_name"] == "金昌市市场监督管理局"
    assert fined["decision_date"] == _days_ago(30).isoformat()
    assert fined["fine_amount"] == "5000.00"
    assert fined["violation_type"] == "未按规定公示年度报告"
    assert fined["legal_basis"].startswith("《企业信息公示暂行条例》")
    assert fined["penalty_category"] == "罚款"
    assert fined["visible_until"] is not None
    assert dt.date.fromisoformat(fined["visible_until"]) >= local_date()
    assert fined["under_objection"] is False
    assert fined["objection_mark"] is None
    objected = records["金市监罚〔2026〕2号"]
    assert objected["under_objection"] is True
    assert objected["objection_mark"] == "异议处理中"
    licence = records["甘许〔2025〕8号"]
    assert (licence["category_label"], licence["tier"], licence["tier_label"]) == ("行政许可", None, None)
    assert licence["title"] == "建筑业企业资质"
    # no snapshot or internal fields on the public list
    for hidden in ("subject_name", "subject_id", "content_hash", "published", "status", "import_batch_id"):
        assert hidden not in fined


def test_profile_is_case_insensitive_for_the_code(client, world):
    assert client.get(f"/api/v1/subjects/{world['uscc'].lower()}").status_code == 200


@pytest.mark.parametrize(
    ("code", "fragment", "position"),
    [
        ("91620302MA71XY3Q55", "第18位", 18),
        ("91620302MA71XY3QS4", "第17位", 17),
        ("91620302MA71XY3Q5", "18位", None),
    ],
)
def test_profile_invalid_uscc_is_a_400_naming_the_problem(client, app, code, fragment, position):
    resp = client.get(f"/api/v1/subjects/{code}")
    assert resp.status_code == 400
    error = resp.get_json()["error"]
    assert error["code"] == "invalid_uscc"
    assert fragment in error["message"]
    assert error["details"].get("position") == position


def test_profile_unknown_code_is_a_404_in_chinese(client, world):
    resp = client.get(f"/api/v1/subjects/{make_uscc(999)}")
    assert resp.status_code == 404
    error = resp.get_json()["error"]
    assert error["code"] == "not_found"
    assert "未找到" in error["message"]


def test_no_profile_leaks_a_natural_person(client, world):
    for code in (world["uscc"], world["other_uscc"]):
        resp = client.get(f"/api/v1/subjects/{code}")
        assert resp.status_code == 200
        _assert_no_person(resp.get_data(as_text=True), world)
    resp = client.get(f"/api/v1/subjects/{world['person_id']}")
    assert resp.status_code in (400, 404)
    _assert_no_person(resp.get_data(as_text=True), world)


def test_other_enterprise_sees_only_its_own_records(client, world):
    body = client.get(f"/api/v1/subjects/{world['other_uscc']}").get_json()
    assert _numbers(body) == {"金市监罚〔2026〕9号"}


# ----- documentation and rate limit -----------------------------------------------------------


def test_openapi_documents_both_endpoints_with_their_errors(client, app):
    spec = client.get("/openapi.json").get_json()
    search = spec["paths"]["/api/v1/subjects"]["get"]
    profile = spec["paths"]["/api/v1/subjects/{uscc}"]["get"]
    assert {"200", "400", "422", "429"} <= set(search["responses"])
    assert {"200", "400", "404", "429"} <= set(profile["responses"])
    error_ref = profile["responses"]["404"]["content"]["application/json"]["schema"]["$ref"]
    assert error_ref.endswith("/ErrorSchema")
    validation_ref = search["responses"]["422"]["content"]["application/json"]["schema"]["$ref"]
    assert validation_ref.endswith("/ErrorSchema")  # the shape we really send, not APIFlask's default
    assert "Retry-After" in profile["responses"]["429"]["headers"]
    record_fields = set(spec["components"]["schemas"]["PublicRecordSchema"]["properties"])
    assert "objection_mark" in record_fields
    assert not record_fields & {"subject_name", "id_number", "legal_representative", "subject_id"}


@pytest.fixture
def limited_client(app):
    """A second app with rate limiting on. The limiter object is shared by every app in the
    process, so its switches are restored afterwards for the rest of the session."""
    saved = (limiter.enabled, limiter.initialized)
    limited = create_app(
        {
            "ENV": "testing",
            "DATABASE_URL": app.config["SQLALCHEMY_DATABASE_URI"],
            "SECRET_KEY": app.config["SECRET_KEY"],
            "PII_ENCRYPTION_KEYS": TEST_PII_KEY,
            "PII_HASH_KEY": "test-hash-key",
            "RATELIMIT_ENABLED": True,
            "RATELIMIT_PUBLIC": "3/minute",
        }
    )
    try:
        yield limited.test_client()
    finally:
        limiter.reset()
        limiter.enabled, limiter.initialized = saved
        with limited.app_context():
            db.session.remove()
            db.engine.dispose()


def test_rate_limit_answers_429_in_the_error_shape_with_retry_after(limited_client, world):
    for _ in range(3):
        assert limited_client.get("/api/v1/subjects", query_string={"q": "金川"}).status_code == 200
    resp = limited_client.get("/api/v1/subjects", query_string={"q": "金川"})
    assert resp.status_code == 429
    error = resp.get_json()["error"]
    assert error["code"] == "rate_limited"
    assert "频繁" in error["message"]
    assert int(resp.headers["Retry-After"]) > 0


def test_search_validation_messages_are_chinese_and_unknown_parameters_are_ignored(client, world):
    error = client.get("/api/v1/subjects", query_string={"q": "金川", "page": 0}).get_json()["error"]
    assert error["details"]["query"]["page"] == ["页码应为1至100之间的整数"]
    resp = client.get("/api/v1/subjects", query_string={"q": "金川", "_": "1700000000"})
    assert resp.status_code == 200
