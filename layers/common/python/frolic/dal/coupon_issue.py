"""Binding a won coupon to its play: the one conditional write that makes it ISSUED.

Deliver and the sweeper both come here (`frolic.deliver.CouponIssuer`), so whichever
runs second finds the coupon bound and writes nothing. The condition names the code as
well as the status, so a coupon whose code was changed by hand is never issued.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from frolic.dal import codec
from frolic.dal.errors import written
from frolic.dal.tables import code_key, coupon_key
from frolic.models import CouponStatus
from frolic.settings import Settings

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient


class CouponBinding:
    def __init__(self, client: DynamoDBClient, settings: Settings) -> None:
        self._db = client
        self._state = settings.state_table

    def code_entry(self, code: str) -> dict[str, Any]:
        """Where the code sits: its game, brand, counter and ordinal (empty if unknown)."""
        return self._read(code_key(code))

    def bind(
        self, entry: Mapping[str, Any], *, code: str, play_id: str, user_id: str, now: float
    ) -> dict[str, Any] | None:
        """The coupon at `entry` → ISSUED to the play, if it is AVAILABLE or RESERVED for
        this play and still holds `code`. None when this call bound it; otherwise the
        coupon as it now stands, for the caller to judge."""
        key = coupon_key(
            str(entry["gameId"]), str(entry["brandId"]), entry["ordinal"], int(entry.get("sub", 0))
        )
        bound = written(
            lambda: self._db.update_item(
                TableName=self._state,
                Key=codec.dump(key),
                UpdateExpression=(
                    "SET #status = :issued, issuedAt = :now, playId = :play, userId = :user"
                ),
                ConditionExpression=(
                    "code = :code AND (#status = :available"
                    " OR (#status = :reserved AND playId = :play))"
                ),
                ExpressionAttributeNames={"#status": "status"},
                ExpressionAttributeValues=codec.dump(
                    {
                        ":issued": CouponStatus.ISSUED.value,
                        ":reserved": CouponStatus.RESERVED.value,
                        ":available": CouponStatus.AVAILABLE.value,
                        ":play": play_id,
                        ":user": user_id,
                        ":code": code,
                        ":now": now,
                    }
                ),
            )
        )
        return None if bound else self._read(key)

    def _read(self, key: Mapping[str, str]) -> dict[str, Any]:
        response = self._db.get_item(
            TableName=self._state, Key=codec.dump(key), ConsistentRead=True
        )
        return codec.load(response.get("Item", {}))
