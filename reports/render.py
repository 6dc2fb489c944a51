"""Render a ``ReportContent`` to PDF bytes with reportlab Platypus.

Layout: cover, notes (说明), overview (basic information and a count per category), one table per
category, then the verification block (QR code, number, verification code, content hash). Every
page carries the report number, "第 x 页 / 共 y 页" and a light diagonal watermark.

The CJK font is WenQuanYi Micro Hei, shipped in ``reports/fonts/`` and embedded (subset) in every
PDF, so the report prints the same on any machine. Characters it lacks are printed as "□" (see
``missing_glyphs`` and reports/README.md) rather than silently left blank.
"""

from __future__ import annotations

import functools
import io
import mmap
import re
import threading
import zlib
from array import array
from collections.abc import Iterable, Sequence
from datetime import date, datetime
from pathlib import Path
from xml.sax.saxutils import escape

from reportlab.graphics.barcode import qrencoder
from reportlab.lib import colors
from reportlab.lib.enums import TA_CENTER, TA_LEFT
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import cm, mm
from reportlab.pdfbase import pdfdoc, pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.pdfgen.canvas import Canvas
from reportlab.platypus import (
    CondPageBreak,
    Flowable,
    KeepTogether,
    Paragraph,
    SimpleDocTemplate,
    Spacer,
    Table,
    TableStyle,
)
from reportlab.platypus.doctemplate import LayoutError

from .content import CHINA_TZ, NOT_COLLECTED_TEXT, ReportContent, Section
from .outlines import GlyphOutlines, draw_contour

FONT_PATH = Path(__file__).resolve().parent / "fonts" / "wqy-microhei.ttc"
FONT_NAME = "WenQuanYiMicroHei"
REPLACEMENT_CHAR = "□"  # U+25A1, present in the font; marks a character the font cannot draw
QR_SIZE = 3 * cm
QR_MASK_PATTERN = 0
CELL_PAD = 4
# A heading needs this much room below it (itself, a table header and a first row) or it moves on.
HEADING_ROOM = 3.5 * cm

PAGE_WIDTH, PAGE_HEIGHT = A4
MARGIN_X = 18 * mm
MARGIN_TOP = 24 * mm
MARGIN_BOTTOM = 20 * mm
CONTENT_WIDTH = PAGE_WIDTH - 2 * MARGIN_X

INK = colors.HexColor("#1f2933")
MUTED = colors.HexColor("#5f6b7a")
RULE = colors.HexColor("#9aa5b1")
HEADER_BG = colors.HexColor("#e4ebf3")
LABEL_BG = colors.HexColor("#f3f6f9")
REPAIRED = colors.HexColor("#1b7f3b")
WATERMARK = colors.HexColor("#eceff3")
WATERMARK_SIZE = 26

_CN_NUMERALS = "一二三四五六七八九十"
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


# --- font -------------------------------------------------------------------------------------


@functools.cache
def _font() -> TTFont:
    """Parse and register the font once per process (about 0.2 s; far too slow per report)."""
    pdfdoc.zlib = _FastFlate
    font = TTFont(FONT_NAME, str(FONT_PATH), subfontIndex=0)
    slim_face(font.face, FONT_PATH)
    pdfmetrics.registerFont(font)
    # No bold face ships with the font: bold text maps to the regular face and is set larger.
    pdfmetrics.registerFontFamily(FONT_NAME, normal=FONT_NAME, bold=FONT_NAME, italic=FONT_NAME, boldItalic=FONT_NAME)
    return font


class _Metrics:
    """reportlab's ``hmetrics`` (an (advance, left side bearing) tuple per glyph) in two arrays:
    the same values by index, in about a tenth of the memory of 50,000 tuples."""

    __slots__ = ("_lsb", "advances")

    def __init__(self, pairs: Iterable[tuple[float, int]]) -> None:
        pairs = list(pairs)
        self.advances = array("d", (aw for aw, _lsb in pairs))
        self._lsb = array("l", (lsb for _aw, lsb in pairs))

    def __len__(self) -> int:
        return len(self._lsb)

    def __getitem__(self, index: int) -> tuple[float, int]:
        return self.advances[index], self._lsb[index]


