"""Batched and paged DynamoDB reads, with the retries every batched call needs."""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

from frolic.allocation.ports import BATCH_GET_LIMIT
from frolic.dal import codec

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

T = TypeVar("T")
#: Rounds of retrying what DynamoDB left unprocessed before giving up (about 8 s).
MAX_UNPROCESSED_ROUNDS = 12


class UnprocessedError(RuntimeError):
    """DynamoDB kept leaving part of a batch unprocessed (sustained throttling)."""


def chunks(items: Sequence[T], size: int) -> Iterator[Sequence[T]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def retry_delay(attempt: int) -> float:
    """Backoff before retry `attempt` (0-based): 50 ms doubling, at most a second."""
    return min(0.05 * 2.0**attempt, 1.0)


def backoff(attempt: int) -> None:
    """Wait before retrying what DynamoDB left unprocessed."""
    time.sleep(retry_delay(attempt))


def batch_get(
    client: DynamoDBClient, table: str, keys: Sequence[Any], attributes: Sequence[str] = ()
) -> list[dict[str, Any]]:
    """Strongly consistent reads of any number of keys, unprocessed ones retried; only
    `attributes` of each item when given (a smaller answer, the same read units)."""
    items: list[dict[str, Any]] = []
    projection = _projection(attributes)
    for chunk in chunks(keys, BATCH_GET_LIMIT):
        request: dict[str, Any] = {
            table: {"Keys": list(chunk), "ConsistentRead": True, **projection}
        }
        attempt = 0
        while request:
            response = client.batch_get_item(RequestItems=request)
            items.extend(codec.load(raw) for raw in response["Responses"].get(table, []))
            request = dict(response.get("UnprocessedKeys") or {})
            if request:
                if attempt >= MAX_UNPROCESSED_ROUNDS:
                    raise UnprocessedError(
                        f"{table}: keys still unprocessed after {attempt} rounds"
                    )
                backoff(attempt)
                attempt += 1
    return items


def _projection(attributes: Sequence[str]) -> dict[str, Any]:
    if not attributes:
        return {}
    names = {f"#p{n}": name for n, name in enumerate(attributes)}
    return {"ProjectionExpression": ", ".join(names), "ExpressionAttributeNames": names}


def query_partition(
    client: DynamoDBClient,
    table: str,
    pk: str,
    sk_prefix: str | None = None,
    *,
    attributes: Sequence[str] = (),
    consistent: bool = True,
) -> Iterator[dict[str, Any]]:
    """A partition's items, optionally under a sort-key prefix, every page of the Query:
    strongly consistent unless told otherwise; only `attributes` of each when given."""
    condition = "pk = :pk"
    values = {":pk": {"S": pk}}
    if sk_prefix is not None:
        condition += " AND begins_with(sk, :prefix)"
        values[":prefix"] = {"S": sk_prefix}
    request: dict[str, Any] = {
        "TableName": table,
        "KeyConditionExpression": condition,
        "ExpressionAttributeValues": values,
        "ConsistentRead": consistent,
        **_projection(attributes),
    }
    while True:
        response = client.query(**request)
        yield from (codec.load(raw) for raw in response["Items"])
        if "LastEvaluatedKey" not in response:
            return
        request["ExclusiveStartKey"] = response["LastEvaluatedKey"]
