"""Campaigns, games and brands: the marketer's catalog in the state table.

Ids are made here and every create is a conditional put, so an id is never overwritten.
A game is written twice in one transaction: as its own item (what the allocator reads)
and as an entry under its campaign, so a campaign's games come back with one Query.
Whether a game lies inside its campaign depends on two items, so every write that could
break it (a game created or moved, a campaign moved) also bumps the campaign's
`revision`, conditioned on the revision it read: two such edits cannot pass each
other's checks.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from frolic.dal import codec
from frolic.dal.batches import query_partition
from frolic.dal.cache import ExpiringCache
from frolic.dal.errors import (
    ITEM_CONDITION_FAILED,
    ClientError,
    cancellation_reasons,
    condition_failed,
)
from frolic.dal.items import model_from_item, model_item, put_new
from frolic.dal.tables import (
    BRAND_PREFIX,
    CAMPAIGN_PREFIX,
    CATALOG,
    brand_key,
    campaign_game_key,
    campaign_key,
    game_key,
)
from frolic.models import (
    MAX_GAME_SECONDS,
    Brand,
    Campaign,
    Game,
    GameConfig,
    GameStatus,
    TimeWindow,
)
from frolic.settings import Settings

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

CAMPAIGN_KIND = "campaign"
GAME_KIND = "game"
CAMPAIGN_GAME_KIND = "campaign_game"
BRAND_KIND = "brand"
#: Optimistic attempts when another edit of the same campaign or game lands first.
EDIT_ATTEMPTS = 5
#: Only these statuses may still have their window or config changed.
EDITABLE_STATUSES = frozenset({GameStatus.DRAFT, GameStatus.SCHEDULED})


class NotFoundError(LookupError):
    """The campaign, game, brand or coupon asked for does not exist."""


class ConflictError(Exception):
    """The request is valid but the stored state does not allow it now."""


class InvalidFieldError(ValueError):
    """A value that is well-formed but ruled out by what is stored (e.g. a game window
    outside its campaign); carries the camelCase field the client should fix."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


def new_id() -> str:
    """64 random bits in hex: unguessable, and fits `Identifier`."""
    return secrets.token_hex(8)


@dataclass(frozen=True, slots=True)
class CampaignChanges:
    name: str | None = None
    start_time: datetime | None = None
    end_time: datetime | None = None


@dataclass(frozen=True, slots=True)
class GameChanges:
    status: GameStatus | None = None
    name: str | None = None
    start_time: datetime | None = None
    end_time: datetime | None = None
    config: GameConfig | None = None


def _utc(moment: datetime) -> datetime:
    """Stored times are UTC, so the API answers in one zone whatever the client sent."""
    return moment.astimezone(UTC)


def outside_field(outer: TimeWindow, inner: TimeWindow) -> str | None:
    """Which bound of `inner` sticks out of `outer` (camelCase), or None if it fits."""
    if inner.start_time < outer.start_time:
        return "startTime"
    if inner.end_time > outer.end_time:
        return "endTime"
    return None


def _moved_window(
    current: TimeWindow, start: datetime | None, end: datetime | None
) -> tuple[datetime, datetime]:
    """The window after a partial edit, checked so the error names the field sent."""
    new_start = _utc(start) if start is not None else current.start_time
    new_end = _utc(end) if end is not None else current.end_time
    if new_end <= new_start:
        blamed = "endTime" if end is not None else "startTime"
        raise InvalidFieldError(blamed, "endTime must be after startTime")
    return new_start, new_end


