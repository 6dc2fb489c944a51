"""TrueType glyph outlines as vector paths, for text that must be seen but not extracted.

The diagonal watermark is drawn as shapes rather than text: as text, its characters end up
scattered through the output of pdftotext, copy-and-paste and screen readers, in between the
report's real content. reportlab reads TrueType metrics but not outlines, so this module reads
the ``glyf`` table itself (simple and composite glyphs, quadratic contours).
"""

from __future__ import annotations

import functools
import struct
from array import array
from collections.abc import Callable

# Simple-glyph point flags.
_ON_CURVE = 0x01
_X_SHORT = 0x02
_Y_SHORT = 0x04
_REPEAT = 0x08
_X_SAME_OR_POSITIVE = 0x10
_Y_SAME_OR_POSITIVE = 0x20
# Composite-glyph component flags.
_ARG_WORDS = 0x0001
_ARGS_ARE_XY = 0x0002
_HAVE_SCALE = 0x0008
_MORE_COMPONENTS = 0x0020
_HAVE_XY_SCALE = 0x0040
_HAVE_2X2 = 0x0080

Point = tuple[float, float, bool]  # x, y, on curve
Contour = list[Point]


class GlyphOutlines:
    """Outlines of a reportlab ``TTFont`` face, in font units, cached per glyph."""

    def __init__(self, face) -> None:
        self._data: bytes = face._ttf_data  # the whole file (bytes, or a memory map of it)
        self._glyf = face.get_table_pos("glyf")[0]
        self._pos = face.glyphPos
        self._char_to_glyph = face.charToGlyph
        self._advance = array("d", (aw for aw, _lsb in face.hmetrics))
        self.units_per_em = face.unitsPerEm
        self.contours = functools.lru_cache(maxsize=4096)(self._contours)

    def glyph_id(self, ch: str) -> int:
        return self._char_to_glyph.get(ord(ch), 0)

    def advance(self, glyph: int) -> float:
        return self._advance[min(glyph, len(self._advance) - 1)]

    def _contours(self, glyph: int, depth: int = 0) -> tuple[Contour, ...]:
        start, end = self._pos[glyph], self._pos[glyph + 1]
        if end <= start or depth > 8:
            return ()
        base = self._glyf + start
        (count,) = struct.unpack_from(">h", self._data, base)
        if count >= 0:
            return self._simple(base, count)
        return self._composite(base, depth)

    def _simple(self, base: int, count: int) -> tuple[Contour, ...]:
        data = self._data
        pos = base + 10
        end_points = struct.unpack_from(f">{count}H", data, pos)
        pos += 2 * count
        (instruction_len,) = struct.unpack_from(">H", data, pos)
        pos += 2 + instruction_len
        n_points = end_points[-1] + 1 if count else 0
        flags: list[int] = []
        while len(flags) < n_points:
            flag = data[pos]
            pos += 1
            flags.append(flag)
            if flag & _REPEAT:
                flags.extend([flag] * data[pos])
                pos += 1
        flags = flags[:n_points]
        xs, pos = _coords(data, pos, flags, _X_SHORT, _X_SAME_OR_POSITIVE)
        ys, pos = _coords(data, pos, flags, _Y_SHORT, _Y_SAME_OR_POSITIVE)
        contours = []
        first = 0
        for last in end_points:
            contours.append([(xs[i], ys[i], bool(flags[i] & _ON_CURVE)) for i in range(first, last + 1)])
            first = last + 1
        return tuple(contours)

    def _composite(self, base: int, depth: int) -> tuple[Contour, ...]:
        data = self._data
        pos = base + 10
        out: list[Contour] = []
        flags = _MORE_COMPONENTS
        while flags & _MORE_COMPONENTS:
            flags, component = struct.unpack_from(">HH", data, pos)
            pos += 4
            if flags & _ARG_WORDS:
                arg1, arg2 = struct.unpack_from(">hh", data, pos)
                pos += 4
            else:
                arg1, arg2 = struct.unpack_from(">bb", data, pos)
                pos += 2
            a, b, c, d = 1.0, 0.0, 0.0, 1.0
            if flags & _HAVE_SCALE:
                a = d = _f2dot14(data, pos)
                pos += 2
            elif flags & _HAVE_XY_SCALE:
                a, d = _f2dot14(data, pos), _f2dot14(data, pos + 2)
                pos += 4
            elif flags & _HAVE_2X2:
                a, b, c, d = (_f2dot14(data, pos + 2 * i) for i in range(4))
                pos += 8
            # Point-matching placement (args are point numbers) is rare in CJK fonts; place at 0,0.
            dx, dy = (arg1, arg2) if flags & _ARGS_ARE_XY else (0, 0)
            for contour in self.contours(component, depth + 1):
                out.append([(a * x + c * y + dx, b * x + d * y + dy, on) for x, y, on in contour])
        return tuple(out)


def _coords(data: bytes, pos: int, flags: list[int], short: int, same_or_pos: int) -> tuple[list[int], int]:
    values = []
    value = 0
    for flag in flags:
        if flag & short:
            delta = data[pos]
            pos += 1
            value += delta if flag & same_or_pos else -delta
        elif not flag & same_or_pos:
            (delta,) = struct.unpack_from(">h", data, pos)
            pos += 2
            value += delta
        values.append(value)
    return values, pos


def _f2dot14(data: bytes, pos: int) -> float:
    return struct.unpack_from(">h", data, pos)[0] / 16384.0


def draw_contour(contour: Contour, move_to: Callable, line_to: Callable, curve_to: Callable, close: Callable) -> None:
    """Emit one quadratic TrueType contour as move/line/cubic-curve/close calls."""
    n = len(contour)
    if n == 0:
        return
    # Start on an on-curve point; if there is none, at the midpoint of the first two off-curve ones.
    start_index = next((i for i, p in enumerate(contour) if p[2]), None)
    if start_index is None:
        (x0, y0, _), (x1, y1, _) = contour[0], contour[1 % n]
        start = ((x0 + x1) / 2, (y0 + y1) / 2)
        points = contour[1:] + contour[:1]
    else:
        start = contour[start_index][:2]
        points = contour[start_index + 1 :] + contour[: start_index + 1]
    move_to(*start)
    current = start
    control: tuple[float, float] | None = None
    for x, y, on in points:
        if on:
            if control is None:
                line_to(x, y)
            else:
                _quad(current, control, (x, y), curve_to)
                control = None
            current = (x, y)
        elif control is None:
            control = (x, y)
        else:
            mid = ((control[0] + x) / 2, (control[1] + y) / 2)
            _quad(current, control, mid, curve_to)
            current, control = mid, (x, y)
    if control is not None:
        _quad(current, control, start, curve_to)
    close()


def _quad(p0, q, p2, curve_to: Callable) -> None:
    """Quadratic Bezier (p0, q, p2) as the equivalent cubic."""
    c1 = (p0[0] + 2 / 3 * (q[0] - p0[0]), p0[1] + 2 / 3 * (q[1] - p0[1]))
    c2 = (p2[0] + 2 / 3 * (q[0] - p2[0]), p2[1] + 2 / 3 * (q[1] - p2[1]))
    curve_to(c1[0], c1[1], c2[0], c2[1], p2[0], p2[1])
