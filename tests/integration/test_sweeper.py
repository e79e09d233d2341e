"""The sweeper on moto: what the expiry watcher and deliver left undone past a bound is
done, through the results table's sparse index, and nothing else is touched. Time is
a manual clock; the handler is the real entry point, so its metrics are what Lambda
would publish."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from types import ModuleType
from typing import Any

import pytest
from aws_lambda_powertools.utilities.data_classes.dynamo_db_stream_event import DynamoDBRecord

from frolic.allocation.ports import Outcome, Play, Route, Wish
from frolic.dal import codec
from frolic.dal.catalog import Catalog, GameChanges
from frolic.dal.items import outcome_item, pending_item
from frolic.dal.result_indexes import ResultIndexes
from frolic.dal.sessions import Sessions
from frolic.dal.stranded import StrandedLeases
from frolic.dal.tables import (
    PENDING_PREFIX,
    SWEEP_INDEX,
    SWEEP_PARTITION,
    SWEEP_SORT,
    UNISSUED_PREFIX,
    UNISSUED_SHARDS,
    coupon_key,
)
from frolic.deliver import CouponIssuer, Deliverer
from frolic.expiry import EXPIRED_REASON, ExpiryWatcher
from frolic.models import CouponStatus, GameStatus, PlayStatus
from frolic.observability import metrics
from frolic.sweep import RECENTLY_ENDED_SECONDS, Sweeper
from tests.integration.apigw import FakeContext
from tests.integration.push_fixtures import (
    ManualClock,
    PushStub,
    StreamRecords,
    clock,
    load_handler,
    push_stub,
    sessions,
)
from tests.integration.world import GAME, START, World

__all__ = ["clock", "push_stub", "sessions"]  # fixtures, used by name

BRAND = "brand-a"
pytestmark = pytest.mark.filterwarnings("ignore:No application metrics")


def build_sweeper(world: World, clock: ManualClock, *, run_seconds: float = 45.0) -> Sweeper:
    return Sweeper(
        ResultIndexes(world.db, world.settings),
        ExpiryWatcher(world.db, world.settings, clock=clock, sleep=clock.sleep),
        CouponIssuer(world.db, world.settings, clock, events=world.events.bus),
        world.settings,
        clock,
        run_seconds=run_seconds,
    )


@dataclass
class Sweep:
    """The real entry point, on moto and the manual clock; returns its report and the
    metrics it published (the EMF lines Powertools prints)."""

    handler: ModuleType
    capfd: pytest.CaptureFixture[str]

    def __call__(self) -> tuple[dict[str, Any], str]:
        self.capfd.readouterr()
        report = self.handler.lambda_handler({"source": "aws.events"}, FakeContext())
        return report, self.capfd.readouterr().out


@pytest.fixture
def sweep(
    world: World,
    clock: ManualClock,
    monkeypatch: pytest.MonkeyPatch,
    capfd: pytest.CaptureFixture[str],
) -> Sweep:
    module = load_handler("sweep")
    sweeper = build_sweeper(world, clock)
    monkeypatch.setattr(module, "_sweeper", lambda: sweeper)
    return Sweep(module, capfd)


@pytest.fixture(autouse=True)
def _fresh_metrics() -> Iterator[None]:
    """Powertools' metrics are one store per process: a sweep called without the
    handler (which flushes) would otherwise leave its metrics to the next test."""
    metrics.clear_metrics()
    yield
    metrics.clear_metrics()


@pytest.fixture(autouse=True)
def _no_real_sleep(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(seconds: float) -> None:
        raise AssertionError(f"slept for real ({seconds} s)")

    monkeypatch.setattr("time.sleep", refuse)


def a_play(n: int = 1, *, at: float = 1.0) -> Play:
    return Play(
        play_id=f"play-{n}",
        user_id=f"user-{n}",
        game_id=GAME,
        arrival_ts=START + at,
        fingerprint="0" * 32,
    )


def arrive(world: World, play: Play) -> None:
    """Ingest's pending write (whose stream record the expiry watcher then lost)."""
    world.db.put_item(TableName=world.settings.results_table, Item=codec.dump(pending_item(play)))


