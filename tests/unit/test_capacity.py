"""`frolic capacity`: the fewest shards and counters that fit, and honest figures."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from frolic_tools.cli import main
from frolic_tools.sim.capacity import (
    HEADROOM,
    ITEM_WRITE_UNITS_PER_SECOND,
    SHARD_RECORDS_PER_SECOND,
    plan_capacity,
)
from frolic_tools.sim.simulator import SimulationConfig
from frolic_tools.sim.traffic import generate_trace


@pytest.mark.slow
def test_a_hot_game_gets_the_fewest_shards_that_fit() -> None:
    # Given 2,500 plays/s for 30 s with a 10 % win rate
    trace = generate_trace("flat", seconds=30, rate=2500, seed=3)
    config = SimulationConfig(budget=7_500)
    report = plan_capacity(trace, config)
    # Then every AWS limit is kept with headroom, and no coupon goes beyond the budget
    assert report.peak_records_per_shard_s <= SHARD_RECORDS_PER_SECOND * HEADROOM
    assert report.peak_write_units_per_item_s <= ITEM_WRITE_UNITS_PER_SECOND * HEADROOM
    assert report.pacing.overspend == 0
    assert report.shards > 1
    # And one shard fewer would put a shard over the line
    fewer = plan_capacity(trace, config, shards=report.shards - 1, sub_budgets=report.sub_budgets)
    assert fewer.peak_records_per_shard_s > SHARD_RECORDS_PER_SECOND * HEADROOM


def test_racing_allocators_are_measured_not_assumed() -> None:
    # Given a game whose winners all go through one counter, decided by four allocators
    trace = generate_trace("flat", seconds=20, rate=400, seed=5)
    report = plan_capacity(trace, SimulationConfig(budget=800), shards=4, sub_budgets=1)
    # Then the model times every play, and no coupon goes beyond the budget
    assert report.decision_p50_s is not None and report.decision_p99_s is not None
    assert 0 < report.decision_p50_s <= report.decision_p99_s
    assert report.iterator_age_p99_s is not None and report.iterator_age_p99_s > 0
    assert report.pacing.overspend == 0
    # And every write is paid for: each result, each winner's win slot, and per batch
    # the arrival count and the leases on top
    wins, plays = report.pacing.wins, report.pacing.plays
    assert report.write_units_per_play > 1 + wins / plays


def test_allocators_that_all_start_a_hot_game_at_once_race_for_its_first_room() -> None:
    # Given a hot game's first seconds: the rate is not known yet, and sixteen allocators
    # each see the whole room under the cap
    trace = generate_trace("flat", seconds=4, rate=4000, seed=5)
    report = plan_capacity(trace, SimulationConfig(budget=1600), shards=16, sub_budgets=1)
    # Then leases find the room taken: the model counts the races and the winners lost
    assert report.conflict_pct > 0
    assert report.lost_to_conflict > 0
    assert report.pacing.overspend == 0


def test_given_numbers_are_used_as_they_are_and_a_misfit_is_reported(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    trace = generate_trace("flat", seconds=20, rate=1500, seed=1)
    path = tmp_path / "busy.txt"
    path.write_text("\n".join(map(str, trace)))
    code = main(
        [
            "capacity",
            "--traffic",
            str(path),
            "--budget",
            "3000",
            "--shards",
            "1",
            "--sub-budgets",
            "2",
            "--json",
        ]
    )
    assert code == 0
    report = json.loads(capsys.readouterr().out)
    assert (report["shards"], report["sub_budgets"]) == (1, 2)
    assert report["peak_records_per_shard_s"] == max(trace)
    assert report["fits"] is False  # one shard cannot take 1,500 records/s
    for field in (
        "peak_mib_per_shard_s",
        "peak_write_units_per_item_s",
        "allocator_concurrency",
        "cost_usd_per_million_plays",
        "max_deviation_pct",
        "issued_curve",
        "overspend",
        "leftover_pct",
        "decision_p50_s",
        "decision_p99_s",
        "expired_pct",
        "conflict_pct",
        "lost_to_conflict",
        "write_units_per_play",
        "peak_winners_per_counter_s",
        "iterator_age_p99_s",
    ):
        assert field in report


def test_a_quiet_game_needs_one_shard_and_one_counter(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "quiet.txt"
    path.write_text("\n".join(["20"] * 120))
    assert main(["capacity", "--traffic", str(path), "--budget", "100"]) == 0
    out = capsys.readouterr().out
    assert "fits AWS's limits" in out
    assert "kinesis shards         1 " in out
    assert "budget counters        1 per brand" in out


@pytest.mark.parametrize(
    "argv",
    [
        ["capacity", "--traffic", "missing.txt", "--budget", "10"],
        ["capacity", "--traffic", "x", "--budget", "10", "--sub-budgets", "0"],
        ["capacity", "--traffic", "x", "--budget", "10", "--shards", "-1"],
    ],
)
def test_mistakes_get_one_line_and_exit_2(
    argv: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(argv) == 2
    assert len(capsys.readouterr().err.strip().splitlines()) == 1
