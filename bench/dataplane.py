"""`make bench` (data path): what 1,000 plays cost in DynamoDB writes and requests.

Runs the real ingest and allocator code on moto, 1,000 plays at a 1 % win rate in
batches of 100 (a busy shard), and counts every DynamoDB request and its write units
with botocore event hooks: one unit per started KiB of item for a write, twice that
inside a transaction (the allocator no longer makes any). Beside it, the naive
per-play design measured the same way: read the budget, decrement it conditionally for
a winner, put the result.

Then a hot brand: half of 400 plays win, with the budget on one counter and split over
four, and the write units each budget item takes are counted (one per lease): the
busiest item is what DynamoDB's per-item limit (about 1,000 units/s) applies to.
"""

from __future__ import annotations

import argparse
import base64
import json
import math
import os
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import boto3
from moto import mock_aws
from readme import publish

from frolic.allocate import StreamAllocator
from frolic.allocation.allocator import Allocator, virtual_wait
from frolic.allocation.ports import GameRules
from frolic.auth import Principal
from frolic.dal import codec
from frolic.dal.allocation_store import DynamoAllocationStore
from frolic.dal.items import model_item
from frolic.dal.pools import CouponPools
from frolic.dal.tables import BUDGET_PREFIX, SWEEP_INDEX, WALLET_INDEX, budget_key, game_key
from frolic.ingest import PlayIntake, PlayRequest
from frolic.models import Game, GameStatus, PlayStatus
from frolic.pacing.policy import FrolicPacing
from frolic.settings import Settings
from frolic_tools.reconcile import reconcile
from frolic_tools.schema import LOCAL_STREAM, create_tables, local_settings
from frolic_tools.sim.memory import InMemoryGames

PLAYS = 1000
WIN_RATE = 0.01
BATCH = 100
WINDOW_SECONDS = 100.0
GAME_ID = "bench-game"
BRAND = "brand-a"
KIB = 1024


def _value_bytes(value: dict[str, Any]) -> int:
    ((kind, inner),) = value.items()
    if kind == "S":
        return len(inner.encode())
    if kind == "N":
        return math.ceil(len(inner.lstrip("-").replace(".", "")) / 2) + 1
    if kind in {"BOOL", "NULL"}:
        return 1
    if kind == "M":
        return 3 + sum(len(k.encode()) + _value_bytes(v) + 1 for k, v in inner.items())
    if kind == "L":
        return 3 + sum(_value_bytes(v) + 1 for v in inner)
    return len(json.dumps(inner))


def item_bytes(item: dict[str, Any]) -> int:
    """DynamoDB's item size: attribute names plus values (documented sizing rules)."""
    return sum(len(name.encode()) + _value_bytes(value) for name, value in item.items())


def _units(item: dict[str, Any] | None) -> int:
    return max(1, math.ceil(item_bytes(item) / KIB)) if item else 1


@dataclass
class Meter:
    requests: Counter[str] = field(default_factory=Counter)
    write_units: int = 0
    #: Write units per item, by its key ("pk|sk", or the playId of a result).
    per_item: Counter[str] = field(default_factory=Counter)

    #: The allocator sends its results from several threads at once.
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def attach(self, client: Any) -> None:
        client.meta.events.register("before-parameter-build.dynamodb.*", self._count)

    def _count(self, params: dict[str, Any], event_name: str, **_: Any) -> None:
        with self._lock:
            self._count_unlocked(params, event_name.rsplit(".", 1)[-1])

    def _count_unlocked(self, params: dict[str, Any], operation: str) -> None:
        self.requests[operation] += 1
        if operation == "PutItem":
            self.write_units += _units(params.get("Item"))
        elif operation in ("UpdateItem", "DeleteItem"):
            self.write_units += 1
            self.per_item[_item_name(params["Key"])] += 1
        elif operation == "BatchWriteItem":
            for requests in params["RequestItems"].values():
                for request in requests:
                    self.write_units += _units(request.get("PutRequest", {}).get("Item"))
        elif operation == "TransactWriteItems":
            for entry in params["TransactItems"]:
                ((kind, body),) = entry.items()
                units = 2 * (_units(body.get("Item")) if kind == "Put" else 1)
                self.write_units += units
                self.per_item[_item_name(body.get("Key") or body.get("Item") or {})] += units

    @property
    def total_requests(self) -> int:
        return sum(self.requests.values())

    def budget_items(self) -> dict[str, int]:
        """Write units per budget counter item (the budget item and split counters)."""
        return {
            name: units
            for name, units in self.per_item.items()
            if name.startswith(BUDGET_PREFIX) or f"|{BUDGET_PREFIX}" in name
        }


