"""`frolic capacity`: the fewest shards and counters that fit, and honest figures."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from frolic.cli import main
from frolic.sim.capacity import (
    HEADROOM,
    ITEM_WRITE_UNITS_PER_SECOND,
    SHARD_RECORDS_PER_SECOND,
    plan_capacity,
)
from frolic.sim.simulator import SimulationConfig
from frolic.sim.traffic import generate_trace


@pytest.mark.slow
def test_a_hot_game_gets_the_fewest_counters_and_shards_that_fit() -> None:
    # Given 4,000 plays/s for 90 s with a 20 % win rate: ~800 winners/s
    trace = generate_trace("flat", seconds=90, rate=4000, seed=3)
    config = SimulationConfig(budget=72_000)
    report = plan_capacity(trace, config)
    # Then every figure is under its limit with headroom, and pacing still holds
    assert report.fits
    assert report.peak_records_per_shard_s <= SHARD_RECORDS_PER_SECOND * HEADROOM
    assert report.peak_write_units_per_item_s <= ITEM_WRITE_UNITS_PER_SECOND * HEADROOM
    assert report.sub_budgets > 1
    assert report.pacing.overspend == 0
    assert report.pacing.leftover_pct <= 0.5
    # And one counter fewer would put the hottest budget item over the line
    fewer = plan_capacity(trace, config, shards=report.shards, sub_budgets=report.sub_budgets - 1)
    assert fewer.peak_write_units_per_item_s > ITEM_WRITE_UNITS_PER_SECOND * HEADROOM


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
