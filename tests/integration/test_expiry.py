"""The expiry watcher on moto: a play still pending when the reel stops expires, one
already decided stays as decided, and nothing sleeps for real (the clock is moved)."""

from __future__ import annotations

from types import ModuleType
from typing import Any

import pytest
from aws_lambda_powertools.utilities.data_classes.dynamo_db_stream_event import DynamoDBRecord
from botocore.exceptions import ClientError

from frolic.allocation.ports import Outcome, Play
from frolic.dal import codec
from frolic.dal.items import outcome_item, pending_item
from frolic.dal.sessions import Sessions
from frolic.deliver import Deliverer
from frolic.expiry import EXPIRED_REASON, Expiry, ExpiryWatcher
from frolic.models import PlayStatus
from tests.integration.apigw import FakeContext
from tests.integration.push_fixtures import (
    ManualClock,
    PushStub,
    ResultsStream,
    StreamRecords,
    clock,
    load_handler,
    push_stub,
    sessions,
    stream_event,
)
from tests.integration.world import GAME, START, World

__all__ = ["clock", "push_stub", "sessions"]  # fixtures, used by name

CONN = "Ab1cDEFgIAMCJzQ="


@pytest.fixture
def watcher(world: World, clock: ManualClock) -> ExpiryWatcher:
    return ExpiryWatcher(world.db, world.settings, clock=clock, sleep=clock.sleep)


