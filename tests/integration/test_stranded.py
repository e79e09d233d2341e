"""Stranded lease ordinals returned to their budget (frolic.dal.stranded), on moto.

A Lambda that dies between a lease and its results leaves ordinals the counter counts
and no result holds. The sweeper's repair gives them back once no play can still take
them; these tests drive it with the clock, never with sleeps."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from aws_lambda_powertools.utilities.data_classes.dynamo_db_stream_event import DynamoDBRecord

from frolic.dal import codec
from frolic.dal.budgets import StoredBudget, read_budget
from frolic.dal.offers import NO_FACTS
from frolic.dal.pools import BudgetBelowIssuedError
from frolic.dal.reports import GameReports
from frolic.dal.sessions import Sessions
from frolic.dal.stranded import VOID_ATTEMPTS, StrandedLeases
from frolic.dal.tables import code_key, counter_key, coupon_key
from frolic.deliver import Deliverer
from frolic.models import CouponStatus
from frolic.observability import metrics
from tests.doubles import GreedyPacing
from tests.integration.crashes import Crash, crash_then_replay, die_after_the_lease
from tests.integration.push_fixtures import PushStub, StreamRecords
from tests.integration.world import GAME, START, World

BRAND = "brand-a"


@pytest.fixture(autouse=True)
def no_backoff(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Retries after a lost race back off; here they go at once and are counted."""
    retries: list[int] = []
    monkeypatch.setattr("frolic.dal.stranded.backoff", retries.append)
    monkeypatch.setattr("frolic.dal.pools.backoff", retries.append)
    return retries


@pytest.fixture(autouse=True)
def fresh_metrics() -> Iterator[None]:
    metrics.clear_metrics()
    yield
    metrics.clear_metrics()


def _repair(world: World, *, won_issued_through: float | None = None) -> int:
    """The sweeper's repair step, once its issuing step has run up to now (by default)."""
    through = world.clock() if won_issued_through is None else won_issued_through
    return StrandedLeases(world.db, world.settings, clock=world.clock).repair(
        GAME, game_start=START, won_issued_through=through
    )


def _bound(world: World) -> float:
    return world.settings.stranded_after_seconds


def _won(world: World) -> dict[str, str]:
    """play → code, for every won result of the game."""
    items = world.db.scan(TableName=world.settings.results_table)["Items"]
    return {
        result["playId"]: grant["code"]
        for result in map(codec.load, items)
        if result["status"] == "won"
        for grant in result["coupons"]
    }


def _deliver_won(world: World) -> None:
    """Delivery of every won result as the results stream hands it over: coupons issued."""
    deliverer = Deliverer(
        world.db,
        Sessions(world.db, world.settings, clock=world.clock),
        PushStub().push(),
        world.settings,
        clock=world.clock,
        facts=NO_FACTS,
        events=world.events.bus,
    )
    records = StreamRecords()
    for item in world.db.scan(TableName=world.settings.results_table)["Items"]:
        result = codec.load(item)
        if result["status"] == "won":
            deliverer.handle(DynamoDBRecord(records.record("INSERT", new=result)))


def _budget(world: World) -> StoredBudget:
    stored = read_budget(world.db, world.settings.state_table, GAME, BRAND)
    assert stored is not None
    return stored


def _assert_clean(world: World) -> None:
    report = world.reconcile()
    assert report.clean, report.render()


def _strand_two_of_three(world: World) -> list[str]:
    """Budget 3; a batch of two winners leases ordinals 1 and 2 and its Lambda dies right
    after; Kinesis replays the batch on a fresh Lambda, which wins ordinal 3 for one of
    them; delivery issues it. Returns the pool's codes by ordinal."""
    world.live_game()
    codes = world.budget(BRAND, 3)
    records = [world.record(world.play(n, at=1 + n / 10)) for n in range(2)]
    crash_then_replay(world, records, die_after_the_lease)
    _deliver_won(world)
    assert sorted(_won(world).values()) == [codes[2]]
    return codes


def _later_plays(world: World, first: int, count: int) -> None:
    """A batch of `count` new players, arriving now."""
    at = world.clock() - START
    records = [world.record(world.play(n, at=at)) for n in range(first, first + count)]
    world.stream_allocator(GreedyPacing()).handle({"Records": records}, None)
    _deliver_won(world)


