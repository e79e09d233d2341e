"""The budget-splitting rule: exact sums, nothing below issued, an even route."""

from collections import Counter

import pytest
from hypothesis import given
from hypothesis import strategies as st

from frolic.allocation.sub_budgets import (
    deal,
    fill,
    next_step,
    rebalance,
    route,
    schedule_slack,
    split,
)


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


@given(
    amount=st.integers(0, 10**6),
    levels=st.lists(st.integers(-1000, 1000), min_size=1, max_size=32),
    data=st.data(),
)
def test_fill_raises_the_lowest_first_within_each_room(
    amount: int, levels: list[int], data: st.DataObject
) -> None:
    room = data.draw(
        st.lists(
            st.one_of(st.none(), st.integers(0, 5000)), min_size=len(levels), max_size=len(levels)
        )
    )
    added = fill(amount, levels, room)
    limited = all(r is not None for r in room)
    assert sum(added) == (min(amount, sum(r for r in room if r is not None)) if limited else amount)
    assert all(a >= 0 and (r is None or a <= r) for a, r in zip(added, room, strict=True))
    # Water-filling: a counter that got something is at most one above any counter that
    # could still have taken more
    after = [lv + a for lv, a in zip(levels, added, strict=True)]
    for j, got in enumerate(added):
        if got:
            for k, limit in enumerate(room):
                if limit is None or added[k] < limit:
                    assert after[j] <= after[k] + 1


@given(
    extra=st.integers(0, 10_000),
    issued_and_pools=st.lists(
        st.tuples(st.integers(0, 500), st.integers(0, 1000)), min_size=1, max_size=16
    ),
)
def test_a_rebalance_with_pools_leaves_shares_and_pools_aligned(
    extra: int, issued_and_pools: list[tuple[int, int]]
) -> None:
    issued = [out for out, _ in issued_and_pools]
    pools = [max(out, pool) for out, pool in issued_and_pools]  # a counter binds its own codes
    budget = sum(issued) + extra
    shares = rebalance(budget, issued, pools)
    assert sum(shares) == budget
    assert all(share >= out for share, out in zip(shares, issued, strict=True))
    usable = sum(min(share, pool) for share, pool in zip(shares, pools, strict=True))
    assert usable == min(budget, sum(pools))


@given(
    count=st.integers(0, 5000),
    shares_and_pools=st.lists(
        st.tuples(st.integers(0, 1000), st.integers(0, 1000)), min_size=1, max_size=16
    ),
)
def test_dealing_new_codes_fills_what_shares_lack_first(
    count: int, shares_and_pools: list[tuple[int, int]]
) -> None:
    shares = [share for share, _ in shares_and_pools]
    pools = [pool for _, pool in shares_and_pools]
    dealt = deal(count, shares, pools)
    assert sum(dealt) == count and min(dealt) >= 0
    lack = sum(max(0, s - p) for s, p in zip(shares, pools, strict=True))
    usable = sum(min(s, p + d) for s, p, d in zip(shares, pools, dealt, strict=True))
    before = sum(min(s, p) for s, p in zip(shares, pools, strict=True))
    assert usable == before + min(count, lack)


def _aligned(shares: list[int], pools: list[int]) -> bool:
    lack = any(s > p for s, p in zip(shares, pools, strict=True))
    surplus = any(p > s for s, p in zip(shares, pools, strict=True))
    return not (lack and surplus)


@given(
    budget=st.integers(0, 2000),
    parts=st.integers(1, 12),
    events=st.lists(st.tuples(st.booleans(), st.integers(0, 400)), max_size=12),
)
def test_uploads_dealt_step_by_step_keep_shares_and_pools_aligned_after_every_step(
    budget: int, parts: int, events: list[tuple[bool, int]]
) -> None:
    shares, pools, issued = split(budget, parts), [0] * parts, [0] * parts
    for is_upload, amount in events:
        if is_upload:
            left = amount
            while left:
                sub, count = next_step(shares, pools, left, step=7)
                assert 0 < count <= 7
                pools[sub] += count
                left -= count
                assert _aligned(shares, pools)  # even if the upload stopped here
        else:
            # Some coupons go out, then the budget changes (never below what is out)
            issued = [min(share, pool) for share, pool in zip(shares, pools, strict=True)]
            shares = rebalance(sum(issued) + amount, issued, pools)
            assert _aligned(shares, pools)
    usable = sum(min(s, p) for s, p in zip(shares, pools, strict=True))
    assert usable == min(sum(shares), sum(pools))
