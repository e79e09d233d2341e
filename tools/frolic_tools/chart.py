"""Line charts as PNG bytes, with nothing but the standard library.

Reports and benchmark runs need a picture of a few curves (coupons issued, plays, pacing
targets) in places where matplotlib, numpy or Pillow are unwelcome: a Lambda layer must stay
small and a CI job should not compile anything. So this module draws into a plain RGB
framebuffer with a built-in 5x7 bitmap font and writes the PNG container by hand.
"""

from __future__ import annotations

import math
import struct
import zlib
from collections.abc import Sequence
from dataclasses import dataclass

Color = tuple[int, int, int]

WHITE: Color = (255, 255, 255)
INK: Color = (34, 34, 34)
AXIS: Color = (0, 0, 0)
GRID: Color = (232, 232, 232)
LEGEND_BORDER: Color = (190, 190, 190)

#: Pixels per dash and per gap: long enough to read as a dash at 2 px thickness.
DASH = 6
GLYPH_W = 5
GLYPH_H = 7
#: How far descending lowercase letters drop below the baseline of the others.
DESCENT = 2
_DESCENDERS = frozenset("gpqy")
#: Advance between characters at scale 1: a glyph plus one column of space.
ADVANCE = GLYPH_W + 1
TICK = 5
#: Mantissas of tick steps: round enough to read, dense enough to land on 5-6 ticks.
_NICE_MANTISSAS = (1.0, 2.0, 2.5, 4.0, 5.0)


@dataclass(frozen=True)
class Series:
    """One curve: its legend label, (x, y) points in drawing order and how to stroke it."""

    label: str
    points: Sequence[tuple[float, float]]
    color: tuple[int, int, int]
    dashed: bool = False

    def __post_init__(self) -> None:
        # Fail here, with the label, rather than deep inside bytes() while drawing.
        if len(self.color) != 3 or any(not 0 <= c <= 255 for c in self.color):
            raise ValueError(f"series {self.label!r}: colour must be three ints in 0..255")


