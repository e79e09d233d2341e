"""A player's won coupons across games, newest first: the wallet.

A page is one Query of the results table's sparse wallet index (`WALLET_INDEX`), which
holds won results only, with the game and the coupons. Whether each coupon has been
redeemed lives on its coupon item, found through its code: two batch reads per page.
A won result is kept as long as every result (90 days), and so is its place here.
"""

from __future__ import annotations

import base64
import binascii
import json
import math
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Final

from frolic.dal import codec
from frolic.dal.batches import batch_get
from frolic.dal.offers import CouponFacts
from frolic.dal.tables import (
    RESULTS_KEY,
    WALLET_INDEX,
    WALLET_PARTITION,
    WALLET_SORT,
    code_key,
    coupon_key,
)
from frolic.models import CouponStatus, iso_utc
from frolic.settings import Settings

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

#: As `Identifier` bounds a playId (frolic.models).
MAX_PLAY_ID_LENGTH: Final = 64
PAGE_DEFAULT: Final = 20
PAGE_MAX: Final = 100
#: What a player reads of a coupon's status: a won coupon is issued within seconds.
SHOWN_STATUS: Final = {
    CouponStatus.ISSUED.value: "issued",
    CouponStatus.REDEEMED.value: "redeemed",
}


class InvalidCursorError(ValueError):
    """A `cursor` this player's wallet did not hand out."""


@dataclass(frozen=True, slots=True)
class WalletPage:
    coupons: list[dict[str, Any]]
    #: Where the next page starts; None on the last page.
    cursor: str | None


class Wallet:
    def __init__(self, client: DynamoDBClient, settings: Settings, facts: CouponFacts) -> None:
        self._db = client
        self._results = settings.results_table
        self._state = settings.state_table
        self._facts = facts

    def page(self, user_id: str, *, limit: int, cursor: str | None = None) -> WalletPage:
        query: dict[str, Any] = {
            "TableName": self._results,
            "IndexName": WALLET_INDEX,
            "KeyConditionExpression": "#by = :user",
            "ExpressionAttributeNames": {"#by": WALLET_PARTITION},
            "ExpressionAttributeValues": codec.dump({":user": user_id}),
            "ScanIndexForward": False,
            "Limit": limit,
        }
        if cursor is not None:
            query["ExclusiveStartKey"] = codec.dump(_start_key(cursor, user_id))
        answer = self._db.query(**query)
        wins = [codec.load(item) for item in answer.get("Items", [])]
        statuses = self._statuses([c["code"] for win in wins for c in win.get("coupons") or []])
        coupons = []
        for win in wins:
            won_at = datetime.fromtimestamp(float(win[WALLET_SORT]), UTC)
            for view in self._facts.views(str(win["gameId"]), win.get("coupons") or []):
                coupons.append(
                    {
                        **view,
                        "playId": win[RESULTS_KEY],
                        "gameId": win["gameId"],
                        "wonAt": iso_utc(won_at),
                        "status": statuses.get(view["code"], "pending"),
                    }
                )
        last = answer.get("LastEvaluatedKey")
        return WalletPage(coupons, _cursor(codec.load(last)) if last else None)

    def _statuses(self, codes: list[str]) -> dict[str, str]:
        """Each code's status as the player reads it, via the code index."""
        where = batch_get(self._db, self._state, [codec.dump(code_key(c)) for c in codes])
        keys = {
            str(w["pk"]).removeprefix("CODE#"): coupon_key(
                str(w["gameId"]), str(w["brandId"]), int(w["ordinal"]), int(w.get("sub", 0))
            )
            for w in where
        }
        coupons = batch_get(
            self._db,
            self._state,
            [codec.dump(key) for key in keys.values()],
            attributes=("code", "status"),
        )
        return {str(c["code"]): SHOWN_STATUS.get(str(c["status"]), "pending") for c in coupons}


def _cursor(last_key: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(last_key).encode()).decode()


def _start_key(cursor: str, user_id: str) -> dict[str, Any]:
    """The page's start, only ever inside this player's own wallet."""
    try:
        key = json.loads(base64.urlsafe_b64decode(cursor.encode()))
    except (binascii.Error, UnicodeDecodeError, json.JSONDecodeError, ValueError):
        raise InvalidCursorError(cursor) from None
    if (
        not isinstance(key, dict)
        or set(key) != {RESULTS_KEY, WALLET_PARTITION, WALLET_SORT}
        or key[WALLET_PARTITION] != user_id
        or not isinstance(key[RESULTS_KEY], str)
        or not 0 < len(key[RESULTS_KEY]) <= MAX_PLAY_ID_LENGTH
        or type(key[WALLET_SORT]) not in (int, float)
        or not math.isfinite(key[WALLET_SORT])
    ):
        raise InvalidCursorError(cursor)
    return key
