import math

import pytest

from frolic.pacing.policy import FrolicBrandPlan, FrolicPacing, SeedPacing
from frolic.pacing.schedule import ReleaseSchedule

HOUR = ReleaseSchedule(3600.0)


def _plan(budget: int = 1000, rate: float | None = 50.0, slack_pct: float = 0.1) -> FrolicBrandPlan:
    return FrolicPacing().plan(schedule=HOUR, budget=budget, slack_pct=slack_pct, arrival_rate=rate)


def test_on_schedule_each_play_wins_the_release_rate_over_the_arrival_rate() -> None:
    # Given 1,000 coupons over an hour (0.278/s) and 50 plays/s, exactly on schedule
    plan = _plan()
    # Then a play's chance is the coupons released per play
    assert plan.probability(1800.0, 500) == pytest.approx((1000 / 3600) / 50)


def test_behind_schedule_catches_up_over_the_horizon() -> None:
    plan = _plan()
    on_time = plan.probability(1800.0, 500)
    behind = plan.probability(1800.0, 497)
    horizon = FrolicPacing().horizon
    assert behind == pytest.approx(on_time + 3 / (50 * horizon))


def test_ahead_of_schedule_nobody_wins() -> None:
    assert _plan().probability(1800.0, 502) == 0.0


def test_without_an_arrival_rate_every_play_may_win_and_the_cap_limits() -> None:
    plan = _plan(rate=None)
    assert plan.probability(0.5, 0) == 1.0
    assert plan.cap(0.5) == 1


def test_an_exhausted_budget_or_an_ended_window_wins_nothing() -> None:
    plan = _plan()
    assert plan.probability(100.0, 1000) == 0.0
    assert plan.probability(3600.0, 10) == 0.0


def test_a_long_idle_backlog_is_replanned_not_dumped() -> None:
    # Given nobody played for half the game: 500 coupons released to no one
    plan = _plan()
    pacing = FrolicPacing()
    chance = plan.probability(1800.0, 0)
    expected_wins_next_horizon = chance * 50 * pacing.horizon
    # Then the next horizon pays its own release plus the backlog's share of the rest of
    # the window, and only a vanishing part of the quick catch-up
    quick = 1000 * pacing.quick_catchup / 3600
    release = 1000 * pacing.horizon / 3600
    replanned = (500 - quick) * pacing.horizon / 1800
    faded_quick = quick * (quick / 500) ** 4
    assert expected_wins_next_horizon == pytest.approx(release + replanned + faded_quick)
    assert expected_wins_next_horizon < 2 * (release + replanned)


def test_the_catch_up_has_no_jump_where_quick_turns_into_replanned() -> None:
    # A gap of exactly one minute of release is where the two regimes meet
    plan = _plan()
    pacing = FrolicPacing()
    quick = 1000 * pacing.quick_catchup / 3600
    released = 1000 * 1800 / 3600
    below = plan.probability(1800.0, math.ceil(released - quick))
    above = plan.probability(1800.0, math.floor(released - quick))
    assert abs(above - below) < 1.5 / (50 * pacing.horizon)


def test_near_the_end_whatever_is_left_goes_to_whoever_plays() -> None:
    plan = _plan()
    # Half a second before the end, with 7 coupons still left and 50 plays/s
    assert plan.probability(3599.5, 993) == pytest.approx(7 / (50 * 0.5))
    assert plan.probability(3599.9, 993) == 1.0


def test_the_cap_is_the_schedule_plus_slack_and_never_the_whole_budget_early() -> None:
    plan = _plan(budget=1000, slack_pct=0.5)
    for elapsed in (0.0, 3.5, 100.0, 1800.0, 3599.0):
        assert plan.cap(elapsed) == min(1000, math.floor(1000 * elapsed / 3600 + 5))
    assert plan.cap(3600.0) == 1000


def test_the_slack_is_at_least_one_coupon_so_the_last_is_never_out_of_reach() -> None:
    # Given no slack configured: coupon k may still go out once coupon k-1 is due
    plan = _plan(budget=3, slack_pct=0)
    assert [plan.cap(t) for t in (0.0, 1199.0, 1200.0, 2400.0, 3599.9)] == [1, 1, 2, 3, 3]


def test_the_seed_rule_is_budget_per_remaining_second_for_every_play() -> None:
    plan = SeedPacing().plan(schedule=HOUR, budget=1000, slack_pct=0.1, arrival_rate=50)
    assert plan.probability(0.0, 0) == pytest.approx(1000 / 3600)
    assert plan.probability(3000.0, 400) == pytest.approx(600 / 600)
    assert plan.cap(0.0) == 1000