def win(world: World, play: Play, *, decided_at: float) -> str:
    """The allocator's own store leases a coupon and writes the won result; deliver
    never runs. Returns the code."""
    arrive(world, play)
    store = world.store()
    store.budgets(GAME)
    wish = Wish(play, (Route(BRAND, ((0, 10),)),), strength=0.0)
    [grant] = store.claim(GAME, [wish], 1, decided_at=decided_at, game_start=START).grants[
        play.play_id
    ]
    store.save_outcomes([Outcome(play, PlayStatus.WON, decided_at, grants=(grant,))])
    return grant.code


def set_coupon(world: World, ordinal: int, **values: str) -> None:
    names = {f"#{k}": k for k in values}
    world.db.update_item(
        TableName=world.settings.state_table,
        Key=codec.dump(coupon_key(GAME, BRAND, ordinal)),
        UpdateExpression="SET " + ", ".join(f"#{k} = :{k}" for k in values),
        ExpressionAttributeNames=names,
        ExpressionAttributeValues=codec.dump({f":{k}": v for k, v in values.items()}),
    )


def sweep_work(item: dict[str, Any]) -> str | None:
    """Under which work the item is in the sweep index ("pending", "unissued"), if any."""
    partition = item.get(SWEEP_PARTITION)
    return None if partition is None else str(partition).split("#", 1)[0]


def expiry_deadline(world: World, play: Play) -> float:
    return play.arrival_ts + world.settings.expiry_seconds + world.settings.sweep_margin_seconds


@pytest.fixture
def stocked(world: World) -> World:
    """A live game with a pool of three coupons of one brand."""
    world.live_game()
    world.budget(BRAND, 3)
    world.clock.now = START + 2.0
    return world


# -- stuck pending plays ----------------------------------------------------------------


def test_a_pending_play_the_watcher_missed_is_expired_after_its_margin_and_not_before(
    world: World, sweep: Sweep, clock: ManualClock
) -> None:
    # Given a pending play whose stream record the expiry watcher never handled
    play = a_play()
    arrive(world, play)
    deadline = expiry_deadline(world, play)
    # When the sweeper runs just before the deadline plus the margin
    clock.now = deadline - 1.0
    report, published = sweep()
    # Then the play is left pending and nothing is published
    assert report["expired"] == 0
    assert world.result(play.play_id)["status"] == PlayStatus.PENDING
    assert "PlaysSweptExpired" not in published
    # When it runs just after
    clock.now = deadline + 1.0
    report, published = sweep()
    # Then the play is expired, with the watcher's reason, and out of the pending index
    assert report["expired"] == 1
    result = world.result(play.play_id)
    assert result["status"] == PlayStatus.EXPIRED
    assert result["reason"] == EXPIRED_REASON
    assert result["decidedAt"] == pytest.approx(deadline + 1.0)
    assert sweep_work(result) is None
    assert '"PlaysSweptExpired"' in published
    assert list(ResultIndexes(world.db, world.settings).pending_before(clock.now)) == []


def test_decided_plays_are_never_touched(world: World, sweep: Sweep, clock: ManualClock) -> None:
    # Given plays decided by the allocator's store and by the expiry watcher
    lost, expired = a_play(1), a_play(2)
    for play in (lost, expired):
        arrive(world, play)
    world.clock.now = START + 2.0
    world.store().save_outcomes([Outcome(lost, PlayStatus.LOST, decided_at=START + 2.0)])
    assert ExpiryWatcher(world.db, world.settings, clock=clock).expire(expired.play_id)
    before = {p.play_id: world.result(p.play_id) for p in (lost, expired)}
    # When the sweeper runs long after their deadlines
    clock.now = START + 86_400.0
    report, published = sweep()
    # Then they left the pending index when decided, and are as they were
    assert all(sweep_work(item) is None for item in before.values())
    assert report["expired"] == 0
    assert {p: world.result(p) for p in before} == before
    assert "PlaysSweptExpired" not in published