def slim_face(face, path: Path) -> None:
    """Keep what reportlab needs of a parsed font in less memory (about 10 MB less per process
    for the CJK font, whose tables cover 30,000 characters).

    - the font file itself: a read-only memory map instead of a 5 MB copy (only the pages of
      the glyphs a report uses are ever read, and they are shared with every other process);
    - glyph offsets and horizontal metrics: arrays instead of lists of Python numbers;
    - the glyph-to-characters map: dropped; reportlab reads it only when shaping text with
      HarfBuzz, which is not used, and it rebuilds what it needs there if it ever is.
    tests/reports/test_report_render.py checks that subsets made before and after are equal.
    """
    with open(path, "rb") as file:
        mapped = mmap.mmap(file.fileno(), 0, access=mmap.ACCESS_READ)
    if mapped[:] != face._ttf_data:
        mapped.close()
        raise ValueError(f"{path} changed since it was parsed")
    mapped.madvise(mmap.MADV_DONTNEED)  # the comparison read every page: let them go again
    face._ttf_data = mapped
    face.glyphPos = array("L", face.glyphPos)
    face.hmetrics = _Metrics(face.hmetrics)
    face.glyphToChar = {}


class _FastFlate:
    """zlib for reportlab's PDF streams at level 1 instead of 6.

    Compressing the two font subsets and the page streams is the largest fixed cost of a
    report; level 1 saves about 3 ms (10 %) per report for about 10 % more bytes, well inside
    the size budget. reportlab hard-codes the level, so its module's ``zlib`` is swapped.
    """

    compress = staticmethod(functools.partial(zlib.compress, level=1))
    decompress = staticmethod(zlib.decompress)


def _covered() -> dict[int, int]:
    return _font().face.charToGlyph  # code point -> glyph: every character the font covers


def missing_glyphs(text: str) -> set[str]:
    """Characters of ``text`` the embedded font has no glyph for (whitespace and controls excluded)."""
    covered = _covered()
    return {ch for ch in text if ord(ch) not in covered and not ch.isspace() and not _CONTROL.match(ch)}


def visible_text(text: str) -> str:
    """``text`` as it will be printed: controls dropped, uncovered characters replaced by "□"."""
    covered = _covered()
    text = _CONTROL.sub("", text)
    return "".join(ch if ord(ch) in covered or ch.isspace() else REPLACEMENT_CHAR for ch in text)


def warm_up() -> None:
    """Register the font now (e.g. at app start) so the first report is not slow."""
    _styles()
    _outlines()


# --- styles -----------------------------------------------------------------------------------


@functools.cache
def _styles() -> dict[str, ParagraphStyle]:
    _font()
    base = ParagraphStyle(
        "base", fontName=FONT_NAME, fontSize=10, leading=16, textColor=INK, wordWrap="CJK", alignment=TA_LEFT
    )

    def style(name: str, **kw) -> ParagraphStyle:
        return ParagraphStyle(name, parent=base, **kw)

    return {
        "body": base,
        "cover_org": style("cover_org", fontSize=14, leading=20, alignment=TA_CENTER, textColor=MUTED),
        "cover_title": style("cover_title", fontSize=22, leading=32, alignment=TA_CENTER),
        "cover_sub": style("cover_sub", fontSize=12, leading=18, alignment=TA_CENTER, textColor=MUTED),
        # No keepWithNext: it would glue a heading to its whole table and push long tables to the
        # next page, leaving half pages empty. A CondPageBreak before headings avoids orphans.
        "h1": style("h1", fontSize=14, leading=20, spaceBefore=10, spaceAfter=6),
        "h2": style("h2", fontSize=11.5, leading=17, spaceBefore=8, spaceAfter=4),
        "note": style("note", fontSize=9.5, leading=15.5, firstLineIndent=0, spaceAfter=3),
        "cell": style("cell", fontSize=8.5, leading=12),
        "cell_head": style("cell_head", fontSize=8.5, leading=12, alignment=TA_CENTER),
        "label": style("label", fontSize=9.5, leading=14, textColor=MUTED),
        "value": style("value", fontSize=9.5, leading=14),
        "mono": style("mono", fontSize=8.5, leading=12, wordWrap=None, splitLongWords=1),
        "end": style("end", fontSize=9, alignment=TA_CENTER, textColor=MUTED, spaceBefore=10),
    }


def _markup(text: object) -> str:
    """Escape for Paragraph mini-markup, keep line breaks, make uncovered characters visible."""
    return escape(visible_text(str(text))).replace("\n", "<br/>")


