"""The greedy bound (frolic_tools.sim.bound): the most coupons any allocator under the
schedule cap can have out by each second, hence the least leftover and shortfall."""

from __future__ import annotations

import itertools
from dataclasses import replace

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from frolic.pacing.policy import POLICIES
from frolic.pacing.schedule import ReleaseSchedule
from frolic_tools.sim.bound import greedy_curve, schedule_cap
from frolic_tools.sim.metrics import measure
from frolic_tools.sim.simulator import SimulationConfig, simulate
from tests.doubles import EagerPacing
from tests.strategies import configs, traces

#: Six seconds, budget 10 and the default 0.1 % slack: the cap is floor(10 t / 6 + 1).
TRACE = [3, 0, 5, 2, 8, 1]
SCHEDULE = ReleaseSchedule(6.0)


def test_greedy_takes_every_play_up_to_the_cap_at_each_seconds_end() -> None:
    # Given 3, 0, 5, 2, 8 and 1 plays in six seconds and a budget of 10
    # When greedy gives a coupon to every play the cap lets through
    curve = greedy_curve(TRACE, SCHEDULE, [10], slack_pct=0.1)
    # Then it has out, by each second's end: min(before + plays, cap(s + 1)), the caps
    # being 2, 4, 6, 7, 9 and 10
    assert curve == [2, 2, 6, 7, 9, 10]


def test_a_split_budget_may_run_one_coupon_per_counter_further_ahead() -> None:
    # Given the same budget split over two counters: slack 0.01 + 2 coupons
    curve = greedy_curve(TRACE, SCHEDULE, [10], slack_pct=0.1, counters=2)
    # Then the caps are floor(10 t / 6 + 2.01): 3, 5, 7, 8, 10, 10
    assert curve == [3, 3, 7, 8, 10, 10]


@pytest.mark.parametrize(
    ("budgets", "expected"), [([5, 5], [2, 2, 6, 8, 10, 10]), ([6, 4], [3, 3, 7, 8, 10, 10])]
)
def test_each_brand_is_bounded_on_its_own_and_the_bounds_add_up(
    budgets: list[int], expected: list[int]
) -> None:
    # Given two brands, each play able to take a coupon of each
    curve = greedy_curve(TRACE, SCHEDULE, budgets, slack_pct=0.1)
    # Then the curve is the sum of each brand's greedy curve
    assert curve == expected
    singles = [greedy_curve(TRACE, SCHEDULE, [b], slack_pct=0.1) for b in budgets]
    assert curve == [sum(column) for column in zip(*singles, strict=True)]


def test_quiet_seconds_leave_the_release_unspent_until_someone_plays() -> None:
    # Given nobody for four seconds, then a crowd
    curve = greedy_curve([0, 0, 0, 0, 50, 50], SCHEDULE, [10], slack_pct=0.1)
    # Then nothing is out until the crowd, which may take what the cap allows at once
    assert curve == [0, 0, 0, 0, 9, 10]


def test_the_report_gives_the_bound_and_frolics_excess_over_it() -> None:
    # Given the hand-computed trace, simulated
    run = simulate(TRACE, SimulationConfig(budget=10))
    # When measured
    report = measure(run)
    # Then the bound's figures are those of the hand-computed curve [2, 2, 6, 7, 9, 10]
    # against the schedule 10 (s + 1) / 6: the largest lag is 3.33 - 2 at second 1
    assert report.bound_curve == [2, 2, 6, 7, 9, 10]
    assert report.least_leftover_pct == 0
    assert report.least_max_shortfall_pct == pytest.approx(100 * (10 / 3 - 2) / 10)
    # And Frolic's own shortfall is the same measure on its issued curve
    lag = max(10 * (s + 1) / 6 - out for s, out in enumerate(report.issued_curve))
    assert report.max_shortfall_pct == pytest.approx(100 * max(0.0, lag) / 10)
    assert report.excess_leftover_pct == report.leftover_pct - report.least_leftover_pct
    assert report.excess_shortfall_pct == pytest.approx(
        report.max_shortfall_pct - report.least_max_shortfall_pct
    )


def test_the_cap_is_the_one_the_properties_hold_the_allocator_to() -> None:
    # A budget of 100 with 1 % slack on one counter: the slack is one coupon
    cap = schedule_cap(ReleaseSchedule(100.0), 100, slack_pct=1.0)
    assert [cap(t) for t in (0, 10, 99.5, 100)] == [1, 11, 100, 100]
    # On four counters each one holds a coupon of slack of its own
    cap = schedule_cap(ReleaseSchedule(100.0), 100, slack_pct=1.0, counters=4)
    assert [cap(t) for t in (0, 10)] == [5, 15]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(trace=traces, config=configs, policy=st.sampled_from(["frolic", "eager"]))
def test_no_allocator_under_the_cap_has_more_out_than_the_bound_by_any_second(
    trace: list[int], config: SimulationConfig, policy: str
) -> None:
    # Given any trace and game, and Frolic or an allocator whose every play wants to win
    config = replace(config, policy=policy, brands=min(config.brands, config.budget))
    with pytest.MonkeyPatch.context() as patch:
        patch.setitem(POLICIES, "eager", EagerPacing())
        report = measure(simulate(trace, config))
    # Then by every second the bound has at least as many coupons out
    for second, (out, most) in enumerate(zip(report.issued_curve, report.bound_curve, strict=True)):
        assert out <= most, f"second {second}: {out} out, bound {most}"
    # And so it leaves and lags no more than the allocator did
    assert report.least_leftover_pct <= report.leftover_pct
    assert report.least_max_shortfall_pct <= report.max_shortfall_pct
    assert report.excess_leftover_pct >= 0
    assert report.excess_shortfall_pct >= 0
    # And it is a curve of coupons out: never falling, never past the budget
    assert all(a <= b for a, b in itertools.pairwise(report.bound_curve))
    assert report.bound_curve[-1] <= report.budget