def test_a_run_out_of_time_stops_and_the_next_one_carries_on(
    world: World, clock: ManualClock
) -> None:
    play = a_play()
    arrive(world, play)
    clock.now = expiry_deadline(world, play) + 1.0

    hurried = build_sweeper(world, clock, run_seconds=0.0).sweep()

    assert not hurried.finished and hurried.expired == 0
    assert world.result(play.play_id)["status"] == PlayStatus.PENDING
    assert build_sweeper(world, clock).sweep().expired == 1


def test_a_long_scan_of_plays_not_yet_due_stops_at_the_time_limit(
    world: World, clock: ManualClock
) -> None:
    # Given a backlog of pending plays none of which is due yet, read in small pages that
    # each take a second (a storm's backlog on a slow day)
    plays = [a_play(n) for n in range(100)]
    for play in plays:
        arrive(world, play)
    clock.now = expiry_deadline(world, plays[0]) - 60.0
    pages: list[float] = []

    def slow_small_page(params: dict[str, Any], **_: Any) -> None:
        params["Limit"] = 10
        pages.append(clock.now)
        clock.now += 1.0

    world.db.meta.events.register("before-parameter-build.dynamodb.Scan", slow_small_page)
    # When a sweeper with 3 s to run reads them
    report = build_sweeper(world, clock, run_seconds=3.0).sweep()
    # Then it stops after 3 pages, though the filter emptied every one, and says so
    assert not report.finished
    assert len(pages) == 3
    assert {world.result(p.play_id)["status"] for p in plays} == {PlayStatus.PENDING}


def test_wins_are_swept_before_a_backlog_of_stuck_plays(stocked: World, clock: ManualClock) -> None:
    # Given a stuck win and a stuck play, both past their bounds
    win(stocked, a_play(1), decided_at=START + 2.0)
    arrive(stocked, a_play(2))
    clock.now = START + 86_400.0
    reads: list[tuple[str, str]] = []

    def record(params: dict[str, Any], event_name: str, **_: Any) -> None:
        assert params["IndexName"] == SWEEP_INDEX
        reads.append(
            (event_name.rsplit(".", 1)[1], params["ExpressionAttributeValues"][":work"]["S"])
        )

    for operation in ("Query", "Scan"):
        stocked.db.meta.events.register(f"before-parameter-build.dynamodb.{operation}", record)
    # When the sweeper runs
    report = build_sweeper(stocked, clock).sweep()
    # Then it Queried every shard of wins awaiting issue, then read the pending plays in
    # one Scan of the index
    assert (report.coupons_issued, report.expired) == (1, 1)
    assert reads == [("Query", f"{UNISSUED_PREFIX}{n}") for n in range(UNISSUED_SHARDS)] + [
        ("Scan", PENDING_PREFIX)
    ]


def test_many_stuck_plays_over_every_shard_are_all_expired(
    world: World, clock: ManualClock
) -> None:
    plays = [a_play(n) for n in range(300)]
    for play in plays:
        arrive(world, play)
    shards = {world.result(p.play_id)[SWEEP_PARTITION] for p in plays}
    assert len(shards) > 64  # spread, not one hot index partition
    clock.now = expiry_deadline(world, plays[0]) + 1.0
    pages: list[int] = []

    def small_pages(params: dict[str, Any], **_: Any) -> None:
        params["Limit"] = 40  # as a 1 MB page would cut a large backlog
        pages.append(len(pages))

    world.db.meta.events.register("before-parameter-build.dynamodb.Scan", small_pages)

    assert build_sweeper(world, clock).sweep().expired == len(plays)
    assert len(pages) > len(plays) / 40
    assert {world.result(p.play_id)["status"] for p in plays} == {PlayStatus.EXPIRED}


# -- won coupons left unissued ----------------------------------------------------------


