"""The allocator Lambda's logic against moto's DynamoDB, under the faults Kinesis and
Lambda really produce. Every test ends with `reconcile` clean."""

from __future__ import annotations

from typing import Any

import boto3
import pytest
from aws_lambda_powertools.utilities.batch.exceptions import BatchProcessingError
from botocore.exceptions import ClientError, ConnectionClosedError

from frolic.allocate import MALFORMED, play_from_event
from frolic.dal import codec
from frolic.dal.items import pending_item
from frolic.dal.pools import BudgetBelowIssuedError
from frolic.dal.tables import arrivals_key, closing_key
from frolic.expiry import ExpiryWatcher
from frolic.models import PlayEvent, PlayStatus
from tests.doubles import GreedyPacing
from tests.integration.crashes import (
    Crash,
    crash_then_replay,
    die_after_the_lease,
    die_sending_results,
)
from tests.integration.world import GAME, START, World


def _statuses(world: World, count: int) -> dict[str, str]:
    return {f"play-{n}": world.result(f"play-{n}")["status"] for n in range(count)}


def _assert_clean(world: World) -> None:
    report = world.reconcile()
    assert report.clean, report.render()


@pytest.mark.parametrize("copies", [2, 3, 5])
def test_a_record_delivered_again_gets_its_first_result(world: World, copies: int) -> None:
    # Given a live game where every play would win while coupons last
    world.live_game()
    world.budget("brand-a", 3)
    plays = [world.play(n, at=1 + n / 10) for n in range(6)]
    allocator = world.stream_allocator(GreedyPacing())
    first = allocator.handle({"Records": [world.record(p) for p in plays]}, None)
    decided = _statuses(world, 6)
    # When Kinesis hands the same records to fresh Lambdas again and again
    for _ in range(copies - 1):
        again = world.stream_allocator(GreedyPacing())
        response = again.handle({"Records": [world.record(p) for p in plays]}, None)
        assert response == first == {"batchItemFailures": []}
    # Then nothing changes: three winners, three losers, one result each
    assert _statuses(world, 6) == decided
    assert sorted(decided.values()) == ["lost"] * 3 + ["won"] * 3
    _assert_clean(world)


def test_a_producer_retry_with_a_new_sequence_number_is_the_same_play(world: World) -> None:
    world.live_game()
    world.budget("brand-a", 5)
    play = world.play(1)
    allocator = world.stream_allocator(GreedyPacing())
    allocator.handle({"Records": [world.record(play)]}, None)
    won = world.result("play-1")
    # The producer's retry: same body, same playId, later in the stream
    allocator.handle({"Records": [world.record(play), world.record(world.play(2))]}, None)
    assert world.result("play-1") == won
    assert world.result("play-2")["status"] == "won"
    _assert_clean(world)


WRITES = [
    ("UpdateItem", 1),  # the first winner's win slot
    ("UpdateItem", 2),  # the second winner's win slot
    # (the third, the lease: test_a_crash_between_a_lease_and_the_results_…)
    ("BatchWriteItem", 1),  # the results
    ("UpdateItem", 4),  # the arrival counts, once the results are saved
]


@pytest.mark.parametrize(("operation", "nth"), WRITES)
def test_a_crash_after_any_write_then_a_replay_leaves_one_consistent_result(
    world: World, operation: str, nth: int
) -> None:
    # Given a batch with two winners and several losers
    world.live_game()
    world.budget("brand-a", 2)
    plays = [world.play(n, at=1 + n / 10) for n in range(5)]
    records = [world.record(p) for p in plays]
    calls = {"count": 0}

    def die_after_the_write(**_: Any) -> None:
        calls["count"] += 1
        if calls["count"] == nth:
            raise Crash(operation)

    # When the Lambda dies right after that write lands, and Kinesis retries the batch
    response = crash_then_replay(
        world,
        records,
        lambda client: client.meta.events.register(
            f"after-call.dynamodb.{operation}", die_after_the_write
        ),
    )
    # Then every play has exactly one final result and the books balance
    assert response == {"batchItemFailures": []}
    assert sorted(_statuses(world, 5).values()) == ["lost"] * 3 + ["won"] * 2
    _assert_clean(world)


