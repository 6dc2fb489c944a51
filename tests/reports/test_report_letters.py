"""Letters (signed commitments) rendered by reports/letters.py, read back through poppler."""

from __future__ import annotations

import hashlib
import re

from report_helpers import run_tool, squash

from reports import letters

BODY = (
    "信用修复承诺书\n\n"
    "申请主体：金昌市金川区宏达建材有限公司\n"
    "统一社会信用代码/身份证号码：91620302MA71XY3Q54\n\n"
    "本单位申请对上述失信信息进行信用修复，郑重承诺：\n"
    "一、已经履行行政处罚决定等法定责任和义务，相关违法行为已经纠正、不良影响已经消除；\n"
    "二、所提交的申请材料及相关信息真实、准确、完整、有效。\n\n"
    "承诺人：王*国\n"
)


def _letter(**overrides) -> letters.Letter:
    values = dict(
        title="信用修复承诺书",
        body=BODY.split("\n", 1)[1],
        facts=(
            ("签署人", "王*国（法定代表人）"),
            ("签署时间", "2026-09-10 10:02"),
            ("签署渠道", "微信小程序"),
            ("文本摘要（SHA-256）", hashlib.sha256(BODY.encode()).hexdigest()),
        ),
        reference="XF20260910ABCDEFGHJK",
        issuer="信用金昌",
    )
    values.update(overrides)
    return letters.Letter(**values)


def _text(tmp_path, pdf: bytes) -> tuple[str, str]:
    path = tmp_path / "letter.pdf"
    path.write_bytes(pdf)
    return run_tool("pdftotext", str(path), "-").stdout, run_tool("pdffonts", str(path)).stdout


def test_letter_prints_title_body_and_signature_facts_with_the_embedded_font(tmp_path):
    pdf = letters.render_letter(_letter())
    assert pdf.startswith(b"%PDF-")
    text, fonts = _text(tmp_path, pdf)
    flat = squash(text)
    assert "信用修复承诺书" in flat
    for line in BODY.splitlines()[1:]:
        assert squash(line) in flat, line
    assert "签署信息" in flat
    assert squash(hashlib.sha256(BODY.encode()).hexdigest()) in flat
    assert "XF20260910ABCDEFGHJK" in flat  # the reference heads the page
    font_lines = fonts.splitlines()[2:]
    assert font_lines
    for line in font_lines:
        assert "WenQuanYiMicroHei" in line, line
        assert re.search(r"TrueType\s+\S+\s+yes\s+yes\s+yes", line), line


def test_characters_the_font_lacks_print_as_a_visible_box(tmp_path):
    pdf = letters.render_letter(_letter(body="承诺人：王𠮷\n"))
    text, _ = _text(tmp_path, pdf)
    assert "王□" in squash(text)
    assert "𠮷" not in text


def test_markup_in_the_text_is_printed_literally_and_long_letters_get_more_pages(tmp_path):
    body = "条款 <b>不是标记</b> & 符号\n" + "\n".join(f"第{i}条：本单位郑重承诺遵守法律法规。" for i in range(120))
    pdf = letters.render_letter(_letter(body=body, facts=()))
    path = tmp_path / "long.pdf"
    path.write_bytes(pdf)
    pages = int(re.search(r"^Pages:\s+(\d+)", run_tool("pdfinfo", str(path)).stdout, re.M).group(1))
    assert pages >= 3
    text = run_tool("pdftotext", str(path), "-").stdout
    assert "<b>不是标记</b>&符号" in squash(text)
    assert "第119条" in squash(text)
    assert "第3页" in squash(text)
    assert "签署信息" not in text  # no facts, no block
