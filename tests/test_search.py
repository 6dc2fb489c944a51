"""Enterprise search: USCC lookup, short and trigram substring paths, ordering, paging, no persons."""

from __future__ import annotations

import datetime as dt

import pytest

from backend.extensions import db
from backend.subjects.queries import looks_like_uscc, search_enterprises
from backend.types import local_date
from tests.factories import make_department, make_id_number, make_uscc, record_input, write_records

JINCHUAN_EXACT = "金川"
JINCHUAN_PREFIX = "金川集团股份有限公司"
JINCHUAN_MIDDLE = "甘肃金川镍钴新材料有限责任公司"
OTHER = "永昌县农业发展有限公司"
PERSON_NAME = "金川明"


def _enterprise(dept, name: str, n: int, **overrides):
    return record_input(
        dept,
        uscc=make_uscc(n),
        subject_name=name,
        decision_date=local_date() - dt.timedelta(days=30),
        received_date=local_date() - dt.timedelta(days=28),
        **overrides,
    )


@pytest.fixture
def world(app):
    dept = make_department()
    names = {JINCHUAN_MIDDLE: 101, OTHER: 102, JINCHUAN_PREFIX: 103, JINCHUAN_EXACT: 104}
    inputs = [_enterprise(dept, name, n) for name, n in names.items()]
    person = record_input(
        dept,
        uscc=None,
        id_number=make_id_number(7),
        subject_name=PERSON_NAME,
        decision_date=local_date() - dt.timedelta(days=30),
        received_date=local_date() - dt.timedelta(days=28),
    )
    write_records(*inputs, person)
    db.session.commit()
    return {name: make_uscc(n) for name, n in names.items()} | {"person_id": person.id_number}


def _names(page) -> list[str]:
    return [item.name for item in page.items]


def test_two_characters_find_names_containing_them_in_rank_order(world):
    page = search_enterprises("金川")
    # exact name, then the prefix match, then the name containing it in the middle
    assert _names(page) == [JINCHUAN_EXACT, JINCHUAN_PREFIX, JINCHUAN_MIDDLE]
    assert page.has_more is False
    assert page.items[0].uscc == world[JINCHUAN_EXACT]


def test_one_character_is_enough(world):
    assert set(_names(search_enterprises("镍"))) == {JINCHUAN_MIDDLE}


def test_three_characters_use_the_trigram_path_and_find_the_middle_of_names(world):
    assert _names(search_enterprises("镍钴新材料")) == [JINCHUAN_MIDDLE]
    assert _names(search_enterprises("集团股份")) == [JINCHUAN_PREFIX]
    assert _names(search_enterprises("金川集")) == [JINCHUAN_PREFIX]
    assert _names(search_enterprises("金川镍")) == [JINCHUAN_MIDDLE]
    assert set(_names(search_enterprises("有限公司"))) == {JINCHUAN_PREFIX, OTHER}


def test_three_characters_rank_exact_then_prefix_then_contains(app):
    dept = make_department()
    # written middle-first so that id order alone would give the wrong ranking
    names = ["金昌宏达建材厂", "宏达建材有限公司", "宏达建材"]
    write_records(*[_enterprise(dept, name, 300 + n) for n, name in enumerate(names)])
    db.session.commit()
    assert _names(search_enterprises("宏达建材")) == ["宏达建材", "宏达建材有限公司", "金昌宏达建材厂"]
    assert _names(search_enterprises("宏达建材", page=2, per_page=2)) == ["金昌宏达建材厂"]


def test_query_characters_are_literal_not_patterns(world):
    for text in ("%", "_", "%%", "__", "%有限%", "_川_", '"', '"金川"', "金川' OR 1=1 --", "*", "金川*", "NEAR"):
        assert search_enterprises(text).items == [], text


def test_uscc_query_is_an_exact_code_lookup_in_any_case_and_spacing(world):
    code = world[JINCHUAN_MIDDLE]
    page = search_enterprises(" " + code[:9].lower() + " " + code[9:] + " ")
    assert _names(page) == [JINCHUAN_MIDDLE]
    assert page.total == 1
    assert looks_like_uscc(code)
    assert not looks_like_uscc(code[:17])
    assert not looks_like_uscc("金川集团股份有限公司金川集团股份有限公")


