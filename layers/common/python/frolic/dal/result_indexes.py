"""The results table's two sparse indexes (see `frolic.dal.tables`): reading what is
stuck in them, and taking a won result out of the unissued one.

The indexes are eventually consistent and keep keys only, so what they name is read
again from the table, consistently, before anyone acts on it.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from frolic.dal import codec
from frolic.dal.batches import condition_failed
from frolic.dal.tables import (
    PENDING_INDEX,
    PENDING_SHARD,
    PENDING_SHARDS,
    PENDING_SORT,
    RESULTS_KEY,
    UNISSUED_INDEX,
    UNISSUED_SHARD,
    UNISSUED_SHARDS,
    UNISSUED_SORT,
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
        return self._older(
            PENDING_INDEX, PENDING_SHARD, PENDING_SORT, PENDING_SHARDS, arrived_before
        )

    def unissued_before(self, decided_before: float) -> Iterator[str]:
        """playIds of wins decided before the instant whose coupons are not all issued."""
        return self._older(
            UNISSUED_INDEX, UNISSUED_SHARD, UNISSUED_SORT, UNISSUED_SHARDS, decided_before
        )

    def result(self, play_id: str) -> dict[str, Any] | None:
        response = self._db.get_item(
            TableName=self._results,
            Key={RESULTS_KEY: {"S": play_id}},
            ConsistentRead=True,
        )
        item = response.get("Item")
        return codec.load(item) if item else None

    def mark_issued(self, play_id: str) -> bool:
        """Out of the unissued index; False when it was not there (a replay, or a result
        written before the index existed). No write is made then, so no stream record."""
        try:
            self._db.update_item(
                TableName=self._results,
                Key={RESULTS_KEY: {"S": play_id}},
                UpdateExpression="REMOVE #shard",
                ConditionExpression="attribute_exists(#shard)",
                ExpressionAttributeNames={"#shard": UNISSUED_SHARD},
            )
        except ClientError as error:
            if condition_failed(error):
                return False
            raise
        return True

    def _older(
        self, index: str, shard_key: str, sort_key: str, shards: int, before: float
    ) -> Iterator[str]:
        """One Query per shard (each, in normal running, answers nothing), paged."""
        for shard in range(shards):
            kwargs: dict[str, Any] = {
                "TableName": self._results,
                "IndexName": index,
                "KeyConditionExpression": "#shard = :shard AND #sort < :before",
                "ExpressionAttributeNames": {"#shard": shard_key, "#sort": sort_key},
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