def test_a_crash_between_a_lease_and_the_results_strands_its_ordinals_and_no_more(
    world: World,
) -> None:
    # Given a batch of two winners, and a Lambda that dies right after their lease
    world.live_game()
    world.budget("brand-a", 3)
    plays = [world.play(n, at=1 + n / 10) for n in range(2)]
    records = [world.record(p) for p in plays]
    response = crash_then_replay(world, records, die_after_the_lease)
    # Then each play has one final result, within the budget: the third coupon went out
    assert response == {"batchItemFailures": []}
    assert sorted(_statuses(world, 2).values()) == ["lost", "won"]
    # And reconcile names the two ordinals the dead lease took, and nothing else
    report = world.reconcile()
    assert report.problems == [
        "brand-a: issued counter 3 and won results 1 disagree",
        "brand-a: counter 0 leased 2 ordinals that no result holds "
        "(stranded by a crash between a lease and its results)",
    ]


def test_a_poison_record_mid_batch_neither_blocks_the_shard_nor_loses_a_play(
    world: World,
) -> None:
    world.live_game()
    world.budget("brand-a", 10)
    # Given play-1 accepted by ingest (pending), then its record garbled on the way
    _pending(world, world.play(1))
    records = [
        world.record(world.play(0)),
        world.record(b"\x00\xffnot json at all"),
        world.record({"playId": "play-1", "userId": "user-1", "gameId": GAME}),  # no arrivalTs
        world.record({"unexpected": True}),
        world.record(world.play(2)),
    ]
    response = world.stream_allocator().handle({"Records": records}, None)
    # Then the batch succeeds as a whole, so the shard moves on
    assert response == {"batchItemFailures": []}
    # And the play the broken record names is answered, not dropped
    assert world.result("play-1")["status"] == "rejected"
    assert world.result("play-1")["reason"] == MALFORMED
    assert world.result("play-1")["arrivalTs"] == START + 1.0  # as ingest stamped it
    assert "sweepShard" not in world.result("play-1")  # nothing left for the sweeper
    assert world.result("play-0")["status"] in ("won", "lost")
    assert world.result("play-2")["status"] in ("won", "lost")
    _assert_clean(world)


def _pending(world: World, play: PlayEvent) -> None:
    """The pending item ingest writes before it puts the play on the stream."""
    world.db.put_item(
        TableName=world.settings.results_table,
        Item=codec.dump(pending_item(play_from_event(play))),
    )


@pytest.mark.parametrize("named_user", ["user-1", "mallory"])
def test_a_malformed_record_never_overwrites_a_decided_result(
    world: World, named_user: str
) -> None:
    # Given play-1 won, its coupon bound
    world.live_game()
    world.budget("brand-a", 2)
    _pending(world, world.play(1))
    world.stream_allocator(GreedyPacing()).handle({"Records": [world.record(world.play(1))]}, None)
    won = world.result("play-1")
    assert won["status"] == "won"
    # When a record that fails validation names it (a producer bug, a newer event shape)
    garbled = {"playId": "play-1", "userId": named_user, "gameId": GAME, "arrivalTs": "soon"}
    world.stream_allocator().handle({"Records": [world.record(garbled)]}, None)
    # Then the win stands, under its player, and the books still balance
    assert world.result("play-1") == won
    _assert_clean(world)


def test_a_malformed_record_cannot_end_another_players_pending_play(world: World) -> None:
    world.live_game()
    _pending(world, world.play(1, user="alice"))
    garbled = {"playId": "play-1", "userId": "mallory", "gameId": GAME}
    world.stream_allocator().handle({"Records": [world.record(garbled)]}, None)
    assert world.result("play-1")["status"] == "pending"
    assert world.result("play-1")["userId"] == "alice"


def _throttling_client(only_game: str | None = None) -> Any:
    """A client whose result writes are throttled past botocore's own retries."""
    client = boto3.client("dynamodb", region_name="us-east-1")

    def throttle(params: dict[str, Any], **_: Any) -> None:
        requests = next(iter(params["RequestItems"].values()))
        games = {r["PutRequest"]["Item"]["gameId"]["S"] for r in requests}
        if only_game is None or only_game in games:
            raise ClientError(
                {"Error": {"Code": "ProvisionedThroughputExceededException", "Message": "slow"}},
                "BatchWriteItem",
            )

    client.meta.events.register("before-parameter-build.dynamodb.BatchWriteItem", throttle)
    return client


