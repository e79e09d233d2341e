"""Game routes: a game's window, pacing config and status."""

import time
import uuid

from aws_lambda_powertools.event_handler.api_gateway import Router
from pydantic import AwareDatetime

from frolic.admin import CampaignIdPath, EndTime, GameIdPath, caller, new_router, responses
from frolic.dal.catalog import Catalog, GameChanges
from frolic.events import EventSink, GameStatusChanged, OutEvent, moment
from frolic.models import BoundaryModel, Game, GameConfig, GameStatus, Name

TAGS = ["games"]


class GameIn(BoundaryModel):
    """A new game starts as DRAFT; its window must lie inside the campaign's and last at
    most 30 days (a play's result is kept 90 days, so a playId cannot recur in a game)."""

    name: Name
    start_time: AwareDatetime
    end_time: EndTime
    config: GameConfig | None = None


class GamePatch(BoundaryModel):
    """Only the fields sent change. Window and config (replaced whole) change only while
    the game is DRAFT or SCHEDULED; the status moves along the game's state machine."""

    status: GameStatus | None = None
    name: Name | None = None
    start_time: AwareDatetime | None = None
    end_time: EndTime | None = None
    config: GameConfig | None = None


class GameList(BoundaryModel):
    items: list[Game]


def router(catalog: Catalog, events: EventSink) -> Router:
    routes = new_router()

    @routes.post(
        "/admin/campaigns/<campaignId>/games",
        status_code=201,
        summary="Add a game to a campaign",
        operation_id="createGame",
        tags=TAGS,
        responses=responses(201, "The new DRAFT game, with its generated gameId", 404, 409, 415),
    )
    def create_game(campaign_id: CampaignIdPath, body: GameIn) -> Game:
        return catalog.create_game(
            campaign_id, body.name, body.start_time, body.end_time, body.config
        )

    @routes.get(
        "/admin/campaigns/<campaignId>/games",
        summary="List a campaign's games",
        operation_id="listGames",
        tags=TAGS,
        responses=responses(200, "The campaign's games, by start time", 404),
    )
    def list_games(campaign_id: CampaignIdPath) -> GameList:
        return GameList(items=catalog.list_games(campaign_id))

    @routes.get(
        "/admin/games/<gameId>",
        summary="Read a game",
        operation_id="getGame",
        tags=TAGS,
        responses=responses(200, "The game", 404),
    )
    def get_game(game_id: GameIdPath) -> Game:
        return catalog.get_game(game_id)

    @routes.patch(
        "/admin/games/<gameId>",
        summary="Change a game's status, name, window or config",
        operation_id="updateGame",
        tags=TAGS,
        responses=responses(200, "The game as changed", 404, 409, 415),
    )
    def update_game(game_id: GameIdPath, body: GamePatch) -> Game:
        before = catalog.get_game(game_id).status if body.status is not None else None
        changes = GameChanges(
            status=body.status,
            name=body.name,
            start_time=body.start_time,
            end_time=body.end_time,
            config=body.config,
        )
        game = catalog.update_game(game_id, changes)
        if before is not None and game.status is not before:
            events.publish([status_event(game, caller(routes).user_id)])
        return game

    return routes


def status_event(game: Game, actor: str) -> OutEvent:
    """Published once, after the change is stored (frolic.events)."""
    return GameStatusChanged(
        event_id=f"status:{uuid.uuid4().hex}",
        game_id=game.game_id,
        status=game.status,
        changed_at=moment(time.time()),
        changed_by=actor,
    )