# Each glyph is 7 rows of 5 columns, '#' lit. Lowercase has its own shapes because
# uppercase-only labels read as shouting and lose the cue of word shape; g p q y are drawn
# DESCENT rows lower, since squeezing their tails above the baseline makes g look like 9.
_GLYPH_ROWS: dict[str, str] = {
    " ": "..... ..... ..... ..... ..... ..... .....",
    "0": ".###. #...# #..## #.#.# ##..# #...# .###.",
    "1": "..#.. .##.. ..#.. ..#.. ..#.. ..#.. .###.",
    "2": ".###. #...# ....# ...#. ..#.. .#... #####",
    "3": "##### ...#. ..#.. ...#. ....# #...# .###.",
    "4": "...#. ..##. .#.#. #..#. ##### ...#. ...#.",
    "5": "##### #.... ####. ....# ....# #...# .###.",
    "6": "..##. .#... #.... ####. #...# #...# .###.",
    "7": "##### ....# ...#. ..#.. .#... .#... .#...",
    "8": ".###. #...# #...# .###. #...# #...# .###.",
    "9": ".###. #...# #...# .#### ....# ...#. .##..",
    "A": ".###. #...# #...# ##### #...# #...# #...#",
    "B": "####. #...# #...# ####. #...# #...# ####.",
    "C": ".###. #...# #.... #.... #.... #...# .###.",
    "D": "###.. #..#. #...# #...# #...# #..#. ###..",
    "E": "##### #.... #.... ####. #.... #.... #####",
    "F": "##### #.... #.... ####. #.... #.... #....",
    "G": ".###. #...# #.... #.### #...# #...# .####",
    "H": "#...# #...# #...# ##### #...# #...# #...#",
    "I": ".###. ..#.. ..#.. ..#.. ..#.. ..#.. .###.",
    "J": "..### ...#. ...#. ...#. ...#. #..#. .##..",
    "K": "#...# #..#. #.#.. ##... #.#.. #..#. #...#",
    "L": "#.... #.... #.... #.... #.... #.... #####",
    "M": "#...# ##.## #.#.# #.#.# #...# #...# #...#",
    "N": "#...# #...# ##..# #.#.# #..## #...# #...#",
    "O": ".###. #...# #...# #...# #...# #...# .###.",
    "P": "####. #...# #...# ####. #.... #.... #....",
    "Q": ".###. #...# #...# #...# #.#.# #..#. .##.#",
    "R": "####. #...# #...# ####. #.#.. #..#. #...#",
    "S": ".#### #.... #.... .###. ....# ....# ####.",
    "T": "##### ..#.. ..#.. ..#.. ..#.. ..#.. ..#..",
    "U": "#...# #...# #...# #...# #...# #...# .###.",
    "V": "#...# #...# #...# #...# #...# .#.#. ..#..",
    "W": "#...# #...# #...# #.#.# #.#.# #.#.# .#.#.",
    "X": "#...# #...# .#.#. ..#.. .#.#. #...# #...#",
    "Y": "#...# #...# .#.#. ..#.. ..#.. ..#.. ..#..",
    "Z": "##### ....# ...#. ..#.. .#... #.... #####",
    "a": "..... ..... .###. ....# .#### #...# .####",
    "b": "#.... #.... #.##. ##..# #...# #...# ####.",
    "c": "..... ..... .###. #.... #.... #...# .###.",
    "d": "....# ....# .##.# #..## #...# #...# .####",
    "e": "..... ..... .###. #...# ##### #.... .###.",
    "f": "..##. .#..# .#... ###.. .#... .#... .#...",
    "g": ".#### #...# #...# .#### ....# ....# .###.",
    "h": "#.... #.... #.##. ##..# #...# #...# #...#",
    "i": "..#.. ..... .##.. ..#.. ..#.. ..#.. .###.",
    "j": "...#. ..... ..##. ...#. ...#. #..#. .##..",
    "k": "#.... #.... #..#. #.#.. ##... #.#.. #..#.",
    "l": ".##.. ..#.. ..#.. ..#.. ..#.. ..#.. .###.",
    "m": "..... ..... ##.#. #.#.# #.#.# #...# #...#",
    "n": "..... ..... #.##. ##..# #...# #...# #...#",
    "o": "..... ..... .###. #...# #...# #...# .###.",
    "p": "####. #...# #...# ####. #.... #.... #....",
    "q": ".#### #...# #...# .#### ....# ....# ....#",
    "r": "..... ..... #.##. ##..# #.... #.... #....",
    "s": "..... ..... .###. #.... .###. ....# ####.",
    "t": ".#... .#... ###.. .#... .#... .#..# ..##.",
    "u": "..... ..... #...# #...# #...# #..## .##.#",
    "v": "..... ..... #...# #...# #...# .#.#. ..#..",
    "w": "..... ..... #...# #...# #.#.# #.#.# .#.#.",
    "x": "..... ..... #...# .#.#. ..#.. .#.#. #...#",
    "y": "#...# #...# #...# #..## .##.# ....# .###.",
    "z": "..... ..... ##### ...#. ..#.. .#... #####",
    ".": "..... ..... ..... ..... ..... .##.. .##..",
    ",": "..... ..... ..... ..... .##.. ..#.. .#...",
    ":": "..... .##.. .##.. ..... .##.. .##.. .....",
    ";": "..... .##.. .##.. ..... .##.. ..#.. .#...",
    "%": "##... ##..# ...#. ..#.. .#... #..## ...##",
    "-": "..... ..... ..... ##### ..... ..... .....",
    "+": "..... ..#.. ..#.. ##### ..#.. ..#.. .....",
    "(": "...#. ..#.. .#... .#... .#... ..#.. ...#.",
    ")": ".#... ..#.. ...#. ...#. ...#. ..#.. .#...",
    "/": "..... ....# ...#. ..#.. .#... #.... .....",
    "_": "..... ..... ..... ..... ..... ..... #####",
    "=": "..... ..... ##### ..... ##### ..... .....",
    "#": ".#.#. .#.#. ##### .#.#. ##### .#.#. .#.#.",
    "'": "..#.. ..#.. .#... ..... ..... ..... .....",
    "!": "..#.. ..#.. ..#.. ..#.. ..#.. ..... ..#..",
    "?": ".###. #...# ....# ...#. ..#.. ..... ..#..",
    "*": "..... ..#.. #.#.# .###. #.#.# ..#.. .....",
}
#: Drawn for characters the font lacks, so a missing glyph is visible instead of silent.
_UNKNOWN_ROWS = "..... ##### #...# #...# #...# ##### ....."

Glyph = tuple[tuple[int, int], ...]


def _parse_glyph(char: str, rows_text: str) -> Glyph:
    """Turn the readable row notation into lit (column, row) offsets, rejecting typos."""
    rows = rows_text.split()
    if len(rows) != GLYPH_H or any(len(r) != GLYPH_W or set(r) - {".", "#"} for r in rows):
        raise ValueError(f"glyph {char!r} must be {GLYPH_H} rows of {GLYPH_W} '.'/'#'")
    drop = DESCENT if char in _DESCENDERS else 0
    return tuple(
        (gx, gy + drop) for gy, row in enumerate(rows) for gx, cell in enumerate(row) if cell == "#"
    )