def test_throttling_of_a_whole_batch_fails_the_invocation_and_the_retry_settles_it(
    world: World,
) -> None:
    world.live_game()
    world.budget("brand-a", 10)
    records = [world.record(world.play(n, at=1 + n / 10)) for n in range(4)]
    busy = World(_throttling_client(), world.settings, world.clock, events=world.events)
    # When every record fails, the invocation fails: Kinesis bisects and retries
    with pytest.raises(BatchProcessingError):
        busy.stream_allocator().handle({"Records": records}, None)
    # And once DynamoDB has capacity again, the retry settles every play
    assert world.stream_allocator().handle({"Records": records}, None) == {"batchItemFailures": []}
    assert all(s in ("won", "lost") for s in _statuses(world, 4).values())
    _assert_clean(world)


def test_throttling_of_one_game_reports_only_its_records(world: World) -> None:
    world.live_game()
    world.live_game(game_id="game-2")
    world.budget("brand-a", 10)
    world.budget("brand-a", 10, game_id="game-2")
    records = [
        world.record(world.play(0)),
        world.record(world.play(1, game_id="game-2")),
        world.record(world.play(2)),
        world.record(world.play(3, game_id="game-2")),
    ]
    busy = World(
        _throttling_client(only_game="game-2"), world.settings, world.clock, events=world.events
    )
    response = busy.stream_allocator().handle({"Records": records}, None)
    failed = [f["itemIdentifier"] for f in response["batchItemFailures"]]
    assert failed == [
        records[1]["kinesis"]["sequenceNumber"],
        records[3]["kinesis"]["sequenceNumber"],
    ]
    assert world.result("play-0")["status"] in ("won", "lost")
    # Kinesis redelivers from the first failed record on; the replay is harmless
    assert world.stream_allocator().handle({"Records": records[1:]}, None) == {
        "batchItemFailures": []
    }
    _assert_clean(world)
    _assert_clean_game(world, "game-2")


def _assert_clean_game(world: World, game_id: str) -> None:
    report = world.reconcile(game_id)
    assert report.clean, report.render()


def test_with_budget_one_two_simultaneous_winners_get_one_coupon(world: World) -> None:
    # Given two allocators (two shards) that have both read the budget: 1 left
    world.live_game()
    world.budget("brand-a", 1)
    first_db = boto3.client("dynamodb", region_name="us-east-1")
    first = World(first_db, world.settings, world.clock, events=world.events)
    second = world.stream_allocator(GreedyPacing())
    raced = {"done": False}

    def the_other_shard_leases_first(params: dict[str, Any], **_: Any) -> None:
        if (
            str(params.get("UpdateExpression", "")).startswith("ADD issued :count")
            and not raced["done"]
        ):
            raced["done"] = True
            second.handle({"Records": [world.record(world.play(2))]}, None)

    first_db.meta.events.register(
        "provide-client-params.dynamodb.UpdateItem", the_other_shard_leases_first
    )
    # When both try to take it at the same moment
    first.stream_allocator(GreedyPacing()).handle({"Records": [world.record(world.play(1))]}, None)
    # Then exactly one play won it
    statuses = sorted([world.result("play-1")["status"], world.result("play-2")["status"]])
    assert statuses == ["lost", "won"]
    _assert_clean(world)


def test_the_same_play_id_with_another_payload_is_rejected(world: World) -> None:
    world.live_game()
    world.budget("brand-a", 5)
    allocator = world.stream_allocator(GreedyPacing())
    allocator.handle({"Records": [world.record(world.play(1, user="alice"))]}, None)
    original = world.result("play-1")
    impostor = world.play(1, user="mallory")
    outcomes = world.stream_allocator(GreedyPacing())._allocator.allocate(
        [play_from_event(impostor)], world.clock()
    )
    assert outcomes[0].status is PlayStatus.REJECTED
    assert world.result("play-1") == original
    _assert_clean(world)


