"""Batched and paged DynamoDB reads, with the retries every batched call needs."""

from __future__ import annotations

import itertools
import time
from collections.abc import Iterable, Iterator, Sequence
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
    return [item for page in batch_get_pages(client, table, keys, attributes) for item in page]


def batch_get_pages(
    client: DynamoDBClient,
    table: str,
    keys: Iterable[Any],
    attributes: Sequence[str] = (),
    *,
    consistent: bool = True,
) -> Iterator[list[dict[str, Any]]]:
    """As `batch_get`, a batch at a time, taking the keys as they come: a walk of any
    length holds one batch of keys and items at once."""
    projection = _projection(attributes)
    key_iterator = iter(keys)
    while chunk := list(itertools.islice(key_iterator, BATCH_GET_LIMIT)):
        request: dict[str, Any] = {
            table: {"Keys": chunk, "ConsistentRead": consistent, **projection}
        }
        attempt = 0
        while request:
            response = client.batch_get_item(RequestItems=request)
            yield [codec.load(raw) for raw in response["Responses"].get(table, [])]
            request = dict(response.get("UnprocessedKeys") or {})
            if request:
                if attempt >= MAX_UNPROCESSED_ROUNDS:
                    raise UnprocessedError(
                        f"{table}: keys still unprocessed after {attempt} rounds"
                    )
                backoff(attempt)
                attempt += 1


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