def _p(text: object, style: str = "body") -> Paragraph:
    return Paragraph(_markup(text), _styles()[style])


def _cell(text: object, width: float, style: str = "cell") -> Paragraph | str:
    """A table cell: a plain string when it fits on one line (far cheaper to lay out), else a
    wrapping Paragraph. Plain strings take the table's FONT/ALIGN commands, set to match."""
    value = visible_text(str(text))
    st = _styles()[style]
    if "\n" not in value and pdfmetrics.stringWidth(value, FONT_NAME, st.fontSize) <= width - 2 * CELL_PAD:
        return value
    return Paragraph(escape(value).replace("\n", "<br/>"), st)


def _date(d: date) -> str:
    return f"{d.year}年{d.month:02d}月{d.day:02d}日"


def _time(t: datetime) -> str:
    t = t.astimezone(CHINA_TZ)
    return f"{_date(t)} {t.hour:02d}:{t.minute:02d}"


def _cn_index(i: int) -> str:
    """1 -> 一, 12 -> 十二, 20 -> 二十 (section headings)."""
    if i <= 10:
        return _CN_NUMERALS[i - 1]
    tens, ones = divmod(i, 10)
    return (_CN_NUMERALS[tens - 1] if tens > 1 else "") + "十" + (_CN_NUMERALS[ones - 1] if ones else "")


# --- page furniture ---------------------------------------------------------------------------


