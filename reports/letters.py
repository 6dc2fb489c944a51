"""Render a plain letter (a signed commitment, a notice) to PDF bytes with the report font.

A letter is a title, a body of paragraphs and a block of label/value facts (who signed, when,
through which channel, the text's hash). It uses the same embedded CJK font as the reports, so it
prints the same on any machine, and the same "□" for characters the font lacks. The body is
printed verbatim, line by line: for a signed text, the printed words are the words whose hash is
shown below them.
"""

from __future__ import annotations

import functools
import io
from collections.abc import Sequence
from dataclasses import dataclass, field
from xml.sax.saxutils import escape

from reportlab.lib.enums import TA_CENTER
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.platypus import KeepTogether, Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

from . import render

MARGIN_X = 25 * mm
MARGIN_TOP = 28 * mm
MARGIN_BOTTOM = 22 * mm
CONTENT_WIDTH = render.PAGE_WIDTH - 2 * MARGIN_X


@dataclass(frozen=True)
class Letter:
    """What a letter shows. ``reference`` (e.g. an application number) heads every page."""

    title: str
    body: str
    facts: Sequence[tuple[str, str]] = field(default_factory=tuple)
    facts_title: str = "签署信息"
    reference: str = ""
    issuer: str = ""
    footnote: str = ""


@functools.cache
def _styles() -> dict[str, ParagraphStyle]:
    render.warm_up()  # registers the embedded font once per process
    base = ParagraphStyle(
        "letter", fontName=render.FONT_NAME, fontSize=11.5, leading=21, textColor=render.INK, wordWrap="CJK"
    )
    return {
        "title": ParagraphStyle("letter_title", parent=base, fontSize=18, leading=28, alignment=TA_CENTER),
        "body": base,
        "h2": ParagraphStyle("letter_h2", parent=base, fontSize=12, leading=18, spaceBefore=14, spaceAfter=6),
        "label": ParagraphStyle("letter_label", parent=base, fontSize=9.5, leading=14, textColor=render.MUTED),
        "value": ParagraphStyle("letter_value", parent=base, fontSize=9.5, leading=14, wordWrap=None, splitLongWords=1),
        "note": ParagraphStyle("letter_note", parent=base, fontSize=9, leading=14, textColor=render.MUTED),
    }


def _markup(text: str) -> str:
    return escape(render.visible_text(text))


def _facts_table(facts: Sequence[tuple[str, str]]) -> Table:
    styles = _styles()
    widths = [CONTENT_WIDTH * 0.24, CONTENT_WIDTH * 0.76]
    rows = [[Paragraph(_markup(k), styles["label"]), Paragraph(_markup(v), styles["value"])] for k, v in facts]
    return Table(
        rows,
        colWidths=widths,
        style=TableStyle(
            [
                ("FONT", (0, 0), (-1, -1), render.FONT_NAME, 9.5),
                ("GRID", (0, 0), (-1, -1), 0.4, render.RULE),
                ("BACKGROUND", (0, 0), (0, -1), render.LABEL_BG),
                ("VALIGN", (0, 0), (-1, -1), "TOP"),
                ("LEFTPADDING", (0, 0), (-1, -1), render.CELL_PAD),
                ("RIGHTPADDING", (0, 0), (-1, -1), render.CELL_PAD),
            ]
        ),
    )


def _body(text: str) -> list:
    """One paragraph per line; an empty line is vertical space (the text keeps its layout)."""
    flow: list = []
    for line in text.replace("\r\n", "\n").split("\n"):
        if line.strip():
            flow.append(Paragraph(_markup(line), _styles()["body"]))
        else:
            flow.append(Spacer(1, 8))
    return flow


def _page_furniture(letter: Letter):
    reference = render.visible_text(letter.reference)
    issuer = render.visible_text(letter.issuer)

    def draw(canv, doc) -> None:
        canv.saveState()
        canv.setFont(render.FONT_NAME, 8.5)
        canv.setFillColor(render.MUTED)
        top = render.PAGE_HEIGHT - 15 * mm
        if issuer:
            canv.drawString(MARGIN_X, top, issuer)
        if reference:
            canv.drawRightString(render.PAGE_WIDTH - MARGIN_X, top, reference)
        canv.drawCentredString(render.PAGE_WIDTH / 2, 12 * mm, f"第 {doc.page} 页")
        canv.restoreState()

    return draw


def render_letter(letter: Letter) -> bytes:
    """The letter as PDF bytes (unsigned)."""
    styles = _styles()
    buffer = io.BytesIO()
    doc = SimpleDocTemplate(
        buffer,
        pagesize=A4,
        leftMargin=MARGIN_X,
        rightMargin=MARGIN_X,
        topMargin=MARGIN_TOP,
        bottomMargin=MARGIN_BOTTOM,
        title=f"{letter.title} {letter.reference}".strip(),
        author=letter.issuer,
        creator=letter.issuer,
        lang="zh-CN",
        initialFontName=render.FONT_NAME,
    )
    story: list = [Paragraph(_markup(letter.title), styles["title"]), Spacer(1, 10), *_body(letter.body)]
    if letter.facts:
        story.append(KeepTogether([Paragraph(_markup(letter.facts_title), styles["h2"]), _facts_table(letter.facts)]))
    if letter.footnote:
        story += [Spacer(1, 8), Paragraph(_markup(letter.footnote), styles["note"])]
    furniture = _page_furniture(letter)
    with render.RENDER_LOCK:
        doc.build(story, onFirstPage=furniture, onLaterPages=furniture)
    return buffer.getvalue()
