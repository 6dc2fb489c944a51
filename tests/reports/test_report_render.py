"""Rendered reports read back through poppler and zbar, as a relying party's tools would."""

from __future__ import annotations

import re
from dataclasses import replace

import pytest
from report_helpers import issue, run_tool, squash

from reports import render
from reports.content import NOT_COLLECTED_TEXT, Column, Section
from reports.samples import enterprise_subject, personal_subject, sample_content

KINDS = ("enterprise", "personal", "special")


def _write(tmp_path, data: bytes, name: str = "report.pdf"):
    path = tmp_path / name
    path.write_bytes(data)
    return path


def _page_count(path) -> int:
    info = run_tool("pdfinfo", str(path)).stdout
    return int(re.search(r"^Pages:\s+(\d+)", info, re.M).group(1))


def _page_texts(path) -> list[str]:
    pages = _page_count(path)
    return [run_tool("pdftotext", "-f", str(i), "-l", str(i), str(path), "-").stdout for i in range(1, pages + 1)]


@pytest.mark.parametrize("kind", KINDS)
def test_text_has_subject_code_and_every_decision_number(issued_reports, tmp_path, kind):
    report = issued_reports[kind]
    path = _write(tmp_path, report.signed)
    text = squash(run_tool("pdftotext", str(path), "-").stdout)
    content = report.content
    assert squash(content.subject.name) in text
    assert squash(content.subject.code) in text
    assert squash(content.kind.title) in text
    numbers = [row["decision_no"] for s in content.sections for row in s.rows]
    assert len(numbers) >= 7
    for number in numbers:
        assert squash(number) in text, number
    # The long facts text wraps over several lines but comes back whole.
    longest = max((row["facts"] for s in content.sections for row in s.rows), key=len)
    assert len(longest) > 120
    assert squash(longest) in text


@pytest.mark.parametrize("kind", KINDS)
def test_cjk_font_is_embedded_and_no_other_font_is_used(issued_reports, tmp_path, kind):
    path = _write(tmp_path, issued_reports[kind].signed)
    lines = run_tool("pdffonts", str(path)).stdout.splitlines()[2:]
    assert lines, "no fonts listed"
    for line in lines:
        assert "WenQuanYiMicroHei" in line, line
        assert re.search(r"TrueType\s+\S+\s+yes\s+yes\s+yes", line), f"font not embedded as subset: {line}"


@pytest.mark.parametrize("kind", KINDS)
def test_every_page_has_number_and_page_x_of_y(issued_reports, tmp_path, kind):
    report = issued_reports[kind]
    path = _write(tmp_path, report.signed)
    pages = _page_texts(path)
    assert len(pages) >= 2
    for i, text in enumerate(pages, 1):
        flat = squash(text)
        assert report.content.number in flat, f"page {i} lacks the report number"
        assert f"第{i}页/共{len(pages)}页" in flat, f"page {i} lacks its page x of y"


@pytest.mark.parametrize("kind", KINDS)
def test_qr_code_decodes_to_the_verification_url(issued_reports, tmp_path, kind):
    report = issued_reports[kind]
    path = _write(tmp_path, report.signed)
    run_tool("pdftoppm", "-r", "150", "-png", str(path), str(tmp_path / "page"))
    images = sorted(tmp_path.glob("page*.png"))
    assert images
    # zbarimg exits 4 for an image without a code; only the page with the verification block has one.
    decoded = []
    for image in images:
        result = run_tool("zbarimg", "-q", "--raw", str(image), check=False)
        decoded += [line for line in result.stdout.splitlines() if line]
    assert decoded == [report.content.verification_url]
    assert report.content.verification_url.startswith("https://credit.jinchang.gov.cn/v/")