_BEFORE = "frolic_index_meter_before"


@dataclass
class IndexMeter:
    """Write units the tables' global secondary indexes take. DynamoDB charges an index
    one write when an item enters or leaves it, two when the item's index key changes
    (a delete and a put), and one when a projected attribute other than the keys
    changes; each by projected size, one unit for the keys-only sweep index.

    Each write's items are read before and after it with `reader`, a client outside
    the meter on the same tables; the items read before travel in the call's own
    context, since the allocator sends batches from several threads at once."""

    reader: Any
    units: Counter[str] = field(default_factory=Counter)
    #: Per table, read once: its key attributes, and (index, index key attributes,
    #: whether it projects keys only) per global secondary index.
    _shapes: dict[str, tuple[list[str], list[tuple[str, list[str], bool]]]] = field(
        default_factory=dict
    )
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def attach(self, client: Any) -> None:
        client.meta.events.register("before-parameter-build.dynamodb.*", self._read_before)
        client.meta.events.register("after-call.dynamodb.*", self._count_after)

    def _shape(self, table: str) -> tuple[list[str], list[tuple[str, list[str], bool]]]:
        if table not in self._shapes:
            described = self.reader.describe_table(TableName=table)["Table"]
            self._shapes[table] = (
                [k["AttributeName"] for k in described["KeySchema"]],
                [
                    (
                        index["IndexName"],
                        [k["AttributeName"] for k in index["KeySchema"]],
                        index["Projection"]["ProjectionType"] == "KEYS_ONLY",
                    )
                    for index in described.get("GlobalSecondaryIndexes", [])
                ],
            )
        return self._shapes[table]

    def _indexes_of(self, table: str) -> list[tuple[str, list[str], bool]]:
        return self._shape(table)[1]

    def _item(self, table: str, key: dict[str, Any]) -> dict[str, Any]:
        found = self.reader.get_item(TableName=table, Key=key, ConsistentRead=True)
        return dict(found.get("Item", {}))

    def _key(self, table: str, item_or_key: dict[str, Any]) -> dict[str, Any]:
        return {name: item_or_key[name] for name in self._shape(table)[0]}

    def _read_before(
        self, params: dict[str, Any], event_name: str, context: dict[str, Any], **_: Any
    ) -> None:
        operation = event_name.rsplit(".", 1)[-1]
        targets: list[tuple[str, dict[str, Any]]] = []
        if operation in ("PutItem", "UpdateItem", "DeleteItem"):
            targets.append((params["TableName"], params.get("Key") or params["Item"]))
        elif operation == "BatchWriteItem":
            for table, requests in params["RequestItems"].items():
                for request in requests:
                    ((_kind, body),) = request.items()
                    targets.append((table, body.get("Key") or body["Item"]))
        elif operation == "TransactWriteItems":
            for entry in params["TransactItems"]:
                ((kind, body),) = entry.items()
                if kind != "ConditionCheck":
                    targets.append((body["TableName"], body.get("Key") or body["Item"]))
        context[_BEFORE] = [
            (table, key, self._item(table, key))
            for table, item_or_key in targets
            if self._indexes_of(table)
            for key in [self._key(table, item_or_key)]
        ]

    def _count_after(self, context: dict[str, Any], **_: Any) -> None:
        for table, key, old in context.pop(_BEFORE, []):
            new = self._item(table, key)
            for index, attributes, keys_only in self._indexes_of(table):
                was = [old.get(a) for a in attributes]
                now = [new.get(a) for a in attributes]
                in_before, in_after = None not in was, None not in now
                if in_before and in_after:
                    moved = 2 if was != now else int(not keys_only and old != new)
                else:
                    moved = int(in_before) + int(in_after)
                with self._lock:
                    self.units[index] += moved


def _item_name(key: dict[str, Any]) -> str:
    if "playId" in key:
        return str(key["playId"]["S"])
    return f"{key.get('pk', {}).get('S', '?')}|{key.get('sk', {}).get('S', '?')}"


