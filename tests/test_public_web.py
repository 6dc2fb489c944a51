import datetime as dt

from backend.extensions import db
from tests.factories import make_department, make_id_number, make_uscc, record_input, write_records


def _seed():
    dept = make_department()
    uscc = make_uscc(41)
    write_records(
        record_input(
            dept,
            uscc=uscc,
            subject_name="金昌市金川区宏达建材有限公司",
            decision_number="金市监罚〔2026〕17号",
            decision_date=dt.date(2026, 9, 1),
        ),
        record_input(dept, uscc=None, id_number=make_id_number(7), subject_name="张三明"),
    )
    db.session.commit()
    return uscc


def test_home_page(client):
    page = client.get("/").get_data(as_text=True)
    assert "企业信用查询" in page
    assert 'action="/search"' in page


def test_search_and_profile_pages(client):
    uscc = _seed()
    page = client.get("/search?q=金川").get_data(as_text=True)
    assert "金昌市金川区宏达建材有限公司" in page
    assert f"/subjects/{uscc}" in page
    profile = client.get(f"/subjects/{uscc}").get_data(as_text=True)
    assert "金市监罚〔2026〕17号" in profile
    assert "行政处罚（1）" in profile


def test_natural_persons_never_on_public_pages(client):
    _seed()
    for q in ("张三明", "张", "张*明"):
        page = client.get("/search", query_string={"q": q}).get_data(as_text=True)
        assert "未找到名称包含" in page  # the query is echoed back, but no result row
        assert "<td>" not in page


def test_invalid_uscc_page_names_the_problem(client):
    response = client.get("/subjects/91620302MA71XY3Q55")
    assert response.status_code == 400
    assert "第18位" in response.get_data(as_text=True)


def test_search_escapes_markup(client):
    page = client.get("/search", query_string={"q": "<script>alert(1)</script>"}).get_data(as_text=True)
    assert "<script>alert(1)</script>" not in page
    assert "&lt;script&gt;" in page
