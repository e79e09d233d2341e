"""Pacing measures (docs/architecture.md § Measures) computed from a simulation run, beside the
least leftover and shortfall any allocator under the schedule cap could have had on the
same trace (sim.bound): what is left beyond those is the pacing's own doing."""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from frolic_tools.chart import Series, line_chart
from frolic_tools.sim.bound import greedy_curve
from frolic_tools.sim.simulator import SimulationRun

if TYPE_CHECKING:
    from matplotlib.figure import Figure

DECILES = 10


@dataclass(frozen=True, slots=True)
class PacingReport:
    policy: str
    plays: int
    wins: int
    issued: int
    budget: int
    overspend: int
    max_deviation_pct: float
    leftover_pct: float
    #: Largest gap by which the issued curve fell below the schedule, % of budget.
    max_shortfall_pct: float
    #: The same two measures for greedy under the schedule cap: the least possible.
    least_leftover_pct: float
    least_max_shortfall_pct: float
    exhausted_at_pct: float | None
    #: None when some tenth of the window had plays but no winner (the spread is infinite).
    decile_win_rate_spread: float | None
    winner_position_mean: float | None
    issued_curve: list[int]
    schedule_curve: list[float]
    #: Greedy's coupons out by each second: the most any allocator under the cap can have.
    bound_curve: list[int]

    @property
    def excess_leftover_pct(self) -> float:
        return self.leftover_pct - self.least_leftover_pct

    @property
    def excess_shortfall_pct(self) -> float:
        return self.max_shortfall_pct - self.least_max_shortfall_pct

    def to_json(self) -> dict[str, Any]:
        return {
            "policy": self.policy,
            "plays": self.plays,
            "wins": self.wins,
            "issued": self.issued,
            "budget": self.budget,
            "overspend": self.overspend,
            "max_deviation_pct": round(self.max_deviation_pct, 4),
            "leftover_pct": round(self.leftover_pct, 4),
            "max_shortfall_pct": round(self.max_shortfall_pct, 4),
            "least_leftover_pct": round(self.least_leftover_pct, 4),
            "least_max_shortfall_pct": round(self.least_max_shortfall_pct, 4),
            "excess_leftover_pct": round(self.excess_leftover_pct, 4),
            "excess_shortfall_pct": round(self.excess_shortfall_pct, 4),
            "exhausted_at_pct": _rounded(self.exhausted_at_pct),
            "decile_win_rate_spread": _rounded(self.decile_win_rate_spread),
            "winner_position_mean": _rounded(self.winner_position_mean),
            "issued_curve": self.issued_curve,
        }


def _rounded(value: float | None) -> float | None:
    return None if value is None else round(value, 4)


def measure(run: SimulationRun) -> PacingReport:
    duration = len(run.plays_per_second)
    budget = sum(run.budget_by_brand.values())
    issued_curve = list(itertools.accumulate(run.coupons_per_second))
    schedule_curve = [budget * run.schedule.fraction(s + 1) for s in range(duration)]
    issued = issued_curve[-1] if issued_curve else 0
    deviation = max(
        (abs(done - due) for done, due in zip(issued_curve, schedule_curve, strict=True)),
        default=0.0,
    )
    exhausted_at = next(
        (100.0 * (s + 1) / duration for s, done in enumerate(issued_curve) if done >= budget),
        None,
    )
    wins = sum(run.winning_plays_per_second)
    config = run.config
    bound_curve = greedy_curve(
        run.plays_per_second,
        run.schedule,
        run.budget_by_brand.values(),
        slack_pct=config.slack_pct,
        counters=config.sub_budgets,
    )
    return PacingReport(
        policy=run.config.policy,
        plays=sum(run.plays_per_second),
        wins=wins,
        issued=issued,
        budget=budget,
        overspend=sum(
            max(0, run.issued_by_brand.get(brand, 0) - allowed)
            for brand, allowed in run.budget_by_brand.items()
        ),
        max_deviation_pct=100.0 * deviation / budget if budget else 0.0,
        leftover_pct=_leftover_pct(issued_curve, budget),
        max_shortfall_pct=_max_shortfall_pct(issued_curve, schedule_curve, budget),
        least_leftover_pct=_leftover_pct(bound_curve, budget),
        least_max_shortfall_pct=_max_shortfall_pct(bound_curve, schedule_curve, budget),
        exhausted_at_pct=exhausted_at if budget else None,
        decile_win_rate_spread=decile_spread(run),
        winner_position_mean=run.winner_position_sum / wins if wins else None,
        issued_curve=issued_curve,
        schedule_curve=schedule_curve,
        bound_curve=bound_curve,
    )


