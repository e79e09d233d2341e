"""`frolic wallet-backfill`: put wins decided before the wallet index into it.

The wallet (`GET /me/coupons`) reads the results table's sparse `wallet` index, keyed by
`wonBy`, which the allocator writes on every win since the index was deployed. A win
decided before then has no `wonBy`, so its player's wallet leaves it out. This command
finds those wins and sets `wonBy` to the play's own `userId`.

It is a one-off migration, so it scans: the table's segments in parallel, reading only
won items without `wonBy` (the filter runs in DynamoDB; the scan still reads, and pays
for, the whole table once). Each write is conditional on the item still being that
player's win without `wonBy`, so the command can run beside live traffic, be stopped,
and run again: a second run finds nothing to do.
"""

from __future__ import annotations

from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

from frolic.dal.errors import ClientError, condition_failed
from frolic.dal.tables import RESULTS_KEY, WALLET_PARTITION
from frolic.models import PlayStatus
from frolic.settings import Settings

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

#: Scan segments read at once: a few keep a large table's scan short without taking
#: much of its read capacity from live traffic.
SEGMENTS: Final = 4


@dataclass(frozen=True, slots=True)
class BackfillCounts:
    #: Wins found without `wonBy`.
    found: int = 0
    #: Of those, the ones this run wrote.
    written: int = 0

    def __add__(self, other: BackfillCounts) -> BackfillCounts:
        return BackfillCounts(self.found + other.found, self.written + other.written)

    def render(self) -> str:
        return (
            f"wallet backfill: {self.found} wins without wonBy found, {self.written} added "
            "to their players' wallets"
        )


def backfill_wallet(
    client: DynamoDBClient, settings: Settings, segments: int = SEGMENTS
) -> BackfillCounts:
    with ThreadPoolExecutor(segments) as pool:
        counts = pool.map(lambda s: _segment(client, settings, s, segments), range(segments))
        return sum(counts, BackfillCounts())


def _segment(client: DynamoDBClient, settings: Settings, segment: int, of: int) -> BackfillCounts:
    table = settings.results_table
    found = written = 0
    pages = client.get_paginator("scan").paginate(
        TableName=table,
        Segment=segment,
        TotalSegments=of,
        FilterExpression="#status = :won AND attribute_not_exists(#by)",
        ProjectionExpression="#key, userId",
        ExpressionAttributeNames={
            "#status": "status",
            "#by": WALLET_PARTITION,
            "#key": RESULTS_KEY,
        },
        ExpressionAttributeValues={":won": {"S": PlayStatus.WON.value}},
    )
    for page in pages:
        for item in page.get("Items", []):
            found += 1
            written += _add_to_wallet(client, table, item)
    return BackfillCounts(found, written)


def _add_to_wallet(client: DynamoDBClient, table: str, item: Mapping[str, Any]) -> int:
    try:
        client.update_item(
            TableName=table,
            Key={RESULTS_KEY: item[RESULTS_KEY]},
            UpdateExpression="SET #by = userId",
            ConditionExpression="#status = :won AND attribute_not_exists(#by) AND userId = :user",
            ExpressionAttributeNames={"#status": "status", "#by": WALLET_PARTITION},
            ExpressionAttributeValues={
                ":won": {"S": PlayStatus.WON.value},
                ":user": item["userId"],
            },
        )
    except ClientError as error:
        if not condition_failed(error):
            raise
        return 0  # written meanwhile (by an allocator replay, or another run), or gone
    return 1
