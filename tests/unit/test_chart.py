"""Tests for the charts: the PNG on disk, and what each chart plots.

What a chart shows is read back from its matplotlib Figure (titles, legend, each line's
points and stroke); the PNG is checked with Pillow, matplotlib's own image library, for
being a sound PNG of the promised pixel size with the curves' colours in it.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest
from matplotlib.axes import Axes
from matplotlib.colors import to_hex, to_rgb
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from PIL import Image

from frolic_tools.chart import HEIGHT, WIDTH, Series, line_chart, write_png
from frolic_tools.crowd.report import PERCENTILES, CrowdReport, IssuedSample, PlayRecord
from frolic_tools.sim import metrics


def chart(series: Sequence[Series], **size: int) -> Figure:
    return line_chart(series, title="Coupons out", x_label="time (min)", y_label="coupons", **size)


def axes_of(figure: Figure) -> Axes:
    (axes,) = figure.axes
    return axes


def line_labelled(figure: Figure, label: str) -> Line2D:
    (line,) = [line for line in axes_of(figure).get_lines() if line.get_label() == label]
    return line


def plotted(line: Line2D) -> list[list[float]]:
    """The line's (x, y) points as given, whatever its drawstyle does between them."""
    points: list[list[float]] = np.asarray(line.get_xydata(), dtype=float).tolist()
    return points


def rising(n: int) -> list[tuple[float, float]]:
    return [(float(i), 2.0 * i) for i in range(n)]


def saved(figure: Figure, tmp_path: Path) -> Image.Image:
    """The chart as written to disk, after Pillow has checked the PNG's structure."""
    path = tmp_path / "chart.png"
    write_png(figure, path)
    with Image.open(path) as image:
        image.verify()  # chunk CRCs and layout; the image must be reopened to be read
    with Image.open(path) as image:
        assert image.format == "PNG"
        return image.convert("RGB")


# --- the PNG ------------------------------------------------------------------------------


@pytest.mark.parametrize(("width", "height"), [(WIDTH, HEIGHT), (640, 360), (901, 487)])
def test_the_png_has_the_requested_pixel_size(tmp_path: Path, width: int, height: int) -> None:
    figure = chart([Series("a", rising(10), "tab:red")], width=width, height=height)

    assert saved(figure, tmp_path).size == (width, height)


def test_the_png_shows_every_series_in_its_own_colour_and_no_other(tmp_path: Path) -> None:
    # Given a rising and a falling series in two colours
    falling = [(x, 100.0 - y) for x, y in rising(50)]
    figure = chart([Series("up", rising(50), "tab:red"), Series("down", falling, "tab:blue")])

    # When written
    pixels = np.asarray(saved(figure, tmp_path), dtype=float)

    def inked(colour: str) -> int:
        """Pixels of about this colour: antialiasing blends a line's edges with the white."""
        rgb = np.multiply(to_rgb(colour), 255)
        return int((np.linalg.norm(pixels - rgb, axis=2) < 30).sum())

    # Then both colours are inked in line-sized quantities, and a third is not
    assert inked("tab:red") > 2000
    assert inked("tab:blue") > 2000
    assert inked("tab:green") == 0


def test_an_unwritable_path_raises_os_error(tmp_path: Path) -> None:
    with pytest.raises(OSError):
        write_png(chart([]), tmp_path / "no-such-dir" / "chart.png")


# --- what the chart shows -------------------------------------------------------------------


def test_title_axis_labels_and_one_legend_entry_per_series() -> None:
    figure = chart([Series("issued", rising(5), "tab:red"), Series("due", rising(5), "tab:gray")])

    axes = axes_of(figure)
    assert axes.get_title() == "Coupons out"
    assert (axes.get_xlabel(), axes.get_ylabel()) == ("time (min)", "coupons")
    legend = axes.get_legend()
    assert legend is not None
    assert [text.get_text() for text in legend.get_texts()] == ["issued", "due"]


def test_each_line_carries_its_points_colour_and_stroke() -> None:
    # Given a solid line, a dashed one and a step curve
    points = [(0.0, 1.0), (1.5, 4.0), (3.0, 2.0)]
    figure = chart(
        [
            Series("solid", points, "tab:red"),
            Series("dashed", points, "tab:gray", dashed=True),
            Series("steps", points, "tab:blue", steps=True),
        ]
    )

    # Then each line holds exactly the points given, stroked as asked
    strokes = {}
    for label in ("solid", "dashed", "steps"):
        line = line_labelled(figure, label)
        assert plotted(line) == [list(p) for p in points]
        strokes[label] = (to_hex(line.get_color()), line.get_linestyle(), line.get_drawstyle())
    assert strokes == {
        "solid": (to_hex("tab:red"), "-", "default"),
        "dashed": (to_hex("tab:gray"), "--", "default"),
        "steps": (to_hex("tab:blue"), "-", "steps-post"),
    }


