"""Tests for the dependency-free PNG line chart.

The PNG is decoded here by hand (chunks, CRCs, zlib, filter 0) rather than with an image
library, so the tests check the bytes a real viewer would read, not the encoder's intentions.
"""

from __future__ import annotations

import itertools
import math
import random
import statistics
import struct
import zlib
from collections.abc import Sequence
from dataclasses import dataclass

import pytest

from frolic_tools.chart import Series, render_line_chart

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
WHITE = (255, 255, 255)
BLACK = (0, 0, 0)
RED = (220, 30, 40)
BLUE = (20, 90, 200)
GREEN = (40, 160, 60)

Pixel = tuple[int, int, int]


@dataclass(frozen=True)
class Image:
    width: int
    height: int
    bit_depth: int
    color_type: int
    chunk_types: list[bytes]
    rows: list[bytes]

    def pixel(self, x: int, y: int) -> Pixel:
        row = self.rows[y]
        return (row[3 * x], row[3 * x + 1], row[3 * x + 2])

    def positions(self, color: Pixel) -> list[tuple[int, int]]:
        """(x, y) of every pixel of exactly this colour."""
        red, green, blue = color
        found: list[tuple[int, int]] = []
        for y, row in enumerate(self.rows):
            # Searching the red plane alone keeps pixels aligned and skips most of the row
            reds, greens, blues = row[0::3], row[1::3], row[2::3]
            x = reds.find(red)
            while x != -1:
                if greens[x] == green and blues[x] == blue:
                    found.append((x, y))
                x = reds.find(red, x + 1)
        return found

    def count(self, color: Pixel) -> int:
        return len(self.positions(color))

    def dark_positions(self, y0: int, y1: int) -> list[tuple[int, int]]:
        return [
            (x, y) for y in range(y0, y1) for x in range(self.width) if max(self.pixel(x, y)) < 100
        ]


def decode_png(data: bytes) -> Image:
    """Decode an 8-bit RGB, non-interlaced, filter-0 PNG, checking every CRC on the way."""
    assert data[:8] == PNG_SIGNATURE
    chunks: list[tuple[bytes, bytes]] = []
    pos = 8
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        kind = data[pos + 4 : pos + 8]
        body = data[pos + 8 : pos + 8 + length]
        (crc,) = struct.unpack(">I", data[pos + 8 + length : pos + 12 + length])
        assert crc == zlib.crc32(kind + body) & 0xFFFFFFFF, f"bad CRC on {kind!r}"
        chunks.append((kind, body))
        pos += 12 + length
    assert pos == len(data), "trailing bytes after the last chunk"
    kinds = [kind for kind, _ in chunks]
    assert kinds[0] == b"IHDR"
    assert kinds[-1] == b"IEND"
    assert chunks[-1][1] == b""

    width, height, depth, color_type, compression, filtering, interlace = struct.unpack(
        ">IIBBBBB", chunks[0][1]
    )
    assert (compression, filtering, interlace) == (0, 0, 0)
    raw = zlib.decompress(b"".join(body for kind, body in chunks if kind == b"IDAT"))
    stride = width * 3
    assert len(raw) == height * (stride + 1)
    rows: list[bytes] = []
    for y in range(height):
        line = raw[y * (stride + 1) : (y + 1) * (stride + 1)]
        assert line[0] == 0, f"row {y} uses filter {line[0]}, expected 0 (None)"
        rows.append(line[1:])
    return Image(width, height, depth, color_type, kinds, rows)


def render(
    series: Sequence[Series],
    *,
    title: str = "Chart",
    width: int = 900,
    height: int = 500,
) -> Image:
    png = render_line_chart(
        series, title=title, x_label="x", y_label="y", width=width, height=height
    )
    return decode_png(png)


def line(n: int, slope: float = 1.0, offset: float = 0.0) -> list[tuple[float, float]]:
    return [(float(i), offset + slope * i) for i in range(n)]