_FONT: dict[str, Glyph] = {c: _parse_glyph(c, rows) for c, rows in _GLYPH_ROWS.items()}
_UNKNOWN: Glyph = _parse_glyph("unknown", _UNKNOWN_ROWS)


def _glyph(char: str) -> Glyph:
    return _FONT.get(char, _UNKNOWN)


def _text_width(text: str, scale: int = 1) -> int:
    return max(0, len(text) * ADVANCE * scale - scale)


class _Canvas:
    """An RGB framebuffer; slice assignment keeps Python's per-pixel cost off the hot path."""

    def __init__(self, width: int, height: int) -> None:
        self.width = width
        self.height = height
        self.stride = width * 3
        self.buf = bytearray(b"\xff" * (self.stride * height))

    def fill_rect(self, x0: int, y0: int, x1: int, y1: int, color: Color) -> None:
        """Fill [x0, x1) x [y0, y1), silently clipped to the canvas."""
        x0, x1 = max(0, x0), min(self.width, x1)
        y0, y1 = max(0, y0), min(self.height, y1)
        if x0 >= x1 or y0 >= y1:
            return
        run = bytes(color) * (x1 - x0)
        for y in range(y0, y1):
            start = y * self.stride + x0 * 3
            self.buf[start : start + len(run)] = run

    def outline_rect(self, x0: int, y0: int, x1: int, y1: int, color: Color) -> None:
        self.fill_rect(x0, y0, x1, y0 + 1, color)
        self.fill_rect(x0, y1 - 1, x1, y1, color)
        self.fill_rect(x0, y0, x0 + 1, y1, color)
        self.fill_rect(x1 - 1, y0, x1, y1, color)

    def text(self, x: int, y: int, text: str, color: Color, scale: int = 1) -> None:
        """Draw text with its top-left corner at (x, y)."""
        for i, char in enumerate(text):
            left = x + i * ADVANCE * scale
            for gx, gy in _glyph(char):
                px, py = left + gx * scale, y + gy * scale
                self.fill_rect(px, py, px + scale, py + scale, color)

    def text_up(self, x: int, y: int, text: str, color: Color) -> None:
        """Draw text turned 90 degrees anticlockwise, so a y-axis label reads bottom to top.

        (x, y) is the bottom-left corner of the rotated text's bounding box.
        """
        for i, char in enumerate(text):
            base = y - i * ADVANCE
            for gx, gy in _glyph(char):
                self.fill_rect(x + gy, base - gx, x + gy + 1, base - gx + 1, color)


