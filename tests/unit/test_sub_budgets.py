"""The budget-splitting rule: exact sums, nothing below issued, an even route."""

from collections import Counter

import pytest
from hypothesis import given
from hypothesis import strategies as st

from frolic.allocation.sub_budgets import rebalance, route, schedule_slack, split


@given(total=st.integers(0, 10**9), parts=st.integers(1, 256))
def test_a_split_sums_exactly_to_the_budget_in_near_equal_shares(total: int, parts: int) -> None:
    shares = split(total, parts)
    assert len(shares) == parts
    assert sum(shares) == total
    assert max(shares) - min(shares) <= 1


@given(
    issued=st.lists(st.integers(0, 10_000), min_size=1, max_size=64),
    extra=st.integers(0, 10**6),
)
def test_a_rebalance_keeps_every_counter_at_or_above_its_issued_and_sums_exactly(
    issued: list[int], extra: int
) -> None:
    budget = sum(issued) + extra
    shares = rebalance(budget, issued)
    assert sum(shares) == budget
    assert all(share >= out for share, out in zip(shares, issued, strict=True))


def test_a_budget_below_what_is_issued_is_refused() -> None:
    with pytest.raises(ValueError, match="already issued"):
        rebalance(5, [3, 3])


def test_each_play_tries_every_counter_once_and_plays_spread_evenly() -> None:
    firsts: Counter[int] = Counter()
    for n in range(8000):
        order = route(f"play-{n}", 8)
        assert sorted(order) == list(range(8))
        firsts[order[0]] += 1
    # 1,000 expected per counter, ± 5 standard deviations
    assert all(abs(count - 1000) < 150 for count in firsts.values())
    assert route("any", 1) == [0]


def test_every_counter_holds_at_least_one_coupon_of_slack() -> None:
    assert schedule_slack(2.5, 1) == 2.5
    assert schedule_slack(0.0, 1) == 1.0
    assert schedule_slack(2.5, 4) == 6.5