def test_header_is_8_bit_rgb_of_the_requested_size() -> None:
    # Given a custom size
    # When a chart is rendered
    image = render([Series("a", line(10), RED)], width=640, height=360)

    # Then IHDR says so, and only the three critical chunks are written
    assert (image.width, image.height) == (640, 360)
    assert (image.bit_depth, image.color_type) == (8, 2)
    assert set(image.chunk_types) == {b"IHDR", b"IDAT", b"IEND"}


def test_default_size_is_900_by_500() -> None:
    image = render([Series("a", line(10), RED)])

    assert (image.width, image.height) == (900, 500)


def test_background_is_white() -> None:
    image = render([Series("a", line(100), RED)])

    for x, y in [(0, 0), (image.width - 1, 0), (0, image.height - 1)]:
        assert image.pixel(x, y) == WHITE
    assert image.pixel(image.width - 1, image.height - 1) == WHITE
    assert image.count(WHITE) > 0.8 * image.width * image.height


def test_every_series_colour_is_drawn_and_no_other_series_colour() -> None:
    # Given two series in different colours
    series = [Series("up", line(200), RED), Series("down", line(200, -1.0, 200.0), BLUE)]

    # When rendered
    image = render(series)

    # Then both colours are there in line-sized quantities, and an unused one is not
    assert image.count(RED) > 300
    assert image.count(BLUE) > 300
    assert image.count(GREEN) == 0


@pytest.mark.parametrize(("slope", "offset"), [(1.0, 0.0), (-1.0, 100.0)])
def test_line_goes_the_way_the_data_goes(slope: float, offset: float) -> None:
    # Given a series that only rises (or only falls) from left to right
    image = render([Series("trend", line(101, slope, offset), RED)])

    # When its pixels are split into a left and a right third
    xs = [x for x, _ in image.positions(RED)]
    lo, hi = min(xs), max(xs)
    third = (hi - lo) / 3
    left_rows = [y for x, y in image.positions(RED) if x < lo + third]
    right_rows = [y for x, y in image.positions(RED) if x > hi - third]

    # Then a rising line sits higher (smaller row index) on the right, a falling one on the left
    left, right = statistics.median(left_rows), statistics.median(right_rows)
    if slope > 0:
        assert right < left - 100
    else:
        assert left < right - 100


def test_title_draws_dark_centred_text_in_the_top_band() -> None:
    # Given the same chart with a short and a long title
    series = [Series("a", line(50), RED)]
    short = render(series, title="Run 1")
    long = render(series, title="Coupons issued per minute, run 1")

    # When looking at the band above the plot
    short_dark = short.dark_positions(0, 30)
    long_dark = long.dark_positions(0, 30)

    # Then both titles put ink there, centred, and the longer title is wider
    assert len(short_dark) > 20
    assert len(long_dark) > len(short_dark)
    for dark, image in [(short_dark, short), (long_dark, long)]:
        xs = [x for x, _ in dark]
        assert abs((min(xs) + max(xs)) / 2 - image.width / 2) < 10

    def span(dark: list[tuple[int, int]]) -> int:
        return max(x for x, _ in dark) - min(x for x, _ in dark)

    assert span(long_dark) > 3 * span(short_dark)


def test_no_title_leaves_the_top_band_blank() -> None:
    image = render([Series("a", line(50), RED)], title="")

    assert image.dark_positions(0, 10) == []


def test_without_series_a_valid_empty_chart_is_rendered() -> None:
    image = render([], width=400, height=300)

    assert (image.width, image.height) == (400, 300)
    assert image.count(BLACK) > 0  # the axes are still drawn


def test_a_single_point_is_rendered_visibly() -> None:
    image = render([Series("lonely", [(5.0, 5.0)], RED)])

    # The legend swatch is one block of RED; the point must add more than that
    swatch_only = render([Series("lonely", [], RED)])
    assert image.count(RED) >= swatch_only.count(RED) + 9