def _seed(
    db: Any,
    settings: Settings,
    start: float,
    budget: int,
    *,
    game_id: str = GAME_ID,
    counters: int = 1,
) -> GameRules:
    game = Game(
        game_id=game_id,
        campaign_id="bench",
        name="bench",
        start_time=datetime.fromtimestamp(start, UTC),
        end_time=datetime.fromtimestamp(start + WINDOW_SECONDS, UTC),
        status=GameStatus.LIVE,
    )
    db.put_item(
        TableName=settings.state_table, Item=codec.dump(model_item(game, game_key(game_id), "game"))
    )
    pools = CouponPools(db, settings)
    pools.set_budget(game_id, BRAND, budget, actor="bench", counters=counters)
    pools.add_codes(game_id, BRAND, [f"{game_id.upper()}-{n:06d}" for n in range(budget)])
    return GameRules.from_game(game)


@dataclass
class FrolicRun:
    ingest: Meter
    allocation: Meter
    #: Sweep index write units, by the stage whose writes moved items in or out.
    ingest_index: IndexMeter
    allocation_index: IndexMeter
    wins: int
    kinesis_records: int


def _frolic(db: Any, settings: Settings, start: float) -> FrolicRun:
    """Ingest then allocate 1,000 plays, each stage on its own metered client."""
    rules = _seed(db, settings, start, budget=int(PLAYS * WIN_RATE))
    kinesis = boto3.client("kinesis", region_name="us-east-1")
    kinesis.create_stream(StreamName=LOCAL_STREAM, ShardCount=1)
    clock = {"now": start}
    ingest_db = boto3.client("dynamodb", region_name="us-east-1")
    ingest, ingest_index = Meter(), IndexMeter(db)
    ingest.attach(ingest_db)
    ingest_index.attach(ingest_db)
    intake = PlayIntake(
        db=ingest_db,
        kinesis=kinesis,
        settings=settings,
        games=InMemoryGames({GAME_ID: rules}),
        clock=lambda: clock["now"],
    )
    records: list[dict[str, Any]] = []
    puts = Counter[str]()
    kinesis.meta.events.register(
        "before-parameter-build.kinesis.PutRecord", lambda **_: puts.update(["PutRecord"])
    )
    for n in range(PLAYS):
        clock["now"] = start + (n + 0.5) * WINDOW_SECONDS / PLAYS
        intake.accept(
            Principal(f"player-{n}", frozenset()), PlayRequest(play_id=f"play-{n}", game_id=GAME_ID)
        )
    shard = kinesis.list_shards(StreamName=LOCAL_STREAM)["Shards"][0]["ShardId"]
    iterator = kinesis.get_shard_iterator(
        StreamName=LOCAL_STREAM, ShardId=shard, ShardIteratorType="TRIM_HORIZON"
    )["ShardIterator"]
    while len(records) < PLAYS:
        page = kinesis.get_records(ShardIterator=iterator, Limit=BATCH)
        records += [_lambda_record(r) for r in page["Records"]]
        iterator = page["NextShardIterator"]
    allocation_index = IndexMeter(db)
    meter, stream = _metered_stream(settings, rules, clock, allocation_index)
    for first in range(0, PLAYS, BATCH):
        batch = records[first : first + BATCH]
        arrival = json.loads(batch[-1]["kinesis"]["data_json"])["arrivalTs"]
        clock["now"] = arrival + 0.5
        stream.handle({"Records": [r["lambda"] for r in batch]}, None)
    return FrolicRun(
        ingest=ingest,
        allocation=meter,
        ingest_index=ingest_index,
        allocation_index=allocation_index,
        wins=_wins(db, settings, [f"play-{n}" for n in range(PLAYS)]),
        kinesis_records=puts["PutRecord"],
    )


def _metered_stream(
    settings: Settings,
    rules: GameRules,
    clock: dict[str, float],
    index: IndexMeter | None = None,
) -> tuple[Meter, StreamAllocator]:
    """The allocator Lambda's logic on a DynamoDB client whose writes are metered."""
    meter = Meter()
    metered = boto3.client("dynamodb", region_name="us-east-1")
    meter.attach(metered)
    if index is not None:
        index.attach(metered)
    store = DynamoAllocationStore(metered, settings, clock=lambda: clock["now"])
    allocator = Allocator(
        store=store,
        games=InMemoryGames({rules.game_id: rules}),
        policy=FrolicPacing(),
        draw_key=b"bench-draw-key-0123456789abcdef",
        wait_until=virtual_wait,
    )
    return meter, StreamAllocator(allocator=allocator, store=store, clock=lambda: clock["now"])


