"""A hot game's budget split over counters, in moto's DynamoDB: the split, the dealing of
codes over the counters' pools, rebalancing, allocation with spill, delivery of a code
from any pool, and reconcile counter by counter."""

from __future__ import annotations

import pytest

from frolic.allocate import play_from_event
from frolic.allocation.ports import Outcome, Play, Route, Wish
from frolic.dal import codec
from frolic.dal.budgets import StoredBudget, read_budget
from frolic.dal.items import pending_item
from frolic.dal.pools import CountersFixedError
from frolic.dal.tables import audit_key, code_key, counter_key, coupon_key
from frolic.models import PlayStatus
from tests.doubles import GreedyPacing
from tests.integration.world import GAME, START, World

BRAND = "brand-a"


def _budget(world: World, brand: str = BRAND) -> StoredBudget:
    stored = read_budget(world.db, world.settings.state_table, GAME, brand)
    assert stored is not None
    return stored


def _aligned(stored: StoredBudget) -> bool:
    """Shares and pools never mix surplus and lack (see sub_budgets): nothing stranded."""
    lack = any(c.share > c.pool_size for c in stored.counters)
    surplus = any(c.pool_size > c.share for c in stored.counters)
    return not (lack and surplus)


def _set_issued(world: World, sub: int, issued: int) -> None:
    """What the allocator would have left: `issued` coupons out on counter `sub`."""
    world.db.update_item(
        TableName=world.settings.state_table,
        Key=codec.dump(counter_key(GAME, BRAND, sub)),
        UpdateExpression="SET issued = :n",
        ExpressionAttributeValues=codec.dump({":n": issued}),
    )


def test_a_split_budget_has_exact_shares_and_each_counter_its_own_item(world: World) -> None:
    world.live_game()
    change = world.pools().set_budget(GAME, BRAND, 10, actor="ops", counters=3)
    assert (change.budget, change.counters, change.previous) == (10, 3, None)
    stored = _budget(world)
    assert stored.shares == [3, 3, 4]
    assert (stored.budget, stored.issued, stored.pool_size) == (10, 0, 0)
    # Counters 1 and 2 sit on partitions of their own, away from the game's partition
    keys = {counter_key(GAME, BRAND, sub)["pk"] for sub in range(3)}
    assert len(keys) == 3
    audit = world.db.query(
        TableName=world.settings.state_table,
        KeyConditionExpression="pk = :pk",
        ExpressionAttributeValues={":pk": {"S": audit_key(GAME, 0, "")["pk"]}},
    )["Items"]
    assert [codec.load(a)["counters"] for a in audit] == [3]


def test_codes_are_dealt_to_fill_each_share_then_evenly(world: World) -> None:
    world.live_game()
    codes = world.budget(BRAND, 10, codes=10, counters=3)
    stored = _budget(world)
    assert stored.pools == stored.shares == [3, 3, 4]
    # Each pool is dense from ordinal 1, and the code index says where each code went
    found = []
    for counter in stored.counters:
        for ordinal in range(1, counter.pool_size + 1):
            raw = world.db.get_item(
                TableName=world.settings.state_table,
                Key=codec.dump(coupon_key(GAME, BRAND, ordinal, counter.sub)),
            )["Item"]
            coupon = codec.load(raw)
            where = codec.load(
                world.db.get_item(
                    TableName=world.settings.state_table, Key=codec.dump(code_key(coupon["code"]))
                )["Item"]
            )
            assert (where["sub"], where["ordinal"]) == (counter.sub, ordinal)
            found.append(coupon["code"])
    assert sorted(found) == sorted(codes)
    # More codes than the budget go to the emptiest pools
    world.pools().add_codes(GAME, BRAND, [f"EXTRA-{n:03d}" for n in range(5)])
    assert _budget(world).pools == [5, 5, 5]


def test_a_short_upload_keeps_every_pool_within_its_share(world: World) -> None:
    world.live_game()
    world.budget(BRAND, 300, codes=100, counters=3)
    stored = _budget(world)
    assert stored.pool_size == 100
    assert all(c.pool_size <= c.share for c in stored.counters)
    assert stored.usable == 100


@pytest.mark.parametrize("new_budget", [60, 100, 140])
def test_a_rebalance_keeps_issued_counts_the_exact_sum_and_no_stranded_code(
    world: World, new_budget: int
) -> None:
    # Given 4 counters holding 100 codes, unevenly drained
    world.live_game()
    world.budget(BRAND, 100, counters=4)
    for sub, issued in enumerate((25, 20, 3, 0)):
        _set_issued(world, sub, issued)
    # When the marketer changes the budget
    change = world.pools().set_budget(GAME, BRAND, new_budget, actor="marketer")
    stored = _budget(world)
    # Then the counters keep what they issued, sum to the budget and use every code
    assert (change.previous, change.issued, change.counters) == (100, 48, 4)
    assert sum(stored.shares) == new_budget
    assert all(c.share >= c.issued for c in stored.counters)
    assert _aligned(stored)
    assert stored.usable == min(new_budget, stored.pool_size)


