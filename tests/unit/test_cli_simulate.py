"""Tests for `frolic simulate`: usage errors, the JSON report, the summary and the chart."""

from __future__ import annotations

import itertools
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from frolic_tools.cli import main

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
EXIT_USAGE = 2
JSON_KEYS = {
    "plays",
    "wins",
    "budget",
    "overspend",
    "max_deviation_pct",
    "leftover_pct",
    "max_shortfall_pct",
    "least_leftover_pct",
    "least_max_shortfall_pct",
    "excess_leftover_pct",
    "excess_shortfall_pct",
    "exhausted_at_pct",
    "decile_win_rate_spread",
    "winner_position_mean",
    "issued_curve",
}

#: A small bursty trace: quiet seconds, a spike, a tail (deterministic, no RNG).
BURSTY = [(7 * s) % 13 + (40 if 20 <= s < 25 else 0) for s in range(90)]
#: The docs/architecture.md § Pacing example, shrunk: flat 50 plays/s for ten minutes.
FLAT = [50] * 600


def write_trace(directory: Path, counts: list[int], name: str = "trace.txt") -> Path:
    path = directory / name
    path.write_text("".join(f"{n}\n" for n in counts), encoding="utf-8")
    return path


def run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main(argv)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def simulate_json(
    capsys: pytest.CaptureFixture[str], trace: Path, *options: str, budget: int = 100
) -> dict[str, Any]:
    argv = ["simulate", "--traffic", str(trace), "--budget", str(budget), "--json", *options]
    code, out, err = run(argv, capsys)
    assert code == 0, err
    assert err == ""
    lines = out.splitlines()
    assert len(lines) == 1, "--json prints exactly one line"
    report = json.loads(lines[0])
    assert isinstance(report, dict)
    return report


@pytest.fixture
def trace(tmp_path: Path) -> Path:
    return write_trace(tmp_path, [3, 0, 5, 2, 8, 1])


# --- usage errors: one line on stderr, exit 2 --------------------------------------------


def assert_one_line_usage_error(code: int, out: str, err: str, *expected: str) -> None:
    assert code == EXIT_USAGE
    assert out == ""
    assert err.endswith("\n")
    lines = err.splitlines()
    assert len(lines) == 1, f"expected one line on stderr, got {err!r}"
    for fragment in expected:
        assert fragment in lines[0], f"{fragment!r} not in {lines[0]!r}"


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (b"", ["no lines"]),
        (b"3\n\n4\n", ["line 2", "empty line"]),
        (b"3\n4\n   \n", ["line 3", "empty line"]),
        (b"3\n4\n5\nfive\n", ["line 4", "five"]),
        (b"3\n2.5\n", ["line 2", "2.5"]),
        (b"1\n-5\n", ["line 2", "-5"]),
        (b"\x89PNG\r\n\x1a\n\xff\xfe\x00", ["not a text file"]),
        (b"1\n\xff\xfe\n", ["not a text file"]),
        (b"1\n20000000\n", ["line 2", "over the limit"]),
    ],
    ids=[
        "empty-file",
        "blank-line",
        "whitespace-line",
        "word",
        "decimal",
        "negative",
        "binary",
        "non-utf8-line",
        "too-many-plays",
    ],
)
def test_bad_trace_content_is_a_one_line_usage_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], content: bytes, expected: list[str]
) -> None:
    # Given a trace file that is not one non-negative integer a line
    path = tmp_path / "bad.txt"
    path.write_bytes(content)
    # When it is simulated
    code, out, err = run(["simulate", "--traffic", str(path), "--budget", "10"], capsys)
    # Then one line names the file and the problem, and the exit code is 2
    assert_one_line_usage_error(code, out, err, str(path), *expected)