def _leftover_pct(issued_curve: list[int], budget: int) -> float:
    issued = issued_curve[-1] if issued_curve else 0
    return 100.0 * max(0, budget - issued) / budget if budget else 0.0


def _max_shortfall_pct(issued_curve: list[int], schedule_curve: list[float], budget: int) -> float:
    """How far, at worst, the coupons out by a second's end lagged what it released."""
    lag = max(
        (due - done for done, due in zip(issued_curve, schedule_curve, strict=True)),
        default=0.0,
    )
    return 100.0 * max(0.0, lag) / budget if budget else 0.0


def decile_spread(run: SimulationRun) -> float | None:
    """Max over min per-play win rate across the ten tenths of the window.

    Tenths without plays say nothing about fairness and are left out.
    """
    duration = len(run.plays_per_second)
    rates = []
    for tenth in range(DECILES):
        seconds = slice(tenth * duration // DECILES, (tenth + 1) * duration // DECILES)
        plays = sum(run.plays_per_second[seconds])
        if plays:
            rates.append(sum(run.winning_plays_per_second[seconds]) / plays)
    if not rates:
        return None
    lowest = min(rates)
    return max(rates) / lowest if lowest > 0 else None


_ISSUED_COLOURS = ("tab:red", "tab:blue", "tab:green")
SCHEDULE_COLOUR = "tab:gray"
BOUND_COLOUR = "tab:purple"
BOUND_LABEL = "greedy under the cap (most out possible)"
#: Points drawn per curve at most: a few per pixel column of the chart.
CHART_POINTS = 3600
#: Windows longer than this (in seconds) are charted in hours rather than minutes.
LONG_WINDOW = 6 * 3600


def pacing_chart(
    title: str,
    schedule: list[float],
    issued: dict[str, list[int]],
    bound: list[int] | None = None,
) -> Figure:
    """Issued coupons (one curve per label) against the release schedule and, if given,
    the greedy bound.

    A week-long window has 604,800 seconds; the curves are cumulative, so every k-th
    second draws the same picture at a fraction of the memory and time. Counts of coupons
    are drawn as steps; the schedule releases continuously, so it is a line.
    """
    step = max(1, len(schedule) // CHART_POINTS)
    seconds = list(range(step - 1, len(schedule), step))
    if seconds and seconds[-1] != len(schedule) - 1:
        seconds.append(len(schedule) - 1)
    unit, unit_seconds = ("h", 3600) if len(schedule) > LONG_WINDOW else ("min", 60)
    times = [(second + 1) / unit_seconds for second in seconds]

    def points(curve: list[int] | list[float]) -> list[tuple[float, float]]:
        # Nothing is released or issued when the game opens.
        return [(0.0, 0.0), *zip(times, (curve[second] for second in seconds), strict=True)]

    series = [Series("release schedule", points(schedule), SCHEDULE_COLOUR, dashed=True)]
    if bound is not None:
        series.append(Series(BOUND_LABEL, points(bound), BOUND_COLOUR, dashed=True, steps=True))
    for (label, curve), colour in zip(issued.items(), _ISSUED_COLOURS, strict=False):
        series.append(Series(label, points(curve), colour, steps=True))
    return line_chart(
        series, title=title, x_label=f"time into the game ({unit})", y_label="coupons issued"
    )
