"""The results table's sparse sweep index (see `frolic.dal.tables`): reading what is
stuck in it, and taking a won result out of it once its coupons are issued.

The index is eventually consistent and keeps keys only, so what it names is read again
from the table, consistently, before anyone acts on it.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, Any

from frolic.dal import codec
from frolic.dal.errors import written
from frolic.dal.tables import (
    PENDING_PREFIX,
    PENDING_SHARDS,
    RESULTS_KEY,
    SWEEP_INDEX,
    SWEEP_PARTITION,
    SWEEP_SORT,
    UNISSUED_PREFIX,
    UNISSUED_SHARDS,
)
from frolic.settings import Settings

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient


class ResultIndexes:
    def __init__(self, client: DynamoDBClient, settings: Settings) -> None:
        self._db = client
        self._results = settings.results_table

    def pending_before(self, arrived_before: float) -> Iterator[str]:
        """playIds of plays still pending that arrived before the instant."""
        shards = (f"{PENDING_PREFIX}{n}" for n in range(PENDING_SHARDS))
        return self._older(shards, arrived_before)

    def unissued_before(self, decided_before: float) -> Iterator[str]:
        """playIds of wins decided before the instant whose coupons are not all issued."""
        shards = (f"{UNISSUED_PREFIX}{n}" for n in range(UNISSUED_SHARDS))
        return self._older(shards, decided_before)

    def result(self, play_id: str) -> dict[str, Any] | None:
        response = self._db.get_item(
            TableName=self._results,
            Key={RESULTS_KEY: {"S": play_id}},
            ConsistentRead=True,
        )
        item = response.get("Item")
        return codec.load(item) if item else None

    def mark_issued(self, play_id: str) -> bool:
        """Out of the index as a win awaiting issue; False when it was not there (a
        replay, or a result written before the index existed). No write is made then,
        so no stream record either."""
        return written(
            lambda: self._db.update_item(
                TableName=self._results,
                Key={RESULTS_KEY: {"S": play_id}},
                UpdateExpression="REMOVE #sweep, #sweepAt",
                ConditionExpression="begins_with(#sweep, :unissued)",
                ExpressionAttributeNames={"#sweep": SWEEP_PARTITION, "#sweepAt": SWEEP_SORT},
                ExpressionAttributeValues={":unissued": {"S": UNISSUED_PREFIX}},
            )
        )

    def _older(self, shards: Iterable[str], before: float) -> Iterator[str]:
        """One Query per shard (each, in normal running, answers nothing), paged."""
        for shard in shards:
            kwargs: dict[str, Any] = {
                "TableName": self._results,
                "IndexName": SWEEP_INDEX,
                "KeyConditionExpression": "#sweep = :shard AND #sweepAt < :before",
                "ExpressionAttributeNames": {"#sweep": SWEEP_PARTITION, "#sweepAt": SWEEP_SORT},
                "ExpressionAttributeValues": codec.dump({":shard": shard, ":before": before}),
                "ProjectionExpression": RESULTS_KEY,
            }
            while True:
                page = self._db.query(**kwargs)
                for item in page.get("Items", []):
                    yield item[RESULTS_KEY]["S"]
                if "LastEvaluatedKey" not in page:
                    break
                kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]