@pytest.mark.parametrize(
    "line",
    ["\u00b2", "9" * 5000],
    ids=["superscript-two", "five-thousand-digits"],
)
def test_digit_like_or_huge_lines_are_one_line_usage_errors(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], line: str
) -> None:
    # Given a line that str.isdigit() accepts but int() refuses ("²" is a digit to
    # isdigit; more than 4,300 digits exceeds Python's int-parsing limit)
    path = tmp_path / "odd.txt"
    path.write_text(f"5\n{line}\n", encoding="utf-8")
    # When it is simulated, Then it is still a usage error naming the line, not a traceback
    code, out, err = run(["simulate", "--traffic", str(path), "--budget", "10"], capsys)
    assert_one_line_usage_error(code, out, err, "line 2")


def test_missing_file_is_a_one_line_usage_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = tmp_path / "nope.txt"
    code, out, err = run(["simulate", "--traffic", str(missing), "--budget", "10"], capsys)
    assert_one_line_usage_error(code, out, err, str(missing), "no such file")


def test_directory_is_a_one_line_usage_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run(["simulate", "--traffic", str(tmp_path), "--budget", "10"], capsys)
    assert_one_line_usage_error(code, out, err, str(tmp_path), "directory")


@pytest.mark.parametrize(
    ("options", "expected"),
    [
        (["--budget", "0"], ["--budget", "0"]),
        (["--budget", "abc"], ["--budget", "abc"]),
        (["--budget", "-3"], ["--budget"]),
        (["--budget", "3", "--brands", "4"], ["--brands", "--budget"]),
        (["--budget", "10", "--brands", "0"], ["--brands"]),
        (["--budget", "10", "--shards", "0"], ["--shards"]),
        (["--budget", "10", "--batch", "0"], ["--batch"]),
        (["--budget", "10", "--players", "0"], ["--players"]),
        (["--budget", "10", "--seed", "-1"], ["--seed"]),
        (["--budget", "10", "--policy", "greedy"], ["--policy", "greedy"]),
        (["--budget", "10", "--frobnicate"], ["--frobnicate"]),
        (["--budget", "10", "--curve", "0,0"], ["--curve", "positive"]),
        (["--budget", "10", "--curve", "1,x"], ["--curve", "1,x"]),
        (["--budget", "10", "--curve", ""], ["--curve"]),
        (["--budget", "10", "--curve=-1,2"], ["--curve"]),
        (["--budget", "10", "--curve", "1,nan"], ["--curve"]),
    ],
    ids=[
        "budget-zero",
        "budget-word",
        "budget-negative",
        "brands-over-budget",
        "brands-zero",
        "shards-zero",
        "batch-zero",
        "players-zero",
        "seed-negative",
        "unknown-policy",
        "unknown-flag",
        "curve-all-zeros",
        "curve-not-numbers",
        "curve-empty",
        "curve-negative",
        "curve-nan",
    ],
)
def test_bad_options_are_one_line_usage_errors(
    trace: Path, capsys: pytest.CaptureFixture[str], options: list[str], expected: list[str]
) -> None:
    code, out, err = run(["simulate", "--traffic", str(trace), *options], capsys)
    assert_one_line_usage_error(code, out, err, *expected)


def test_missing_traffic_is_a_one_line_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(["simulate", "--budget", "10"], capsys)
    assert_one_line_usage_error(code, out, err, "--traffic")


def test_missing_command_is_a_one_line_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run([], capsys)
    assert_one_line_usage_error(code, out, err)