def test_counts_are_drawn_from_zero_and_the_x_axis_hugs_the_data() -> None:
    figure = chart([Series("a", [(10.0, 500.0), (20.0, 900.0)], "tab:red")])

    axes = axes_of(figure)
    assert axes.get_xlim() == (10.0, 20.0)
    bottom, top = axes.get_ylim()
    assert bottom == 0
    assert top > 900


def test_negative_values_move_the_baseline_below_zero() -> None:
    figure = chart([Series("a", [(0.0, -40.0), (1.0, 10.0)], "tab:red")])
    figure.canvas.draw()

    axes = axes_of(figure)
    assert axes.get_ylim()[0] < -40
    labels = [label.get_text() for label in axes.get_yticklabels()]
    assert "0" in labels
    assert "-0" not in labels


def test_all_zero_counts_get_a_whole_unit_of_axis() -> None:
    figure = chart([Series("nothing yet", [(0.0, 0.0), (5.0, 0.0)], "tab:red")])

    assert axes_of(figure).get_ylim() == (0, 1)


def test_large_and_fractional_ticks_read_plainly() -> None:
    # Given coupons in the millions over a fraction of a minute
    figure = chart([Series("a", [(0.0, 0.0), (0.3, 2_500_000.0)], "tab:red")])

    # When drawn
    figure.canvas.draw()

    # Then ticks are grouped and rounded, with no 1e6 offset or float noise
    axes = axes_of(figure)
    y_labels = [label.get_text() for label in axes.get_yticklabels()]
    x_labels = [label.get_text() for label in axes.get_xticklabels()]
    assert "2,000,000" in y_labels
    assert y_labels[0] == "0"
    assert [float(label) for label in x_labels] == pytest.approx(list(axes.get_xticks()))
    decimals = {len(label.partition(".")[2]) for label in x_labels}
    assert len(decimals) == 1  # one number of decimals along the axis: 0.00, 0.05, 0.10
    assert decimals != {0}
    assert all(len(label) <= len("2,500,000") for label in x_labels + y_labels)
    assert axes.yaxis.get_offset_text().get_text() == ""


# --- edge cases -----------------------------------------------------------------------------


def test_without_series_an_empty_chart_is_drawn(tmp_path: Path) -> None:
    figure = chart([])

    axes = axes_of(figure)
    assert axes.get_lines() == []
    assert axes.get_legend() is None
    assert axes.get_title() == "Coupons out"
    assert saved(figure, tmp_path).size == (WIDTH, HEIGHT)


def test_a_series_without_points_still_has_its_legend_entry(tmp_path: Path) -> None:
    figure = chart([Series("no samples yet", [], "tab:red")])

    legend = axes_of(figure).get_legend()
    assert legend is not None
    assert [text.get_text() for text in legend.get_texts()] == ["no samples yet"]
    saved(figure, tmp_path)


def test_a_single_point_is_marked_while_a_line_is_not() -> None:
    lonely = chart([Series("lonely", [(5.0, 5.0)], "tab:red")])
    pair = chart([Series("pair", rising(2), "tab:red")])

    assert line_labelled(lonely, "lonely").get_marker() == "o"
    assert line_labelled(pair, "pair").get_marker() in ("", "None")
    left, right = axes_of(lonely).get_xlim()
    assert left < 5.0 < right


def test_missing_and_non_finite_values_leave_gaps(tmp_path: Path) -> None:
    # Given a missed sample (None), a NaN and an infinity among finite points
    points: list[tuple[float, float | None]] = [
        (0.0, 1.0),
        (1.0, None),
        (2.0, 2.0),
        (3.0, math.nan),
        (4.0, math.inf),
        (5.0, 3.0),
    ]
    figure = chart([Series("gappy", points, "tab:red")])

    # Then each of them is a gap in the line, and the axes fit only the finite points
    gaps = [math.isnan(y) for _, y in plotted(line_labelled(figure, "gappy"))]
    assert gaps == [False, True, False, True, True, False]
    top = axes_of(figure).get_ylim()[1]
    assert 3.0 < top < 4.0
    saved(figure, tmp_path)


# --- the simulator's pacing chart -----------------------------------------------------------


