"""The players' REST routes: find a game, spin, read a result, and get a WebSocket
ticket."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Annotated

from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response, content_types
from aws_lambda_powertools.event_handler.openapi.params import Path, Query
from pydantic import AwareDatetime, Field

from frolic.auth import Principal, principal_from_event
from frolic.dal.budgets import game_brand_ids
from frolic.dal.catalog import BrandNames, Catalog
from frolic.dal.offers import CouponFacts, OfferLookup
from frolic.dal.sessions import Sessions
from frolic.dal.wallet import PAGE_DEFAULT, PAGE_MAX, InvalidCursorError, Wallet
from frolic.game_list import LIST_SECONDS, OpenGameList, OpenGames
from frolic.http import (
    NOT_FOUND,
    InvalidRequestError,
    documented,
    error_response,
    install_error_handlers,
    json_response,
    new_resolver,
)
from frolic.ingest import (
    IngestRefusedError,
    PlayIntake,
    PlayNotFoundError,
    PlayRequest,
    TooManyPlaysError,
    read_play,
)
from frolic.models import BoundaryModel, FieldError, Identifier, Offer, iso_utc
from frolic.settings import Settings

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient


PlayIdPath = Annotated[Identifier, Path(alias="playId", description="A play's id")]
LimitQuery = Annotated[
    int,
    Query(
        ge=1,
        le=PAGE_MAX,
        description=(
            f"Won plays per page, at most {PAGE_MAX} (a play may have won several coupons)."
        ),
    ),
]
CursorQuery = Annotated[
    str | None,
    Query(max_length=1024, description="The `cursor` of the page before; omitted: the first."),
]


class WalletCoupon(BoundaryModel):
    brand_id: str
    brand_name: str | None = None
    code: str
    offer: Offer | None = None
    play_id: str
    game_id: str
    won_at: AwareDatetime
    status: str = Field(description="issued, redeemed, or pending (being issued)")


class WalletPageOut(BoundaryModel):
    coupons: list[WalletCoupon] = Field(description="Newest win first.")
    cursor: str | None = Field(default=None, description="Omitted on the last page.")


PLAYER_ERRORS = {
    400: "Invalid request: `fields` names each camelCase field and what is wrong with it",
    401: "No verified identity on the request",
    403: "An admin token: player routes take player accounts",
}


def build_player_app(
    *, intake: PlayIntake, db: DynamoDBClient, settings: Settings, sessions: Sessions
) -> APIGatewayRestResolver:
    app = new_resolver()
    brand_names = BrandNames(db, settings)
    facts = CouponFacts(brand_names, OfferLookup(db, settings))
    wallet = Wallet(db, settings, facts)
    open_games = OpenGames(
        Catalog(db, settings).open_games,
        lambda game_id: game_brand_ids(db, settings.state_table, game_id),
        brand_names,
    )
    install_error_handlers(app)

    def player() -> Principal:
        return principal_from_event(app.current_event.raw_event).require_player()

    @app.exception_handler(IngestRefusedError)
    def refused(error: IngestRefusedError) -> Response[str]:
        headers = None
        if isinstance(error, TooManyPlaysError):
            headers = {"Retry-After": str(error.retry_after)}
        return error_response(error.status, error.code, str(error), headers=headers)

    @app.exception_handler(PlayNotFoundError)
    def not_found(error: PlayNotFoundError) -> Response[str]:
        return error_response(404, NOT_FOUND, "no such play")

    @app.get(
        "/games",
        summary="List the games a player may join",
        description=(
            f"Public: no token needed. Live and upcoming games, soonest first. The list "
            f"may be up to {2 * LIST_SECONDS:.0f} s old: a function keeps it "
            f"{LIST_SECONDS:.0f} s, and the answer may be cached as long again."
        ),
        operation_id="listGames",
        tags=["players"],
        openapi_extensions={"security": []},
        responses={
            **documented(200, "", {}),
            200: {
                "description": "The games, with the brands each has coupons of",
                "content": {"application/json": {"model": OpenGameList}},
            },
        },
    )
    def list_games() -> Response[str]:
        return Response(
            status_code=200,
            content_type=content_types.APPLICATION_JSON,
            body=open_games().model_dump_json(by_alias=True, exclude_none=True),
            headers={"Cache-Control": f"public, max-age={LIST_SECONDS:.0f}"},
        )

    @app.post(
        "/plays",
        summary="Spin the reel",
        description="Queue a play; its result is pushed on the WebSocket and readable here.",
        operation_id="postPlay",
        tags=["players"],
        responses=documented(
            202,
            "Queued (a resend of the same play gets the same answer)",
            {
                **PLAYER_ERRORS,
                404: "No such game",
                409: "The game is not live or open, or the playId belongs to another play",
                413: "The body is over 16 KB",
                429: "One play per interval: see Retry-After",
            },
        ),
    )
    def post_play(play: PlayRequest) -> Response[str]:
        accepted = intake.accept(player(), play)
        return json_response(202, {"playId": accepted.play_id, "status": accepted.status})

    @app.get(
        "/plays/<playId>",
        summary="Read one of my plays",
        operation_id="getPlay",
        tags=["players"],
        responses=documented(
            200,
            "The play as its owner sees it",
            {
                **PLAYER_ERRORS,
                404: "No such play for this player (another player's play is not found either)",
            },
        ),
    )
    def get_play(play_id: PlayIdPath) -> Response[str]:
        return json_response(200, read_play(db, settings, player(), play_id, facts))

    @app.get(
        "/me/coupons",
        summary="My won coupons, across games",
        description=(
            "The wallet: every coupon the player has won, newest first, with its offer and "
            "whether it has been redeemed; kept as long as results are (90 days)."
        ),
        operation_id="getMyCoupons",
        tags=["players"],
        responses={
            **documented(200, "", {**PLAYER_ERRORS, 400: "A cursor this wallet did not give"}),
            200: {
                "description": "A page of the wallet",
                "content": {"application/json": {"model": WalletPageOut}},
            },
        },
    )
    def my_coupons(limit: LimitQuery = PAGE_DEFAULT, cursor: CursorQuery = None) -> Response[str]:
        try:
            page = wallet.page(player().user_id, limit=limit, cursor=cursor)
        except InvalidCursorError:
            raise InvalidRequestError(
                [FieldError(field="cursor", message="not a cursor this wallet handed out")]
            ) from None
        body: dict[str, object] = {"coupons": page.coupons}
        if page.cursor is not None:
            body["cursor"] = page.cursor
        return json_response(200, body)

    @app.post(
        "/ws-ticket",
        summary="Get a WebSocket ticket",
        operation_id="postWsTicket",
        tags=["players"],
        responses=documented(
            200,
            "A ticket for `?ticket=`: single use, valid 30 s",
            {
                401: PLAYER_ERRORS[401],
                403: PLAYER_ERRORS[403],
            },
        ),
    )
    def post_ws_ticket() -> Response[str]:
        """A single-use, 30-second ticket to open the results WebSocket with."""
        ticket, expires_at = sessions.issue_ticket(player().user_id)
        expires = iso_utc(datetime.fromtimestamp(expires_at, UTC))
        return json_response(200, {"ticket": ticket, "expiresAt": expires})

    return app