def test_unwritable_chart_is_a_one_line_usage_error(
    trace: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    chart = tmp_path / "no-such-dir" / "chart.png"
    argv = ["simulate", "--traffic", str(trace), "--budget", "10", "--chart", str(chart)]
    code, out, err = run(argv, capsys)
    assert_one_line_usage_error(code, out, err, str(chart))


# --- the JSON report ---------------------------------------------------------------------


def test_json_report_shape_and_consistency(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given a bursty trace and one brand
    path = write_trace(tmp_path, BURSTY)
    # When simulated with --json
    report = simulate_json(capsys, path, budget=40)
    # Then the report has every measure
    assert report.keys() >= JSON_KEYS
    # And it describes this trace and this budget
    curve = report["issued_curve"]
    assert report["plays"] == sum(BURSTY)
    assert report["budget"] == 40
    assert len(curve) == len(BURSTY)
    assert all(isinstance(n, int) for n in curve)
    assert all(a <= b for a, b in itertools.pairwise(curve))
    assert curve[-1] == report["wins"]
    assert report["overspend"] == 0
    assert 0 <= report["wins"] <= report["budget"]
    assert report["leftover_pct"] == pytest.approx(100 * (40 - report["wins"]) / 40, abs=1e-4)
    assert 0 <= report["max_deviation_pct"] <= 100
    assert report["winner_position_mean"] is None or 0 <= report["winner_position_mean"] <= 1
    # And a shortfall is a deviation below the schedule
    assert 0 <= report["max_shortfall_pct"] <= report["max_deviation_pct"]


@pytest.mark.parametrize(
    "options", [[], ["--brands", "3"], ["--curve", "1,4,1"], ["--shards", "3"]]
)
def test_the_excess_is_what_the_policy_leaves_and_lags_beyond_the_least_possible(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], options: list[str]
) -> None:
    # Given a bursty trace with quiet seconds, which no allocator could fully serve
    path = write_trace(tmp_path, BURSTY)
    # When simulated
    report = simulate_json(capsys, path, *options, budget=300)
    # Then the excess figures are the policy's own less the least possible
    least_leftover, least_shortfall = (
        report["least_leftover_pct"],
        report["least_max_shortfall_pct"],
    )
    assert report["excess_leftover_pct"] == pytest.approx(
        report["leftover_pct"] - least_leftover, abs=1e-3
    )
    assert report["excess_shortfall_pct"] == pytest.approx(
        report["max_shortfall_pct"] - least_shortfall, abs=1e-3
    )
    # And Frolic, held to the schedule cap, can do no better than the bound
    assert 0 <= least_leftover <= report["leftover_pct"]
    assert 0 <= least_shortfall <= report["max_shortfall_pct"]
    assert report["excess_leftover_pct"] >= 0
    assert report["excess_shortfall_pct"] >= 0
    # And as nobody plays in the first second, even greedy starts behind the schedule
    assert least_shortfall > 0


def test_json_does_not_write_a_chart(
    trace: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    workdir = tmp_path / "cwd"
    workdir.mkdir()
    monkeypatch.chdir(workdir)
    simulate_json(capsys, trace, budget=5)
    assert list(workdir.iterdir()) == []


def test_a_trace_without_plays(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # Given ten quiet seconds
    path = write_trace(tmp_path, [0] * 10)
    # When simulated
    report = simulate_json(capsys, path, budget=25)
    # Then nothing is issued, everything is left over and nothing is exhausted
    assert report["plays"] == 0
    assert report["wins"] == 0
    assert report["leftover_pct"] == 100
    assert report["exhausted_at_pct"] is None
    assert report["winner_position_mean"] is None
    assert report["issued_curve"] == [0] * 10
    assert report["overspend"] == 0


def test_seed_policy_exhausts_early_and_frolic_follows_the_schedule(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given a flat trace, many more plays than coupons (docs/architecture.md § Pacing, seed rule)
    path = write_trace(tmp_path, FLAT)
    # When both policies run it
    seed = simulate_json(capsys, path, "--policy", "seed", budget=100)
    frolic = simulate_json(capsys, path, "--policy", "frolic", budget=100)
    # Then the seed rule runs out in the first part of the window
    assert seed["exhausted_at_pct"] is not None
    assert seed["exhausted_at_pct"] < 30
    # And frolic spreads the budget along the whole window, close to the straight line
    assert frolic["exhausted_at_pct"] is None or frolic["exhausted_at_pct"] > 90
    assert frolic["max_deviation_pct"] < 3
    assert frolic["overspend"] == 0
    assert frolic["issued_curve"][len(FLAT) // 2 - 1] < frolic["budget"]


def test_same_seed_same_report_other_seed_may_differ(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write_trace(tmp_path, BURSTY)
    first = simulate_json(capsys, path, "--seed", "11", budget=40)
    again = simulate_json(capsys, path, "--seed", "11", budget=40)
    assert first == again

    def outcome(report: dict[str, Any]) -> tuple[Any, ...]:
        return (report["issued_curve"], report["winner_position_mean"])

    others = [simulate_json(capsys, path, "--seed", str(s), budget=40) for s in (12, 13, 14)]
    assert any(outcome(other) != outcome(first) for other in others)


def test_several_brands_split_the_budget_without_overspending(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given 100 coupons split over 3 brands and plenty of plays
    path = write_trace(tmp_path, [30] * 300)
    # When simulated
    report = simulate_json(capsys, path, "--brands", "3", budget=100)
    # Then the brands' budgets add up to the total and none is overspent
    assert report["budget"] == 100
    assert report["overspend"] == 0
    assert report["issued_curve"][-1] <= 100
    # And with plays to the end, what is left goes out (one coupon a play by default)
    assert report["leftover_pct"] == 0
    assert report["wins"] == report["issued_curve"][-1] == 100


def test_few_players_win_at_most_once_each(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given five players sharing every play and the default of one win per player
    players = 5
    path = write_trace(tmp_path, [20] * 120)
    # When simulated with a budget far above the number of players
    report = simulate_json(capsys, path, "--players", str(players), budget=100)
    # Then no more than one win per player
    assert report["plays"] == 20 * 120
    assert report["wins"] <= players
    assert report["issued_curve"][-1] <= players
    assert report["leftover_pct"] >= 100 * (100 - players) / 100


def test_shards_and_small_batches_never_overspend(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given plays spread over 4 shards, polled in batches of 7, and a tight budget
    path = write_trace(tmp_path, BURSTY)
    report = simulate_json(capsys, path, "--shards", "4", "--batch", "7", budget=30)
    # Then the budget holds
    assert report["overspend"] == 0
    assert report["wins"] <= 30
    assert report["plays"] == sum(BURSTY)
    assert len(report["issued_curve"]) == len(BURSTY)
    assert report.get("shards") == 4
    assert report.get("batch") == 7


def test_front_loaded_curve_issues_more_early(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write_trace(tmp_path, [20] * 200)
    straight = simulate_json(capsys, path, budget=60)
    front = simulate_json(capsys, path, "--curve", "3,1", budget=60)
    half = len(straight["issued_curve"]) // 2 - 1
    assert front["issued_curve"][half] > straight["issued_curve"][half]
    assert front["overspend"] == 0


# --- the human summary and the chart -----------------------------------------------------


def test_summary_and_png_chart(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # Given a trace and a chart path
    path = write_trace(tmp_path, BURSTY, name="bursty.txt")
    chart = tmp_path / "out.png"
    # When simulated without --json
    argv = ["simulate", "--traffic", str(path), "--budget", "40", "--chart", str(chart)]
    code, out, err = run(argv, capsys)
    # Then a readable summary names the trace, the policy, the plays and the chart
    assert code == 0, err
    assert err == ""
    assert "bursty.txt" in out
    assert "frolic" in out
    assert f"{sum(BURSTY):,} plays" in out
    assert "budget 40" in out
    assert "max deviation" in out
    assert "least possible" in out
    assert "greedy under the schedule cap" in out
    assert "excess" in out
    assert str(chart) in out
    with pytest.raises(json.JSONDecodeError):
        json.loads(out)
    # And the chart is a PNG
    assert chart.read_bytes().startswith(PNG_SIGNATURE)


def test_default_chart_path_is_named_after_trace_and_policy(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    path = write_trace(tmp_path, [4, 0, 6], name="tiny.txt")
    workdir = tmp_path / "cwd"
    workdir.mkdir()
    monkeypatch.chdir(workdir)
    argv = ["simulate", "--traffic", str(path), "--budget", "3", "--policy", "seed"]
    code, _, err = run(argv, capsys)
    assert code == 0, err
    assert (workdir / "simulate-tiny-seed.png").read_bytes().startswith(PNG_SIGNATURE)


# --- the installed command -----------------------------------------------------------------


def test_console_script_is_installed() -> None:
    script = Path(sys.executable).parent / "frolic"
    assert script.exists(), f"no console script at {script}"
    done = subprocess.run(
        [str(script), "simulate", "--help"], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr
    assert "--traffic" in done.stdout
    assert "--budget" in done.stdout