def _wins(db: Any, settings: Settings, play_ids: list[str]) -> int:
    """How many of these plays the results table holds as won."""
    won = 0
    for play_id in play_ids:
        item = db.get_item(TableName=settings.results_table, Key={"playId": {"S": play_id}})
        won += codec.load(item["Item"])["status"] == PlayStatus.WON.value
    return won


HOT_PLAYS = 400
#: A hot shard's batch holds a moment of plays: 2.5 s here, so none is decided later
#: than the batch-write fence allows a win.
HOT_BATCH = 10
HOT_BUDGET = 200
HOT_COUNTERS = (1, 4)


@dataclass(frozen=True)
class HotRun:
    counters: int
    wins: int
    busiest: int
    budget_units: int
    clean: bool


def _hot(db: Any, settings: Settings, start: float, counters: int) -> HotRun:
    """A hot brand: the allocator on `counters` counters, every play's own batch
    position spread over the window, write units counted per budget item."""
    game_id = f"hot-{counters}"
    rules = _seed(db, settings, start, HOT_BUDGET, game_id=game_id, counters=counters)
    clock = {"now": start}
    meter, stream = _metered_stream(settings, rules, clock)
    for first in range(0, HOT_PLAYS, HOT_BATCH):
        records = []
        for n in range(first, min(first + HOT_BATCH, HOT_PLAYS)):
            play_id = f"{game_id}-play-{n}"
            arrival = start + (n + 0.5) * WINDOW_SECONDS / HOT_PLAYS
            play = {
                "playId": play_id,
                "userId": f"{game_id}-player-{n}",
                "gameId": game_id,
                "arrivalTs": arrival,
            }
            db.put_item(
                TableName=settings.results_table,
                Item=codec.dump({**play, "status": PlayStatus.PENDING.value}),
            )
            records.append(_kinesis_event(play_id, play_id, json.dumps(play).encode(), arrival))
            clock["now"] = arrival + 0.5
        stream.handle({"Records": records}, None)
    budget_items = meter.budget_items()
    return HotRun(
        counters=counters,
        wins=_wins(db, settings, [f"{game_id}-play-{n}" for n in range(HOT_PLAYS)]),
        busiest=max(budget_items.values(), default=0),
        budget_units=sum(budget_items.values()),
        clean=reconcile(db, settings, game_id).clean,
    )


def _kinesis_event(
    partition_key: str, sequence: str, data: bytes, arrival: float
) -> dict[str, Any]:
    """One record of a Kinesis event, as the event source mapping hands it to Lambda."""
    return {
        "kinesis": {
            "partitionKey": partition_key,
            "sequenceNumber": sequence,
            "data": base64.b64encode(data).decode(),
            "approximateArrivalTimestamp": arrival,
            "kinesisSchemaVersion": "1.0",
        },
        "eventSource": "aws:kinesis",
        "eventID": f"shardId-000000000000:{sequence}",
        "eventName": "aws:kinesis:record",
        "eventVersion": "1.0",
        "awsRegion": "us-east-1",
        "invokeIdentityArn": "arn:aws:iam::123456789012:role/bench",
        "eventSourceARN": "arn:aws:kinesis:us-east-1:123456789012:stream/bench",
    }


def _lambda_record(record: Any) -> dict[str, Any]:
    data = record["Data"]
    return {
        "kinesis": {"data_json": data.decode()},
        "lambda": _kinesis_event(record["PartitionKey"], record["SequenceNumber"], data, 0),
    }


def _naive(db: Any, settings: Settings, winners: set[int]) -> Meter:
    """The per-play design: read the budget, decrement it for a winner, put the result."""
    meter = Meter()
    client = boto3.client("dynamodb", region_name="us-east-1")
    meter.attach(client)
    key = codec.dump(budget_key("naive-game", BRAND))
    db.put_item(TableName=settings.state_table, Item={**key, "remaining": {"N": str(len(winners))}})
    for n in range(PLAYS):
        client.get_item(TableName=settings.state_table, Key=key, ConsistentRead=True)
        status = PlayStatus.LOST.value
        if n in winners:
            client.update_item(
                TableName=settings.state_table,
                Key=key,
                UpdateExpression="SET remaining = remaining - :one",
                ConditionExpression="remaining >= :one",
                ExpressionAttributeValues={":one": {"N": "1"}},
            )
            status = PlayStatus.WON.value
        client.put_item(
            TableName=settings.results_table,
            Item=codec.dump(
                {
                    "playId": f"naive-{n}",
                    "userId": f"player-{n}",
                    "gameId": "naive-game",
                    "status": status,
                    "decidedAt": time.time(),
                }
            ),
        )
    return meter