class _NumberedCanvas(Canvas):
    """Holds every page until the end so each can say "第 x 页 / 共 y 页" in one layout pass."""

    def __init__(self, *args, report_number: str, header_title: str, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._report_number = visible_text(report_number)
        self._header_title = visible_text(header_title)
        self._pages: list[dict] = []

    def showPage(self) -> None:  # reportlab's name
        self._pages.append(dict(self.__dict__))
        self._startPage()

    def save(self) -> None:
        total = len(self._pages)
        for state in self._pages:
            self.__dict__.update(state)
            self._furniture(total)
            super().showPage()
        super().save()

    def _furniture(self, total: int) -> None:
        self.saveState()
        top = PAGE_HEIGHT - 14 * mm
        self.setFont(FONT_NAME, 8.5)
        self.setFillColor(MUTED)
        self.drawString(MARGIN_X, top, self._header_title)
        self.drawRightString(PAGE_WIDTH - MARGIN_X, top, f"报告编号：{self._report_number}")
        self.setStrokeColor(RULE)
        self.setLineWidth(0.5)
        self.line(MARGIN_X, top - 2.5 * mm, PAGE_WIDTH - MARGIN_X, top - 2.5 * mm)
        bottom = 11 * mm
        self.line(MARGIN_X, bottom + 4 * mm, PAGE_WIDTH - MARGIN_X, bottom + 4 * mm)
        self.drawString(MARGIN_X, bottom, self._report_number)
        self.drawRightString(PAGE_WIDTH - MARGIN_X, bottom, f"第 {self._pageNumber} 页 / 共 {total} 页")
        self.restoreState()


@functools.cache
def _outlines() -> GlyphOutlines:
    return GlyphOutlines(_font().face)


def _text_ops(text: str) -> str:
    """PDF path operators drawing ``text`` in font units, centred on the origin horizontally.

    Coordinates are rounded to whole font units (1/2048 em, far below print resolution) and
    written directly; going through reportlab's path object costs several milliseconds.
    """
    outlines = _outlines()
    glyphs = [outlines.glyph_id(ch) for ch in text]
    x = -sum(outlines.advance(g) for g in glyphs) / 2
    ops: list[str] = []
    for glyph in glyphs:
        ox = x
        for contour in outlines.contours(glyph):
            draw_contour(
                contour,
                lambda px, py, ox=ox: ops.append(f"{round(px + ox)} {round(py)} m"),
                lambda px, py, ox=ox: ops.append(f"{round(px + ox)} {round(py)} l"),
                lambda x1, y1, x2, y2, x3, y3, ox=ox: ops.append(
                    f"{round(x1 + ox)} {round(y1)} {round(x2 + ox)} {round(y2)} {round(x3 + ox)} {round(y3)} c"
                ),
                lambda: ops.append("h"),
            )
        x += outlines.advance(glyph)
    return "\n".join(ops)


def _watermark(report_number: str):
    text = f"信用金昌  {visible_text(report_number)}"
    form = "ReportWatermark"

    def draw(canv: Canvas, _doc) -> None:
        # Drawn when the page begins, so it lies under the content; drawn as shapes, not text,
        # so it stays out of extracted text (see outlines.py); defined once, reused per page.
        if not getattr(canv, "_watermark_ready", False):
            canv.beginForm(form)
            canv.saveState()
            canv.setFillColor(WATERMARK)
            canv.translate(PAGE_WIDTH / 2, PAGE_HEIGHT / 2)
            canv.rotate(35)
            ops = _text_ops(text) + "\nf"  # f: fill with the nonzero rule, as TrueType expects
            scale = WATERMARK_SIZE / _outlines().units_per_em
            for offset in (-9 * cm, 0, 9 * cm):
                canv.saveState()
                canv.translate(0, offset)
                canv.scale(scale, scale)
                canv.addLiteral(ops)
                canv.restoreState()
            canv.restoreState()
            canv.endForm()
            canv._watermark_ready = True
        canv.doForm(form)

    return draw


# --- building blocks --------------------------------------------------------------------------


def _grid_style(extra: Iterable[tuple] = ()) -> TableStyle:
    return TableStyle(
        [
            # Plain-string cells would otherwise use Helvetica, a second, unembedded font.
            ("FONT", (0, 0), (-1, -1), FONT_NAME, 8.5, 12),
            ("TEXTCOLOR", (0, 0), (-1, -1), INK),
            ("GRID", (0, 0), (-1, -1), 0.4, RULE),
            ("VALIGN", (0, 0), (-1, -1), "TOP"),
            ("TOPPADDING", (0, 0), (-1, -1), 3),
            ("BOTTOMPADDING", (0, 0), (-1, -1), 4),
            ("LEFTPADDING", (0, 0), (-1, -1), CELL_PAD),
            ("RIGHTPADDING", (0, 0), (-1, -1), CELL_PAD),
            *extra,
        ]
    )


def _label_table(pairs: Sequence[tuple[str, str]], label_ratio: float = 0.24) -> Table:
    widths = [CONTENT_WIDTH * label_ratio, CONTENT_WIDTH * (1 - label_ratio)]
    data = [[_cell(label, widths[0], "label"), _cell(value, widths[1], "value")] for label, value in pairs]
    style = [
        ("BACKGROUND", (0, 0), (0, -1), LABEL_BG),
        ("FONT", (0, 0), (-1, -1), FONT_NAME, 9.5, 14),
        ("TEXTCOLOR", (0, 0), (0, -1), MUTED),
    ]
    return Table(data, colWidths=widths, style=_grid_style(style))


def _subject_pairs(content: ReportContent) -> list[tuple[str, str]]:
    s = content.subject
    return [("主体名称", s.name), (s.code_label, s.code), *s.details]


def _cover(content: ReportContent) -> list:
    s = content.subject
    rows = [
        ("报告编号", content.number),
        ("主体名称", s.name),
        (s.code_label, s.code),
    ]
    if content.period:
        rows.append(("查询期间", f"{_date(content.period.start)} 至 {_date(content.period.end)}"))
    rows += [
        ("出具时间", _time(content.issued_at)),
        ("数据截止时间", _time(content.data_cutoff_at)),
        ("有效期至", _date(content.valid_until)),
        ("出具机构", f"{content.issuer}（{content.platform}）"),
    ]
    # A compact cover (not a page of its own) keeps a typical report to two pages.
    return [
        Spacer(1, 0.4 * cm),
        _p(content.platform, "cover_org"),
        Spacer(1, 0.2 * cm),
        _p(content.kind.title, "cover_title"),
        Spacer(1, 0.5 * cm),
        _label_table(rows, label_ratio=0.26),
        Spacer(1, 0.3 * cm),
    ]


def _notes(content: ReportContent, replaced: bool) -> list:
    verify = "使用手机相机或微信扫描本报告末尾的二维码，即可查看本报告的真伪和状态"
    if content.verify_page_url:
        verify += f"；也可访问 {content.verify_page_url} ，输入报告编号和验证码核验，或上传本报告 PDF 文件比对"
    verify += (
        "。本报告 PDF 文件带有平台电子签名，任何改动都会使签名失效，PDF 阅读器可据此判断文件是否被改动。"
        "报告已被撤销或超过有效期的，核验结果将予以显示。"
    )
    items = [
        f"数据来源：{content.data_sources}",
        f"数据截止时间：本报告信息截至 {_time(content.data_cutoff_at)}。",
        f"有效期：本报告自出具之日起至 {_date(content.valid_until)} 有效，逾期请重新申请。",
        f"核验方式：{verify}",
    ]
    if content.period:
        scope = f"查询范围：本报告反映该主体在 {_date(content.period.start)} 至 {_date(content.period.end)} 期间"
        if content.domains:
            scope += "在" + "、".join(content.domains) + "领域"
        scope += (
            "的违法违规记录情况。平台归集且覆盖查询期间的类别未查见记录的，标注为“无”；"
            f"平台未归集的类别标注为“{NOT_COLLECTED_TEXT}”，不表示该主体没有此类记录。"
            "已完成信用修复的记录标注为“已修复”。"
        )
        items.append(scope)
    items += list(content.notes)
    if replaced:
        items.append(f"本报告中的“{REPLACEMENT_CHAR}”表示打印字库未收录的生僻字，相关信息以登记信息为准。")
    flow: list = [CondPageBreak(HEADING_ROOM), _p("报告说明", "h1")]
    flow += [_p(f"{i}. {text}", "note") for i, text in enumerate(items, 1)]
    if content.sources:
        flow += [CondPageBreak(HEADING_ROOM), _p("信息归集情况", "h2"), _sources_table(content)]
    return flow


def _sources_table(content: ReportContent) -> Table:
    """Domain by domain: who sends it, complete since, last received, what the report can say."""
    ratios = (0.2, 0.25, 0.14, 0.18, 0.23)
    widths = [CONTENT_WIDTH * r for r in ratios]
    labels = ("信息类别", "数据提供单位", "归集起始日期", "最近归集时间", "说明")
    data: list[list] = [[_cell(label, w, "cell_head") for label, w in zip(labels, widths, strict=True)]]
    for line in content.sources:
        values = (line.title, line.providers, line.since, line.last_received, line.statement)
        data.append([_cell(v, w) for v, w in zip(values, widths, strict=True)])
    style = [("BACKGROUND", (0, 0), (-1, 0), HEADER_BG), ("VALIGN", (0, 0), (-1, 0), "MIDDLE")]
    return Table(data, colWidths=widths, repeatRows=1, style=_grid_style(style))


def _overview(content: ReportContent) -> list:
    pairs = _subject_pairs(content)
    if content.period:
        pairs.append(("查询期间", f"{_date(content.period.start)} 至 {_date(content.period.end)}"))
    if content.domains:
        pairs.append(("查询领域", "、".join(content.domains)))
    widths = [CONTENT_WIDTH * r for r in (0.1, 0.5, 0.2, 0.2)]
    data = [["序号", "信息类别", "记录数（条）", "其中已修复（条）"]]
    for i, line in enumerate(content.overview(), 1):
        count = str(line.count) if line.count else line.empty_label
        repaired = str(line.repaired) if line.collected or line.count else "—"
        data.append([str(i), _cell(line.title, widths[1]), count, repaired])
    style = [("BACKGROUND", (0, 0), (-1, 0), HEADER_BG), ("ALIGN", (0, 0), (-1, 0), "CENTER")]
    style += [("ALIGN", (0, 0), (0, -1), "CENTER"), ("ALIGN", (2, 0), (-1, -1), "CENTER")]
    counts = Table(data, colWidths=widths, repeatRows=1, style=_grid_style(style))
    return [
        CondPageBreak(HEADING_ROOM + 1 * cm),
        _p("信息概要", "h1"),
        _p("（一）基础信息", "h2"),
        _label_table(pairs),
        CondPageBreak(HEADING_ROOM),
        _p("（二）公共信用信息概要", "h2"),
        counts,
    ]


def _section_table(section: Section, split_in_row: int) -> Table:
    columns = list(section.columns)
    show_repair = section.repaired_count > 0
    ratios = [c.width for c in columns] + ([0.8] if show_repair else [])
    ratios = [0.45, *ratios]  # 序号
    total = sum(ratios)
    widths = [CONTENT_WIDTH * r / total for r in ratios]
    labels = ["序号", *(c.label for c in columns)] + (["修复状态"] if show_repair else [])
    data: list[list] = [[_cell(label, w, "cell_head") for label, w in zip(labels, widths, strict=True)]]
    style = [
        ("BACKGROUND", (0, 0), (-1, 0), HEADER_BG),
        ("VALIGN", (0, 0), (-1, 0), "MIDDLE"),
        ("ALIGN", (0, 0), (-1, 0), "CENTER"),
        ("ALIGN", (0, 0), (0, -1), "CENTER"),
    ]
    if show_repair:
        style += [("ALIGN", (-1, 0), (-1, -1), "CENTER")]
    if not section.rows:
        data.append([visible_text(section.empty_text)] + [""] * (len(widths) - 1))
        style += [("SPAN", (0, 1), (-1, 1)), ("ALIGN", (0, 1), (-1, 1), "CENTER")]
    for i, row in enumerate(section.rows, 1):
        cells = [str(i)] + [_cell(row.get(c.field, ""), w) for c, w in zip(columns, widths[1:], strict=False)]
        if show_repair:
            repaired = section.is_repaired(row)
            cells.append("已修复" if repaired else "")
            if repaired:
                style.append(("TEXTCOLOR", (-1, i), (-1, i), REPAIRED))
        data.append(cells)
    # Rows stay whole (a record never starts on one page and ends on the next) and the header
    # repeats after each page break; in-row splitting is only the fallback for a record taller
    # than a page.
    return Table(data, colWidths=widths, repeatRows=1, splitInRow=split_in_row, style=_grid_style(style))


def _sections(content: ReportContent, split_in_row: int) -> list:
    flow: list = [CondPageBreak(HEADING_ROOM + 1 * cm), _p("公共信用信息明细", "h1")]
    for i, section in enumerate(content.sections, 1):
        if section.rows:
            suffix = f"（{len(section.rows)} 条）"
        else:
            suffix = f"（{section.empty_label}）" if section.collected else "（本平台未归集）"
        flow.append(CondPageBreak(HEADING_ROOM))
        flow.append(_p(f"{_cn_index(i)}、{section.title}{suffix}", "h2"))
        flow.append(_section_table(section, split_in_row))
    return flow


def qr_segments(url: str) -> list[qrencoder.QR]:
    """Byte mode for the URL prefix, numeric mode for the trailing digits (the token)."""
    match = re.search(r"\d+$", url)
    if not match or len(match.group()) < 12:
        return [qrencoder.QR8bitByte(url)]
    return [qrencoder.QR8bitByte(url[: match.start()]), qrencoder.QRNumber(match.group())]


def qr_matrix(url: str, level: str = "M") -> list[list[bool]]:
    """Module matrix of the QR code for ``url`` (True = dark), without the quiet zone.

    The mask is fixed instead of chosen by the standard's penalty score: scoring all eight masks
    in pure Python costs about 20 ms, half the time budget of a whole report, and any mask is
    valid and scans; the penalty only nudges away from patterns that confuse poor readers.
    """
    qr = qrencoder.QRCode(None, getattr(qrencoder.QRErrorCorrectLevel, level))
    for segment in qr_segments(url):
        qr.addData(segment)
    qr.version = qr.calculate_version()
    qr.makeImpl(False, QR_MASK_PATTERN)
    return [[bool(m) for m in row] for row in qr.modules]


class QrFlowable(Flowable):
    """The QR code as one vector path (sharp at any print resolution), quiet zone included.

    reportlab's QrCodeWidget draws the same modules but builds a validated shape object per
    run of dark modules, which costs more than the rest of the report; one path is equivalent.
    """

    def __init__(self, url: str, size: float = QR_SIZE, border: int = 4) -> None:
        super().__init__()
        self.matrix = qr_matrix(url)
        self.size = size
        self.border = border
        self.width = self.height = size

    def wrap(self, avail_width, avail_height):
        return self.size, self.size

    def draw(self) -> None:
        count = len(self.matrix)
        box = self.size / (count + 2 * self.border)
        # Work in module units (one unit = one module, origin at the top-left module) so every
        # coordinate is a small integer written as is: formatting ~1500 rectangles through the
        # path API's float formatting costs more than the rest of the block.
        ops = []
        for r, row in enumerate(self.matrix):
            c = 0
            while c < count:
                if row[c]:
                    start = c
                    while c < count and row[c]:
                        c += 1
                    ops.append(f"{start} {-r - 1} {c - start} 1 re")
                else:
                    c += 1
        canv = self.canv
        canv.saveState()
        canv.setFillColor(colors.black)
        canv.translate(self.border * box, self.size - self.border * box)
        canv.scale(box, box)
        canv.addLiteral("\n".join(ops) + "\nf")
        canv.restoreState()


def _verification(content: ReportContent) -> list:
    info: list = [
        _p(f"报告编号：{content.number}", "value"),
        _p(f"验证码：{content.verification_code or '—'}", "value"),
        _p("内容摘要（SHA-256）：", "label"),
        Paragraph(content.content_hash, _styles()["mono"]),
    ]
    if content.verify_page_url:
        info.append(_p(f"核验网址：{content.verify_page_url}", "label"))
    info.append(_p("扫描左侧二维码查看本报告真伪和状态。", "label"))
    qr = QrFlowable(content.verification_url) if content.verification_url else _p("（未生成二维码）", "label")
    table = Table(
        [[qr, info]],
        colWidths=[QR_SIZE + 8 * mm, CONTENT_WIDTH - QR_SIZE - 8 * mm],
        style=TableStyle(
            [
                ("FONT", (0, 0), (-1, -1), FONT_NAME, 9.5),
                ("BOX", (0, 0), (-1, -1), 0.6, RULE),
                ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
                ("LEFTPADDING", (0, 0), (-1, -1), 6),
                ("TOPPADDING", (0, 0), (-1, -1), 6),
                ("BOTTOMPADDING", (0, 0), (-1, -1), 6),
            ]
        ),
    )
    return [KeepTogether([_p("报告验证", "h1"), table, _p("—— 报告正文结束 ——", "end")])]


# --- entry point ------------------------------------------------------------------------------


def _all_text(content: ReportContent) -> str:
    parts = [content.number, content.subject.name, content.subject.code, content.issuer, content.data_sources]
    parts += [v for pair in content.subject.details for v in pair]
    parts += list(content.notes) + list(content.domains)
    parts += [v for line in content.sources for v in (line.title, line.providers, line.statement)]
    for s in content.sections:
        parts.append(s.title)
        parts += [str(v) for row in s.rows for v in row.values()]
    return "\n".join(parts)


# reportlab's TrueType subsetting keeps per-font state that is not thread-safe: two renders at
# once in one process (gunicorn threads) corrupted each other's subsets. Every PDF build of this
# library (reports and letters) holds this lock.
RENDER_LOCK = threading.Lock()


def render_pdf(content: ReportContent) -> bytes:
    """The report as PDF bytes (unsigned; see ``reports.signing.sign_pdf``)."""
    _styles()
    replaced = bool(missing_glyphs(_all_text(content)))
    with RENDER_LOCK:
        try:
            return _build(content, replaced, split_in_row=0)
        except LayoutError:
            # Only a single record taller than a page gets here; then it must be split.
            return _build(content, replaced, split_in_row=1)


def _build(content: ReportContent, replaced: bool, split_in_row: int) -> bytes:
    buffer = io.BytesIO()
    doc = SimpleDocTemplate(
        buffer,
        pagesize=A4,
        leftMargin=MARGIN_X,
        rightMargin=MARGIN_X,
        topMargin=MARGIN_TOP,
        bottomMargin=MARGIN_BOTTOM,
        title=f"{content.kind.title} {content.number}",
        author=f"{content.issuer}（{content.platform}）",
        subject=f"{content.subject.name} {content.kind.title}",
        creator=content.platform,
        keywords=[content.number, content.kind.value],
        lang="zh-CN",
        initialFontName=FONT_NAME,
    )
    watermark = _watermark(content.number)
    story = [
        *_cover(content),
        *_notes(content, replaced),
        *_overview(content),
        *_sections(content, split_in_row),
        *_verification(content),
    ]
    canvasmaker = functools.partial(
        _NumberedCanvas, report_number=content.number, header_title=f"{content.platform} · {content.kind.title}"
    )
    doc.build(story, onFirstPage=watermark, onLaterPages=watermark, canvasmaker=canvasmaker)
    return buffer.getvalue()