class Catalog:
    def __init__(
        self,
        client: DynamoDBClient,
        settings: Settings,
        new_id: Callable[[], str] = new_id,
    ) -> None:
        self._db = client
        self._state = settings.state_table
        self._new_id = new_id

    # -- campaigns -------------------------------------------------------------------
    def create_campaign(self, name: str, start_time: datetime, end_time: datetime) -> Campaign:
        campaign = Campaign(
            campaign_id=self._new_id(),
            name=name,
            start_time=_utc(start_time),
            end_time=_utc(end_time),
        )
        item = model_item(campaign, campaign_key(campaign.campaign_id), CAMPAIGN_KIND)
        try:
            self._db.put_item(
                TableName=self._state,
                Item=codec.dump({**item, "revision": 0}),
                ConditionExpression="attribute_not_exists(pk)",
            )
        except ClientError as error:
            if condition_failed(error):
                raise ConflictError("a campaign with this id already exists") from None
            raise
        return campaign

    def get_campaign(self, campaign_id: str) -> Campaign:
        return self._campaign_and_revision(campaign_id)[0]

    def list_campaigns(self) -> list[Campaign]:
        campaigns = [
            _campaign(item)
            for item in query_partition(self._db, self._state, CATALOG, CAMPAIGN_PREFIX)
        ]
        return sorted(campaigns, key=lambda c: (c.start_time, c.campaign_id))

    def update_campaign(self, campaign_id: str, changes: CampaignChanges) -> Campaign:
        for _ in range(EDIT_ATTEMPTS):
            campaign, revision = self._campaign_and_revision(campaign_id)
            start, end = _moved_window(campaign, changes.start_time, changes.end_time)
            updated = campaign.model_copy(
                update={
                    "name": changes.name if changes.name is not None else campaign.name,
                    "start_time": start,
                    "end_time": end,
                }
            )
            if updated == campaign:
                return campaign
            if (start, end) != (campaign.start_time, campaign.end_time):
                for game in self.list_games(campaign_id):
                    game_bound = outside_field(updated, game)
                    if game_bound is not None:
                        raise InvalidFieldError(
                            game_bound,
                            f"game {game.game_id} would lie outside the campaign's window",
                        )
            item = model_item(updated, campaign_key(campaign_id), CAMPAIGN_KIND)
            try:
                self._db.put_item(
                    TableName=self._state,
                    Item=codec.dump({**item, "revision": revision + 1}),
                    ConditionExpression="revision = :seen",
                    ExpressionAttributeValues=codec.dump({":seen": revision}),
                )
            except ClientError as error:
                if condition_failed(error):
                    continue
                raise
            return updated
        raise ConflictError("the campaign kept changing during this edit; try again")

    def _campaign_and_revision(self, campaign_id: str) -> tuple[Campaign, int]:
        item = self._get(campaign_key(campaign_id))
        if item is None:
            raise NotFoundError(f"no campaign {campaign_id}")
        return _campaign(item), int(item.get("revision", 0))

    # -- games -----------------------------------------------------------------------
    def create_game(
        self,
        campaign_id: str,
        name: str,
        start_time: datetime,
        end_time: datetime,
        config: GameConfig | None = None,
    ) -> Game:
        game = Game(
            game_id=self._new_id(),
            campaign_id=campaign_id,
            name=name,
            start_time=_utc(start_time),
            end_time=_utc(end_time),
            config=config or GameConfig(),
        )
        for _ in range(EDIT_ATTEMPTS):
            campaign, revision = self._campaign_and_revision(campaign_id)
            self._check_window(campaign, game)
            items = [
                put_new(self._state, model_item(game, game_key(game.game_id), GAME_KIND)),
                put_new(self._state, self._index_item(game)),
                self._bump_revision(campaign_id, revision),
            ]
            try:
                self._db.transact_write_items(TransactItems=items)  # type: ignore[arg-type]
            except ClientError as error:
                codes = cancellation_reasons(error)
                if codes is None:
                    raise
                if ITEM_CONDITION_FAILED in codes[:2]:
                    raise ConflictError("a game with this id already exists") from None
                continue
            return game
        raise ConflictError("the campaign kept changing while the game was added; try again")

    def get_game(self, game_id: str) -> Game:
        item = self._get(game_key(game_id))
        if item is None:
            raise NotFoundError(f"no game {game_id}")
        return model_from_item(Game, item)

    def list_games(self, campaign_id: str) -> list[Game]:
        """The campaign's games: one Query of its index partition."""
        self.get_campaign(campaign_id)
        return self._campaign_games(campaign_id)

    def _campaign_games(self, campaign_id: str) -> list[Game]:
        index = campaign_game_key(campaign_id, "")
        games = [
            model_from_item(Game, item)
            for item in query_partition(self._db, self._state, index["pk"], index["sk"])
            if item.get("kind") == CAMPAIGN_GAME_KIND
        ]
        return sorted(games, key=lambda g: (g.start_time, g.game_id))

    def games_in_play(self, now: float, *, ended_within: float) -> list[Game]:
        """Games live at `now` or ended less than `ended_within` before: every campaign's
        games, one Query each (the sweeper's minute job; campaigns are few)."""
        moment = datetime.fromtimestamp(now, UTC)
        since = datetime.fromtimestamp(now - ended_within, UTC)
        return [
            game
            for campaign in self.list_campaigns()
            for game in self.list_games(campaign.campaign_id)
            if game.status in (GameStatus.LIVE, GameStatus.ENDED)
            and game.start_time <= moment
            and game.end_time >= since
        ]

    def open_games(self, now: float) -> list[Game]:
        """Games live or scheduled whose window has not ended: the games of campaigns
        not yet over, one Query each (ended campaigns are never read)."""
        moment = datetime.fromtimestamp(now, UTC)
        games = [
            game
            for campaign in self.list_campaigns()
            if campaign.end_time > moment
            for game in self._campaign_games(campaign.campaign_id)
            if game.status in (GameStatus.LIVE, GameStatus.SCHEDULED) and game.end_time > moment
        ]
        return sorted(games, key=lambda g: (g.start_time, g.game_id))

    def update_game(self, game_id: str, changes: GameChanges) -> Game:
        for _ in range(EDIT_ATTEMPTS):
            game = self.get_game(game_id)
            updated = self._edited(game, changes)
            if updated == game:
                return game
            items: list[dict[str, Any]] = [
                {
                    "Put": {
                        "TableName": self._state,
                        "Item": codec.dump(model_item(updated, game_key(game_id), GAME_KIND)),
                        "ConditionExpression": "#status = :seen",
                        "ExpressionAttributeNames": {"#status": "status"},
                        "ExpressionAttributeValues": codec.dump({":seen": game.status.value}),
                    }
                },
                {"Put": {"TableName": self._state, "Item": codec.dump(self._index_item(updated))}},
            ]
            if (updated.start_time, updated.end_time) != (game.start_time, game.end_time):
                campaign, revision = self._campaign_and_revision(game.campaign_id)
                self._check_window(campaign, updated)
                items.append(self._bump_revision(game.campaign_id, revision))
            try:
                self._db.transact_write_items(TransactItems=items)  # type: ignore[arg-type]
            except ClientError as error:
                if cancellation_reasons(error) is None:
                    raise
                continue
            return updated
        raise ConflictError("the game kept changing during this edit; try again")

    @staticmethod
    def _edited(game: Game, changes: GameChanges) -> Game:
        """The game after the edit; window and config only move before the game goes live.

        Edits apply under the current status, then the status changes, so a draft can be
        moved and scheduled in one request.
        """
        start, end = _moved_window(game, changes.start_time, changes.end_time)
        config = changes.config if changes.config is not None else game.config
        moves = (start, end, config) != (game.start_time, game.end_time, game.config)
        if moves and game.status not in EDITABLE_STATUSES:
            raise ConflictError(
                f"the window and config of a {game.status} game can no longer change"
            )
        edited = game.model_copy(
            update={
                "name": changes.name if changes.name is not None else game.name,
                "start_time": start,
                "end_time": end,
                "config": config,
            }
        )
        return edited.with_status(changes.status) if changes.status is not None else edited

    @staticmethod
    def _check_window(campaign: Campaign, game: Game) -> None:
        """Inside the campaign, and short enough that a playId cannot be played twice in
        the game (models.MAX_GAME_SECONDS)."""
        bound = outside_field(campaign, game)
        if bound is not None:
            raise InvalidFieldError(bound, "the game's window must lie inside its campaign's")
        if game.duration_seconds > MAX_GAME_SECONDS:
            days = MAX_GAME_SECONDS // 86400
            raise InvalidFieldError("endTime", f"a game lasts at most {days} days")

    def _index_item(self, game: Game) -> dict[str, Any]:
        key = campaign_game_key(game.campaign_id, game.game_id)
        return model_item(game, key, CAMPAIGN_GAME_KIND)

    def _bump_revision(self, campaign_id: str, seen: int) -> dict[str, Any]:
        return {
            "Update": {
                "TableName": self._state,
                "Key": codec.dump(campaign_key(campaign_id)),
                "UpdateExpression": "SET revision = :next",
                "ConditionExpression": "revision = :seen",
                "ExpressionAttributeValues": codec.dump({":seen": seen, ":next": seen + 1}),
            }
        }

    # -- brands ----------------------------------------------------------------------
    def create_brand(self, name: str) -> Brand:
        brand = Brand(brand_id=self._new_id(), name=name)
        try:
            self._db.put_item(
                TableName=self._state,
                Item=codec.dump(model_item(brand, brand_key(brand.brand_id), BRAND_KIND)),
                ConditionExpression="attribute_not_exists(pk)",
            )
        except ClientError as error:
            if condition_failed(error):
                raise ConflictError("a brand with this id already exists") from None
            raise
        return brand

    def get_brand(self, brand_id: str) -> Brand:
        item = self._get(brand_key(brand_id))
        if item is None:
            raise NotFoundError(f"no brand {brand_id}")
        return model_from_item(Brand, item)

    def list_brands(self) -> list[Brand]:
        brands = [
            model_from_item(Brand, item)
            for item in query_partition(self._db, self._state, CATALOG, BRAND_PREFIX)
        ]
        return sorted(brands, key=lambda b: (b.name.casefold(), b.brand_id))

    # -- reads -----------------------------------------------------------------------
    def _get(self, key: dict[str, str]) -> dict[str, Any] | None:
        response = self._db.get_item(
            TableName=self._state, Key=codec.dump(key), ConsistentRead=True
        )
        raw = response.get("Item")
        return codec.load(raw) if raw else None


def _campaign(item: dict[str, Any]) -> Campaign:
    return model_from_item(Campaign, {k: v for k, v in item.items() if k != "revision"})


class BrandNames:
    """Brand names for players' results, cached: results keep only the brand's id, and a
    push should not cost a read per winner. A name shows within `ttl` of a change."""

    def __init__(
        self,
        client: DynamoDBClient,
        settings: Settings,
        ttl: float = 300.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._db = client
        self._state = settings.state_table
        self._cache = ExpiringCache(self._read, ttl, clock)

    def __call__(self, brand_id: str) -> str | None:
        return self._cache.get(brand_id)

    def _read(self, brand_id: str) -> str | None:
        raw = self._db.get_item(TableName=self._state, Key=codec.dump(brand_key(brand_id))).get(
            "Item"
        )
        return str(codec.load(raw)["name"]) if raw else None