def test_stranded_ordinals_go_back_to_the_budget_only_after_the_bound_and_win_again(
    world: World,
) -> None:
    # Given ordinals 1 and 2 stranded by a crash, and ordinal 3 won and issued
    codes = _strand_two_of_three(world)
    assert len(world.reconcile().problems) == 2
    # When the sweeper looks now, and again just before the bound has passed
    assert _repair(world) == 0
    world.clock.now += _bound(world) - 1
    assert _repair(world) == 0
    # Then nothing was voided: the counter still counts 3, reconcile still names them
    assert (_budget(world).issued, _budget(world).counters[0].voided) == (3, 0)
    assert world.coupon(BRAND, 1)["status"] == CouponStatus.AVAILABLE.value
    # When the bound has passed since they were first seen stranded
    world.clock.now += 1
    returned = _repair(world)
    # Then exactly the two stranded coupons went back, under the marketer's numbers
    assert returned == 2
    assert metrics.metric_set["CouponsReturned"]["Value"] == [2.0]
    stored = _budget(world)
    assert (stored.budget, stored.shares, stored.issued, stored.pool_size) == (3, [3], 1, 3)
    assert [world.coupon(BRAND, n)["status"] for n in (1, 2)] == [CouponStatus.VOID.value] * 2
    assert sorted(world.coupon(BRAND, n)["code"] for n in (4, 5)) == sorted(codes[:2])
    _assert_clean(world)
    assert "issued counter 1, coupons issued 1, won results 1" in world.reconcile().render()
    assert world.reconcile().brands[0].returned == 2
    report = GameReports(world.db, world.settings).report(world.live_game())
    assert (report.brands[0].issued, report.brands[0].remaining, report.wins) == (1, 2, 1)
    # And a later batch wins them: the budget is spent in full, on the same codes, once each
    _later_plays(world, first=2, count=4)
    won = _won(world)
    assert sorted(won.values()) == sorted(codes)
    assert _budget(world).issued == 3
    _assert_clean(world)


def test_a_won_result_not_yet_delivered_is_never_voided_while_won_issued_through_is_before_its_bound(  # noqa: E501
    world: World,
) -> None:
    # Given a play that won ordinal 1, its result written, its delivery held up
    world.live_game()
    world.budget(BRAND, 2)
    world.stream_allocator(GreedyPacing()).handle({"Records": [world.record(world.play(1))]}, None)
    assert world.coupon(BRAND, 1)["status"] == CouponStatus.AVAILABLE.value
    first_look = world.clock()
    assert _repair(world, won_issued_through=first_look) == 0
    # When the sweeper runs long after, its issuing step not yet past the bound
    world.clock.now += 10 * _bound(world)
    assert _repair(world, won_issued_through=first_look + _bound(world) - 1) == 0
    # Then the coupon is untouched, and once it is issued the suspicion is dropped
    assert world.coupon(BRAND, 1)["status"] == CouponStatus.AVAILABLE.value
    _deliver_won(world)
    assert _repair(world) == 0
    assert world.coupon(BRAND, 1)["status"] == CouponStatus.ISSUED.value
    assert _budget(world).counters[0].voided == 0
    _assert_clean(world)


def test_a_coupon_issued_as_the_void_is_sent_is_not_voided(world: World) -> None:
    # Given the stranded ordinals, past the bound
    _strand_two_of_three(world)
    _repair(world)
    world.clock.now += _bound(world)
    # When the held-up Lambda's result for ordinal 1 is delivered just before the void
    # lands (what the precondition rules out; the void's own condition still holds)
    issued = {"done": False}

    def issue_ordinal_one_first(params: dict[str, Any], **_: Any) -> None:
        coupon = params["TransactItems"][0]["Update"]["Key"]
        if not issued["done"] and coupon == codec.dump(coupon_key(GAME, BRAND, 1)):
            issued["done"] = True
            world.db.update_item(
                TableName=world.settings.state_table,
                Key=coupon,
                UpdateExpression="SET #status = :issued, playId = :play",
                ExpressionAttributeNames={"#status": "status"},
                ExpressionAttributeValues=codec.dump(
                    {":issued": CouponStatus.ISSUED.value, ":play": "play-late"}
                ),
            )

    world.db.meta.events.register(
        "before-parameter-build.dynamodb.TransactWriteItems", issue_ordinal_one_first
    )
    # Then only ordinal 2 goes back; ordinal 1 stays with its play
    assert _repair(world) == 1
    assert world.coupon(BRAND, 1)["status"] == CouponStatus.ISSUED.value
    assert world.coupon(BRAND, 2)["status"] == CouponStatus.VOID.value
    assert _budget(world).counters[0].voided == 1


