"""Every crash point of the play path, tried one at a time.

A small game (two coupons, three players) runs the whole path on moto: ingest → Kinesis
→ allocate → results stream → deliver and expiry. A clean run lists every AWS call each
function makes (the injection points); then, for each point, the run is repeated with
one fault there:
- `crash-before`: the function dies just before the call is sent;
- `crash-after`: it dies just after the call landed, before it sees the answer;
- `late`: the call is held up past every play's deadline, and the expiry watcher acts
  meanwhile (a throttled SDK retrying, a paused Lambda).

What AWS does next is then done: the player's app resends a play it got no answer for,
Kinesis hands a failed batch to a fresh Lambda again, and so do the results stream's
mappings. Once everything has settled, every invariant is checked: one final result per
accepted play, the same on every read and every push; no coupon twice and none over the
budget; every play final within its bound; reconcile clean.
"""

from __future__ import annotations

import itertools
import json
from collections import defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any
from unittest.mock import patch

import boto3
import pytest
from aws_lambda_powertools.utilities.data_classes.dynamo_db_stream_event import DynamoDBRecord
from botocore.config import Config
from moto import mock_aws

from frolic.allocate import StreamAllocator
from frolic.allocation.allocator import Allocator
from frolic.auth import Principal
from frolic.dal import codec
from frolic.dal.allocation_store import DynamoAllocationStore, DynamoGameDirectory
from frolic.dal.events import EventBus
from frolic.dal.push import Push
from frolic.dal.result_indexes import ResultIndexes
from frolic.dal.sessions import Sessions
from frolic.dal.stranded import StrandedLeases
from frolic.deliver import CouponIssuer, Deliverer
from frolic.expiry import ExpiryWatcher
from frolic.ingest import IngestRefusedError, PlayIntake, PlayRequest
from frolic.models import CouponStatus, GameConfig, PlayStatus
from frolic.sweep import Sweeper
from frolic_tools.local.mappings import DynamoStreamShard, KinesisShard, ShardCoordinates
from frolic_tools.schema import LOCAL_STREAM, create_tables, local_settings
from tests.doubles import GreedyPacing
from tests.integration.crashes import FAULTS
from tests.integration.world import DRAW_KEY, GAME, EventTap, World

REGION = "us-east-1"
PUSH_ENDPOINT = "https://abc123defg.execute-api.us-east-1.amazonaws.com/prod"
PLAYERS = 3
BUDGET = 2
#: How far a `late` call is held up: past every play's deadline.
HELD_UP_SECONDS = 30.0
#: The sweeper's schedule (EventBridge, every minute).
SWEEP_EVERY_SECONDS = 60.0
#: Between two players' plays.
INGEST_GAP_SECONDS = 0.2
#: Redeliveries before a test gives up (AWS retries longer; one fault needs one or two).
MAX_DELIVERIES = 4
FINAL = {s.value for s in (PlayStatus.WON, PlayStatus.LOST, PlayStatus.REJECTED)} | {
    PlayStatus.EXPIRED.value
}


class Crash(BaseException):
    """The Lambda process dying: no handler code can catch it."""


@dataclass(frozen=True, order=True)
class Point:
    """One AWS call of one function: the `nth` call of its kind in a clean run."""

    function: str
    call: str
    nth: int

    def __str__(self) -> str:
        return f"{self.function}:{self.call}#{self.nth}"


def _call_kind(operation: str, params: dict[str, Any]) -> str:
    """A call's name that does not depend on ids: the operation and the item kind."""
    key = params.get("Key") or params.get("Item") or {}
    if "pk" in key:
        return f"{operation}({key['pk']['S'].split('#')[0]})"
    if "playId" in key:
        return f"{operation}(result)"
    tables = params.get("RequestItems") or {}
    if tables:
        return f"{operation}({'+'.join(sorted(tables))})"
    return operation


@dataclass
class Rig:
    """Gives each function invocation its own clients, counts their calls by kind, and
    fires the one fault at its point."""

    point: Point | None = None
    fault: str | None = None
    on_held_up: Callable[[], None] = lambda: None
    seen: list[Point] = field(default_factory=list)
    fired: bool = False
    _counts: dict[tuple[str, str], int] = field(default_factory=lambda: defaultdict(int))

    def client(self, function: str, service: str, **options: Any) -> Any:
        make: Any = boto3.client
        client = make(service, region_name=REGION, **options)
        events = client.meta.events
        name = client.meta.service_model.service_id.hyphenize()  # "eventbridge" for events
        events.register(f"before-parameter-build.{name}", self._name(function))
        events.register(f"before-call.{name}", self._before)
        events.register(f"after-call.{name}", self._after)
        return client

    def _name(self, function: str) -> Callable[..., None]:
        def name(params: dict[str, Any], model: Any, context: dict[str, Any], **_: Any) -> None:
            kind = _call_kind(model.name, params)
            self._counts[(function, kind)] += 1
            point = Point(function, kind, self._counts[(function, kind)])
            self.seen.append(point)
            context["frolic_point"] = point

        return name

    def _armed(self, context: dict[str, Any], fault: str) -> bool:
        if self.fired or self.fault != fault or context.get("frolic_point") != self.point:
            return False
        self.fired = True
        return True

    def _before(self, context: dict[str, Any], **_: Any) -> None:
        if self._armed(context, "crash-before"):
            raise Crash(f"before {self.point}")
        if self._armed(context, "late"):
            self.on_held_up()

    def _after(self, context: dict[str, Any], **_: Any) -> None:
        if self._armed(context, "crash-after"):
            raise Crash(f"after {self.point}")


