"""The report content object and its digest."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime

import pytest

from reports.content import Column, ReportContent, ReportKind, Section
from reports.samples import sample_content


def test_kind_titles_and_codes():
    assert ReportKind.ENTERPRISE.title == "法人和非法人组织公共信用信息报告"
    assert ReportKind.PERSONAL.title == "个人公共信用信息报告"
    assert ReportKind.SPECIAL.title == "专项信用报告（有无违法违规记录证明版）"
    assert {ReportKind.from_code(k.code) for k in ReportKind} == set(ReportKind)
    with pytest.raises(ValueError, match="unknown"):
        ReportKind.from_code(9)


def test_digest_is_stable_and_ignores_verification_fields():
    content = sample_content("special")
    again = sample_content("special")
    assert content.content_hash == again.content_hash
    assert len(content.content_hash) == 64
    with_url = replace(content, verification_url="https://x.cn/v/1", verification_code="ABCD", verify_page_url="x")
    assert with_url.content_hash == content.content_hash


@pytest.mark.parametrize(
    "change",
    [
        lambda c: replace(c, number=c.number + "0"),
        lambda c: replace(c, valid_until=c.valid_until.replace(day=1)),
        lambda c: replace(c, subject=replace(c.subject, name=c.subject.name + "分公司")),
        lambda c: replace(c, domains=(*c.domains, "交通运输")),
        lambda c: replace(
            c, sections=(replace(c.sections[0], rows=[{**c.sections[0].rows[0], "repaired": ""}]), *c.sections[1:])
        ),
    ],
)
def test_any_visible_change_changes_the_digest(change):
    content = sample_content("special")
    assert change(content).content_hash != content.content_hash


def test_same_instant_in_another_zone_hashes_the_same():
    content = sample_content("enterprise")
    utc = replace(content, issued_at=content.issued_at.astimezone(UTC))
    assert utc.issued_at.hour != content.issued_at.hour
    assert utc.content_hash == content.content_hash


def test_canonical_json_is_sorted_compact_utf8():
    content = sample_content("personal")
    raw = content.canonical_json()
    data = json.loads(raw)
    assert raw == json.dumps(data, ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode()
    assert content.subject.name.encode() in raw
    assert data["issued_at"] == "2026-05-12T01:30:00+00:00"


def test_naive_times_are_refused():
    content = sample_content("enterprise")
    with pytest.raises(ValueError, match="timezone-aware"):
        replace(content, issued_at=datetime(2026, 5, 12, 9, 30))


def test_repaired_flag_and_overview_counts():
    rows = [{"a": "1", "repaired": "1"}, {"a": "2", "repaired": "0"}, {"a": "3"}, {"a": "4", "repaired": True}]
    section = Section("s", "标题", [("列", "a", 1)], rows)
    assert isinstance(section.columns[0], Column)
    assert [Section.is_repaired(r) for r in section.rows] == [True, False, False, True]
    content = replace(sample_content("special"), sections=(section, Section("e", "空", [("列", "a", 1)])))
    assert [(o.title, o.count, o.repaired) for o in content.overview()] == [("标题", 4, 2), ("空", 0, 0)]


def test_section_keys_must_be_unique():
    base = sample_content("enterprise")
    section = base.sections[0]
    with pytest.raises(ValueError, match="unique"):
        ReportContent(**{**_fields(base), "sections": (section, section)})


def _fields(content):
    return {
        name: getattr(content, name)
        for name in ("number", "kind", "issued_at", "valid_until", "data_cutoff_at", "subject", "sections")
    }
