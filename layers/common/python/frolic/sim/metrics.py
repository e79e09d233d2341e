"""The pacing measures of ARCHITECTURE §3, computed from a simulation run."""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Any

from frolic.chart import Series, render_line_chart
from frolic.sim.simulator import SimulationRun

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
    exhausted_at_pct: float | None
    #: None when some tenth of the window had plays but no winner (the spread is infinite).
    decile_win_rate_spread: float | None
    winner_position_mean: float | None
    issued_curve: list[int]
    schedule_curve: list[float]

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
    positions = run.winner_positions
    return PacingReport(
        policy=run.config.policy,
        plays=sum(run.plays_per_second),
        wins=sum(run.winning_plays_per_second),
        issued=issued,
        budget=budget,
        overspend=sum(
            max(0, run.issued_by_brand.get(brand, 0) - allowed)
            for brand, allowed in run.budget_by_brand.items()
        ),
        max_deviation_pct=100.0 * deviation / budget if budget else 0.0,
        leftover_pct=100.0 * max(0, budget - issued) / budget if budget else 0.0,
        exhausted_at_pct=exhausted_at if budget else None,
        decile_win_rate_spread=decile_spread(run),
        winner_position_mean=sum(positions) / len(positions) if positions else None,
        issued_curve=issued_curve,
        schedule_curve=schedule_curve,
    )


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


_ISSUED_COLOURS = ((220, 60, 40), (60, 110, 220), (40, 160, 90))


def pacing_chart(title: str, schedule: list[float], issued: dict[str, list[int]]) -> bytes:
    """A PNG of issued coupons (one curve per label) against the release schedule."""
    minutes = [(second + 1) / 60 for second in range(len(schedule))]
    series = [
        Series(
            "release schedule",
            list(zip(minutes, schedule, strict=True)),
            (150, 150, 150),
            dashed=True,
        )
    ]
    for (label, curve), colour in zip(issued.items(), _ISSUED_COLOURS, strict=False):
        series.append(Series(label, list(zip(minutes, curve, strict=True)), colour))
    return render_line_chart(
        series, title=title, x_label="minutes into the game", y_label="coupons issued"
    )