@dataclass
class Run:
    """What one run left behind, read back once everything settled."""

    accepted: list[str]
    results: dict[str, dict[str, Any]]
    reread: dict[str, dict[str, Any]]
    pushes: dict[str, list[dict[str, Any]]]
    coupons: list[dict[str, Any]]
    problems: list[str]
    #: Every event the functions published, repeats included (at least once).
    published: list[dict[str, Any]]
    #: How long after its arrival every play must be final.
    bound_seconds: float


class Path:
    """The play path on moto, one function invocation at a time."""

    def __init__(self, rig: Rig) -> None:
        self.rig = rig
        self.settings = local_settings()
        self.db: Any = boto3.client("dynamodb", region_name=REGION)
        create_tables(self.db, self.settings)
        self.world = World(self.db, self.settings, events=EventTap.on_moto(self.settings))
        self.clock = self.world.clock
        kinesis = boto3.client("kinesis", region_name=REGION)
        kinesis.create_stream(StreamName=LOCAL_STREAM, ShardCount=1)
        stream = kinesis.describe_stream(StreamName=LOCAL_STREAM)
        description = stream["StreamDescription"]
        self.plays_shard = KinesisShard(
            kinesis,
            stream_name=LOCAL_STREAM,
            coordinates=ShardCoordinates(
                "kinesis", description["StreamARN"], description["Shards"][0]["ShardId"]
            ),
        )
        streams = boto3.client(
            "dynamodbstreams",
            region_name=REGION,
            config=Config(account_id_endpoint_mode="disabled"),
        )
        table = self.db.describe_table(TableName=self.settings.results_table)["Table"]
        shard_id = streams.describe_stream(StreamArn=table["LatestStreamArn"])["StreamDescription"][
            "Shards"
        ][0]["ShardId"]
        self.results_shard = DynamoStreamShard(
            streams,
            coordinates=ShardCoordinates("dynamodb", table["LatestStreamArn"], shard_id),
            clock=self.clock,
        )
        self.pushes: dict[str, list[dict[str, Any]]] = defaultdict(list)
        self.accepted: list[str] = []
        self.deadlines: list[float] = []
        rig.on_held_up = self._meanwhile_the_reel_stops

    # -- the game and its players ---------------------------------------------------------
    def set_up(self) -> None:
        self.game = self.world.live_game(config=GameConfig(min_seconds_between_plays=0))
        self.world.brand("brand-a", "Brand A")
        self.world.budget("brand-a", BUDGET)
        sessions = Sessions(self.db, self.settings, clock=self.clock)
        for n in range(PLAYERS):
            sessions.open(_connection(n), f"user-{n}")

    # -- the functions, each invocation on fresh clients ---------------------------------
    def ingest(self, n: int) -> None:
        """The player's app sends the play, and resends it until it gets an answer."""
        request = PlayRequest(play_id=f"play-{n}", game_id=GAME)
        principal = Principal(user_id=f"user-{n}", groups=frozenset())
        for _ in range(MAX_DELIVERIES):
            db = self.rig.client("ingest", "dynamodb")
            intake = PlayIntake(
                db=db,
                kinesis=self.rig.client("ingest", "kinesis"),
                settings=self.settings,
                games=DynamoGameDirectory(db, self.settings),
                clock=self.clock,
            )
            try:
                intake.accept(principal, request, connection_id=_connection(n))
            except Crash:
                continue
            except IngestRefusedError:
                return  # told so: the play was not taken
            self.accepted.append(request.play_id)
            return
        raise AssertionError(f"play-{n}: ingest never answered")

    def allocate(self) -> None:
        records = [r.event for r in self.plays_shard.fetch(100)]
        while records:
            records = self._deliveries("allocate", records, self._allocate_once)

    def _allocate_once(self, records: list[dict[str, Any]]) -> list[dict[str, Any]]:
        db = self.rig.client("allocate", "dynamodb")
        store = DynamoAllocationStore(db, self.settings, clock=self.clock)
        allocator = Allocator(
            store=store,
            games=DynamoGameDirectory(db, self.settings),
            policy=GreedyPacing(),
            draw_key=DRAW_KEY,
            wait_until=self.clock.wait_until,
        )
        response = StreamAllocator(allocator=allocator, store=store, clock=self.clock).handle(
            {"Records": records}, None
        )
        failed = {f["itemIdentifier"] for f in response["batchItemFailures"]}
        first = next(
            (i for i, r in enumerate(records) if r["kinesis"]["sequenceNumber"] in failed), None
        )
        return [] if first is None else records[first:]

    def results_stream(self) -> None:
        """Deliver and expiry, each reading every record, until the stream is quiet."""
        while batch := [r.event for r in self.results_shard.fetch(100)]:
            self._deliveries("deliver", batch, self._deliver_once)
            self._deliveries("expiry", batch, self._expire_once)

    def _deliver_once(self, records: list[dict[str, Any]]) -> list[dict[str, Any]]:
        db = self.rig.client("deliver", "dynamodb")
        push = self.rig.client("deliver", "apigatewaymanagementapi", endpoint_url=PUSH_ENDPOINT)
        push.meta.events.register(
            "before-parameter-build.apigatewaymanagementapi.PostToConnection", self._pushed
        )
        deliverer = Deliverer(
            db,
            Sessions(db, self.settings, clock=self.clock),
            Push(push),
            self.settings,
            self.clock,
            events=EventBus(self.rig.client("deliver", "events"), self.settings),
        )
        for record in records:
            deliverer.handle(DynamoDBRecord(record))
        return []

    def _expire_once(self, records: list[dict[str, Any]]) -> list[dict[str, Any]]:
        watcher = self._watcher(self.rig.client("expiry", "dynamodb"))
        for record in records:
            watcher.handle(DynamoDBRecord(record))
        return []

    def sweep(self) -> None:
        """The scheduled sweeper's runs that have work (it runs every minute; the runs
        between find nothing): the first past the stuck plays' bound, which also notes
        stranded ordinals, and the first that may issue unissued wins and return those
        ordinals. A run that dies is followed by the next minute's."""
        last_arrival = max(
            (self.world.result(p)["arrivalTs"] for p in self.accepted), default=self.clock.now
        )
        settings = self.settings
        stuck = last_arrival + settings.expiry_seconds + settings.sweep_margin_seconds
        self.clock.now = max(self.clock.now, stuck + SWEEP_EVERY_SECONDS)
        returnable = settings.coupon_issue_bound_seconds + settings.stranded_after_seconds
        for wait in (0.0, returnable + SWEEP_EVERY_SECONDS):
            self.clock.now += wait
            self._deliveries("sweep", [], self._sweep_once)
            self.results_stream()

    def _sweep_once(self, _: list[dict[str, Any]]) -> list[dict[str, Any]]:
        db = self.rig.client("sweep", "dynamodb")
        Sweeper(
            ResultIndexes(db, self.settings),
            self._watcher(db),
            CouponIssuer(
                db,
                self.settings,
                clock=self.clock,
                events=EventBus(self.rig.client("sweep", "events"), self.settings),
            ),
            self.settings,
            clock=self.clock,
            stranded=StrandedLeases(db, self.settings, self.clock),
            games=lambda now, *, ended_within: [self.game],
        ).sweep()
        return []

    def _watcher(self, db: Any) -> ExpiryWatcher:
        return ExpiryWatcher(db, self.settings, clock=self.clock, sleep=self._sleep)

    def _sleep(self, seconds: float) -> None:
        self.clock.now += seconds

    def _deliveries(
        self,
        function: str,
        records: list[dict[str, Any]],
        once: Callable[[list[dict[str, Any]]], list[dict[str, Any]]],
    ) -> list[dict[str, Any]]:
        """A batch on a fresh Lambda, again after a crash (the mapping's retry)."""
        for _ in range(MAX_DELIVERIES):
            try:
                return once(records)
            except Crash:
                continue
        raise AssertionError(f"{function}: the batch never went through")

    def _pushed(self, params: dict[str, Any], **_: Any) -> None:
        self.pushes[params["ConnectionId"]].append(json.loads(params["Data"]))

    def _meanwhile_the_reel_stops(self) -> None:
        """While a call is held up, every deadline passes and the watcher acts."""
        self.clock.now += HELD_UP_SECONDS
        watcher = self._watcher(self.db)
        for play_id in self.accepted:
            watcher.expire(play_id)

    # -- once settled ---------------------------------------------------------------------
    def settle(self) -> Run:
        self.set_up()
        for n in range(PLAYERS):
            self.ingest(n)
            self.clock.now += INGEST_GAP_SECONDS
        self.clock.now += 0.5
        self.allocate()
        self.results_stream()
        # Whatever the functions left undone, the sweeper finishes; deliver tells
        self.sweep()
        results = {p: self.world.result(p) for p in self.accepted}
        reread = {p: self.world.result(p) for p in self.accepted}
        coupons = [
            codec.load(item)
            for item in self.db.scan(TableName=self.settings.state_table)["Items"]
            if item["pk"]["S"].startswith("COUPON#")
        ]
        pushes = {
            f"play-{n}": [m for m in self.pushes[_connection(n)] if m.get("playId") == f"play-{n}"]
            for n in range(PLAYERS)
        }
        return Run(
            accepted=list(self.accepted),
            results=results,
            reread=reread,
            pushes=pushes,
            coupons=coupons,
            problems=self.world.reconcile().problems,
            published=self.world.events.published(),
            bound_seconds=self.settings.expiry_seconds
            + self.settings.sweep_margin_seconds
            + SWEEP_EVERY_SECONDS
            + HELD_UP_SECONDS,
        )


