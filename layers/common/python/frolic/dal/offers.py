"""Offers: what a game-brand's coupons are worth, and until when.

An offer is an item of its own beside the budget (`offer_key`). Winners are told it
from a cache (`OfferLookup`), so a push or a read of a play costs no read of it; a till
reads it consistently, because a coupon past its offer's end is refused.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any

from frolic.dal import codec
from frolic.dal.cache import ExpiringCache
from frolic.dal.catalog import BrandNames, ConflictError
from frolic.dal.items import model_from_item, model_item
from frolic.dal.store import StateTableStore
from frolic.dal.tables import budget_key, offer_key
from frolic.models import Offer
from frolic.settings import Settings

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

OFFER_KIND = "offer"
#: How soon a winner sees an edited offer.
LOOKUP_SECONDS = 60.0


class OfferStore(StateTableStore):
    def put(self, game_id: str, brand_id: str, offer: Offer, actor: str) -> Offer:
        """Replace the game-brand's offer; the budget must exist (ConflictError).

        A read, then a put, not one transaction: a budget is never deleted, so what the
        read found still holds, and a transaction would contend with the leases that
        write the budget item all through a live game."""
        found = self._db.get_item(
            TableName=self._state,
            Key=codec.dump(budget_key(game_id, brand_id)),
            ConsistentRead=True,
            ProjectionExpression="pk",
        )
        if "Item" not in found:
            raise ConflictError("set the brand's budget in this game first")
        item = model_item(offer, offer_key(game_id, brand_id), OFFER_KIND) | {
            "updatedAt": self._clock(),
            "updatedBy": actor,
        }
        self._db.put_item(TableName=self._state, Item=codec.dump(item))
        return offer

    def get(self, game_id: str, brand_id: str) -> Offer | None:
        return read_offer(self._db, self._state, game_id, brand_id, consistent=True)


def read_offer(
    client: DynamoDBClient, table: str, game_id: str, brand_id: str, *, consistent: bool
) -> Offer | None:
    raw = client.get_item(
        TableName=table, Key=codec.dump(offer_key(game_id, brand_id)), ConsistentRead=consistent
    ).get("Item")
    if raw is None:
        return None
    stored: dict[str, Any] = codec.load(raw)
    return model_from_item(
        Offer, {k: v for k, v in stored.items() if k not in ("updatedAt", "updatedBy")}
    )


class OfferLookup:
    """The offer a winner is told of, kept `ttl` seconds per game-brand (a miss too)."""

    def __init__(
        self,
        client: DynamoDBClient,
        settings: Settings,
        ttl: float = LOOKUP_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._cache: ExpiringCache[tuple[str, str], Offer | None] = ExpiringCache(
            lambda key: read_offer(client, settings.state_table, *key, consistent=False),
            ttl,
            clock,
        )

    def __call__(self, game_id: str, brand_id: str) -> Offer | None:
        return self._cache.get((game_id, brand_id))


class CouponFacts:
    """What a winner is told beside each code: the brand's name and the game-brand's
    offer, when there are. Both come from caches, so a push costs no read."""

    def __init__(
        self,
        brand_name: Callable[[str], str | None],
        offer: Callable[[str, str], Offer | None],
    ) -> None:
        self._brand_name = brand_name
        self._offer = offer

    @classmethod
    def reading(cls, client: DynamoDBClient, settings: Settings) -> CouponFacts:
        return cls(BrandNames(client, settings), OfferLookup(client, settings))

    def views(self, game_id: str, coupons: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
        """A result's coupons as its player sees them."""
        shown = []
        for coupon in coupons:
            brand_id = str(coupon["brandId"])
            view: dict[str, Any] = {"brandId": brand_id, "code": coupon["code"]}
            name = self._brand_name(brand_id)
            if name:
                view["brandName"] = name
            offer = self._offer(game_id, brand_id)
            if offer is not None:
                view["offer"] = offer.to_wire()
            shown.append(view)
        return shown


#: For callers that tell nothing beyond the code (tests, the sweeper's issuing).
NO_FACTS = CouponFacts(lambda _: None, lambda _game, _brand: None)
