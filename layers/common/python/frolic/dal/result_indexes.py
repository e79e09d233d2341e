"""The results table's sparse sweep index (see `frolic.dal.tables`): reading what is
stuck in it, and taking a won result out of it once its coupons are issued.

The index is eventually consistent and keeps keys only, so what it names is read again
from the table, consistently, before anyone acts on it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

from frolic.dal import codec
from frolic.dal.errors import written
from frolic.dal.tables import (
    PENDING_PREFIX,
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

    def unissued_before(self, decided_before: float) -> Iterator[str]:
        """playIds of wins decided before the instant whose coupons are not all issued.

        One Query per shard, so that a backlog of stuck plays in the same index never
        slows the step that must finish first."""
        for n in range(UNISSUED_SHARDS):
            yield from self._paged(
                self._db.query,
                {
                    **self._sweep_index(f"{UNISSUED_PREFIX}{n}", decided_before),
                    "KeyConditionExpression": "#sweep = :work AND #sweepAt < :before",
                },
            )

    def pending_before(
        self, arrived_before: float, before_page: Callable[[], None] = lambda: None
    ) -> Iterator[str]:
        """playIds of plays still pending that arrived before the instant.

        One paged Scan rather than a Query per shard: the index holds only outstanding
        work (in normal running, the plays in flight, a few seconds of arrivals), so one
        read of it costs less than 128 Queries that answer nothing; after a storm it
        reads the backlog it is about to expire. A page the filter empties yields
        nothing, so `before_page` runs before each read (the sweeper's time limit)."""
        return self._paged(
            self._db.scan,
            {
                **self._sweep_index(PENDING_PREFIX, arrived_before),
                "FilterExpression": "begins_with(#sweep, :work) AND #sweepAt < :before",
            },
            before_page,
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

    def _sweep_index(self, work: str, before: float) -> dict[str, Any]:
        return {
            "TableName": self._results,
            "IndexName": SWEEP_INDEX,
            "ExpressionAttributeNames": {"#sweep": SWEEP_PARTITION, "#sweepAt": SWEEP_SORT},
            "ExpressionAttributeValues": codec.dump({":work": work, ":before": before}),
            "ProjectionExpression": RESULTS_KEY,
        }

    @staticmethod
    def _paged(
        read: Callable[..., Any],
        kwargs: dict[str, Any],
        before_page: Callable[[], None] = lambda: None,
    ) -> Iterator[str]:
        while True:
            before_page()
            page = read(**kwargs)
            for item in page.get("Items", []):
                yield item[RESULTS_KEY]["S"]
            if "LastEvaluatedKey" not in page:
                return
            kwargs = {**kwargs, "ExclusiveStartKey": page["LastEvaluatedKey"]}