def test_a_win_left_unissued_gets_its_coupon_issued_for_that_play_after_the_bound(
    stocked: World, sweep: Sweep, clock: ManualClock
) -> None:
    # Given a win whose result landed but which deliver never handled
    play = a_play()
    code = win(stocked, play, decided_at=START + 2.0)
    assert stocked.coupon(BRAND, 1)["status"] == CouponStatus.AVAILABLE
    bound = START + 2.0 + stocked.settings.coupon_issue_bound_seconds
    # When the sweeper runs before the bound
    clock.now = bound - 1.0
    report, published = sweep()
    # Then deliver still has its chance: nothing is issued
    assert report["coupons_issued"] == 0
    assert stocked.coupon(BRAND, 1)["status"] == CouponStatus.AVAILABLE
    # When it runs after the bound
    clock.now = bound + 1.0
    report, published = sweep()
    # Then that play's coupon, and only it, is issued to it
    assert report["coupons_issued"] == 1
    issued = stocked.coupon(BRAND, 1)
    assert (issued["status"], issued["playId"], issued["code"]) == (
        CouponStatus.ISSUED,
        play.play_id,
        code,
    )
    assert issued["issuedAt"] == pytest.approx(bound + 1.0)
    assert [stocked.coupon(BRAND, n)["status"] for n in (2, 3)] == [CouponStatus.AVAILABLE] * 2
    assert sweep_work(stocked.result(play.play_id)) is None
    assert '"CouponsSweptIssued"' in published
    assert code not in published
    # When it runs again, it finds nothing to do and writes nothing
    clock.now = bound + 120.0
    report, published = sweep()
    assert report == {
        "expired": 0,
        "coupons_issued": 0,
        "wins_checked": 0,
        "coupons_returned": 0,
        "finished": True,
    }
    assert stocked.coupon(BRAND, 1)["issuedAt"] == pytest.approx(bound + 1.0)
    assert "CouponsSweptIssued" not in published


def test_a_coupon_left_reserved_for_its_play_is_issued_and_one_reserved_for_another_is_not(
    stocked: World, clock: ManualClock
) -> None:
    # Given two wins whose coupons are RESERVED (the binding before batch leases): one
    # for its own play, the other, by a hand edit, for some third play
    mine, theirs = a_play(1), a_play(2)
    win(stocked, mine, decided_at=START + 2.0)
    win(stocked, theirs, decided_at=START + 2.0)
    set_coupon(stocked, 1, status=CouponStatus.RESERVED.value, playId=mine.play_id)
    set_coupon(stocked, 2, status=CouponStatus.RESERVED.value, playId="play-other")
    clock.now = START + 2.0 + stocked.settings.coupon_issue_bound_seconds + 1.0

    report = build_sweeper(stocked, clock).sweep()

    assert report.coupons_issued == 1
    assert (stocked.coupon(BRAND, 1)["status"], stocked.coupon(BRAND, 1)["playId"]) == (
        "ISSUED",
        "play-1",
    )
    # The other play's reservation stands, and the win stays in the index: the anomaly
    # is raised again on every run until someone mends the data.
    assert (stocked.coupon(BRAND, 2)["status"], stocked.coupon(BRAND, 2)["playId"]) == (
        "RESERVED",
        "play-other",
    )
    assert sweep_work(stocked.result(theirs.play_id)) == "unissued"
    assert sweep_work(stocked.result(mine.play_id)) is None


def build_deliverer(
    world: World, sessions: Sessions, push_stub: PushStub, clock: ManualClock
) -> Deliverer:
    return Deliverer(
        world.db, sessions, push_stub.push(), world.settings, clock=clock, events=world.events.bus
    )


