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


def test_a_backlog_is_spread_over_the_plays_still_to_come_not_the_clock() -> None:
    # Given nobody played for half the game: 500 coupons released to no one
    pacing = FrolicPacing()
    release = 1000 * pacing.horizon / 3600
    # When the current spell of traffic is expected to bring 20,000 more plays
    plan = FrolicPacing().plan(
        schedule=HOUR, budget=1000, slack_pct=0.1, arrival_rate=50, plays_to_come=20_000
    )
    # Then each play wins its share of the next horizon's release and 1/20,000 of the
    # backlog: the backlog is out when the spell is, whatever the clock says
    assert plan.probability(1800.0, 0) == pytest.approx(release / (50 * 2) + 500 / 20_000)


def test_without_a_spell_estimate_the_backlog_spreads_to_the_window_end() -> None:
    plan = _plan()
    plays_left = 50 * 1800
    assert plan.probability(1800.0, 0) == pytest.approx((1000 / 3600) / 50 + 500 / plays_left)


def test_a_spell_about_to_end_pays_its_backlog_before_the_horizon() -> None:
    # Given 30 coupons behind and a spell with only 40 plays to come (under 2 s of play)
    plan = FrolicPacing().plan(
        schedule=HOUR, budget=1000, slack_pct=0.1, arrival_rate=50, plays_to_come=40
    )
    # Then the last 40 plays share the whole backlog, not the horizon's 100 expected
    assert plan.probability(1800.0, 470) == pytest.approx((1000 / 3600) / 50 + 30 / 40)


def test_after_the_close_what_is_left_is_drawn_among_the_last_plays() -> None:
    pacing = FrolicPacing()
    # Selection sampling: 3 coupons among 12 plays, each with 3/12
    assert pacing.closing_chances([3], plays_left=12, coupons_per_play=1) == [0.25]
    # The last play of all takes what is left
    assert pacing.closing_chances([1, 0], plays_left=1, coupons_per_play=1) == [1.0, 0.0]
    # Three brands with a coupon each and three plays of one coupon each: all must take
    assert pacing.closing_chances([1, 1, 1], plays_left=3, coupons_per_play=1) == [1.0] * 3
    assert pacing.closing_chances([1, 1, 1], plays_left=4, coupons_per_play=1) == [0.25] * 3
    assert SeedPacing().closing_chances([3], plays_left=12, coupons_per_play=1) is None


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
