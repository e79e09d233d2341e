"""A live game in moto's DynamoDB, and Kinesis-shaped events to feed the allocator."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import boto3
from aws_lambda_powertools.event_handler import APIGatewayRestResolver

from frolic.allocate import StreamAllocator
from frolic.allocation.allocator import Allocator
from frolic.allocation.ports import GameDirectory
from frolic.dal import codec
from frolic.dal.allocation_store import DynamoAllocationStore, DynamoGameDirectory
from frolic.dal.events import EventBus
from frolic.dal.items import model_item
from frolic.dal.pools import CouponPools
from frolic.dal.sessions import Sessions
from frolic.dal.tables import brand_key, coupon_key, game_key
from frolic.ingest import PlayIntake
from frolic.models import Brand, Game, GameConfig, GameStatus, PlayEvent
from frolic.pacing.policy import FrolicPacing, PacingPolicy
from frolic.player_api import build_player_app
from frolic.settings import Settings
from frolic_tools.local.events import kinesis_record
from frolic_tools.local.events_out import received, subscribe_queue
from frolic_tools.reconcile import ReconcileReport, reconcile
from frolic_tools.schema import create_event_bus

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_sqs import SQSClient

GAME = "game-1"
PLAY_STREAM_ARN = "arn:aws:kinesis:us-east-1:123456789012:stream/frolic-plays"
START = 1_900_000_000.0
DRAW_KEY = b"integration-draw-key-0123456789"


@dataclass
class Clock:
    """The allocator's clock, moved by the test, never by sleeping."""

    now: float = START + 5.0

    def __call__(self) -> float:
        return self.now

    def wait_until(self, instant: float) -> float:
        """The allocator's wait at a window's close moves the clock, no sleep."""
        self.now = max(self.now, instant)
        return self.now


@dataclass
class EventTap:
    """The bus on moto, with a queue a rule sends every Frolic event to, as a consumer
    in AWS would have it: what the code under test published is read back from it."""

    bus: EventBus
    sqs: SQSClient
    queue_url: str

    @classmethod
    def on_moto(cls, settings: Settings) -> EventTap:
        events = boto3.client("events", region_name="us-east-1")
        sqs = boto3.client("sqs", region_name="us-east-1")
        create_event_bus(events, settings)
        return cls(EventBus(events, settings), sqs, subscribe_queue(events, sqs, settings))

    def published(self) -> list[dict[str, Any]]:
        """The events published since the last look: detail-type and detail each."""
        return [
            {"type": e["detail-type"], **e["detail"]} for e in received(self.sqs, self.queue_url)
        ]