@pytest.mark.parametrize(
    "points",
    [
        [(float(x), 3.0) for x in range(20)],  # y all equal
        [(float(x), 0.0) for x in range(20)],  # y all zero
        [(7.0, float(y)) for y in range(20)],  # x all equal
        [(7.0, 7.0)] * 20,  # everything equal
        [(float(x), -float(x)) for x in range(20)],  # all negative
    ],
)
def test_degenerate_ranges_still_render(points: list[tuple[float, float]]) -> None:
    image = render([Series("flat", points, RED)], width=400, height=300)

    swatch_only = render([Series("flat", [], RED)], width=400, height=300)
    assert image.count(RED) > swatch_only.count(RED)


def test_dashed_series_has_fewer_coloured_pixels_than_solid() -> None:
    # Given the same data drawn solid and dashed
    points = [(float(x), math.sin(x / 30) * 100 + 200) for x in range(600)]
    solid = render([Series("s", points, RED)])
    dashed = render([Series("s", points, RED, dashed=True)])

    # Then the dashed one has roughly half the ink: gaps, but still clearly drawn
    assert 0.3 * solid.count(RED) < dashed.count(RED) < 0.75 * solid.count(RED)


def test_non_finite_points_leave_a_gap() -> None:
    # Given a flat line with a NaN in the middle, and a tall series to keep it low in the plot
    points = [(float(x), 1.0) for x in range(21)]
    gapped = [*points[:10], (10.0, math.nan), *points[11:]]
    tall = Series("tall", [(0.0, 10.0)], BLUE)

    def columns(pts: list[tuple[float, float]]) -> list[int]:
        image = render([Series("flat", pts, RED), tall])
        # The lower half holds the line and nothing of the legend
        return sorted({x for x, y in image.positions(RED) if y > image.height // 2})

    whole, broken = columns(points), columns(gapped)

    # Then the unbroken line is contiguous and the broken one is missing a stretch
    assert whole == list(range(whole[0], whole[-1] + 1))
    gaps = [b - a for a, b in itertools.pairwise(broken)]
    assert max(gaps) > 20
    assert (broken[0], broken[-1]) == (whole[0], whole[-1])


def test_series_stay_inside_the_axes() -> None:
    image = render([Series("corner", [(0.0, 0.0), (100.0, 0.0), (100.0, 50.0)], RED)])

    blacks = image.positions(BLACK)
    axis_x = statistics.mode(x for x, _ in blacks)  # the y axis is the blackest column
    axis_y = statistics.mode(y for _, y in blacks)  # the x axis is the blackest row
    for x, y in image.positions(RED):
        assert x > axis_x
        assert y < axis_y


def test_thousands_of_points_in_three_series_all_show() -> None:
    # Given 3 series of 4,000 points: a very noisy one (drawn first, as it covers most of
    # the plot), a smooth one and a dashed one
    rng = random.Random(7)
    n = 4000
    wave = [(i * 0.9, 2000 + 600 * math.sin(i / 500)) for i in range(n)]
    series = [
        Series("noise", [(i * 0.9, rng.uniform(0, 5000)) for i in range(n)], GREEN),
        Series("cumulative", [(i * 0.9, i * 1.3) for i in range(n)], RED),
        Series("target", wave, BLUE, dashed=True),
    ]

    # When rendered
    png = render_line_chart(series, title="Load", x_label="s", y_label="coupons")

    # Then it is a sound PNG with every series on it
    image = decode_png(png)
    assert all(image.count(color) > 500 for color in (RED, BLUE, GREEN))


def test_invalid_colour_is_rejected() -> None:
    with pytest.raises(ValueError, match="colour"):
        Series("bad", [], (256, 0, 0))


def test_too_small_a_canvas_is_rejected() -> None:
    with pytest.raises(ValueError, match="no room"):
        render_line_chart([], title="t", x_label="x", y_label="y", width=60, height=40)


# The helpers below are private, but tick choice and the font are where charts quietly go
# wrong (unreadable labels, 0.30000000000000004), so they are pinned down directly.


@pytest.mark.parametrize(
    ("lo", "hi", "labels"),
    [
        (0.0, 1050.0, ["0", "200", "400", "600", "800", "1000"]),
        (0.0, 1.05, ["0", "0.2", "0.4", "0.6", "0.8", "1"]),
        (0.0, 5.25, ["0", "1", "2", "3", "4", "5"]),
        (0.0, 130.0, ["0", "25", "50", "75", "100", "125"]),
        (-3.0, 7.0, ["-2", "0", "2", "4", "6"]),
        (1000.0, 1000.5, ["1000", "1000.1", "1000.2", "1000.3", "1000.4", "1000.5"]),
    ],
)
def test_ticks_are_round_numbers(lo: float, hi: float, labels: list[str]) -> None:
    from frolic_tools.chart import _format_tick, _nice_ticks

    ticks, step = _nice_ticks(lo, hi)

    assert [_format_tick(v, step) for v in ticks] == labels


def test_tick_count_stays_near_five_or_six_for_any_range() -> None:
    from frolic_tools.chart import _nice_ticks

    rng = random.Random(11)
    counts = []
    for _ in range(2000):
        hi = 10 ** rng.uniform(-2, 7)
        lo = 0.0 if rng.random() < 0.5 else -hi * rng.uniform(0, 1)
        ticks, _ = _nice_ticks(lo, hi)
        assert all(lo - 1e-9 * hi <= t <= hi * (1 + 1e-9) for t in ticks)
        counts.append(len(ticks))
    assert min(counts) >= 4
    assert max(counts) <= 7
    assert sum(5 <= c <= 6 for c in counts) > 0.6 * len(counts)


@pytest.mark.parametrize(
    ("value", "step", "text"),
    [
        (1200.0, 200.0, "1200"),
        (0.1 + 0.2, 0.1, "0.3"),
        (2.5, 2.5, "2.5"),
        (0.25, 0.25, "0.25"),
        (-0.0, 1.0, "0"),
        (1e-17, 0.1, "0"),
        (-400.0, 200.0, "-400"),
    ],
)
def test_tick_labels_are_short(value: float, step: float, text: str) -> None:
    from frolic_tools.chart import _format_tick

    assert _format_tick(value, step) == text


def test_font_covers_the_promised_characters_with_distinct_glyphs() -> None:
    import string

    from frolic_tools.chart import _FONT, _UNKNOWN, _glyph

    promised = string.digits + string.ascii_letters + " .,:%-+()/_=#'"
    assert set(promised) <= set(_FONT)
    shapes = {c: frozenset(_glyph(c)) for c in promised}
    clashes = {(a, b) for a in promised for b in promised if a < b and shapes[a] == shapes[b]}
    assert clashes == set()
    assert _glyph(" ") == ()
    assert _glyph("~") == _UNKNOWN != ()
    assert _glyph("é") == _UNKNOWN


# --- the simulator's pacing chart ------------------------------------------------------------


def test_the_pacing_chart_draws_the_greedy_bound_in_a_colour_of_its_own() -> None:
    from frolic_tools.sim.metrics import _BOUND_COLOUR, pacing_chart

    schedule = [float(s + 1) for s in range(120)]
    issued = {"issued": [s // 2 for s in range(120)]}
    without = decode_png(pacing_chart("t", schedule, issued))
    with_bound = decode_png(pacing_chart("t", schedule, issued, bound=[s for s in range(120)]))
    assert without.count(_BOUND_COLOUR) == 0
    assert with_bound.count(_BOUND_COLOUR) > 100


def test_a_week_long_pacing_chart_draws_a_few_thousand_points_ending_at_the_close(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Given curves of every second of a week
    from frolic_tools.sim import metrics

    drawn: list[Series] = []

    def spy(series: Sequence[Series], **labels: str) -> bytes:
        drawn.extend(series)
        return b""

    monkeypatch.setattr(metrics, "render_line_chart", spy)
    week = 7 * 24 * 3600
    curve = list(range(week))
    # When charted
    metrics.pacing_chart("week", [float(n) for n in curve], {"issued": curve}, bound=curve)
    # Then each curve is thinned to a few points per pixel, and still ends at the close
    assert len(drawn) == 3
    for series in drawn:
        assert len(series.points) <= metrics.CHART_POINTS + 1
        assert series.points[-1] == (week / 60, week - 1)
