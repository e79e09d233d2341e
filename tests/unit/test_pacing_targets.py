"""The pacing targets of the foundation issue, on the recorded traces and on synthetic
shapes the policy was never tuned on."""

from pathlib import Path

import pytest

from frolic.sim.metrics import PacingReport, measure
from frolic.sim.simulator import SimulationConfig, simulate
from frolic.sim.traffic import generate_trace, read_trace

TRAFFIC = Path(__file__).parents[1] / "data" / "traffic"
MAX_DEVIATION = {"flat": 0.5, "ramp": 0.5, "opening_rush": 1.5, "sparse": 1.0}


def _run(trace: list[int], budget: int = 1000, **config: object) -> PacingReport:
    return measure(simulate(trace, SimulationConfig(budget=budget, **config)))  # type: ignore[arg-type]


@pytest.mark.slow
@pytest.mark.parametrize("shards", [1, 4])
@pytest.mark.parametrize("name", sorted(MAX_DEVIATION))
def test_recorded_traces_meet_the_pacing_targets(name: str, shards: int) -> None:
    trace = read_trace(TRAFFIC / f"{name}.txt")
    report = _run(trace, shards=shards)
    assert report.overspend == 0
    assert report.max_deviation_pct <= MAX_DEVIATION[name]
    if sum(trace) >= 2 * report.budget:
        assert report.leftover_pct <= 0.5
    if name != "sparse":
        assert report.winner_position_mean is not None
        assert 0.45 <= report.winner_position_mean <= 0.55
    if name == "flat":
        assert report.decile_win_rate_spread is not None
        assert report.decile_win_rate_spread <= 1.15


@pytest.mark.slow
def test_the_seed_rule_runs_out_early_on_flat_traffic() -> None:
    report = _run(read_trace(TRAFFIC / "flat.txt"), policy="seed")
    assert report.exhausted_at_pct is not None
    assert report.exhausted_at_pct < 15


@pytest.mark.slow
@pytest.mark.parametrize("shape", ["flat", "ramp", "rush", "waves"])
def test_unseen_shapes_stay_on_schedule(shape: str) -> None:
    trace = generate_trace(shape, seconds=1800, rate=30, seed=11)
    report = _run(trace, shards=3, seed=5)
    assert report.overspend == 0
    assert report.max_deviation_pct <= 1.0
    assert report.leftover_pct <= 0.5
    assert report.winner_position_mean is not None
    assert 0.45 <= report.winner_position_mean <= 0.55


def test_after_an_idle_stretch_the_backlog_is_spread_not_dumped_and_all_goes_out() -> None:
    # Given nobody plays for the first half of the game, then 50 plays/s
    trace = [0] * 1800 + [50] * 1800
    report = _run(trace)
    issued = report.issued_curve
    # Then the first minute of play pays back about a minute of release, not 500
    first_minute = issued[1859] - issued[1799]
    assert first_minute < 60
    # And the rest of the backlog goes out along the rest of the window, to the last
    tenths = [issued[1800 + 180 * (i + 1) - 1] - issued[1800 + 180 * i - 1] for i in range(1, 10)]
    assert max(tenths) / min(tenths) < 1.5
    assert report.leftover_pct == 0


def test_plays_only_at_the_very_end_still_get_every_coupon() -> None:
    trace = [0] * 590 + [40] * 10
    report = (
        _run(trace, budget=100) if False else measure(simulate(trace, SimulationConfig(budget=100)))
    )
    assert report.issued == 100
    assert report.overspend == 0