def test_the_pacing_chart_draws_coupons_as_steps_against_the_schedule() -> None:
    # Given ten minutes of curves
    schedule = [s / 6 for s in range(1, 601)]
    issued = [s // 7 for s in range(600)]

    # When charted
    figure = metrics.pacing_chart("run", schedule, {"frolic": issued, "seed rule": issued})

    # Then the schedule is a dashed line, each issued curve a step curve of its own colour,
    # in minutes from (0, 0) to the last second's count
    axes = axes_of(figure)
    assert axes.get_xlabel() == "time into the game (min)"
    assert line_labelled(figure, "release schedule").get_drawstyle() == "default"
    assert line_labelled(figure, "release schedule").get_linestyle() == "--"
    colours = set()
    for label in ("frolic", "seed rule"):
        line = line_labelled(figure, label)
        xy = plotted(line)
        assert line.get_drawstyle() == "steps-post"
        assert xy[0] == [0.0, 0.0]
        assert xy[-1] == [10.0, issued[-1]]
        colours.add(to_hex(line.get_color()))
    assert len(colours) == 2
    assert metrics.BOUND_LABEL not in [line.get_label() for line in axes.get_lines()]


def test_the_greedy_bound_is_drawn_in_a_colour_of_its_own() -> None:
    schedule = [float(s + 1) for s in range(120)]
    figure = metrics.pacing_chart(
        "t", schedule, {"issued": [s // 2 for s in range(120)]}, bound=list(range(120))
    )

    bound = line_labelled(figure, metrics.BOUND_LABEL)
    others = [line for line in axes_of(figure).get_lines() if line is not bound]
    assert to_hex(bound.get_color()) == to_hex(metrics.BOUND_COLOUR)
    assert to_hex(metrics.BOUND_COLOUR) not in {to_hex(line.get_color()) for line in others}
    assert plotted(bound)[-1] == [2.0, 119.0]


def test_a_week_long_pacing_chart_is_thinned_in_hours_and_ends_at_the_close() -> None:
    # Given curves of every second of a week
    week = 7 * 24 * 3600
    curve = list(range(week))

    # When charted
    figure = metrics.pacing_chart("week", [float(n) for n in curve], {"issued": curve}, curve)

    # Then time is in hours, and each curve is thinned to a few points per pixel column yet
    # still starts at the opening and ends at the close
    assert axes_of(figure).get_xlabel() == "time into the game (h)"
    lines = axes_of(figure).get_lines()
    assert len(lines) == 3
    for line in lines:
        xy = plotted(line)
        assert len(xy) <= metrics.CHART_POINTS + 2
        assert xy[0] == [0.0, 0.0]
        assert xy[-1] == [week / 3600, week - 1]


# --- the crowd's charts ---------------------------------------------------------------------


def crowd_report(latencies: Sequence[float], samples: Sequence[IssuedSample] = ()) -> CrowdReport:
    plays = [
        PlayRecord(f"p{i}", player=i, channel="ws", scheduled=i, sent=i, result_at=i + latency)
        for i, latency in enumerate(latencies)
    ]
    for play in plays:
        play.status = "lost"
    return CrowdReport(
        api="http://127.0.0.1:1",
        game_id="g1",
        players=len(plays),
        ws_players=len(plays),
        rate=1.0,
        duration=60.0,
        rush_multiplier=1.0,
        rush_seconds=0.0,
        seed=1,
        plays=plays,
        arrivals=len(plays),
        skipped_no_idle=0,
        elapsed=60.0,
        sending_seconds=60.0,
        samples=list(samples),
        schedule=[(0.0, 0.0), (60.0, 30.0)] if samples else [],
    )


def test_the_latency_chart_is_the_step_cdf_of_answered_plays() -> None:
    # Given four answered plays
    report = crowd_report([0.25, 0.5, 0.125, 1.0])

    # When charted
    figure = report.latency_chart()

    # Then it climbs from 0 to 100 % in one step per play, at each play's latency
    assert figure is not None
    (line,) = axes_of(figure).get_lines()
    assert line.get_drawstyle() == "steps-post"
    assert plotted(line) == [
        [0.0, 0.0],
        [0.125, 25.0],
        [0.25, 50.0],
        [0.5, 75.0],
        [1.0, 100.0],
    ]
    # And the legend gives the count and the percentiles the summary prints
    label = str(line.get_label())
    assert label.startswith("4 answered plays")
    assert all(f"p{pct} " in label for pct in PERCENTILES)
    assert "p99 1.000 s" in label


def test_the_crowd_pacing_chart_steps_through_the_admin_samples() -> None:
    samples = [IssuedSample(seconds=s, issued=s // 3, scheduled=s / 2) for s in range(0, 61, 2)]
    figure = crowd_report([0.1], samples).pacing_chart()

    assert figure is not None
    sampled = line_labelled(figure, "issued (admin report, every 2 s)")
    assert sampled.get_drawstyle() == "steps-post"
    assert plotted(sampled)[-1] == [1.0, 20.0]


def test_crowd_charts_without_data_are_not_drawn() -> None:
    report = crowd_report([])

    assert report.latency_chart() is None
    assert report.pacing_chart() is None