def test_a_win_deliver_handled_leaves_the_index_and_the_sweeper_checks_nothing(
    stocked: World, sessions: Sessions, push_stub: PushStub, clock: ManualClock
) -> None:
    play = a_play()
    win(stocked, play, decided_at=START + 2.0)
    won = stocked.result(play.play_id)
    deliverer = build_deliverer(stocked, sessions, push_stub, clock)
    record = StreamRecords().record("MODIFY", old=pending_item(play), new=won)

    deliverer.handle(DynamoDBRecord(record))

    assert stocked.coupon(BRAND, 1)["status"] == CouponStatus.ISSUED
    assert sweep_work(stocked.result(play.play_id)) is None
    clock.now = START + 86_400.0
    assert build_sweeper(stocked, clock).sweep().wins_checked == 0


def test_deliver_stopping_between_issue_and_unmark_is_finished_without_an_alarm(
    stocked: World, sweep: Sweep, sessions: Sessions, push_stub: PushStub, clock: ManualClock
) -> None:
    # Given deliver issued the coupon, then failed on the results write
    play = a_play()
    win(stocked, play, decided_at=START + 2.0)
    won = stocked.result(play.play_id)
    deliverer = build_deliverer(stocked, sessions, push_stub, clock)
    throttled = fail_results_updates(stocked)
    with pytest.raises(Exception, match="Throttl"):
        deliverer.handle(
            DynamoDBRecord(StreamRecords().record("MODIFY", old=pending_item(play), new=won))
        )
    throttled()
    assert stocked.coupon(BRAND, 1)["status"] == CouponStatus.ISSUED
    assert sweep_work(stocked.result(play.play_id)) == "unissued"
    # When the sweeper comes past the bound
    clock.now = START + 2.0 + stocked.settings.coupon_issue_bound_seconds + 1.0
    report, published = sweep()
    # Then the win leaves the index; the player already had the coupon, so no alarm
    assert (report["wins_checked"], report["coupons_issued"]) == (1, 0)
    assert sweep_work(stocked.result(play.play_id)) is None
    assert "CouponsSweptIssued" not in published


def fail_results_updates(world: World) -> Callable[[], None]:
    """UpdateItem on the results table throttled until the returned function is called."""
    from botocore.exceptions import ClientError

    def throttle(params: dict[str, Any], **_: Any) -> None:
        if params["TableName"] == world.settings.results_table:
            raise ClientError(
                {"Error": {"Code": "ThrottlingException", "Message": "Throttled"}}, "UpdateItem"
            )

    event = "before-parameter-build.dynamodb.UpdateItem"
    world.db.meta.events.register(event, throttle)
    return lambda: world.db.meta.events.unregister(event, throttle)


# -- reconcile --------------------------------------------------------------------------


def test_reconcile_reports_a_win_not_issued_past_the_bound_as_drift_until_swept(
    stocked: World, clock: ManualClock
) -> None:
    # Given a win deliver never handled
    play = a_play()
    win(stocked, play, decided_at=START + 2.0)
    bound = START + 2.0 + stocked.settings.coupon_issue_bound_seconds
    # Then within the bound it is awaiting issue, not drift
    within = stocked.reconcile(now=bound - 1.0)
    assert within.clean, within.problems
    assert within.brands[0].awaiting_issue == 1
    # And past the bound it is drift, named by play (never by code)
    past = stocked.reconcile(now=bound + 1.0)
    assert past.problems == [
        f"{BRAND}: play {play.play_id} won a coupon still not issued "
        f"{stocked.settings.coupon_issue_bound_seconds:g} s after the win (deliver and the "
        "sweeper both failed to issue it)"
    ]
    assert past.brands[0].coupons_bound == 0
    # And once the sweeper has issued it, reconcile is clean again
    clock.now = bound + 1.0
    build_sweeper(stocked, clock).sweep()
    swept = stocked.reconcile(now=bound + 1.0)
    assert swept.clean, swept.problems
    assert (swept.brands[0].coupons_bound, swept.brands[0].awaiting_issue) == (1, 0)


