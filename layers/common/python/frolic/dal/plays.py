"""One play's records as intake, the player's reads and the expiry watcher touch them:
its item in the results table, and its record on the play stream.

The pending item is written only if the playId is new, so a play has one result item
from its first copy on; every later writer of that item is conditioned on `pending`
(`frolic.dal.pending`, the allocator's save). Reads are strongly consistent: a player
who was just told "queued" must not read "no such play".
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from frolic.allocation.ports import Play
from frolic.dal import codec
from frolic.dal.batches import batch_get
from frolic.dal.errors import written
from frolic.dal.items import pending_item
from frolic.dal.tables import RESULTS_KEY
from frolic.models import PlayEvent
from frolic.partition import partition_key

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_kinesis import KinesisClient


def record_pending(db: DynamoDBClient, table: str, play: Play) -> bool:
    """Write the play's pending item if its playId is new; False if it is taken."""
    return written(
        lambda: db.put_item(
            TableName=table,
            Item=codec.dump(pending_item(play)),
            ConditionExpression=f"attribute_not_exists({RESULTS_KEY})",
        )
    )


def read_result(db: DynamoDBClient, table: str, play_id: str) -> dict[str, Any] | None:
    """The play's result item as it stands, or None when there is none."""
    raw = db.get_item(TableName=table, Key={RESULTS_KEY: {"S": play_id}}, ConsistentRead=True)
    item = raw.get("Item")
    return codec.load(item) if item else None


def result_status(db: DynamoDBClient, table: str, play_id: str) -> str | None:
    """Only the play's status (a smaller read than the item), or None without one."""
    raw = db.get_item(
        TableName=table,
        Key={RESULTS_KEY: {"S": play_id}},
        ConsistentRead=True,
        ProjectionExpression="#status",
        ExpressionAttributeNames={"#status": "status"},
    )
    status = codec.load(raw.get("Item", {})).get("status")
    return str(status) if status is not None else None


def result_statuses(
    db: DynamoDBClient, table: str, play_ids: Iterable[str]
) -> dict[str, str | None]:
    """Several plays' statuses in one consistent batched read (None: no item, or no
    status): what `result_status` reads for one, at one request per hundred plays."""
    wanted = list(dict.fromkeys(play_ids))  # a key twice in one batch is refused
    found = {
        str(item[RESULTS_KEY]): item.get("status")
        for item in batch_get(
            db, table, [{RESULTS_KEY: {"S": p}} for p in wanted], (RESULTS_KEY, "status")
        )
    }
    return {p: (str(found[p]) if found.get(p) is not None else None) for p in wanted}


def put_on_stream(kinesis: KinesisClient, stream: str, event: PlayEvent) -> None:
    """The play's record for the allocator, on the shard its playId hashes to."""
    kinesis.put_record(
        StreamName=stream,
        Data=json.dumps(event.to_wire()).encode(),
        PartitionKey=partition_key(event.play_id),
    )