def _by_operation(meter: Meter) -> str:
    return ", ".join(f"{op} {n}" for op, n in sorted(meter.requests.items()))


def _index_units(meter: IndexMeter, index: str) -> int:
    return meter.units[index]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", type=Path)
    parser.add_argument("--readme", type=Path, help="refresh the data-path section")
    args = parser.parse_args()
    os.environ.update(
        {
            "AWS_DEFAULT_REGION": "us-east-1",
            "AWS_ACCESS_KEY_ID": "bench",
            "AWS_SECRET_ACCESS_KEY": "bench",
        }
    )
    os.environ.pop("AWS_ENDPOINT_URL", None)
    with mock_aws():
        settings = local_settings()
        db = boto3.client("dynamodb", region_name="us-east-1")
        create_tables(db, settings)
        start = time.time() - WINDOW_SECONDS - 30
        run = _frolic(db, settings, start)
        frolic, wins, kinesis_records = run.allocation, run.wins, run.kinesis_records
        naive = _naive(db, settings, set(range(0, PLAYS, round(1 / WIN_RATE))))
    hot = []
    for counters in HOT_COUNTERS:
        with mock_aws():  # fresh tables: moto copies them all for every transaction
            db = boto3.client("dynamodb", region_name="us-east-1")
            create_tables(db, settings)
            hot.append(_hot(db, settings, start, counters))
    rows = [
        ("frolic allocator (batches of 100)", frolic),
        ("naive per-play baseline", naive),
    ]
    lines = [
        f"Data path, {PLAYS:,} plays, {wins} won ({100 * wins / PLAYS:.1f} %), moto, "
        f"write units per DynamoDB's sizing rules:",
        "",
        "| allocation path | write units | DynamoDB requests | requests by operation |",
        "|---|---:|---:|---|",
    ]
    for name, meter in rows:
        lines.append(
            f"| {name} | {meter.write_units:,} | {meter.total_requests:,} "
            f"| {_by_operation(meter)} |"
        )
    ratio = naive.total_requests / frolic.total_requests
    lines += [
        "",
        f"- Requests: {ratio:.1f}x fewer than the naive design "
        f"({frolic.total_requests} vs {naive.total_requests}); write units "
        f"{frolic.write_units / naive.write_units:.2f}x the naive design's "
        f"({frolic.write_units} vs {naive.write_units}): the naive design binds no coupon "
        "and keeps no arrival counts.",
        f"- Kinesis: {kinesis_records / PLAYS:.2f} records per play "
        f"({kinesis_records} for {PLAYS}).",
        f"- Ingest path (not above): {run.ingest.write_units:,} write units in "
        f"{run.ingest.total_requests:,} requests ({_by_operation(run.ingest)}).",
        f"- The sweep index (keys only, on the results table) takes "
        f"{_index_units(run.ingest_index, SWEEP_INDEX):,} write units from ingest (a pending "
        f"play enters it) and {_index_units(run.allocation_index, SWEEP_INDEX):,} from "
        "allocation (a decided play leaves it; a won one moves to the shards of coupons "
        "awaiting issue, which its issue leaves); the wallet index (won results by winner) "
        f"{_index_units(run.allocation_index, WALLET_INDEX):,} from allocation (a win "
        "enters it): DynamoDB bills them beside the table's own.",
        "",
        f"Hot brand, {HOT_PLAYS:,} plays over {WINDOW_SECONDS:.0f} s, budget {HOT_BUDGET}: write "
        f"units on the budget items (batches of {HOT_BATCH}; a lease is one unit):",
        "",
        "| counters | won | busiest budget item | all budget items | reconcile |",
        "|---:|---:|---:|---:|---|",
    ]
    for hot_run in hot:
        lines.append(
            f"| {hot_run.counters} | {hot_run.wins} | {hot_run.busiest:,} "
            f"| {hot_run.budget_units:,} | {'clean' if hot_run.clean else 'DRIFT'} |"
        )
    single, split = hot[0], hot[-1]
    lines += [
        "",
        f"- The busiest budget item takes {single.busiest / split.busiest:.1f}x fewer write "
        f"units on {split.counters} counters than on one ({split.busiest} vs "
        f"{single.busiest}), for the same coupons out ({split.wins} vs {single.wins}).",
    ]
    text = "\n".join(lines)
    publish(
        text, title="Data path benchmark", out=args.out, readme=args.readme, section="dataplane"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
