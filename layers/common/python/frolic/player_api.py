"""The players' REST routes: spin, read a result, and get a WebSocket ticket."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING

from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response

from frolic.auth import Principal, principal_from_event
from frolic.dal.sessions import Sessions
from frolic.http import (
    error_response,
    install_error_handlers,
    json_response,
)
from frolic.ingest import (
    IngestRefusedError,
    PlayIntake,
    PlayNotFoundError,
    PlayRequest,
    TooManyPlaysError,
    read_play,
)
from frolic.settings import Settings

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient


def build_player_app(
    *, intake: PlayIntake, db: DynamoDBClient, settings: Settings, sessions: Sessions
) -> APIGatewayRestResolver:
    app = APIGatewayRestResolver(enable_validation=True)
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
        return error_response(404, "not_found", "no such play")

    @app.post("/plays")
    def post_play(play: PlayRequest) -> Response[str]:
        accepted = intake.accept(player(), play)
        return json_response(202, {"playId": accepted.play_id, "status": accepted.status})

    @app.get("/plays/<play_id>")
    def get_play(play_id: str) -> Response[str]:
        return json_response(200, read_play(db, settings, player(), play_id))

    @app.post("/ws-ticket")
    def post_ws_ticket() -> Response[str]:
        """A single-use, 30-second ticket to open the results WebSocket with."""
        ticket, expires_at = sessions.issue_ticket(player().user_id)
        expires = datetime.fromtimestamp(expires_at, UTC).isoformat().replace("+00:00", "Z")
        return json_response(200, {"ticket": ticket, "expiresAt": expires})

    return app