class _Pen:
    """Strokes a 2 px polyline clipped to the plot area, carrying the dash phase along."""

    def __init__(self, canvas: _Canvas, clip: tuple[int, int, int, int], color: Color) -> None:
        self.canvas = canvas
        self.x0, self.y0, self.x1, self.y1 = clip
        self.pixel = bytes(color)
        self.pair = self.pixel * 2
        self.dashed = False
        self.phase = 0

    def dab(self, x: int, y: int) -> None:
        """Paint the 2x2 brush whose top-left pixel is (x, y), honouring the dash pattern."""
        if self.dashed:
            on = (self.phase // DASH) % 2 == 0
            self.phase += 1
            if not on:
                return
        buf, stride = self.canvas.buf, self.canvas.stride
        if self.x0 <= x < self.x1 - 1 and self.y0 <= y < self.y1 - 1:
            start = y * stride + x * 3
            buf[start : start + 6] = self.pair
            buf[start + stride : start + stride + 6] = self.pair
            return
        for py in (y, y + 1):
            for px in (x, x + 1):
                if self.x0 <= px < self.x1 and self.y0 <= py < self.y1:
                    start = py * stride + px * 3
                    buf[start : start + 3] = self.pixel

    def segment(self, x0: int, y0: int, x1: int, y1: int, *, skip_first: bool) -> None:
        """Bresenham from (x0, y0) to (x1, y1); skip_first avoids double-dabbing joints."""
        dx, dy = abs(x1 - x0), -abs(y1 - y0)
        sx = 1 if x0 < x1 else -1
        sy = 1 if y0 < y1 else -1
        err = dx + dy
        x, y = x0, y0
        first = True
        while True:
            if not (first and skip_first):
                self.dab(x, y)
            first = False
            if x == x1 and y == y1:
                return
            e2 = 2 * err
            if e2 >= dy:
                err += dy
                x += sx
            if e2 <= dx:
                err += dx
                y += sy

    def marker(self, x: int, y: int) -> None:
        """A 4x4 square: a lone 2 px dab is too small to spot, and dashing must not hide it."""
        dashed, self.dashed = self.dashed, False
        for dy in (-1, 1):
            for dx in (-1, 1):
                self.dab(x + dx, y + dy)
        self.dashed = dashed

    def polyline(self, points: Sequence[tuple[int, int]]) -> None:
        """Stroke pixel points, collapsing runs that share a column into one vertical span.

        Thousands of points across a few hundred columns would otherwise retrace the same
        column over and over; the union of those strokes is exactly one span per column.
        """
        if not points:
            return
        if all(p == points[0] for p in points):
            self.marker(*points[0])
            return
        i, n = 0, len(points)
        prev: tuple[int, int] | None = None
        while i < n:
            x, first_y = points[i]
            lo = hi = last_y = first_y
            j = i + 1
            while j < n and points[j][0] == x:
                last_y = points[j][1]
                lo, hi = min(lo, last_y), max(hi, last_y)
                j += 1
            if prev is not None:
                self.segment(prev[0], prev[1], x, first_y, skip_first=True)
            if hi > lo:
                # Walk the span from where the stroke entered it, so the dash keeps flowing.
                near, far = (lo, hi) if abs(first_y - lo) <= abs(first_y - hi) else (hi, lo)
                self.segment(x, near, x, far, skip_first=False)
            elif prev is None:
                self.dab(x, first_y)
            prev = (x, last_y)
            i = j


def _finite_runs(points: Sequence[tuple[float, float]]) -> list[list[tuple[float, float]]]:
    """Split at NaN or infinite points, since bridging them would invent data."""
    runs: list[list[tuple[float, float]]] = [[]]
    for x, y in points:
        if math.isfinite(x) and math.isfinite(y):
            runs[-1].append((float(x), float(y)))
        elif runs[-1]:
            runs.append([])
    return [run for run in runs if run]


def _nice_ticks(lo: float, hi: float) -> tuple[list[float], float]:
    """Round tick values inside [lo, hi], aiming for 5-6 of them, and their step."""
    span = hi - lo
    if not span > 0 or not math.isfinite(span):
        return [lo], 1.0
    base = math.floor(math.log10(span / 5.5))
    best: tuple[tuple[float, int], float, int, int] | None = None
    for exponent in range(base - 1, base + 2):
        for rank, mantissa in enumerate(_NICE_MANTISSAS):
            # Divide for negative exponents so steps like 0.2 are as exact as floats allow.
            step = mantissa * 10.0**exponent if exponent >= 0 else mantissa / 10.0**-exponent
            first = math.ceil(lo / step - 1e-9)
            last = math.floor(hi / step + 1e-9)
            count = last - first + 1
            score = (0.0 if 5 <= count <= 6 else abs(count - 5.5), rank)
            if best is None or score < best[0]:
                best = (score, step, first, last)
    assert best is not None
    _, step, first, last = best
    return [k * step for k in range(first, last + 1)], step


def _format_tick(value: float, step: float) -> str:
    """Integers plainly, else up to 2 decimals (more only if the step itself needs them)."""
    if abs(value) < abs(step) * 1e-6:
        value = 0.0
    decimals = 2
    while decimals < 12 and abs(round(step, decimals) - step) > abs(step) * 1e-6:
        decimals += 1
    rounded = round(value, decimals)
    if rounded == int(rounded):
        return str(int(rounded))
    return f"{rounded:.{decimals}f}".rstrip("0").rstrip(".")


def _data_range(values: list[float], *, from_zero: bool) -> tuple[float, float]:
    """Axis limits: x hugs the data; y starts at 0 (or the minimum) with 5% headroom."""
    if not values:
        return (0.0, 1.0)
    lo, hi = min(values), max(values)
    if from_zero:
        lo = min(0.0, lo)
        headroom = hi * 1.05
        hi = headroom if math.isfinite(headroom) and hi > 0 else max(hi, 0.0)
    if hi - lo > 0:
        return (lo, hi)
    # Everything sits on one value: give it room instead of dividing by zero.
    pad = abs(lo) * 0.1 if lo != 0 else 1.0
    return (lo - pad, hi + pad) if not from_zero else (lo, hi + pad)


def _png(width: int, height: int, rgb: bytes | bytearray) -> bytes:
    """Wrap RGB rows (filter type 0) in the three chunks a PNG decoder needs."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        crc = zlib.crc32(kind + data) & 0xFFFFFFFF
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)

    stride = width * 3
    view = memoryview(rgb)
    raw = bytearray()
    for y in range(height):
        raw.append(0)
        raw += view[y * stride : (y + 1) * stride]
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(bytes(raw), 6))
        + chunk(b"IEND", b"")
    )


def render_line_chart(
    series: Sequence[Series],
    *,
    title: str,
    x_label: str,
    y_label: str,
    width: int = 900,
    height: int = 500,
) -> bytes:
    """Render the series as a PNG (8-bit RGB) line chart with axes, ticks and a legend.

    Non-finite points are skipped and break the line, since they cannot be placed.
    """
    runs = [_finite_runs(s.points) for s in series]
    placed = [p for series_runs in runs for run in series_runs for p in run]
    x_lo, x_hi = _data_range([x for x, _ in placed], from_zero=False)
    y_lo, y_hi = _data_range([y for _, y in placed], from_zero=True)
    x_ticks, x_step = _nice_ticks(x_lo, x_hi)
    y_ticks, y_step = _nice_ticks(y_lo, y_hi)
    x_tick_labels = [_format_tick(v, x_step) for v in x_ticks]
    y_tick_labels = [_format_tick(v, y_step) for v in y_ticks]

    # Margins follow the text that must fit in them, so long tick labels never get cut.
    y_label_w = max((_text_width(t) for t in y_tick_labels), default=0)
    left = 10 + (GLYPH_H + 10 if y_label else 0) + y_label_w + TICK + 5
    x_overhang = _text_width(x_tick_labels[-1]) // 2 if x_tick_labels else 0
    right = width - max(20, x_overhang + 6)
    top = 10 + (GLYPH_H * 2 + 14 if title else 10)
    bottom = height - (TICK + 4 + GLYPH_H + (10 + GLYPH_H if x_label else 0) + 12)
    if right - left < 20 or bottom - top < 20:
        raise ValueError(f"a {width}x{height} chart leaves no room to plot")
    plot_w, plot_h = right - left, bottom - top

    def to_px(x: float) -> int:
        return left + round((x - x_lo) / (x_hi - x_lo) * (plot_w - 1))

    def to_py(y: float) -> int:
        return bottom - 1 - round((y - y_lo) / (y_hi - y_lo) * (plot_h - 1))

    canvas = _Canvas(width, height)
    for v in x_ticks:
        canvas.fill_rect(to_px(v), top, to_px(v) + 1, bottom, GRID)
    for v in y_ticks:
        canvas.fill_rect(left, to_py(v), right, to_py(v) + 1, GRID)

    for s, series_runs in zip(series, runs, strict=True):
        pen = _Pen(canvas, (left, top, right, bottom), s.color)
        pen.dashed = s.dashed
        for run in series_runs:
            pen.polyline([(to_px(x), to_py(y)) for x, y in run])

    if series:
        row_h = GLYPH_H + 5
        box_w = 6 + 12 + 6 + max(_text_width(s.label) for s in series) + 6
        box_h = 6 + len(series) * row_h - 5 + 6
        bx, by = left + 8, top + 8
        canvas.fill_rect(bx, by, bx + box_w, by + box_h, WHITE)
        canvas.outline_rect(bx, by, bx + box_w, by + box_h, LEGEND_BORDER)
        for i, s in enumerate(series):
            ry = by + 6 + i * row_h
            canvas.fill_rect(bx + 6, ry, bx + 18, ry + GLYPH_H, s.color)
            canvas.text(bx + 24, ry, s.label, INK)

    canvas.fill_rect(left - 1, top, left, bottom + 1, AXIS)
    canvas.fill_rect(left - 1, bottom, right, bottom + 1, AXIS)
    for v, label in zip(x_ticks, x_tick_labels, strict=True):
        px = to_px(v)
        canvas.fill_rect(px, bottom + 1, px + 1, bottom + 1 + TICK, AXIS)
        canvas.text(px - _text_width(label) // 2, bottom + TICK + 4, label, INK)
    for v, label in zip(y_ticks, y_tick_labels, strict=True):
        py = to_py(v)
        canvas.fill_rect(left - 1 - TICK, py, left - 1, py + 1, AXIS)
        canvas.text(left - TICK - 5 - _text_width(label), py - GLYPH_H // 2, label, INK)

    if title:
        canvas.text((width - _text_width(title, 2)) // 2, 10, title, INK, scale=2)
    if x_label:
        label_y = bottom + TICK + 4 + GLYPH_H + 10
        canvas.text(left + (plot_w - _text_width(x_label)) // 2, label_y, x_label, INK)
    if y_label:
        label_bottom = top + (plot_h + _text_width(y_label)) // 2
        canvas.text_up(10, label_bottom, y_label, INK)

    return _png(width, height, canvas.buf)