def test_repairing_again_changes_nothing(world: World) -> None:
    # Given the stranded coupons returned
    _strand_two_of_three(world)
    _repair(world)
    world.clock.now += _bound(world)
    assert _repair(world) == 2
    returned = _budget(world)
    # When the sweeper runs again, now and much later
    assert _repair(world) == 0
    world.clock.now += 10 * _bound(world)
    assert _repair(world) == 0
    # Then the counter and the pool are as the first repair left them
    assert _budget(world) == returned
    _assert_clean(world)


def test_a_repair_racing_an_upload_reads_the_pool_again_and_returns_after_it(
    world: World, no_backoff: list[int]
) -> None:
    # Given the stranded ordinals, past the bound
    codes = _strand_two_of_three(world)
    _repair(world)
    world.clock.now += _bound(world)
    uploaded = {"done": False}

    def upload_first(params: dict[str, Any], **_: Any) -> None:
        if not uploaded["done"] and _is_a_void(params):
            uploaded["done"] = True
            world.pools().add_codes(GAME, BRAND, ["EXTRA-0001", "EXTRA-0002"])

    world.db.meta.events.register(
        "before-parameter-build.dynamodb.TransactWriteItems", upload_first
    )
    # When an upload lands between the repair's read and its first void
    returned = _repair(world)
    # Then the void retried on the new end of the pool: nothing lost, nothing overwritten
    assert returned == 2
    assert no_backoff == [0]
    assert [world.coupon(BRAND, n)["code"] for n in (4, 5)] == ["EXTRA-0001", "EXTRA-0002"]
    assert sorted(world.coupon(BRAND, n)["code"] for n in (6, 7)) == sorted(codes[:2])
    assert _budget(world).pool_size == 5
    _assert_clean(world)


def test_a_pool_that_keeps_moving_leaves_the_void_to_the_next_run(world: World) -> None:
    # Given the stranded ordinals, past the bound, and uploads landing before every void
    _strand_two_of_three(world)
    _repair(world)
    world.clock.now += _bound(world)
    uploads = {"count": 0, "on": True}

    def upload_first(params: dict[str, Any], **_: Any) -> None:
        if uploads["on"] and _is_a_void(params):
            uploads["count"] += 1
            world.pools().add_codes(GAME, BRAND, [f"EXTRA-{uploads['count']:04d}"])

    world.db.meta.events.register(
        "before-parameter-build.dynamodb.TransactWriteItems", upload_first
    )
    # When the repair runs: each try finds the pool moved
    assert _repair(world) == 0
    assert uploads["count"] == 2 * VOID_ATTEMPTS
    uploads["on"] = False
    # Then nothing was half done, and the next run returns both
    assert _budget(world).counters[0].voided == 0
    assert _repair(world) == 2
    _assert_clean(world)


def _is_a_void(params: dict[str, Any]) -> bool:
    first = params["TransactItems"][0].get("Update", {})
    return ":void" in first.get("ExpressionAttributeValues", {})


def test_an_upload_racing_a_repair_retries_on_the_pool_it_left(world: World) -> None:
    # Given the stranded ordinals, past the bound
    _strand_two_of_three(world)
    _repair(world)
    world.clock.now += _bound(world)
    repaired = {"returned": -1}

    def repair_first(params: dict[str, Any], **_: Any) -> None:
        upload = any("Put" in item and "EXTRA" in str(item) for item in params["TransactItems"])
        if upload and repaired["returned"] < 0:
            repaired["returned"] = _repair(world)

    world.db.meta.events.register(
        "before-parameter-build.dynamodb.TransactWriteItems", repair_first
    )
    # When a repair lands between an upload's read and its write
    added = world.pools().add_codes(GAME, BRAND, ["EXTRA-0001"])
    # Then both landed: the upload went after the returned coupons
    assert repaired["returned"] == 2
    assert (added.added, added.pool_size) == (1, 4)
    assert world.coupon(BRAND, 6)["code"] == "EXTRA-0001"
    _assert_clean(world)


def test_set_budget_after_a_void_keeps_the_share_and_refuses_below_what_was_given(
    world: World,
) -> None:
    # Given two of three coupons returned: one given, the counter at ordinal 3
    _strand_two_of_three(world)
    _repair(world)
    world.clock.now += _bound(world)
    assert _repair(world) == 2
    pools = world.pools()
    # When the marketer lowers the budget to 2 (below the 3 ordinals leased, above the 1
    # coupon given) and then tries 0
    change = pools.set_budget(GAME, BRAND, 2, actor="marketer")
    with pytest.raises(BudgetBelowIssuedError) as refused:
        pools.set_budget(GAME, BRAND, 0, actor="marketer")
    # Then the change speaks of real coupons and the share is what was asked
    assert (change.previous, change.issued) == (3, 1)
    assert refused.value.issued == 1
    stored = _budget(world)
    assert (stored.budget, stored.shares, stored.issued) == (2, [2], 1)
    # And exactly one more coupon can be won
    _later_plays(world, first=2, count=3)
    assert len(_won(world)) == 2
    assert _budget(world).issued == 2
    _assert_clean(world)