def test_the_split_changes_only_while_the_budget_is_empty(world: World) -> None:
    world.live_game()
    pools = world.pools()
    pools.set_budget(GAME, BRAND, 40, actor="ops", counters=4)
    # Before any code: 4 counters become 2, and the two spare items go
    assert pools.set_budget(GAME, BRAND, 40, actor="ops", counters=2).counters == 2
    assert _budget(world).shares == [20, 20]
    for sub in (2, 3):
        item = world.db.get_item(
            TableName=world.settings.state_table, Key=codec.dump(counter_key(GAME, BRAND, sub))
        )
        assert "Item" not in item
    # After codes: the split is fixed, while the budget itself may still change
    pools.add_codes(GAME, BRAND, [f"CODE-{n:03d}" for n in range(40)])
    with pytest.raises(CountersFixedError):
        pools.set_budget(GAME, BRAND, 40, actor="ops", counters=3)
    assert pools.set_budget(GAME, BRAND, 30, actor="ops").counters == 2
    assert sum(_budget(world).shares) == 30


def test_a_hot_game_issues_its_whole_budget_over_every_counter(world: World) -> None:
    # Given a game whose budget of 40 is split over 4 counters, and plays that all win
    world.live_game()
    world.budget(BRAND, 40, codes=40, counters=4)
    allocator = world.stream_allocator(GreedyPacing())
    plays = [world.play(n, at=1 + n / 100) for n in range(60)]
    # When they arrive in batches
    for start in range(0, 60, 20):
        batch = plays[start : start + 20]
        assert allocator.handle({"Records": [world.record(p) for p in batch]}, None) == {
            "batchItemFailures": []
        }
    # Then the whole budget went out, each counter its share, each code once
    statuses = [world.result(p.play_id)["status"] for p in plays]
    assert statuses.count(PlayStatus.WON.value) == 40
    stored = _budget(world)
    assert [c.issued for c in stored.counters] == stored.shares
    codes = [c["code"] for p in plays for c in world.result(p.play_id).get("coupons", [])]
    assert len(set(codes)) == 40
    report = world.reconcile()
    assert report.clean, report.render()
    assert report.brands[0].counters == 4


def test_a_full_counter_spills_to_the_next(world: World) -> None:
    # Given 2 counters, one of them already drained by other allocators
    world.live_game()
    world.budget(BRAND, 10, counters=2)
    stored = _budget(world)
    full = 0
    _set_issued(world, full, stored.shares[full])
    # When plays whose own counter is the full one arrive, they still win from the other
    allocator = world.stream_allocator(GreedyPacing())
    plays = [world.play(n) for n in range(4)]
    allocator.handle({"Records": [world.record(p) for p in plays]}, None)
    assert all(world.result(p.play_id)["status"] == PlayStatus.WON.value for p in plays)
    assert [c.issued for c in _budget(world).counters] == [5, 4]


def test_reconcile_reads_every_counter_and_names_the_one_that_drifts(world: World) -> None:
    world.live_game()
    world.budget(BRAND, 12, counters=3)
    allocator = world.stream_allocator(GreedyPacing())
    allocator.handle({"Records": [world.record(world.play(n)) for n in range(6)]}, None)
    assert world.reconcile().clean
    # A counter that says one more than its results hold is drift, and reconcile says which
    drifted = next(c for c in _budget(world).counters if c.issued)
    _set_issued(world, drifted.sub, drifted.issued + 1)
    problems = world.reconcile().problems
    assert any(f"counter {drifted.sub} leased 1 ordinals that no result" in p for p in problems)


def test_a_counter_taken_behind_an_allocators_back_refuses_it_and_the_next_one_serves(
    world: World,
) -> None:
    # Given two allocators that both read a budget of 2 split over 2 counters
    world.live_game()
    world.budget(BRAND, 2, counters=2)
    first, second = world.store(), world.store()
    first.budgets(GAME)
    second.budgets(GAME)
    plays = [play_from_event(world.play(n)) for n in (1, 2)]
    for play in plays:
        world.db.put_item(
            TableName=world.settings.results_table, Item=codec.dump(pending_item(play))
        )

    def wish(play: Play) -> Wish:
        return Wish(play, (Route(BRAND, ((0, 1), (1, 1))),), strength=0.0)

    # When the first takes counter 0's only coupon
    won_first = first.claim(GAME, [wish(plays[0])], 1, START + 2, game_start=START)
    # Then the second, with its stale view, is refused there and counter 1 serves it
    won_second = second.claim(GAME, [wish(plays[1])], 1, START + 2, game_start=START)
    assert won_second.raced_out == frozenset()
    for store, play, claimed in ((first, plays[0], won_first), (second, plays[1], won_second)):
        grants = claimed.grants[play.play_id]
        store.save_outcomes([Outcome(play, PlayStatus.WON, START + 2, grants=grants)])
    stored = read_budget(world.db, world.settings.state_table, GAME, BRAND)
    assert stored is not None
    assert [c.issued for c in stored.counters] == [1, 1]
    report = world.reconcile()
    assert report.clean, report.render()
