"""At most once per interval: one conditional write of a time stamp.

Ingest uses it twice, for one idea: a player's next play (the play slot) and a pending
play's next put on the stream (the re-put stamp). The write itself is the guard, so two
Lambdas racing on one item let exactly one through, and the refused one gets the item as
it stood, to answer from without another read.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from frolic.dal import codec
from frolic.dal.errors import ClientError, refused_item

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient


@dataclass(frozen=True, slots=True)
class Stamp:
    """Whether the stamp was written, and the item: as written, or as found when it was
    not (empty if there is no such item)."""

    written: bool
    item: Mapping[str, Any]


def stamp_if_due(
    db: DynamoDBClient,
    *,
    table: str,
    key: Mapping[str, Any],
    attribute: str,
    now: float,
    interval: float,
    also: Mapping[str, Any] | None = None,
    only_if: str | None = None,
    names: Mapping[str, str] | None = None,
    values: Mapping[str, Any] | None = None,
) -> Stamp:
    """Set `attribute` to `now` (and the `also` attributes to theirs) if it is absent or
    at least `interval` old, and `only_if` holds (a condition over `names` and `values`).

    `only_if` must fail on a missing item if the stamp should never create one.
    """
    sets = {attribute: now, **(also or {})}
    assigned_names = {f"#a{i}": name for i, name in enumerate(sets)}
    assigned = {f":a{i}": value for i, value in enumerate(sets.values())}
    due = "(attribute_not_exists(#a0) OR #a0 <= :cutoff)"
    try:
        written = db.update_item(
            TableName=table,
            Key=codec.dump(key),
            UpdateExpression="SET " + ", ".join(f"{n} = :{n[1:]}" for n in assigned_names),
            ConditionExpression=f"({only_if}) AND {due}" if only_if else due,
            ExpressionAttributeNames={**assigned_names, **(names or {})},
            ExpressionAttributeValues=codec.dump(
                {**assigned, ":cutoff": now - interval, **(values or {})}
            ),
            ReturnValues="ALL_NEW",
            ReturnValuesOnConditionCheckFailure="ALL_OLD",
        )
    except ClientError as error:
        if (found := refused_item(error)) is None:
            raise
        return Stamp(written=False, item=found)
    return Stamp(written=True, item=codec.load(written["Attributes"]))
