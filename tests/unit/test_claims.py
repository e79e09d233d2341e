"""The claim protocol between allocators that share the tables (frolic.allocation.claims):
a batch's winners move each counter once, a lease refused because others took the room
takes what is left, and no coupon goes twice."""

from __future__ import annotations

import itertools

from frolic.allocation.ports import Claimed, Play, Route, Wish
from frolic.dal.batches import retry_delay
from frolic_tools.sim.memory import InMemoryStore, numbered_codes

GAME = "game-1"
BRAND = "brand-a"
NOW = 5.0


def _store(budget: int, late_after: float | None = None) -> InMemoryStore:
    store = InMemoryStore(batch_write_cutoff_seconds=late_after)
    store.set_budget(GAME, BRAND, budget)
    store.generate_coupons(GAME, BRAND, numbered_codes(BRAND))
    return store


def _wish(n: int, cap: int, *, at: float = 1.0, user: str | None = None) -> Wish:
    """Play n drew brand-a; lower n drew stronger."""
    play = Play(f"play-{n}", user or f"user-{n}", GAME, at)
    return Wish(play, (Route(BRAND, ((0, cap),)),), strength=n / 100)


def _two_allocators(budget: int) -> tuple[InMemoryStore, InMemoryStore, InMemoryStore]:
    """Tables with a budget, and two allocators that have both read the counter at 0."""
    tables = _store(budget)
    first, second = tables.connect(), tables.connect()
    first.budgets(GAME)
    second.budgets(GAME)
    return tables, first, second


def _codes(*claims: Claimed) -> list[str]:
    return [g.code for claimed in claims for grants in claimed.grants.values() for g in grants]


def test_a_batch_moves_its_counter_once_whoever_else_moved_it() -> None:
    # Given two allocators that both read the counter at 0
    tables, first, second = _two_allocators(budget=10)
    # When each claims three winners, the second still believing the counter at 0
    one = first.claim(GAME, [_wish(n, cap=10) for n in range(3)], 1, NOW, game_start=0.0)
    two = second.claim(GAME, [_wish(n, cap=10) for n in range(3, 6)], 1, NOW, game_start=0.0)
    # Then each lease moved the counter by three: six distinct codes, no race
    codes = _codes(one, two)
    assert len(codes) == len(set(codes)) == 6
    stats = tables.claim_stats
    assert (stats.commits, stats.races, stats.gave_up) == (2, 0, 0)
    assert tables.issued(GAME, BRAND) == 6


def test_a_lease_refused_for_lack_of_room_takes_what_is_left_for_the_strongest() -> None:
    tables, first, second = _two_allocators(budget=10)
    assert (
        len(first.claim(GAME, [_wish(n, cap=4) for n in range(3)], 1, NOW, game_start=0.0).grants)
        == 3
    )
    # The second saw room for three under the cap of 4; another allocator took it
    late = second.claim(GAME, [_wish(n, cap=4) for n in range(3, 6)], 1, NOW, game_start=0.0)
    assert list(late.grants) == ["play-3"]
    assert late.raced_out == {"play-4", "play-5"}
    stats = tables.claim_stats
    assert (stats.commits, stats.races, stats.gave_up) == (3, 1, 2)
    assert tables.issued(GAME, BRAND) == 4


def test_a_full_counter_as_last_seen_is_not_asked_again() -> None:
    tables, first, _ = _two_allocators(budget=10)
    first.claim(GAME, [_wish(n, cap=2) for n in range(2)], 1, NOW, game_start=0.0)
    refused = first.claim(GAME, [_wish(3, cap=2)], 1, NOW, game_start=0.0)
    assert refused.grants == {}
    assert refused.raced_out == frozenset()
    assert tables.claim_stats.commits == 1


def test_earlier_arrivals_take_lower_ordinals_each_within_its_own_cap() -> None:
    # A rising cap: the play at 1 s may have the first coupon, the one at 2 s the second.
    tables = _store(budget=10)
    tables.budgets(GAME)
    early, later = _wish(2, cap=1, at=1.0), _wish(1, cap=2, at=2.0)
    claimed = tables.claim(GAME, [later, early], 1, NOW, game_start=0.0)
    assert claimed.grants["play-2"][0].code == numbered_codes(BRAND)(0, 1)
    assert claimed.grants["play-1"][0].code == numbered_codes(BRAND)(0, 2)