def test_natural_persons_are_never_found(world):
    assert search_enterprises(PERSON_NAME).items == []
    assert search_enterprises("金*明").items == []
    # an ID number looks like a code (18 digits) and must still find nothing
    assert search_enterprises(world["person_id"]).items == []
    assert PERSON_NAME not in _names(search_enterprises("金"))
    assert all(item.name for item in search_enterprises("金").items)


def test_pages_cross_the_exact_prefix_and_contains_tiers(world):
    seen = []
    for number in (1, 2, 3):
        page = search_enterprises("金川", page=number, per_page=1)
        assert len(page.items) == 1
        assert page.has_more is (number < 3)
        seen.extend(_names(page))
    assert seen == [JINCHUAN_EXACT, JINCHUAN_PREFIX, JINCHUAN_MIDDLE]
    assert search_enterprises("金川", page=4, per_page=1).items == []
    page = search_enterprises("金川", page=2, per_page=2)
    assert _names(page) == [JINCHUAN_MIDDLE]
    assert page.has_more is False


@pytest.mark.parametrize("query", ["测试", "测试企业"])  # short scan and trigram path
def test_pagination_over_many_matches(app, query):
    dept = make_department()
    write_records(*[_enterprise(dept, f"金昌{n:02d}测试企业有限公司", 200 + n) for n in range(25)])
    db.session.commit()
    pages = [search_enterprises(query, page=p, per_page=10) for p in (1, 2, 3)]
    assert [len(p.items) for p in pages] == [10, 10, 5]
    assert [p.has_more for p in pages] == [True, True, False]
    codes = [item.uscc for p in pages for item in p.items]
    assert len(set(codes)) == 25


def test_per_page_is_capped_by_the_setting(app):
    settings = app.extensions["settings"]
    page = search_enterprises("金川", per_page=settings.SEARCH_MAX_PAGE_SIZE + 500)
    assert page.per_page == settings.SEARCH_MAX_PAGE_SIZE


def test_empty_query_is_refused(app):
    with pytest.raises(ValueError, match="empty"):
        search_enterprises("  ")


def test_latin_letters_match_in_any_case_on_both_paths(app):
    dept = make_department()
    write_records(_enterprise(dept, "金昌ABC科技有限公司", 501), _enterprise(dept, "XY商贸有限公司", 502))
    db.session.commit()
    assert _names(search_enterprises("abc科技")) == ["金昌ABC科技有限公司"]  # trigram path
    assert _names(search_enterprises("bc")) == ["金昌ABC科技有限公司"]  # short scan with LIKE
    assert _names(search_enterprises("XY")) == ["XY商贸有限公司"]  # prefix tier
    assert _names(search_enterprises("xy")) == ["XY商贸有限公司"]  # prefix is exact about case: contains tier


def test_short_and_long_fragments_are_different_statements_on_postgresql():
    """psycopg prepares a statement after a few runs and PostgreSQL may then keep one generic plan
    for it: if 1-2 and 3+ character searches shared one SQL text, short fragments would inherit
    the trigram index plan, which reads the whole GIN index for them (measured: 170 ms for 有限 on
    100k enterprises, 2 ms with their own statement)."""
    from sqlalchemy.dialects import postgresql

    from backend.subjects.queries import _name_tiers

    def contains_sql(short: bool, cased: bool) -> str:
        return str(_name_tiers("postgresql", (short, cased))[2][0].compile(dialect=postgresql.dialect()))

    for cased in (False, True):
        short, long = contains_sql(True, cased), contains_sql(False, cased)
        assert short != long
        assert "strpos" in short and "LIKE" not in short.split("WHERE", 1)[1].split("AND", 1)[0]


def _short_fragments_are_found() -> None:
    """Two enterprises, and the 1-2 character searches every short-fragment index must answer."""
    dept = make_department()
    write_records(_enterprise(dept, "金昌鑫犇商贸有限公司", 601), _enterprise(dept, "金昌Ab商贸有限公司", 602))
    db.session.commit()
    assert _names(search_enterprises("鑫犇")) == ["金昌鑫犇商贸有限公司"]
    assert _names(search_enterprises("犇")) == ["金昌鑫犇商贸有限公司"]
    assert _names(search_enterprises("bS")) == []  # a pair across a letter and 商 is not in the name
    assert _names(search_enterprises("B商")) == ["金昌Ab商贸有限公司"]  # lower-cased, like the rule