def test_reconcile_counts_a_coupon_reserved_for_its_play_as_not_issued(
    stocked: World,
) -> None:
    play = a_play()
    win(stocked, play, decided_at=START + 2.0)
    set_coupon(stocked, 1, status=CouponStatus.RESERVED.value, playId=play.play_id)
    bound = START + 2.0 + stocked.settings.coupon_issue_bound_seconds

    report = stocked.reconcile(now=bound + 1.0)

    assert report.brands[0].coupons_bound == 0
    assert [p for p in report.problems if "still not issued" in p] == [
        p for p in report.problems if play.play_id in p
    ]
    assert len(report.problems) == 1


def test_pending_plays_and_unissued_wins_are_in_the_sweep_index_and_nothing_else_is(
    world: World,
) -> None:
    play = a_play()
    stored = [
        codec.load(codec.dump(item))
        for item in (
            pending_item(play),
            outcome_item(Outcome(play, PlayStatus.WON, START + 2.0)),
            outcome_item(Outcome(play, PlayStatus.LOST, START + 2.0)),
        )
    ]
    assert [sweep_work(item) for item in stored] == ["pending", "unissued", None]
    assert [item.get(SWEEP_SORT) for item in stored] == [play.arrival_ts, START + 2.0, None]


def test_ordinals_a_crashed_batch_leased_go_back_to_the_budget_after_the_wins_step(
    world: World, clock: ManualClock
) -> None:
    # Given a batch that leased two coupons and died before writing its results
    game = world.live_game()
    world.budget(BRAND, 3)
    store = world.store()
    store.budgets(GAME)
    wishes = [Wish(a_play(n), (Route(BRAND, ((0, 3),)),), strength=n / 10) for n in (1, 2)]
    clock.now = START + 2
    assert len(store.claim(GAME, wishes, 1, decided_at=clock.now, game_start=START).grants) == 2
    sweeper = Sweeper(
        ResultIndexes(world.db, world.settings),
        ExpiryWatcher(world.db, world.settings, clock=clock, sleep=clock.sleep),
        CouponIssuer(world.db, world.settings, clock, events=world.events.bus),
        world.settings,
        clock,
        stranded=StrandedLeases(world.db, world.settings, clock),
        games=lambda now, *, ended_within: [game],
    )
    # When the sweeper runs a minute later, it only notes them
    clock.now += 60
    assert sweeper.sweep().coupons_returned == 0
    assert not world.reconcile().clean
    # And once no win could still hold them (the wins step ran past their bound)
    clock.now += world.settings.coupon_issue_bound_seconds + world.settings.stranded_after_seconds
    report = sweeper.sweep()
    # Then both go back to the budget, and the books balance
    assert report.coupons_returned == 2
    assert world.reconcile(now=clock.now).clean, world.reconcile(now=clock.now).render()
    assert sweeper.sweep().coupons_returned == 0


def test_the_games_in_play_are_the_live_ones_and_those_ended_within_the_hour(
    world: World,
) -> None:
    catalog = Catalog(world.db, world.settings)
    hour = timedelta(hours=1)
    now = datetime.fromtimestamp(START, UTC)
    campaign = catalog.create_campaign("Spring", now - 10 * hour, now + 10 * hour)
    live = catalog.create_game(campaign.campaign_id, "live", now - hour, now + hour)
    just_ended = catalog.create_game(campaign.campaign_id, "just ended", now - hour, now)
    long_ended = catalog.create_game(
        campaign.campaign_id, "long ended", now - 5 * hour, now - 2 * hour
    )
    draft = catalog.create_game(campaign.campaign_id, "draft", now - hour, now + hour)
    for game in (live, just_ended, long_ended):
        catalog.update_game(game.game_id, GameChanges(status=GameStatus.LIVE))
    for game in (just_ended, long_ended):
        catalog.update_game(game.game_id, GameChanges(status=GameStatus.ENDED))
    in_play = {g.game_id for g in catalog.games_in_play(START, ended_within=RECENTLY_ENDED_SECONDS)}
    assert in_play == {live.game_id, just_ended.game_id}
    assert draft.game_id not in in_play
