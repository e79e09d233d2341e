"""The WebSocket `play` action: the same intake as POST /plays, answered on the socket.

A socket carries no token: its player is whoever redeemed the ticket that opened it
(recorded by `$connect`; read once per connection and environment: `KnownOwners`). The
play keeps its connection id, so `deliver` can push the result without a lookup; the
answer here is only `queued` (or why not).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Final

from aws_lambda_powertools.utilities.data_classes import APIGatewayWebSocketEvent
from pydantic import ValidationError

from frolic.auth import Principal
from frolic.dal.push import Push, callback_url
from frolic.dal.sessions import KnownOwners, Sessions
from frolic.ingest import IngestRefusedError, PlayIntake, PlayRequest, TooManyPlaysError
from frolic.models import field_errors
from frolic.observability import logger
from frolic.settings import Settings
from frolic.ws_connect import BadMessageError, error_message, read_message

OK: Final = {"statusCode": 200}


class WebSocketPlays:
    def __init__(
        self,
        *,
        intake: PlayIntake,
        sessions: Sessions,
        push_for: Callable[[str], Push],
        settings: Settings,
    ) -> None:
        self._intake = intake
        self._sessions = sessions
        self._owners = KnownOwners(sessions)
        self._push_for = push_for
        self._settings = settings

    def handle(self, event: APIGatewayWebSocketEvent) -> dict[str, Any]:
        context = event.request_context
        reply = self.play(context.connection_id, event.body, bool(event.get("isBase64Encoded")))
        endpoint = callback_url(self._settings, context.domain_name, context.stage)
        if not self._push_for(endpoint).send(context.connection_id, reply):
            self._owners.forget(context.connection_id)
            self._sessions.close(context.connection_id)
        return dict(OK)

    def play(self, connection_id: str, body: str | None, is_base64_encoded: bool) -> dict[str, Any]:
        try:
            message = read_message(body, is_base64_encoded)
        except BadMessageError as error:
            return error.frame
        owner = self._owners.owner(connection_id)
        if owner is None:
            return error_message("unauthenticated", "open the socket with a fresh ticket")
        fields = {name: value for name, value in message.items() if name != "action"}
        try:
            request = PlayRequest.model_validate(fields)
        except ValidationError as error:
            problems = [p.model_dump() for p in field_errors(error)]
            logger.info("websocket play refused", fields=[p["field"] for p in problems])
            return {**error_message("invalid_request", "the play is not valid"), "fields": problems}
        try:
            accepted = self._intake.accept(Principal(owner, frozenset()), request, connection_id)
        except IngestRefusedError as error:
            frame = {**error_message(error.code, str(error)), "playId": request.play_id}
            if isinstance(error, TooManyPlaysError):
                frame["retryAfter"] = error.retry_after
            return frame
        return {"type": "queued", "playId": accepted.play_id, "status": accepted.status}
