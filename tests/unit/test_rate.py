import random

import pytest

from frolic.pacing.rate import arrival_rate, estimate_rate


def _poisson(rng: random.Random, mean: float) -> int:
    """Plays in one second of Poisson traffic (count of exponential gaps)."""
    count, elapsed = 0, rng.expovariate(mean)
    while elapsed < 1.0:
        count += 1
        elapsed += rng.expovariate(mean)
    return count


def test_no_estimate_before_a_whole_second_is_counted() -> None:
    assert estimate_rate({100: 40}, last_complete_second=99, first_second=100) is None


def test_steady_traffic_is_averaged_over_a_long_window() -> None:
    # Given a minute and more of Poisson traffic at 50 plays/s
    rng = random.Random(3)
    counts = {s: _poisson(rng, 50) for s in range(200)}
    # When estimated
    rate = estimate_rate(counts, last_complete_second=199, first_second=0)
    # Then the noise of a single second (±14 %) is averaged away
    assert rate == pytest.approx(sum(counts[s] for s in range(136, 200)) / 64)
    assert rate == pytest.approx(50, rel=0.08)


def test_the_end_of_a_rush_is_seen_within_a_second() -> None:
    counts = {s: 5000 for s in range(60)} | {60: 2}
    rate = estimate_rate(counts, last_complete_second=60, first_second=0)
    assert rate == 2


def test_the_start_of_a_rush_is_seen_within_a_second() -> None:
    counts = {s: 2 for s in range(60)} | {60: 5000}
    rate = estimate_rate(counts, last_complete_second=60, first_second=0)
    assert rate == 5000


def test_seconds_before_the_game_start_are_ignored() -> None:
    # Given plays counted before the game started (a previous game, a clock skew)
    counts = {s: 1000 for s in range(100)} | {100: 10, 101: 10}
    # Then only the game's own seconds count
    assert estimate_rate(counts, last_complete_second=101, first_second=100) == 10


def test_quiet_seconds_count_as_zero() -> None:
    counts = {s: 1 for s in range(0, 64, 4)}
    assert estimate_rate(counts, last_complete_second=63, first_second=0) == pytest.approx(0.25)


def test_a_crowd_s_first_unsettled_second_is_a_floor_on_the_rate() -> None:
    # Given a quiet minute, then 800 plays counted in the second under way
    counts = {1000: 800}
    rate = arrival_rate(counts, now=1000.5, settle_seconds=1.0, first_second=900)
    # Then the rate is about the crowd's, not the quiet minute's zero
    assert rate is not None
    assert rate > 400


def test_a_lone_play_after_quiet_is_paced_as_the_only_play() -> None:
    # Given a stray play at night, two minutes after the last
    counts = {880: 1, 1000: 1}
    rate = arrival_rate(counts, now=1000.5, settle_seconds=1.0, first_second=800)
    # Then the play that brought the batch about does not count as evidence of a rate
    assert rate == 0
