"""Redeeming a coupon at the brand's till, by its code.

The code index item says which coupon (game, brand, ordinal) a code is; the coupon item
holds its status; the game-brand's offer, if it has an end, says until when a till may
take it. Only an ISSUED coupon moves to REDEEMED, in one conditional update, so
two tills scanning the same code cannot both accept it. Nothing here logs or repeats the
code: error messages say what is wrong with "this coupon", never which one.

A till may redeem its own brands' coupons only, and learns nothing of any other code: a
code that does not exist, one of another brand and one not yet issued to a player all
get the same "no coupon has this code", before anything else about them is read.
"""

from __future__ import annotations

from collections.abc import Callable
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
    def redeem(
        self, code: str, actor: str, may_redeem: Callable[[str], bool] = lambda _: True
    ) -> Redemption:
        """`may_redeem` says whether the caller may redeem a brand's coupons."""
        where = self._get(code_key(code))
        if where is None or not may_redeem(str(where["brandId"])):
            raise NotFoundError(UNKNOWN_CODE)
        game_id, brand_id = str(where["gameId"]), str(where["brandId"])
        key = coupon_key(game_id, brand_id, int(where["ordinal"]), int(where.get("sub", 0)))
        offer = read_offer(self._db, self._state, game_id, brand_id, consistent=True)
        now = datetime.fromtimestamp(self._clock(), UTC)
        if offer is not None and offer.valid_until is not None and now > offer.valid_until:
            status = self._status(key, code)
            if status == REDEEMED:
                raise ConflictError(ALREADY_REDEEMED)  # the older fact: used in time
            if status != CouponStatus.ISSUED.value:
                raise NotFoundError(UNKNOWN_CODE)
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
        status = self._status(key, code)
        if status in (None, CouponStatus.AVAILABLE.value, CouponStatus.RESERVED.value):
            return NotFoundError(UNKNOWN_CODE)  # not yet a player's: as if it did not exist
        if status == REDEEMED:
            return ConflictError(ALREADY_REDEEMED)
        return ConflictError("this coupon cannot be redeemed in its current state")

    def _status(self, key: dict[str, str], code: str) -> str | None:
        """The coupon's status, if the coupon at `key` still has this code."""
        coupon = self._get(key)
        return None if coupon is None or coupon.get("code") != code else coupon.get("status")

    def _get(self, key: dict[str, str]) -> dict[str, Any] | None:
        response = self._db.get_item(
            TableName=self._state, Key=codec.dump(key), ConsistentRead=True
        )
        raw = response.get("Item")
        return codec.load(raw) if raw else None
