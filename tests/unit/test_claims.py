"""The claim protocol between allocators that share the tables (frolic.allocation.claims):
a commit that finds its counter moved is cancelled, backs off and tries again from
where the counter stands, and no coupon goes twice."""

from __future__ import annotations

from frolic.allocation.claims import RESERVE_ATTEMPTS, retry_delay
from frolic.allocation.memory import InMemoryStore, numbered_codes
from frolic.allocation.ports import Claim, Play

GAME = "game-1"
BRAND = "brand-a"


def _store(budget: int) -> InMemoryStore:
    store = InMemoryStore()
    store.set_budget(GAME, BRAND, budget)
    store.generate_coupons(GAME, BRAND, numbered_codes(BRAND))
    return store


def _play(n: int) -> Play:
    return Play(f"play-{n}", f"user-{n}", GAME, 1.0)


def _two_allocators(budget: int) -> tuple[InMemoryStore, InMemoryStore, InMemoryStore, list[float]]:
    """Tables with a budget, and two allocators that have both read the counter at 0;
    the second one's backoffs are noted."""
    tables = _store(budget)
    waits: list[float] = []
    first, second = tables.connect(), tables.connect(sleep=waits.append)
    first.budgets(GAME)
    second.budgets(GAME)
    return tables, first, second, waits


def test_a_commit_behind_another_allocators_is_cancelled_and_retried_after_a_backoff() -> None:
    # Given two allocators that both read the counter at 0
    tables, first, second, waits = _two_allocators(budget=10)
    # When the first commits, then the second, still expecting 0
    won_first = first.reserve(_play(1), [Claim(BRAND, cap=10)], 1, 1.0)
    won_second = second.reserve(_play(2), [Claim(BRAND, cap=10)], 1, 1.0)
    # Then the second's first commit lost the race, it backed off once, and both won
    assert won_first.grants and won_second.grants
    assert won_first.grants[0].code != won_second.grants[0].code
    assert waits == [retry_delay(0)]
    stats = tables.claim_stats
    assert (stats.commits, stats.races, stats.gave_up) == (3, 1, 0)
    assert tables.issued(GAME, BRAND) == 2


def test_a_counter_moved_to_its_cap_refuses_without_a_retry() -> None:
    _, first, second, waits = _two_allocators(budget=10)
    assert first.reserve(_play(1), [Claim(BRAND, cap=1)], 1, 1.0).grants
    refused = second.reserve(_play(2), [Claim(BRAND, cap=1)], 1, 1.0)
    assert refused.refused == {BRAND: 1}
    assert not refused.raced_out
    assert waits == []


def test_backoff_doubles_from_50_ms_up_to_a_second() -> None:
    delays = [retry_delay(attempt) for attempt in range(RESERVE_ATTEMPTS)]
    assert delays[:3] == [0.05, 0.1, 0.2]
    assert max(delays) <= 1.0
    assert delays == sorted(delays)