@pytest.mark.parametrize("kind", KINDS)
def test_empty_categories_say_none_explicitly(issued_reports, tmp_path, kind):
    """An empty category the platform collects says 无 (heading and table); one it does not
    collect says so instead, never 无 (issue 16 item 12)."""
    report = issued_reports[kind]
    empty = [s for s in report.content.sections if not s.rows]
    assert empty, "sample should have an empty category"
    lines = [
        squash(line)
        for line in run_tool("pdftotext", "-layout", str(_write(tmp_path, report.signed)), "-").stdout.splitlines()
    ]
    lines = [line for line in lines if line]
    for section in empty:
        suffix, body = ("（无）", "无") if section.collected else ("（本平台未归集）", NOT_COLLECTED_TEXT)
        heading = next(i for i, line in enumerate(lines) if line.endswith(f"{section.title}{suffix}"))
        header_labels = squash("".join(["序号", *(c.label for c in section.columns)]))
        assert lines[heading + 1] == header_labels, lines[heading : heading + 3]
        assert lines[heading + 2] == body, lines[heading : heading + 3]
    if kind != "enterprise":
        assert any(not s.collected for s in empty)
        # The overview counts it as 未归集, and the coverage table names the domain as such.
        assert any(line.endswith("刑事判决信息未归集—") for line in lines), lines
        assert any(line.startswith("刑事判决信息——") and line.endswith(NOT_COLLECTED_TEXT) for line in lines)


def test_special_report_marks_repaired_records_and_shows_period_and_domains(issued_reports, tmp_path):
    report = issued_reports["special"]
    penalties = report.content.sections[0]
    assert penalties.repaired_count == 1
    text = squash(run_tool("pdftotext", str(_write(tmp_path, report.signed)), "-").stdout)
    assert text.count("已修复") >= 1
    repaired = next(r for r in penalties.rows if penalties.is_repaired(r))
    # The marker sits in the repaired record's own row (its last cell, after the decision date).
    assert squash(repaired["decided_on"] + "已修复") in text
    assert "2023年05月12日至2026年05月11日" in text
    assert "市场监管、生态环境、安全生产、税务" in text
    for title in ("行政处罚信息（含简易程序）", "行政强制信息", "严重失信主体名单信息", "刑事判决信息"):
        assert title in text


def test_records_are_never_split_across_pages_and_headers_repeat(token_key, signer, tmp_path):
    report = issue(sample_content("enterprise", penalties=14), token_key, signer)
    pages = [squash(t) for t in _page_texts(_write(tmp_path, report.signed))]
    section = next(s for s in report.content.sections if s.key == "penalties")
    pages_with_rows = set()
    for row in section.rows:
        holders = [i for i, page in enumerate(pages) if squash(row["decision_no"]) in page]
        assert len(holders) == 1
        page = pages[holders[0]]
        # The whole record (start and end of its long text) is on the page of its number.
        facts = squash(row["facts"])
        assert facts[:12] in page and facts[-12:] in page, row["decision_no"]
        pages_with_rows.add(holders[0])
    assert len(pages_with_rows) >= 2, "sample should spread the table over pages"
    for i in pages_with_rows:
        assert "违法事实及处罚内容" in pages[i], f"table header not repeated on page {i + 1}"


def test_metadata_title_and_author(issued_reports, tmp_path):
    report = issued_reports["personal"]
    info = run_tool("pdfinfo", str(_write(tmp_path, report.signed))).stdout
    assert f"个人公共信用信息报告 {report.content.number}" in info
    assert "金昌市信用信息中心" in info


def test_verification_block_shows_number_code_and_content_hash(issued_reports, tmp_path):
    report = issued_reports["enterprise"]
    text = squash(run_tool("pdftotext", str(_write(tmp_path, report.signed)), "-").stdout)
    assert report.content.content_hash in text
    assert f"验证码：{report.content.verification_code}" in text
    assert "https://credit.jinchang.gov.cn/verify" in text


def test_watermark_is_drawn_but_not_extracted_as_text(issued_reports, tmp_path):
    report = issued_reports["enterprise"]
    first = _page_texts(_write(tmp_path, report.signed))[0]
    # Drawn as outlines: the only copies of the number in the text are header, footer, cover.
    assert squash(first).count(report.content.number) == 3


def test_pdf_size_within_budget(issued_reports):
    for report in issued_reports.values():
        assert len(report.signed) <= 300 * 1024


def test_missing_glyphs():
    assert render.missing_glyphs("𠮷") == {"𠮷"}
    assert render.missing_glyphs("金昌市金川区 ABC 123（）、。") == set()
    assert render.missing_glyphs("张𠮷明\n") == {"𠮷"}
    assert render.visible_text("张𠮷明") == "张□明"