@dataclass
class World:
    db: DynamoDBClient
    settings: Settings
    clock: Clock = field(default_factory=Clock)
    _sequence: int = 0
    events: EventTap = field(kw_only=True)

    def live_game(
        self,
        *,
        duration: float = 600.0,
        config: GameConfig | None = None,
        game_id: str = GAME,
        status: GameStatus = GameStatus.LIVE,
    ) -> Game:
        game = Game(
            game_id=game_id,
            campaign_id="campaign-1",
            name="Spin to win",
            start_time=datetime.fromtimestamp(START, UTC),
            end_time=datetime.fromtimestamp(START + duration, UTC),
            status=status,
            config=config or GameConfig(),
        )
        self.db.put_item(
            TableName=self.settings.state_table,
            Item=codec.dump(model_item(game, game_key(game_id), "game")),
        )
        return game

    def brand(self, brand_id: str, name: str) -> None:
        self.db.put_item(
            TableName=self.settings.state_table,
            Item=codec.dump(
                model_item(Brand(brand_id=brand_id, name=name), brand_key(brand_id), "brand")
            ),
        )

    def pools(self) -> CouponPools:
        return CouponPools(self.db, self.settings, clock=self.clock)

    def budget(
        self,
        brand: str,
        budget: int,
        codes: int | None = None,
        game_id: str = GAME,
        counters: int | None = None,
    ) -> list[str]:
        pools = self.pools()
        pools.set_budget(game_id, brand, budget, actor="test", counters=counters)
        made = [f"{game_id}-{brand}-{n:04d}".upper() for n in range(1, (codes or budget) + 1)]
        pools.add_codes(game_id, brand, made)
        return made

    def intake(
        self, kinesis: Any, db: DynamoDBClient | None = None, games: GameDirectory | None = None
    ) -> PlayIntake:
        """The ingest logic on this world's tables (or on `db`, a wrapped client)."""
        return PlayIntake(
            db=db or self.db,
            kinesis=kinesis,
            settings=self.settings,
            games=games or DynamoGameDirectory(self.db, self.settings),
            clock=self.clock,
        )

    def player_app(self, kinesis: Any) -> APIGatewayRestResolver:
        """The players' REST API as the ingest Lambda builds it."""
        sessions = Sessions(self.db, self.settings, clock=self.clock)
        return build_player_app(
            intake=self.intake(kinesis), db=self.db, settings=self.settings, sessions=sessions
        )

    def store(self) -> DynamoAllocationStore:
        return DynamoAllocationStore(self.db, self.settings, clock=self.clock)

    def stream_allocator(
        self, policy: PacingPolicy | None = None, games: GameDirectory | None = None
    ) -> StreamAllocator:
        store = self.store()
        allocator = Allocator(
            store=store,
            games=games or DynamoGameDirectory(self.db, self.settings),
            policy=policy or FrolicPacing(),
            draw_key=DRAW_KEY,
            wait_until=self.clock.wait_until,
        )
        return StreamAllocator(allocator=allocator, store=store, clock=self.clock)

    def play(
        self, n: int, *, at: float = 1.0, user: str | None = None, game_id: str = GAME
    ) -> PlayEvent:
        return PlayEvent(
            play_id=f"play-{n}",
            user_id=user or f"user-{n}",
            game_id=game_id,
            arrival_ts=START + at,
        )

    def record(self, event: PlayEvent | dict[str, Any] | bytes) -> dict[str, Any]:
        """A Kinesis record as the event source mapping hands it to Lambda."""
        self._sequence += 1
        if isinstance(event, PlayEvent):
            data = json.dumps(event.to_wire()).encode()
        elif isinstance(event, dict):
            data = json.dumps(event).encode()
        else:
            data = event
        raw = {
            "SequenceNumber": f"{49_600_000_000_000_000_000 + self._sequence}",
            "ApproximateArrivalTimestamp": self.clock.now,
            "PartitionKey": str(self._sequence),
            "Data": data,
        }
        return kinesis_record(raw, shard_id="shardId-000000000000", stream_arn=PLAY_STREAM_ARN)

    def cached_games(self) -> DynamoGameDirectory:
        """A game directory whose cache never expires in the test: what it read first,
        it keeps (a Lambda's view of a game that changed since)."""
        return DynamoGameDirectory(self.db, self.settings, clock=lambda: 0.0)

    def reconcile(self, game_id: str = GAME, *, now: float | None = None) -> ReconcileReport:
        return reconcile(self.db, self.settings, game_id, now=now)

    def coupon(
        self, brand_id: str, ordinal: int, sub: int = 0, game_id: str = GAME
    ) -> dict[str, Any]:
        """A coupon of a counter's pool, by ordinal, read consistently."""
        item = self.db.get_item(
            TableName=self.settings.state_table,
            Key=codec.dump(coupon_key(game_id, brand_id, ordinal, sub)),
            ConsistentRead=True,
        )["Item"]
        return codec.load(item)

    def result(self, play_id: str) -> dict[str, Any]:
        item = self.db.get_item(
            TableName=self.settings.results_table,
            Key={"playId": {"S": play_id}},
            ConsistentRead=True,
        )["Item"]
        return codec.load(item)