@pytest.fixture
def handler(watcher: ExpiryWatcher, monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    """The real second entry point of the deliver package, on moto and the manual clock."""
    module = load_handler("expiry")
    monkeypatch.setattr(module, "_watcher", lambda: watcher)
    return module


@pytest.fixture
def records() -> StreamRecords:
    return StreamRecords()


@pytest.fixture(autouse=True)
def _no_real_sleep(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(seconds: float) -> None:
        raise AssertionError(f"slept for real ({seconds} s)")

    monkeypatch.setattr("time.sleep", refuse)


def a_play(n: int = 1, *, at: float = 1.0, connection: str | None = None) -> Play:
    return Play(
        play_id=f"play-{n}",
        user_id="alice",
        game_id=GAME,
        arrival_ts=START + at,
        fingerprint="0" * 32,
        connection_id=connection,
    )


def put(world: World, item: dict[str, Any]) -> None:
    world.db.put_item(TableName=world.settings.results_table, Item=codec.dump(item))


def arrive(world: World, records: StreamRecords, play: Play) -> dict[str, Any]:
    """Ingest's pending write, and the INSERT record the stream makes of it."""
    item = pending_item(play)
    put(world, item)
    return records.record("INSERT", new=item)


def watch(handler: ModuleType, *records: dict[str, Any]) -> list[str]:
    response = handler.lambda_handler(stream_event(*records), FakeContext())
    return [failure["itemIdentifier"] for failure in response["batchItemFailures"]]


def lost(play: Play, at: float) -> dict[str, Any]:
    return outcome_item(Outcome(play, PlayStatus.LOST, decided_at=at))


def test_a_play_still_pending_at_its_deadline_expires(
    world: World, handler: ModuleType, records: StreamRecords, clock: ManualClock
) -> None:
    play = a_play(at=1.0)
    clock.now = START + 2.0  # the stream hands the INSERT over a second after arrival

    failed = watch(handler, arrive(world, records, play))

    deadline = play.arrival_ts + world.settings.expiry_seconds
    assert failed == []
    assert clock.slept == [pytest.approx(deadline - (START + 2.0))]
    result = world.result("play-1")
    assert result["status"] == PlayStatus.EXPIRED
    assert result["reason"] == EXPIRED_REASON
    assert result["decidedAt"] == pytest.approx(deadline)
    assert result["userId"] == "alice" and result["gameId"] == GAME  # the rest is kept


def test_a_result_that_lands_during_the_wait_stands(
    world: World, handler: ModuleType, records: StreamRecords, clock: ManualClock
) -> None:
    play = a_play()
    record = arrive(world, records, play)
    clock.meanwhile = lambda: put(world, lost(play, at=clock.now - 5.0))

    failed = watch(handler, record)

    assert failed == []
    result = world.result("play-1")
    assert result["status"] == PlayStatus.LOST
    assert "reason" not in result


def test_a_result_that_lands_between_the_read_and_the_write_stands(
    world: World, watcher: ExpiryWatcher, records: StreamRecords, clock: ManualClock
) -> None:
    """The allocator's write slips in just before the expiry's own: the condition refuses
    the expiry. (A botocore hook on the real client makes the allocator land there.)"""
    play = a_play()
    record = arrive(world, records, play)
    clock.now = START + 30.0

    def allocator_lands_first(**_: Any) -> None:
        world.db.meta.events.unregister("before-call.dynamodb.UpdateItem", allocator_lands_first)
        put(world, lost(play, at=START + 14.9))

    world.db.meta.events.register("before-call.dynamodb.UpdateItem", allocator_lands_first)

    assert watcher.handle(DynamoDBRecord(record)) is Expiry.DECIDED
    assert world.result("play-1")["status"] == PlayStatus.LOST


def test_an_expired_play_stays_expired_when_the_allocator_comes_late(
    world: World, handler: ModuleType, records: StreamRecords, clock: ManualClock
) -> None:
    from frolic.dal.allocation_store import DynamoAllocationStore

    play = a_play()
    watch(handler, arrive(world, records, play))
    assert world.result("play-1")["status"] == PlayStatus.EXPIRED

    store = DynamoAllocationStore(world.db, world.settings, clock=clock)
    store.save_outcomes([Outcome(play, PlayStatus.LOST, decided_at=clock.now + 1.0)])

    assert world.result("play-1")["status"] == PlayStatus.EXPIRED


def test_a_late_record_expires_at_once(
    world: World, handler: ModuleType, records: StreamRecords, clock: ManualClock
) -> None:
    play = a_play()
    record = arrive(world, records, play)
    clock.now = START + 300.0  # the mapping was behind: the deadline is long gone

    watch(handler, record)

    assert clock.slept == []
    assert world.result("play-1")["status"] == PlayStatus.EXPIRED


def test_a_batch_waits_only_until_each_deadline_in_turn(
    world: World, handler: ModuleType, records: StreamRecords, clock: ManualClock
) -> None:
    plays = [a_play(1, at=0.0), a_play(2, at=2.0), a_play(3, at=2.5), a_play(4, at=9.0)]
    batch = [arrive(world, records, play) for play in plays]
    put(world, lost(plays[2], at=START + 4.0))  # decided in time
    clock.now = START

    failed = watch(handler, *batch)

    expiry = world.settings.expiry_seconds
    assert failed == []
    assert sum(clock.slept) == pytest.approx(9.0 + expiry)  # up to the last deadline, no more
    assert clock.slept == [pytest.approx(s) for s in (expiry, 2.0, 0.5, 6.5)]
    statuses = [world.result(p.play_id)["status"] for p in plays]
    assert statuses == ["expired", "expired", "lost", "expired"]


def test_the_plays_of_a_batch_past_their_deadlines_are_read_together(
    world: World, handler: ModuleType, records: StreamRecords, clock: ManualClock
) -> None:
    """One BatchGetItem for the plays already due, then one for the late one once it is
    due: never a read per play, never a read before a play's deadline."""
    plays = [a_play(1, at=0.0), a_play(2, at=1.0), a_play(3, at=2.0), a_play(4, at=20.0)]
    batch = [arrive(world, records, play) for play in plays]
    put(world, lost(plays[1], at=START + 4.0))
    clock.now = START + 30.0  # 1-3 are past their deadlines, 4 is due at START + 35
    reads: list[tuple[str, list[str], float]] = []

    def note(model: Any, params: dict[str, Any], **_: Any) -> None:
        if model.name == "GetItem":
            reads.append((model.name, [params["Key"]["playId"]["S"]], clock.now))
        elif model.name == "BatchGetItem":
            keys = params["RequestItems"][world.settings.results_table]["Keys"]
            reads.append((model.name, [k["playId"]["S"] for k in keys], clock.now))

    world.db.meta.events.register("before-parameter-build.dynamodb", note)
    try:
        failed = watch(handler, *batch)
    finally:
        world.db.meta.events.unregister("before-parameter-build.dynamodb", note)

    assert failed == []
    assert reads == [
        ("BatchGetItem", ["play-1", "play-2", "play-3"], START + 30.0),
        ("BatchGetItem", ["play-4"], pytest.approx(START + 35.0)),
    ]
    statuses = [world.result(p.play_id)["status"] for p in plays]
    assert statuses == ["expired", "lost", "expired", "expired"]


def test_records_other_than_a_pending_insert_are_left_alone(
    world: World, handler: ModuleType, records: StreamRecords, clock: ManualClock
) -> None:
    play = a_play()
    pending, decided = pending_item(play), lost(play, at=START + 2.0)
    put(world, pending)

    failed = watch(
        handler,
        records.record("MODIFY", old=pending, new=decided),
        records.record("INSERT", new=decided),
        records.record("MODIFY", old=pending, new=pending),
        records.record("REMOVE", old=pending),
    )

    assert failed == []
    assert clock.slept == []
    assert world.result("play-1")["status"] == PlayStatus.PENDING


def test_an_aws_error_fails_only_its_record(
    world: World, handler: ModuleType, records: StreamRecords, clock: ManualClock
) -> None:
    broken, fine = a_play(1), a_play(2)
    batch = [arrive(world, records, broken), arrive(world, records, fine)]

    def throttle(params: dict[str, Any], **_: Any) -> None:
        keys = params["RequestItems"][world.settings.results_table]["Keys"]
        if {"playId": {"S": broken.play_id}} in keys:
            raise ClientError(
                {"Error": {"Code": "ProvisionedThroughputExceededException", "Message": "slow"}},
                "BatchGetItem",
            )

    world.db.meta.events.register("before-parameter-build.dynamodb.BatchGetItem", throttle)

    failed = watch(handler, *batch)

    assert failed == [batch[0]["dynamodb"]["SequenceNumber"]]
    assert world.result("play-2")["status"] == PlayStatus.EXPIRED


def test_an_expired_play_reaches_its_player_through_the_real_stream(
    world: World,
    sessions: Sessions,
    push_stub: PushStub,
    clock: ManualClock,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Stream INSERT → watcher expires → stream MODIFY → deliver tells the player."""
    expiry, deliver = load_handler("expiry"), load_handler("deliver")
    watcher = ExpiryWatcher(world.db, world.settings, clock=clock, sleep=clock.sleep)
    deliverer = Deliverer(
        world.db, sessions, push_stub.push(), world.settings, clock=clock, events=world.events.bus
    )
    monkeypatch.setattr(expiry, "_watcher", lambda: watcher)
    monkeypatch.setattr(deliver, "_deliverer", lambda: deliverer)
    stream = ResultsStream(world)
    sessions.open(CONN, "alice")
    put(world, pending_item(a_play(connection=CONN)))

    [insert] = stream.new_records()
    assert watch(expiry, insert) == []
    [modify] = stream.new_records()
    assert modify["eventName"] == "MODIFY"

    push_stub.expect_post(CONN)
    response = deliver.lambda_handler(stream_event(modify), FakeContext())

    assert response["batchItemFailures"] == []
    assert push_stub.messages_to(CONN) == [
        {"type": "result", "playId": "play-1", "status": "expired", "reason": EXPIRED_REASON}
    ]
    push_stub.assert_all_used()
