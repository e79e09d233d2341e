"""Redeeming a coupon at the brand's till, by its code.

The code index item says which coupon (game, brand, ordinal) a code is; the coupon item
holds its status; the game-brand's offer, if it has an end, says until when a till may
take it. Only an ISSUED coupon moves to REDEEMED, in one conditional update, so
two tills scanning the same code cannot both accept it. Nothing here logs or repeats the
code: error messages say what is wrong with "this coupon", never which one.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Literal

from frolic.dal import codec
from frolic.dal.catalog import ConflictError, NotFoundError
from frolic.dal.errors import ClientError, condition_failed
from frolic.dal.offers import read_offer
from frolic.dal.store import StateTableStore
from frolic.dal.tables import code_key, coupon_key
from frolic.models import BoundaryModel, CouponCode, CouponStatus, Identifier, iso_utc

UNKNOWN_CODE = "no coupon has this code"
ALREADY_REDEEMED = "this coupon has already been redeemed"
REDEEMED = CouponStatus.REDEEMED.value


class Redemption(BoundaryModel):
    code: CouponCode
    status: Literal[CouponStatus.REDEEMED] = CouponStatus.REDEEMED
    game_id: Identifier
    brand_id: Identifier


class Redemptions(StateTableStore):
    def redeem(self, code: str, actor: str) -> Redemption:
        where = self._get(code_key(code))
        if where is None:
            raise NotFoundError(UNKNOWN_CODE)
        game_id, brand_id = str(where["gameId"]), str(where["brandId"])
        key = coupon_key(game_id, brand_id, int(where["ordinal"]), int(where.get("sub", 0)))
        offer = read_offer(self._db, self._state, game_id, brand_id, consistent=True)
        now = datetime.fromtimestamp(self._clock(), UTC)
        if offer is not None and offer.valid_until is not None and now > offer.valid_until:
            coupon = self._get(key)
            if coupon and coupon.get("code") == code and coupon.get("status") == REDEEMED:
                raise ConflictError(ALREADY_REDEEMED)  # the older fact: used in time
            raise ConflictError(f"this coupon's offer ended at {iso_utc(offer.valid_until)}")
        try:
            self._db.update_item(
                TableName=self._state,
                Key=codec.dump(key),
                UpdateExpression="SET #status = :redeemed, redeemedAt = :now, redeemedBy = :actor",
                ConditionExpression="#status = :issued AND code = :code",
                ExpressionAttributeNames={"#status": "status"},
                ExpressionAttributeValues=codec.dump(
                    {
                        ":redeemed": CouponStatus.REDEEMED.value,
                        ":issued": CouponStatus.ISSUED.value,
                        ":code": code,
                        ":now": self._clock(),
                        ":actor": actor,
                    }
                ),
            )
        except ClientError as error:
            if not condition_failed(error):
                raise
            raise self._refusal(key, code) from None
        return Redemption(code=code, game_id=game_id, brand_id=brand_id)

    def _refusal(self, key: dict[str, str], code: str) -> Exception:
        """Why the coupon could not be redeemed, read back after the refused update."""
        coupon = self._get(key)
        if coupon is None or coupon.get("code") != code:
            return NotFoundError(UNKNOWN_CODE)
        status = coupon.get("status")
        if status == REDEEMED:
            return ConflictError(ALREADY_REDEEMED)
        if status in (CouponStatus.AVAILABLE.value, CouponStatus.RESERVED.value):
            return ConflictError("this coupon has not been issued yet")
        return ConflictError("this coupon cannot be redeemed in its current state")

    def _get(self, key: dict[str, str]) -> dict[str, Any] | None:
        response = self._db.get_item(
            TableName=self._state, Key=codec.dump(key), ConsistentRead=True
        )
        raw = response.get("Item")
        return codec.load(raw) if raw else None
