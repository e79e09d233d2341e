"""Ending a play that is still pending: the one conditional write the expiry watcher, the
sweeper and the allocator's answer to a malformed record share.

Conditioned on `pending` (and, when asked, on the player), so whichever of the writers
of a result lands first stands. The play leaves the sweep index in the same write: the
index lists pending plays for the sweeper.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from frolic.dal import codec
from frolic.dal.errors import written
from frolic.dal.tables import SWEEP_PARTITION, SWEEP_SORT
from frolic.models import PlayStatus

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient


def end_pending(
    db: DynamoDBClient,
    table: str,
    play_id: str,
    *,
    status: PlayStatus,
    reason: str,
    decided_at: float,
    user_id: str | None = None,
) -> bool:
    """Give the play its final `status` if it is still pending (under `user_id`, when
    given); False when it was not."""
    condition = "#status = :pending"
    values: dict[str, object] = {
        ":final": status.value,
        ":pending": PlayStatus.PENDING.value,
        ":reason": reason,
        ":now": decided_at,
    }
    if user_id is not None:
        condition += " AND userId = :user"
        values[":user"] = user_id
    return written(
        lambda: db.update_item(
            TableName=table,
            Key={"playId": {"S": play_id}},
            UpdateExpression=(
                "SET #status = :final, reason = :reason, decidedAt = :now REMOVE #sweep, #sweepAt"
            ),
            ConditionExpression=condition,
            ExpressionAttributeNames={
                "#status": "status",
                "#sweep": SWEEP_PARTITION,
                "#sweepAt": SWEEP_SORT,
            },
            ExpressionAttributeValues=codec.dump(values),
        )
    )