def test_a_budget_lowered_mid_game_stops_wins_and_cannot_go_below_issued(world: World) -> None:
    world.live_game()
    world.budget("brand-a", 10)
    allocator = world.stream_allocator(GreedyPacing())
    allocator.handle({"Records": [world.record(world.play(n)) for n in range(3)]}, None)
    pools = world.pools()
    with pytest.raises(BudgetBelowIssuedError):
        pools.set_budget(GAME, "brand-a", 2, actor="marketer")
    pools.set_budget(GAME, "brand-a", 3, actor="marketer")
    later = [world.record(world.play(n, at=2)) for n in range(3, 8)]
    world.stream_allocator(GreedyPacing()).handle({"Records": later}, None)
    assert list(_statuses(world, 8).values()).count("won") == 3
    _assert_clean(world)


def test_a_play_that_expired_first_keeps_its_expiry_and_takes_no_coupon(world: World) -> None:
    world.live_game()
    world.budget("brand-a", 5)
    play = world.play(1)
    expired = {
        **pending_item(play_from_event(play)),
        "status": "expired",
        "reason": "no_result_before_reel_stopped",
        "decidedAt": START + 16,
    }
    world.db.put_item(TableName=world.settings.results_table, Item=codec.dump(expired))
    world.stream_allocator(GreedyPacing()).handle({"Records": [world.record(play)]}, None)
    assert world.result("play-1")["status"] == "expired"
    _assert_clean(world)


def test_late_losers_are_written_conditionally_and_never_over_an_expiry(world: World) -> None:
    # Given plays old enough that the expiry watcher may already be at work
    world.live_game()
    world.budget("brand-a", 1)
    world.clock.now = START + 60
    plays = [world.play(n, at=1.0) for n in range(3)]
    for play in plays:
        world.db.put_item(
            TableName=world.settings.results_table,
            Item=codec.dump(pending_item(play_from_event(play))),
        )
    expired = {**pending_item(play_from_event(plays[2])), "status": "expired", "reason": "late"}
    world.db.put_item(TableName=world.settings.results_table, Item=codec.dump(expired))
    batch_writes = {"count": 0}

    def count(**_: Any) -> None:
        batch_writes["count"] += 1

    world.db.meta.events.register("before-call.dynamodb.BatchWriteItem", count)
    # When the allocator decides them (nobody can win: the budget is kept by a winner)
    world.stream_allocator().handle({"Records": [world.record(p) for p in plays]}, None)
    # Then none went through an unconditional batch, and the expiry stands
    assert batch_writes["count"] == 0
    assert world.result("play-2")["status"] == "expired"
    assert {world.result(f"play-{n}")["status"] for n in range(2)} <= {"won", "lost"}
    _assert_clean(world)


def _a_pending_loss(world: World) -> tuple[PlayEvent, ExpiryWatcher, float]:
    """A play of a game without budget, pending as ingest left it; the expiry watcher on
    the test's clock; the play's deadline."""
    world.live_game()
    play = world.play(1)
    _pending(world, play)
    watcher = ExpiryWatcher(world.db, world.settings, clock=world.clock)
    return play, watcher, play.arrival_ts + world.settings.expiry_seconds


def test_a_batched_loss_held_up_past_the_deadline_never_overwrites_the_expiry(
    world: World,
) -> None:
    # Given a losing play (no budget) decided while young enough for a batch
    play, watcher, deadline = _a_pending_loss(world)

    def held_up_until_the_watcher_expired_it(**_: Any) -> None:
        # The SDK retrying a throttled request: time passes, the expiry watcher acts
        world.clock.now = max(world.clock.now, deadline + 1)
        assert watcher.expire(play.play_id)

    world.db.meta.events.register(
        "before-call.dynamodb.BatchWriteItem", held_up_until_the_watcher_expired_it
    )
    # When the allocator's batch of results lands after that
    world.stream_allocator().handle({"Records": [world.record(play)]}, None)
    # Then the player reads what they were told when the reel stopped: expired
    assert world.result("play-1")["status"] == "expired"
    _assert_clean(world)


