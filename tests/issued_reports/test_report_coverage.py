"""Reports never claim what the platform cannot know (issue 16 item 12) and follow the 2022
public credit information report standard (item 13): read back from the PDF with pdftotext."""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from dateutil.relativedelta import relativedelta

from backend.actors import Actor
from backend.audit.models import AuditEvent
from backend.extensions import db
from backend.issued_reports.content import (
    ReportOptions,
    _Row,
    build_content,
    deciding_authority,
    normalise_options,
)
from backend.issued_reports.operations import issue_report
from backend.records.domains import DataDomainFeed, declare_feed, domain_coverage
from backend.records.models import RecordCategory, RecordStatus
from backend.types import local_date
from reports.content import CHINA_TZ, NOT_COLLECTED_TEXT, ReportKind
from tests.factories import make_department, record_input, write_records

from .helpers import pdf_text


def _special_for_person(world, years: int = 3):
    return issue_report(
        Actor.citizen(world.person.id, "mp"),
        world.person,
        "special",
        ReportOptions(years=years, domains=("court_defaulter",)),
    )


def _content(world, clock):
    options = normalise_options(ReportKind.SPECIAL, ReportOptions(years=3, domains=("court_defaulter",)))
    now = clock.now.replace(tzinfo=dt.UTC).astimezone(CHINA_TZ) if clock.now.tzinfo is None else clock.now
    built = build_content(
        world.person, ReportKind.SPECIAL, options, number="T-1", issued_at=now, valid_until=now.date()
    )
    return built.content


def test_special_report_for_a_person_never_says_none_for_criminal_judgements_it_does_not_receive(
    world, clock, tmp_path
):
    """No feed of 刑事判决 reaches the platform: the person's special report must not pass for a
    无犯罪记录证明 (发改财金〔2025〕565号: criminal records come from public security)."""
    issued = _special_for_person(world)
    text = pdf_text(issued.pdf, tmp_path)
    assert "刑事判决信息（本平台未归集）" in text
    assert "刑事判决信息（无）" not in text
    assert NOT_COLLECTED_TEXT in text
    # The overview counts it as 未归集, not 无; so is the dishonesty list, which no feed sends.
    assert "刑事判决信息未归集—" in text
    assert "严重失信主体名单信息未归集—" in text
    # The notes say what 未归集 means, and that the report proves nothing for that domain.
    assert "不表示该主体没有此类记录" in text and "无犯罪记录证明" in text
    # The coverage table names each domain: the fed ones with their department.
    assert "信息归集情况" in text
    assert f"失信被执行人信息{world.dept.name}" in text
    sections = {s.key: s for s in _content(world, clock).sections}
    assert sections["criminal_judgement"].collected is False
    assert sections["criminal_judgement"].empty_text == NOT_COLLECTED_TEXT


def test_a_declared_feed_covering_the_period_says_none_and_a_partial_one_says_since_when(world, clock, tmp_path):
    court = make_department(code="ZY", name="金昌市中级人民法院", n=2)
    today = clock.today
    declare_feed(
        Actor.cli("test"),
        RecordCategory.CRIMINAL_JUDGEMENT,
        court,
        today - relativedelta(years=10),
        note="经省信用平台共享",
        reason="法院确认历史数据已全部归集",
    )
    # The enforcement feed (written by the fixture today) only covers the period from today.
    issued = _special_for_person(world)
    text = pdf_text(issued.pdf, tmp_path)
    assert "刑事判决信息（无）" in text and "刑事判决信息（本平台未归集）" not in text
    enforcement = next(s for s in _content(world, clock).sections if s.key == "enforcement")
    assert not enforcement.rows and enforcement.collected
    assert enforcement.empty_text == f"无（本平台自 {today.isoformat()} 起归集此类信息，此前期间未归集）"
    assert "此前期间未归集" in text and "行政强制信息（无（部分期间未归集））" in text
    audit = db.session.scalar(sa.select(AuditEvent).where(AuditEvent.action == "data_domain.declare"))
    assert audit.reason == "法院确认历史数据已全部归集"
    assert audit.details["category"] == "criminal_judgement"

    # A feed that stopped before the period does not cover it.
    declare_feed(
        Actor.cli("test"),
        RecordCategory.CRIMINAL_JUDGEMENT,
        court,
        today - relativedelta(years=10),
        ended_on=today - relativedelta(years=4),
        reason="停止共享",
    )
    coverage = domain_coverage([RecordCategory.CRIMINAL_JUDGEMENT], today - relativedelta(years=3), today)
    assert not coverage[RecordCategory.CRIMINAL_JUDGEMENT].collected


def test_intake_registers_the_feed_and_keeps_last_received(app, clock):
    dept = make_department()
    write_records(record_input(dept), record_input(dept, category=RecordCategory.ENFORCEMENT, tier=None))
    db.session.flush()
    feeds = {f.category: f for f in db.session.scalars(sa.select(DataDomainFeed))}
    assert set(feeds) == {RecordCategory.PENALTY, RecordCategory.ENFORCEMENT}
    first = feeds[RecordCategory.PENALTY]
    assert first.covers_from == clock.today and first.first_received_at == first.last_received_at
    received = first.first_received_at
    clock.advance(days=3)
    write_records(record_input(dept))
    db.session.flush()
    db.session.refresh(first)
    assert first.first_received_at == received
    assert first.last_received_at == received + dt.timedelta(days=3)
    assert first.covers_from == local_date(received)  # a later receipt never moves "complete since"


def test_enterprise_report_names_the_deciding_authority_and_the_data_cutoff(world, tmp_path):
    issued = issue_report(Actor.public("203.0.113.9"), world.enterprise, "enterprise")
    text = pdf_text(issued.pdf, tmp_path)
    for heading in ("报告说明", "信息概要", "（一）基础信息", "（二）公共信用信息概要", "公共信用信息明细"):
        assert heading in text
    assert "数据截止时间" in text and "处罚机关" in text and world.dept.name in text


def test_the_authority_column_shows_who_decided_and_who_reported():
    row = _Row(
        1,
        RecordCategory.PENALTY,
        RecordStatus.PUBLIC,
        "永综执罚〔2026〕3号",
        dt.date(2026, 9, 1),
        "金昌市市场监督管理局",
        "永昌县综合行政执法局",
        None,
        None,
        None,
        None,
        None,
        None,
    )
    assert deciding_authority(row) == "永昌县综合行政执法局（经金昌市市场监督管理局报送）"
    assert deciding_authority(row.__class__(**{**row.__dict__, "authority_name": None})) == "金昌市市场监督管理局"