def test_name_with_missing_glyph_renders_with_visible_replacement(token_key, signer, tmp_path):
    content = sample_content("enterprise", subject=enterprise_subject("金昌市𠮷祥商贸有限公司"), penalties=1)
    report = issue(content, token_key, signer)
    text = squash(run_tool("pdftotext", str(_write(tmp_path, report.signed)), "-").stdout)
    assert "金昌市□祥商贸有限公司" in text
    assert "“□”表示打印字库未收录的生僻字" in text
    # The digest covers the real name, not the printed replacement.
    assert "𠮷" in content.canonical_json().decode()


def test_personal_report_prints_the_masked_id_as_given(token_key, signer, tmp_path):
    subject = personal_subject("李秀英")
    report = issue(sample_content("personal", subject=subject, penalties=1), token_key, signer)
    text = squash(run_tool("pdftotext", str(_write(tmp_path, report.signed)), "-").stdout)
    assert "身份证号码620302********0018" in text


def test_a_record_taller_than_a_page_is_split_instead_of_failing(tmp_path):
    huge = "当事人违法事实描述。" * 700
    section = Section(
        "penalties", "行政处罚信息", [Column("决定文书号", "decision_no", 1.5), Column("内容", "facts", 4)], []
    )
    section = replace(section, rows=({"decision_no": "金市监处罚〔2025〕999号", "facts": huge},))
    content = replace(sample_content("enterprise"), sections=(section,))
    path = _write(tmp_path, render.render_pdf(content))
    text = squash(run_tool("pdftotext", str(path), "-").stdout)
    assert "金市监处罚〔2025〕999号" in text
    pages = _page_count(path)
    assert pages >= 4
    # Only the phrases cut by a page break (page furniture in between) are not found whole.
    assert 700 - pages <= text.count("当事人违法事实描述。") <= 700


def test_concurrent_renders_in_threads_do_not_corrupt_each_other():
    """gunicorn threads render at once: reportlab's font subsetting is not thread-safe."""
    from concurrent.futures import ThreadPoolExecutor

    contents = [sample_content(kind, penalties=6) for kind in ("enterprise", "personal", "special") * 10]
    with ThreadPoolExecutor(max_workers=8) as pool:
        pdfs = [pdf for _ in range(3) for pdf in pool.map(render.render_pdf, contents)]
    assert all(pdf.startswith(b"%PDF") and pdf.rstrip().endswith(b"%%EOF") for pdf in pdfs)


def test_slimmed_font_gives_the_same_subsets_widths_and_outlines():
    """render.slim_face keeps the parsed font in less memory; what reportlab and the watermark
    read from it must not change by a byte."""
    from reportlab.pdfbase.ttfonts import TTFont

    from reports.outlines import GlyphOutlines

    plain = TTFont("slim-check-plain", str(render.FONT_PATH), subfontIndex=0).face
    slim = TTFont("slim-check-slim", str(render.FONT_PATH), subfontIndex=0).face
    render.slim_face(slim, render.FONT_PATH)
    assert not isinstance(slim._ttf_data, bytes) and not isinstance(slim.hmetrics, list)

    text = "金昌市市场监督管理局行政处罚决定书金市监罚〔2026〕17号 ABCxyz0123，。（）《》鑫犇淼"
    subset = [0, *sorted({ord(ch) for ch in text})]
    assert slim.makeSubset(subset) == plain.makeSubset(subset)
    assert all(slim.charWidths[code] == plain.charWidths[code] for code in subset[1:])
    assert len(slim.hmetrics) == len(plain.hmetrics)
    assert [slim.hmetrics[i] for i in (0, 1, 500, len(plain.hmetrics) - 1)] == [
        plain.hmetrics[i] for i in (0, 1, 500, len(plain.hmetrics) - 1)
    ]
    slim_outlines, plain_outlines = GlyphOutlines(slim), GlyphOutlines(plain)
    for ch in "信用金昌报告编号":
        glyph = plain_outlines.glyph_id(ch)
        assert slim_outlines.glyph_id(ch) == glyph
        assert slim_outlines.contours(glyph) == plain_outlines.contours(glyph)
        assert slim_outlines.advance(glyph) == plain_outlines.advance(glyph)

    # A file that is not the one parsed is refused rather than mapped in its place.
    other = TTFont("slim-check-other", str(render.FONT_PATH), subfontIndex=0).face
    other._ttf_data = other._ttf_data[:-1] + b"\x00"
    with pytest.raises(ValueError, match="changed since it was parsed"):
        render.slim_face(other, render.FONT_PATH)