def test_a_split_budget_returns_each_counters_ordinals_to_that_counter(world: World) -> None:
    # Given a budget over two counters, and a Lambda that dies as it reads leased codes
    world.live_game()
    world.budget(BRAND, 8, counters=2)
    records = [world.record(world.play(n, at=1 + n / 10)) for n in range(4)]

    def die_reading_codes(params: dict[str, Any], **_: Any) -> None:
        if "COUPON#" in str(params["RequestItems"]):
            raise Crash("after the leases")

    crash_then_replay(
        world,
        records,
        lambda client: client.meta.events.register(
            "before-parameter-build.dynamodb.BatchGetItem", die_reading_codes
        ),
    )
    _deliver_won(world)
    before = _budget(world)
    won_before = Counter(_code_sub(world, code) for code in _won(world).values())
    stranded = {c.sub: c.issued - won_before[c.sub] for c in before.counters}
    assert sum(stranded.values()) > 0
    # When the repair has run past the bound
    _repair(world)
    world.clock.now += _bound(world)
    returned = _repair(world)
    # Then each counter got back what it had stranded, and its share is unchanged
    assert returned == sum(stranded.values())
    after = _budget(world)
    assert {c.sub: c.voided for c in after.counters} == stranded
    assert after.shares == before.shares
    _assert_clean(world)


def _code_sub(world: World, code: str) -> int:
    item = world.db.get_item(
        TableName=world.settings.state_table, Key=codec.dump(code_key(code)), ConsistentRead=True
    )["Item"]
    return int(codec.load(item)["sub"])


def test_reconcile_tells_a_void_the_counter_does_not_count(world: World) -> None:
    # Given the stranded coupons returned
    _strand_two_of_three(world)
    _repair(world)
    world.clock.now += _bound(world)
    assert _repair(world) == 2
    # When the counter's voided count is changed by hand
    world.db.update_item(
        TableName=world.settings.state_table,
        Key=codec.dump(counter_key(GAME, BRAND, 0)),
        UpdateExpression="SET voided = :one",
        ExpressionAttributeValues=codec.dump({":one": 1}),
    )
    # Then reconcile names the mismatch
    assert (
        "brand-a: counter 0 counts 1 voided ordinals but 2 of its coupons are VOID"
        in world.reconcile().problems
    )


def test_a_lease_planned_before_a_void_lands_after_it_within_the_budget(world: World) -> None:
    # Given the stranded ordinals past the bound, and room for one more coupon
    codes = _strand_two_of_three(world)
    world.pools().set_budget(GAME, BRAND, 4, actor="marketer")
    world.pools().add_codes(GAME, BRAND, ["EXTRA-0001"])
    _repair(world)
    world.clock.now += _bound(world)
    # And an allocator that has read the counter (3 given, 1 left) before the repair runs
    allocating = boto3.client("dynamodb", region_name="us-east-1")
    repaired = {"returned": -1}

    def repair_before_the_lease(params: dict[str, Any], **_: Any) -> None:
        if (
            str(params.get("UpdateExpression", "")).startswith("ADD issued :count")
            and repaired["returned"] < 0
        ):
            repaired["returned"] = _repair(world)

    allocating.meta.events.register(
        "provide-client-params.dynamodb.UpdateItem", repair_before_the_lease
    )
    # When its lease lands after the void, then later players come
    at = world.clock() - START
    other = World(allocating, world.settings, world.clock, events=world.events)
    batch = [world.record(world.play(n, at=at)) for n in range(2, 5)]
    other.stream_allocator(GreedyPacing()).handle({"Records": batch}, None)
    assert repaired["returned"] == 2
    assert len(_won(world)) == 2  # the lease took the room it saw, past the void
    assert _budget(world).counters[0].leased == 4
    _deliver_won(world)
    _later_plays(world, first=5, count=4)
    # Then the budget of 4 is spent exactly, every code once
    assert sorted(_won(world).values()) == sorted([*codes, "EXTRA-0001"])
    assert _budget(world).issued == 4
    _assert_clean(world)
