"""The public list of games a player may join: what `GET /games` answers.

Anyone may call it, without a token, so one execution environment reads the catalog
at most once per `LIST_SECONDS` and the answer carries the same max-age: a crowd
reloading the player page costs DynamoDB nothing per request. A game shows within
that time of going live or being scheduled.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Final

from pydantic import AwareDatetime, Field

from frolic.dal.cache import ExpiringCache
from frolic.models import BoundaryModel, Game, GameStatus

LIST_SECONDS: Final = 15.0


class BrandOnOffer(BoundaryModel):
    brand_id: str
    name: str | None = Field(default=None, description="Omitted when the brand is unnamed.")


class GameOnOffer(BoundaryModel):
    game_id: str = Field(description="What `/?game=` and `POST /plays` take.")
    name: str
    status: GameStatus = Field(description="LIVE or SCHEDULED; the others are not listed.")
    start_time: AwareDatetime
    end_time: AwareDatetime
    brands: list[BrandOnOffer] = Field(description="Brands with coupons to win in the game.")


class OpenGameList(BoundaryModel):
    games: list[GameOnOffer] = Field(
        description="Live and upcoming games whose window has not ended, soonest first."
    )


class OpenGames:
    """The list, kept `ttl` seconds (see the module)."""

    def __init__(
        self,
        games: Callable[[float], list[Game]],
        brands_of: Callable[[str], list[str]],
        brand_name: Callable[[str], str | None],
        *,
        ttl: float = LIST_SECONDS,
        clock: Callable[[], float] = time.time,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._games = games
        self._brands_of = brands_of
        self._brand_name = brand_name
        self._clock = clock
        self._cache: ExpiringCache[None, OpenGameList] = ExpiringCache(
            lambda _: self._read(), ttl, monotonic
        )

    def __call__(self) -> OpenGameList:
        return self._cache.get(None)

    def _read(self) -> OpenGameList:
        return OpenGameList(
            games=[
                GameOnOffer(
                    game_id=game.game_id,
                    name=game.name,
                    status=game.status,
                    start_time=game.start_time,
                    end_time=game.end_time,
                    brands=[
                        BrandOnOffer(brand_id=brand_id, name=self._brand_name(brand_id))
                        for brand_id in self._brands_of(game.game_id)
                    ],
                )
                for game in self._games(self._clock())
            ]
        )