def _tier_params(q: str) -> dict:
    """The parameters of a first page of ``_name_tiers`` statements for ``q``."""
    return {"q": q, "q_upper": q + "\U0010ffff", "starts": q + "%", "contains": f"%{q}%", "phrase": "", "limit": 21}


def test_one_and_two_character_fragments_can_use_the_name_grams_index_on_postgresql(app):
    """Migration 0007's GIN index over each name's characters and character pairs answers rare
    short fragments (pg_trgm cannot: a rare pair used to read the whole table)."""
    import sqlalchemy as sa
    from sqlalchemy.dialects import postgresql

    from backend.subjects.queries import _name_tiers

    if db.engine.dialect.name != "postgresql":
        pytest.skip("a PostgreSQL index (SQLite has its table of name pairs, migration 0008)")
    _short_fragments_are_found()
    params = _tier_params("鑫犇")
    for cased in (False, True):
        statement = _name_tiers("postgresql", (True, cased))[2][0].params(**params, offset=0)
        sql = str(statement.compile(dialect=postgresql.dialect(), compile_kwargs={"literal_binds": True}))
        db.session.execute(sa.text("SET LOCAL enable_seqscan = off"))
        db.session.execute(sa.text("SET LOCAL enable_indexscan = off"))  # not the primary-key walk
        plan = "\n".join(db.session.scalars(sa.text("EXPLAIN " + sql)))
        assert "ix_subject_name_grams" in plan, plan
        db.session.rollback()


def test_one_and_two_character_fragments_use_the_name_pairs_table_on_sqlite(app):
    """Migration 0008's table of each name's characters and character pairs (kept by triggers)
    answers short fragments on SQLite in id order, instead of a scan of every name."""
    import sqlalchemy as sa
    from sqlalchemy.dialects import sqlite

    from backend.subjects.models import Subject
    from backend.subjects.queries import _name_tiers

    if db.engine.dialect.name != "sqlite":
        pytest.skip("a SQLite table (PostgreSQL has its GIN index, migration 0007)")
    _short_fragments_are_found()

    def pairs_table() -> set[tuple[str, int]]:
        return {tuple(row) for row in db.session.execute(sa.text("SELECT pair, subject_id FROM subject_name_pair"))}

    def pairs_of_names() -> set[tuple[str, int]]:
        named = db.session.execute(sa.select(Subject.name, Subject.id).where(Subject.name.is_not(None))).all()
        return {(name.lower()[i : i + w], id_) for name, id_ in named for w in (1, 2) for i in range(len(name) - w + 1)}

    assert pairs_table() == pairs_of_names()
    renamed = db.session.scalar(sa.select(Subject).where(Subject.name == "金昌鑫犇商贸有限公司"))
    renamed.name = "金昌犇犇农业有限公司"
    db.session.commit()
    assert _names(search_enterprises("鑫犇")) == []
    assert _names(search_enterprises("犇农")) == ["金昌犇犇农业有限公司"]
    assert pairs_table() == pairs_of_names()
    gone = db.session.scalar(sa.select(Subject.id).where(Subject.name == "金昌Ab商贸有限公司"))
    db.session.execute(sa.text("DELETE FROM credit_record WHERE subject_id = :id"), {"id": gone})
    db.session.execute(sa.text("DELETE FROM subject WHERE id = :id"), {"id": gone})
    db.session.commit()
    assert pairs_table() == pairs_of_names() and not any(id_ == gone for _, id_ in pairs_table())

    params = _tier_params("犇农")
    for cased in (False, True):
        statement = _name_tiers("sqlite", (True, cased))[2][0].params(**params, offset=0)
        sql = str(statement.compile(dialect=sqlite.dialect(), compile_kwargs={"literal_binds": True}))
        plan = " ".join(str(row[-1]) for row in db.session.execute(sa.text("EXPLAIN QUERY PLAN " + sql)))
        assert "subject_name_pair" in plan and "SCAN" not in plan, plan
