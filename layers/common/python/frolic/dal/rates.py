"""A per-caller rate limit: a fixed-window counter in the state table.

One conditional update per use: it adds one to the caller's count for the current
window unless the count has reached the limit. The counter item expires (TTL) soon
after its window ends, so the table keeps no history. It works the same deployed and
on moto, and it counts every use whichever function environment takes it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from frolic.dal import codec
from frolic.dal.errors import ClientError, condition_failed
from frolic.dal.store import StateTableStore
from frolic.dal.tables import TTL_ATTRIBUTE, rate_key


class RateLimitedError(Exception):
    """The caller has used up this window: try again after `retry_after` seconds."""

    def __init__(self, retry_after: int) -> None:
        super().__init__(f"too many requests: try again in {retry_after} s")
        self.retry_after = retry_after


@dataclass(frozen=True, slots=True)
class RateLimit:
    action: str
    uses: int
    window_seconds: int


class RateLimiter(StateTableStore):
    def take(self, limit: RateLimit, caller: str) -> None:
        """Counts one use, or RateLimitedError if the window is used up."""
        now = self._clock()
        window = int(now // limit.window_seconds)
        window_end = (window + 1) * limit.window_seconds
        try:
            self._db.update_item(
                TableName=self._state,
                Key=codec.dump(rate_key(limit.action, caller, window)),
                UpdateExpression="ADD uses :one SET #ttl = :ttl",
                ConditionExpression="attribute_not_exists(uses) OR uses < :limit",
                ExpressionAttributeNames={"#ttl": TTL_ATTRIBUTE},
                ExpressionAttributeValues=codec.dump(
                    {":one": 1, ":limit": limit.uses, ":ttl": window_end + limit.window_seconds}
                ),
            )
        except ClientError as error:
            if not condition_failed(error):
                raise
            raise RateLimitedError(max(1, math.ceil(window_end - now))) from None