def _connection(n: int) -> str:
    return f"Ab1cDEFgIAMCJz{n}Q="


def _run(rig: Rig) -> Run:
    with mock_aws(), _few_sweep_shards():
        return Path(rig).settle()


@contextmanager
def _few_sweep_shards() -> Iterator[None]:
    """Wins spread over 2 shards of the sweep index, not 16: each sweep run Queries every
    shard of them, and three plays need no more (the shard count changes no logic)."""
    with (
        patch("frolic.dal.tables.UNISSUED_SHARDS", 2),
        patch("frolic.dal.result_indexes.UNISSUED_SHARDS", 2),
    ):
        yield


def _points() -> list[Point]:
    """Every call of a clean run, in order."""
    rig = Rig()
    _run(rig)
    return list(dict.fromkeys(rig.seen))


POINTS = _points()
INJECTIONS = list(itertools.product(POINTS, FAULTS))


def _invariants_hold(run: Run) -> Iterator[str]:
    """Each broken invariant, in words."""
    if not run.accepted:
        yield "no play was accepted"
    for play_id in run.accepted:
        result = run.results[play_id]
        if result["status"] not in FINAL:
            yield f"{play_id}: {result['status']}, not final"
        if run.reread[play_id] != result:
            yield f"{play_id}: read {result['status']}, then {run.reread[play_id]['status']}"
        if result.get("decidedAt", 0) > result["arrivalTs"] + run.bound_seconds:
            yield f"{play_id}: final only after its bound"
        for message in run.pushes.get(play_id, []):
            if message.get("status") != result["status"]:
                yield f"{play_id}: pushed {message.get('status')}, reads {result['status']}"
            if message.get("coupon", {}).get("code") != _code(result):
                yield f"{play_id}: pushed another coupon than it holds"
    won = [r for r in run.results.values() if r["status"] == PlayStatus.WON.value]
    codes = [_code(r) for r in won]
    if len(won) > BUDGET:
        yield f"{len(won)} winners for {BUDGET} coupons"
    if len(set(codes)) != len(codes):
        yield "a code won twice"
    issued = {c["code"]: c for c in run.coupons if c.get("status") == CouponStatus.ISSUED.value}
    for result in won:
        coupon = issued.get(_code(result))
        if coupon is None or coupon.get("playId") != result["playId"]:
            yield f"{result['playId']}: its coupon is not issued to it"
    # Every win went out on the bus, at least once, and its coupon with its own code
    told = {(e["type"], e["playId"], e.get("code")) for e in run.published}
    for result in won:
        if ("Play won", result["playId"], None) not in told:
            yield f"{result['playId']}: no win event"
        if ("Coupon issued", result["playId"], _code(result)) not in told:
            yield f"{result['playId']}: no coupon-issued event with its code"
    yield from run.problems


def _code(result: dict[str, Any]) -> str | None:
    coupons = result.get("coupons") or []
    return coupons[0]["code"] if coupons else None


def test_the_clean_run_decides_every_play_and_lists_every_function_s_calls() -> None:
    run = _run(Rig())
    assert not list(_invariants_hold(run))
    assert sorted(r["status"] for r in run.results.values()) == ["lost"] + ["won"] * BUDGET
    assert {p.function for p in POINTS} == {"ingest", "allocate", "deliver", "expiry", "sweep"}


@pytest.mark.parametrize(("point", "fault"), INJECTIONS, ids=str)
def test_one_fault_at_one_point_breaks_no_invariant(point: Point, fault: str) -> None:
    rig = Rig(point=point, fault=fault)
    run = _run(rig)
    assert rig.fired, f"{fault} at {point} never fired"
    assert not list(_invariants_hold(run))