def test_an_sdk_retry_of_a_batch_is_fenced_like_its_first_attempt(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a losing play, and a connection that drops the batch's first attempt
    play, watcher, deadline = _a_pending_loss(world)
    attempts: list[float] = []
    backoffs: list[float] = []
    monkeypatch.setattr("time.sleep", backoffs.append)

    def drop_the_first_attempt(**_: Any) -> None:
        attempts.append(world.clock.now)
        if len(attempts) == 1:
            # While botocore backs off, the reel stops and the watcher expires the play
            world.clock.now = deadline + 1
            assert watcher.expire(play.play_id)
            raise ConnectionClosedError(endpoint_url="https://dynamodb.us-east-1.amazonaws.com")

    world.db.meta.events.register("before-send.dynamodb.BatchWriteItem", drop_the_first_attempt)
    # When the allocator batches its result
    world.stream_allocator().handle({"Records": [world.record(play)]}, None)
    # Then botocore did retry, but the retry was stopped at the fence: still expired
    assert len(attempts) == 1 and len(backoffs) == 1
    assert world.result("play-1")["status"] == "expired"
    _assert_clean(world)


def _arrivals_counted(world: World) -> int:
    """Every play counted in the game's minute items of arrivals."""
    minute = int(START) // 60
    item = world.db.get_item(
        TableName=world.settings.state_table,
        Key=codec.dump(arrivals_key(GAME, minute)),
        ConsistentRead=True,
    ).get("Item", {})
    return sum(int(count) for name, count in codec.load(item).items() if name[1:].isdigit())


def test_a_batch_retried_by_the_same_lambda_counts_its_arrivals_once(world: World) -> None:
    # Given a batch whose results write is throttled once, past botocore's retries
    world.live_game()  # no budget: leases and their crashes are tested above
    records = [world.record(world.play(n, at=1 + n / 10)) for n in range(4)]
    throttled = {"times": 0}

    def throttle_once(**_: Any) -> None:
        if throttled["times"] == 0:
            throttled["times"] += 1
            raise ClientError(
                {"Error": {"Code": "ProvisionedThroughputExceededException", "Message": "slow"}},
                "BatchWriteItem",
            )

    world.db.meta.events.register("before-parameter-build.dynamodb.BatchWriteItem", throttle_once)
    allocator = world.stream_allocator()
    with pytest.raises(BatchProcessingError):
        allocator.handle({"Records": records}, None)
    # When Kinesis hands the batch to the same warm Lambda again, a second later
    world.clock.now += 1
    assert allocator.handle({"Records": records}, None) == {"batchItemFailures": []}
    # Then pacing's arrival counts hold each play once
    assert throttled["times"] == 1
    assert _arrivals_counted(world) == 4
    _assert_clean(world)


def test_a_batch_replayed_after_a_crash_counts_its_arrivals_once(world: World) -> None:
    # Given a Lambda that dies as it sends a batch's results
    world.live_game()  # no budget: leases and their crashes are tested above
    records = [world.record(world.play(n, at=1 + n / 10)) for n in range(4)]
    # When Kinesis retries the batch on a fresh Lambda
    crash_then_replay(world, records, die_sending_results)
    # Then each play is counted once
    assert _arrivals_counted(world) == 4
    _assert_clean(world)


def _closing_counted(world: World) -> int:
    item = world.db.get_item(
        TableName=world.settings.state_table,
        Key=codec.dump(closing_key(GAME)),
        ConsistentRead=True,
    ).get("Item", {})
    return int(codec.load(item).get("decided", 0))


def test_a_batch_decided_after_the_close_and_replayed_counts_its_plays_once(
    world: World,
) -> None:
    # Given a game whose window has closed, with four plays of its last seconds to decide
    world.live_game(duration=10)
    world.clock.now = START + 11
    records = [world.record(world.play(n, at=9 + n / 10)) for n in range(4)]
    # When the Lambda dies as it sends their results, and Kinesis retries the batch
    crash_then_replay(world, records, die_sending_results)
    # Then the plays decided after the close are counted once, not once per attempt
    assert _closing_counted(world) == 4
    _assert_clean(world)