def test_a_player_wins_up_to_the_limit_and_a_replayed_win_is_admitted_again() -> None:
    tables = _store(budget=10)
    tables.budgets(GAME)
    assert tables.claim(GAME, [_wish(1, cap=10, user="ann")], 1, NOW, game_start=0.0).grants
    again = tables.claim(GAME, [_wish(2, cap=10, user="ann")], 1, NOW, game_start=0.0)
    assert again.win_limited == {"play-2"}
    # The same play once more (a replay after a crash) is still within Ann's limit
    assert (
        tables.claim(GAME, [_wish(1, cap=10, user="ann")], 1, NOW, game_start=0.0).win_limited
        == frozenset()
    )


def test_a_winner_left_without_a_coupon_gives_its_win_slot_back() -> None:
    tables = _store(budget=1)
    tables.budgets(GAME)
    tables.claim(GAME, [_wish(1, cap=1)], 1, NOW, game_start=0.0)
    # Bob draws a win when nothing is left: he keeps his chance for later
    assert tables.claim(GAME, [_wish(2, cap=1, user="bob")], 1, NOW, game_start=0.0).grants == {}
    tables.set_budget(GAME, BRAND, 2)
    tables.budgets(GAME)
    assert tables.claim(GAME, [_wish(3, cap=2, user="bob")], 1, NOW, game_start=0.0).grants


def test_a_play_decided_too_late_for_a_batched_result_wins_nothing() -> None:
    tables = _store(budget=10, late_after=3.0)
    tables.budgets(GAME)
    claimed = tables.claim(GAME, [_wish(1, cap=10, at=NOW - 3.0)], 1, NOW, game_start=0.0)
    assert claimed.grants == {}
    assert tables.issued(GAME, BRAND) == 0


def test_a_batch_held_up_until_its_plays_are_too_old_leases_nothing_for_them() -> None:
    # Given a store whose clock reads the decision instant as the claim starts, and
    # ten seconds later once the win slots are taken (a throttled, retrying call)
    readings = itertools.chain([NOW], itertools.repeat(NOW + 10.0))
    tables = InMemoryStore(batch_write_cutoff_seconds=3.0, clock=lambda: next(readings))
    tables.set_budget(GAME, BRAND, 10)
    tables.generate_coupons(GAME, BRAND, numbered_codes(BRAND))
    tables.budgets(GAME)
    # When a play one second old at the decision is claimed
    claimed = tables.claim(GAME, [_wish(1, cap=10, at=NOW - 1.0)], 1, NOW, game_start=0.0)
    # Then no ordinal was leased for it, and its player's win slot was given back
    assert claimed.grants == {}
    assert tables.issued(GAME, BRAND) == 0
    assert tables.claim(
        GAME, [_wish(2, cap=10, at=NOW + 9.0, user="user-1")], 1, NOW, game_start=0.0
    ).grants


def test_backoff_doubles_from_50_ms_up_to_a_second() -> None:
    delays = [retry_delay(attempt) for attempt in range(8)]
    assert delays[:3] == [0.05, 0.1, 0.2]
    assert max(delays) == 1.0
    assert delays == sorted(delays)


def test_win_slots_go_out_as_the_dynamodb_store_sends_them_ten_at_a_time() -> None:
    tables = _store(budget=100)
    sent: list[tuple[str, int]] = []

    def calls(operation: str, *, items: int = 1, write_units: int = 0, parallel: int = 1) -> None:
        sent.append((operation, parallel))

    allocator = tables.connect(calls=calls)
    allocator.budgets(GAME)
    claimed = allocator.claim(GAME, [_wish(n, cap=100) for n in range(25)], 1, NOW, game_start=0.0)
    assert len(claimed.grants) == 25
    # Three waves of win slots, then the one lease and the one read of the codes
    assert sent[1:] == [
        ("UpdateItem", 10),
        ("UpdateItem", 10),
        ("UpdateItem", 5),
        ("UpdateItem", 1),
        ("BatchGetItem", 1),
    ]
