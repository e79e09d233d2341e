"""Line charts for reports and benchmark runs, drawn by matplotlib on its Agg canvas.

A chart is a matplotlib `Figure` until `write_png` saves it, so tests can read back what
was plotted. matplotlib is a dev dependency, like the rest of the tooling's libraries; it
is imported only when a chart is drawn, which keeps `frolic --help` and `--json` runs from
paying for its import. No pyplot: its global registry of figures would keep every chart
alive, and the Agg canvas renders without a display.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from matplotlib.figure import Figure
    from matplotlib.ticker import Formatter

#: 1200 x 675 px at 150 dpi: 8 x 4.5 inches, sharp on a laptop and in a README.
WIDTH = 1200
HEIGHT = 675
DPI = 150


@dataclass(frozen=True)
class Series:
    """One curve: its legend label, (x, y) points in drawing order and how to stroke it.

    A y of None (a missed sample) or a non-finite value leaves a gap in the curve, since
    bridging it would invent data. `color` is any matplotlib colour, e.g. "tab:red".
    """

    label: str
    points: Sequence[tuple[float, float | None]]
    color: str
    dashed: bool = False
    #: Hold each value until the next point, as a counter read now and then does, rather
    #: than joining the points with straight lines.
    steps: bool = False


def line_chart(
    series: Sequence[Series],
    *,
    title: str,
    x_label: str,
    y_label: str,
    width: int = WIDTH,
    height: int = HEIGHT,
) -> Figure:
    """The series on one pair of axes, with title, axis labels, legend and a light grid.

    The x axis hugs the data; the y axis starts at 0 unless some value is negative, so
    counts are never drawn from a misleading baseline.
    """
    import numpy as np  # noqa: PLC0415  (see the module docstring)
    from matplotlib.backends.backend_agg import FigureCanvasAgg  # noqa: PLC0415
    from matplotlib.figure import Figure  # noqa: PLC0415

    figure = Figure(figsize=(width / DPI, height / DPI), dpi=DPI, layout="constrained")
    FigureCanvasAgg(figure)
    axes = figure.add_subplot()
    lowest = highest = 0.0
    for curve in series:
        xy = np.array(curve.points, dtype=float).reshape(-1, 2)
        xy[~np.isfinite(xy)] = np.nan  # NaN is matplotlib's gap; inf would break the limits
        placed = np.isfinite(xy).all(axis=1)
        if placed.any():
            lowest = min(lowest, float(xy[placed, 1].min()))
            highest = max(highest, float(xy[placed, 1].max()))
        axes.plot(
            xy[:, 0],
            xy[:, 1],
            label=curve.label,
            color=curve.color,
            linestyle="--" if curve.dashed else "-",
            drawstyle="steps-post" if curve.steps else "default",
            linewidth=1.6,
            # A lone point is no line at all; a dot shows it.
            marker="o" if placed.sum() == 1 else "",
        )
    axes.set_title(title, fontsize="large")
    axes.set_xlabel(x_label)
    axes.set_ylabel(y_label)
    axes.margins(x=0)
    if lowest == 0:
        # All zero (nothing issued yet) would otherwise get a hair-thin axis up to 0.055.
        axes.set_ylim(0, axes.get_ylim()[1] if highest > 0 else 1)
    for axis in (axes.xaxis, axes.yaxis):
        axis.set_major_formatter(_plain_ticks())
    axes.grid(True, color="0.9", linewidth=0.8)
    axes.set_axisbelow(True)
    axes.spines[["top", "right"]].set_visible(False)
    if series:
        axes.legend(loc="best", fontsize="small", framealpha=0.9)
    return figure


def _plain_ticks() -> Formatter:
    """Tick labels with thousands grouped, one number of decimals along an axis (0.0, 0.5,
    1.0 rather than 0, 0.5, 1), and never an offset or 1e6 that readers must apply."""
    from matplotlib.ticker import Formatter  # noqa: PLC0415  (see the module docstring)

    class PlainTicks(Formatter):
        def __call__(self, x: float, pos: int | None = None) -> str:
            return self.format_ticks([x])[0]

        def format_ticks(self, values: Sequence[float]) -> list[str]:
            decimals = max((_decimals(v) for v in values), default=0)
            # Adding 0.0 turns the -0.0 that rounding may leave into 0.0.
            return [f"{round(v, decimals) + 0.0:,.{decimals}f}" for v in values]

    return PlainTicks()


def _decimals(value: float) -> int:
    """The fewest decimals (up to 6) that show the value, float noise aside."""
    return next(
        (d for d in range(6) if abs(round(value, d) - value) <= 1e-9 * max(1.0, abs(value))), 6
    )


def write_png(figure: Figure, path: Path) -> None:
    """Save the chart as a PNG of exactly the figure's pixel size."""
    figure.savefig(path, format="png")
