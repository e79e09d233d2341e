"""The crowd's (and so the demo's) check of the report's curve against its counters."""

from __future__ import annotations

from frolic_tools.crowd.report import IssuedSample, curve_problems


def _sample(seconds: float, issued: int, curve: tuple[int, ...]) -> IssuedSample:
    return IssuedSample(seconds, issued, scheduled=0.0, curve=curve)


def test_a_curve_that_is_the_counters_at_every_read_passes() -> None:
    # Given reads through three minutes, the newest point always the counters
    samples = [
        _sample(10, 2, (2, 2, 2)),
        _sample(59, 5, (5, 5, 5)),
        _sample(61, 6, (5, 6, 6)),
        _sample(130, 9, (5, 8, 9)),
        _sample(200, 10, (5, 8, 10)),
    ]
    # Then nothing is wrong
    assert curve_problems(samples) == []


def test_a_newest_point_behind_its_counters_is_named() -> None:
    # Given a read whose curve lags its own counters (a snapshot that was not written yet)
    samples = [_sample(10, 2, (2, 2)), _sample(70, 7, (4, 4))]
    # Then the read is named, with both numbers
    [problem] = curve_problems(samples)
    assert "70 s" in problem and "4 issued" in problem and "counters 7" in problem


def test_a_minute_that_changes_after_its_end_is_named() -> None:
    # Given a first minute that said 5 at its end and 3 later (counted late elsewhere)
    samples = [_sample(65, 6, (5, 6)), _sample(100, 6, (3, 6))]
    # Then the change is named
    assert curve_problems(samples) == [
        "minute 0 of the report's curve said 5 65 s into the game and 3 at the end"
    ]


def test_reads_before_the_start_and_after_the_end_use_the_first_and_last_points() -> None:
    samples = [_sample(-3, 0, (0, 0)), _sample(500, 4, (1, 4))]
    assert curve_problems(samples) == []
    assert curve_problems([_sample(500, 4, (4, 1))]) != []
