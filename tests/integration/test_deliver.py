"""`deliver` on moto: results-stream records in, coupons issued and results pushed.

The Management API client is a real boto3 client under botocore's Stubber (see
push_fixtures): every post must be expected, so an extra push fails the record.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from types import ModuleType
from typing import Any

import pytest
from aws_lambda_powertools.utilities.data_classes.dynamo_db_stream_event import DynamoDBRecord

from frolic.allocation.ports import Grant, Outcome, Play, Route, Wish
from frolic.dal import codec
from frolic.dal.catalog import BrandNames
from frolic.dal.items import outcome_item, pending_item
from frolic.dal.offers import OfferStore
from frolic.dal.redemptions import Redemptions
from frolic.dal.sessions import Sessions
from frolic.dal.tables import coupon_key
from frolic.deliver import Deliverer, Delivery, ResultImage, result_message
from frolic.models import CouponStatus, Offer, PlayStatus
from tests.integration.apigw import FakeContext
from tests.integration.push_fixtures import (
    ManualClock,
    PushStub,
    ResultsStream,
    StreamRecords,
    clock,
    emitted_logs,
    image,
    load_handler,
    push_stub,
    sessions,
    stream_event,
)
from tests.integration.world import GAME, START, World

__all__ = ["clock", "push_stub", "sessions"]  # fixtures, used by name

CONN = "Ab1cDEFgIAMCJzQ="
BRAND = "brand-a"


@pytest.fixture
def deliverer(
    world: World, sessions: Sessions, push_stub: PushStub, clock: ManualClock
) -> Deliverer:
    return Deliverer(
        world.db, sessions, push_stub.push(), world.settings, clock=clock, events=world.events.bus
    )


@dataclass
class Feed:
    """The real entry point (BatchProcessor and all), fed results-stream records."""

    handler: ModuleType
    records: StreamRecords = field(default_factory=StreamRecords)

    def record(
        self,
        event_name: str,
        *,
        new: dict[str, Any] | None = None,
        old: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        return self.records.record(event_name, new=new, old=old)

    def __call__(self, *records: dict[str, Any]) -> list[str]:
        """One batch; returns the sequence numbers reported as failed."""
        response = self.handler.lambda_handler(stream_event(*records), FakeContext())
        return [failure["itemIdentifier"] for failure in response["batchItemFailures"]]


@pytest.fixture
def feed(deliverer: Deliverer, monkeypatch: pytest.MonkeyPatch) -> Feed:
    module = load_handler("deliver")
    monkeypatch.setattr(module, "_deliverer", lambda: deliverer)
    return Feed(module)


@dataclass
class Output:
    capfd: pytest.CaptureFixture[str]
    caplog: pytest.LogCaptureFixture

    def texts(self) -> tuple[str, str, str]:
        """stdout (metrics), stderr, and the log lines as Powertools writes them."""
        out, err = self.capfd.readouterr()
        return out, err, emitted_logs(self.caplog)


@pytest.fixture
def output(capfd: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture) -> Output:
    return Output(capfd, caplog)


def a_play(n: int = 1, *, user: str = "alice", connection: str | None = CONN) -> Play:
    return Play(
        play_id=f"play-{n}",
        user_id=user,
        game_id=GAME,
        arrival_ts=START + 1.0,
        fingerprint="0" * 32,
        connection_id=connection,
    )


def decided(play: Play, status: PlayStatus, reason: str | None = None) -> dict[str, Any]:
    return outcome_item(Outcome(play, status, decided_at=START + 2.0, reason=reason))


def won_play(
    world: World, n: int = 1, *, user: str = "alice", sub: int = 0, connection: str | None = CONN
) -> tuple[dict[str, Any], str]:
    """A play won through the allocator's own store: pending item, then the lease of a
    coupon and the won result. Returns the result item and its code."""
    play = a_play(n, user=user, connection=connection)
    world.db.put_item(TableName=world.settings.results_table, Item=codec.dump(pending_item(play)))
    store = world.store()
    store.budgets(GAME)
    wish = Wish(play, (Route(BRAND, ((sub, 10),)),), strength=0.0)
    [grant] = store.claim(GAME, [wish], 1, decided_at=START + 2.0, game_start=START).grants[
        play.play_id
    ]
    store.save_outcomes([Outcome(play, PlayStatus.WON, START + 2.0, grants=(grant,))])
    return world.result(play.play_id), grant.code


@pytest.fixture
def stocked(world: World) -> World:
    """A live game with a pool of three coupons of one brand."""
    world.live_game()
    world.budget(BRAND, 3)
    return world


# -- the transition to final, once ------------------------------------------------------


def test_the_transition_to_final_is_pushed_once_and_a_replayed_write_is_not(
    feed: Feed, sessions: Sessions, push_stub: PushStub
) -> None:
    sessions.open(CONN, "alice")
    play = a_play()
    pending, lost = pending_item(play), decided(play, PlayStatus.LOST)
    push_stub.expect_post(CONN)  # one post: the stub refuses any other

    failed = feed(
        feed.record("INSERT", new=pending),
        feed.record("MODIFY", old=pending, new=lost),
        feed.record("MODIFY", old=lost, new=lost),
    )

    assert failed == []
    assert push_stub.posted == [(CONN, {"type": "result", "playId": "play-1", "status": "lost"})]
    push_stub.assert_all_used()


def test_a_lost_play_is_told_without_any_coupon(
    feed: Feed, sessions: Sessions, push_stub: PushStub
) -> None:
    sessions.open(CONN, "alice")
    play = a_play()
    push_stub.expect_post(CONN)

    feed(
        feed.record("MODIFY", old=pending_item(play), new=decided(play, PlayStatus.LOST)),
    )

    [message] = push_stub.messages_to(CONN)
    assert "coupon" not in message and "coupons" not in message


def test_a_result_written_final_at_once_is_pushed(
    feed: Feed, sessions: Sessions, push_stub: PushStub
) -> None:
    sessions.open(CONN, "alice")
    play = a_play()
    push_stub.expect_post(CONN)

    feed(feed.record("INSERT", new=decided(play, PlayStatus.REJECTED, "game_not_live")))

    assert push_stub.messages_to(CONN) == [
        {"type": "result", "playId": "play-1", "status": "rejected", "reason": "game_not_live"}
    ]


def test_pending_plays_and_ttl_removals_are_not_pushed(
    feed: Feed, sessions: Sessions, push_stub: PushStub
) -> None:
    sessions.open(CONN, "alice")
    play = a_play()
    lost = decided(play, PlayStatus.LOST)

    failed = feed(
        feed.record("INSERT", new=pending_item(play)),
        feed.record("REMOVE", old=lost),
    )

    assert failed == []
    assert push_stub.posted == []


# -- won: the coupon is issued, once ----------------------------------------------------


def test_a_coupon_from_one_counter_of_a_split_budget_is_issued_and_redeemable(
    world: World, feed: Feed, sessions: Sessions, push_stub: PushStub
) -> None:
    # Given a budget split over 3 counters, and a play that won from counter 2's pool
    world.live_game()
    world.budget(BRAND, 6, counters=3)
    sessions.open(CONN, "alice")
    won, code = won_play(world, sub=2)
    push_stub.expect_post(CONN)
    # When deliver handles the result
    assert feed(feed.record("MODIFY", old=pending_item(a_play()), new=won)) == []
    # Then the coupon is issued in counter 2's pool, and a till can redeem it by code
    assert world.coupon(BRAND, 1, sub=2)["status"] == CouponStatus.ISSUED
    assert world.coupon(BRAND, 1, sub=0)["status"] == CouponStatus.AVAILABLE
    redeemed = Redemptions(world.db, world.settings).redeem(code, actor="till-1")
    assert (redeemed.code, redeemed.brand_id) == (code, BRAND)
    assert world.coupon(BRAND, 1, sub=2)["status"] == CouponStatus.REDEEMED


def test_a_won_play_issues_its_coupon_and_tells_the_code(
    stocked: World,
    feed: Feed,
    sessions: Sessions,
    push_stub: PushStub,
    clock: ManualClock,
) -> None:
    sessions.open(CONN, "alice")
    stocked.brand(BRAND, "Acme Coffee")
    won, code = won_play(stocked)
    assert stocked.coupon(BRAND, 1)["status"] == CouponStatus.AVAILABLE
    push_stub.expect_post(CONN)
    clock.now = START + 3.0

    failed = feed(feed.record("MODIFY", old=pending_item(a_play()), new=won))

    assert failed == []
    assert push_stub.messages_to(CONN) == [
        {
            "type": "result",
            "playId": "play-1",
            "status": "won",
            "coupon": {"brandId": BRAND, "brandName": "Acme Coffee", "code": code},
        }
    ]
    issued = stocked.coupon(BRAND, 1)
    assert issued["status"] == CouponStatus.ISSUED
    assert issued["playId"] == "play-1"
    assert issued["code"] == code
    assert issued["issuedAt"] == START + 3.0


def test_the_winner_is_told_the_offer_of_their_coupon_in_the_push(
    stocked: World, feed: Feed, sessions: Sessions, push_stub: PushStub
) -> None:
    # Given a game-brand with an offer, and a play that won one of its coupons
    offer = Offer(
        title="A free coffee", value="€3.50", valid_until=datetime(2030, 3, 1, tzinfo=UTC)
    )
    OfferStore(stocked.db, stocked.settings).put(GAME, BRAND, offer, actor="marketer")
    sessions.open(CONN, "alice")
    won, code = won_play(stocked)
    push_stub.expect_post(CONN)
    # When deliver pushes the result
    assert feed(feed.record("MODIFY", old=pending_item(a_play()), new=won)) == []
    # Then the coupon comes with what it is worth and until when
    [message] = push_stub.messages_to(CONN)
    assert message["coupon"] == {
        "brandId": BRAND,
        "code": code,
        "offer": {"title": "A free coffee", "value": "€3.50", "validUntil": "2030-03-01T00:00:00Z"},
    }


def test_a_win_goes_out_on_the_bus_with_its_coupon_and_a_replay_keeps_the_ids(
    stocked: World, deliverer: Deliverer, feed: Feed, clock: ManualClock
) -> None:
    # Given a won play and a lost one
    won, code = won_play(stocked, connection=None)
    lost = a_play(2, connection=None)
    clock.now = START + 3.0
    # When deliver sees each become final, and the win's record a second time
    win = DynamoDBRecord(feed.record("MODIFY", old=pending_item(a_play(connection=None)), new=won))
    deliverer.handle(win)
    deliverer.handle(
        DynamoDBRecord(
            feed.record("MODIFY", old=pending_item(lost), new=decided(lost, PlayStatus.LOST))
        )
    )
    first = stocked.events.published()
    deliverer.handle(win)  # a batch retried
    again = stocked.events.published()
    # Then the bus got the win and its coupon, with the code, and nothing for the loss
    assert [(e["type"], e["eventId"]) for e in first] == [
        ("Play won", "won:play-1"),
        ("Coupon issued", "issued:play-1:0"),
    ]
    assert first[0]["userId"] == "alice" and first[0]["brandIds"] == [BRAND]
    assert (first[1]["code"], first[1]["brandId"]) == (code, BRAND)
    # ... and the replay publishes them again under the same ids, for consumers to drop
    assert [e["eventId"] for e in again] == [e["eventId"] for e in first]


def test_a_redelivered_won_record_issues_the_coupon_only_once(
    stocked: World,
    deliverer: Deliverer,
    feed: Feed,
    clock: ManualClock,
) -> None:
    won, _ = won_play(stocked, connection=None)
    transition = DynamoDBRecord(
        feed.record("MODIFY", old=pending_item(a_play(connection=None)), new=won)
    )
    clock.now = START + 3.0

    assert deliverer.handle(transition) is Delivery.NO_SOCKET
    clock.now = START + 60.0
    assert deliverer.handle(transition) is Delivery.NO_SOCKET  # e.g. after a batch retry
    assert (
        deliverer.handle(DynamoDBRecord(feed.record("MODIFY", old=won, new=won)))
        is Delivery.SKIPPED
    )

    issued = stocked.coupon(BRAND, 1)
    assert issued["status"] == CouponStatus.ISSUED
    assert issued["issuedAt"] == START + 3.0  # the later deliveries wrote nothing
    assert [stocked.coupon(BRAND, n)["status"] for n in (2, 3)] == [CouponStatus.AVAILABLE] * 2


def test_a_redeemed_coupon_is_left_redeemed(
    stocked: World, deliverer: Deliverer, feed: Feed
) -> None:
    won, _ = won_play(stocked, connection=None)
    transition = DynamoDBRecord(
        feed.record("MODIFY", old=pending_item(a_play(connection=None)), new=won)
    )
    deliverer.handle(transition)
    stocked.db.update_item(
        TableName=stocked.settings.state_table,
        Key=codec.dump(coupon_key(GAME, BRAND, 1)),
        UpdateExpression="SET #s = :redeemed",
        ExpressionAttributeNames={"#s": "status"},
        ExpressionAttributeValues={":redeemed": {"S": CouponStatus.REDEEMED.value}},
    )

    deliverer.handle(transition)

    assert stocked.coupon(BRAND, 1)["status"] == CouponStatus.REDEEMED


def test_a_won_code_that_is_not_this_plays_is_flagged_never_issued_nor_logged(
    stocked: World,
    deliverer: Deliverer,
    feed: Feed,
    output: Output,
) -> None:
    won, code = won_play(stocked, connection=None)
    deliverer.handle(
        DynamoDBRecord(feed.record("MODIFY", old=pending_item(a_play(connection=None)), new=won))
    )
    other = a_play(2, user="bob", connection=None)
    # A forged result naming alice's code, and one naming a code no pool holds.
    forged = outcome_item(Outcome(other, PlayStatus.WON, START + 2.0, grants=(Grant(BRAND, code),)))
    unknown = outcome_item(
        Outcome(other, PlayStatus.WON, START + 2.0, grants=(Grant(BRAND, "NOPE-NOPE-NOPE"),))
    )

    for item in (forged, unknown):
        assert (
            deliverer.handle(DynamoDBRecord(feed.record("INSERT", new=item))) is Delivery.NO_SOCKET
        )

    assert stocked.coupon(BRAND, 1)["status"] == CouponStatus.ISSUED
    assert stocked.coupon(BRAND, 1)["playId"] == "play-1"
    out, err, logs = output.texts()
    assert '"play_id":"play-2"' in logs  # flagged, by playId
    assert "won code is issued to another play" in logs
    assert "won code is not in the game's pool" in logs
    for text in (out, err, logs):
        assert code not in text
        assert "NOPE-NOPE-NOPE" not in text


def test_codes_never_reach_logs_or_metrics(
    stocked: World,
    feed: Feed,
    sessions: Sessions,
    push_stub: PushStub,
    output: Output,
) -> None:
    sessions.open(CONN, "alice")
    won, code = won_play(stocked)
    push_stub.expect_post(CONN)

    feed(feed.record("MODIFY", old=pending_item(a_play()), new=won))

    assert push_stub.messages_to(CONN)[0]["coupon"]["code"] == code  # it was there to leak
    out, err, logs = output.texts()
    assert '"play_id":"play-1"' in logs and '"status":"won"' in logs
    assert '"CouponsIssued"' in out  # the EMF metrics line is in what was checked
    for text in (out, err, logs):
        assert code not in text


# -- privacy and closed sockets ---------------------------------------------------------


def test_no_push_for_a_play_that_came_without_a_socket(feed: Feed, push_stub: PushStub) -> None:
    socketless = a_play(2, connection=None)

    failed = feed(
        feed.record(
            "MODIFY", old=pending_item(socketless), new=decided(socketless, PlayStatus.LOST)
        ),
    )

    assert failed == []
    assert push_stub.posted == []


def test_a_gone_socket_is_forgotten_and_the_record_still_succeeds(
    feed: Feed, sessions: Sessions, push_stub: PushStub
) -> None:
    sessions.open(CONN, "alice")
    play = a_play()
    push_stub.expect_gone(CONN)

    failed = feed(
        feed.record("MODIFY", old=pending_item(play), new=decided(play, PlayStatus.LOST)),
    )

    assert failed == []
    assert sessions.owner(CONN) is None
    push_stub.assert_all_used()


def test_a_push_reads_nothing_first(
    world: World, feed: Feed, sessions: Sessions, push_stub: PushStub
) -> None:
    """The play's socket was bound to its player when the play was taken (ws_play), so
    delivering its results costs the push alone."""
    sessions.open(CONN, "alice")
    reads: list[str] = []
    for operation in ("GetItem", "BatchGetItem", "Query"):
        world.db.meta.events.register(
            f"before-parameter-build.dynamodb.{operation}",
            lambda params, model, **_: reads.append(model.name),
        )
    plays = [a_play(n) for n in range(3)]
    for _ in plays:
        push_stub.expect_post(CONN)

    failed = feed(
        *(
            feed.record("MODIFY", old=pending_item(p), new=decided(p, PlayStatus.LOST))
            for p in plays
        )
    )

    assert failed == []
    assert reads == []
    assert [m["playId"] for m in push_stub.messages_to(CONN)] == ["play-0", "play-1", "play-2"]


def test_a_socket_closed_since_gets_a_push_that_reaches_no_one(
    feed: Feed, sessions: Sessions, push_stub: PushStub
) -> None:
    """The socket closed between the play and its result: the push is tried and refused
    as gone, and its session is closed."""
    sessions.open(CONN, "alice")
    earlier, later = a_play(1), a_play(2)
    push_stub.expect_post(CONN)
    assert (
        feed(
            feed.record("MODIFY", old=pending_item(earlier), new=decided(earlier, PlayStatus.LOST))
        )
        == []
    )
    push_stub.expect_gone(CONN)

    failed = feed(
        feed.record("MODIFY", old=pending_item(later), new=decided(later, PlayStatus.LOST))
    )

    assert failed == []
    assert sessions.owner(CONN) is None
    push_stub.assert_all_used()


def test_an_unexpected_push_error_fails_only_that_record(
    feed: Feed, sessions: Sessions, push_stub: PushStub
) -> None:
    sessions.open(CONN, "alice")
    sessions.open("Other0conn=", "bob")
    first, second = a_play(1), a_play(2, user="bob", connection="Other0conn=")
    push_stub.expect_error(CONN, "ForbiddenException", 403)
    push_stub.expect_post("Other0conn=")
    broken = feed.record("MODIFY", old=pending_item(first), new=decided(first, PlayStatus.LOST))
    fine = feed.record("MODIFY", old=pending_item(second), new=decided(second, PlayStatus.LOST))

    failed = feed(broken, fine)

    assert failed == [broken["dynamodb"]["SequenceNumber"]]
    assert sessions.owner(CONN) == "alice"  # not mistaken for a closed socket
    push_stub.assert_all_used()


def test_the_expired_result_carries_its_reason() -> None:
    play = a_play()
    item = decided(play, PlayStatus.EXPIRED, "no_result_before_reel_stopped")

    assert result_message(ResultImage.model_validate(codec.load(image(item)))) == {
        "type": "result",
        "playId": "play-1",
        "status": "expired",
        "reason": "no_result_before_reel_stopped",
    }


# -- the real stream --------------------------------------------------------------------


def test_records_from_the_real_stream_push_a_win_once(
    stocked: World,
    feed: Feed,
    sessions: Sessions,
    push_stub: PushStub,
) -> None:
    stream = ResultsStream(stocked)
    sessions.open(CONN, "alice")
    _, code = won_play(stocked)
    push_stub.expect_post(CONN)

    batch = stream.new_records()
    assert [r["eventName"] for r in batch] == ["INSERT", "MODIFY"]
    failed = feed(*batch)

    assert failed == []
    assert push_stub.messages_to(CONN) == [
        {
            "type": "result",
            "playId": "play-1",
            "status": "won",
            "coupon": {"brandId": BRAND, "code": code},
        }
    ]
    assert stocked.coupon(BRAND, 1)["status"] == CouponStatus.ISSUED
    push_stub.assert_all_used()


def test_brand_names_are_read_once_and_follow_a_rename_after_their_ttl(world: World) -> None:
    clock = ManualClock(0.0)
    names = BrandNames(world.db, world.settings, ttl=60.0, clock=clock)
    assert names(BRAND) is None  # no such brand: the push shows the id alone
    world.brand(BRAND, "Acme")
    clock.now = 61.0
    assert names(BRAND) == "Acme"
    world.brand(BRAND, "Acme Coffee")
    clock.now = 100.0
    assert names(BRAND) == "Acme"  # cached: a push costs no read
    clock.now = 122.0
    assert names(BRAND) == "Acme Coffee"
