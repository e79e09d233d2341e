"""The WebSocket side's own routes: `$connect`, `$disconnect` and `$default`.

`$connect` is where the socket is authorized: by a single-use ticket in the query
string (browsers cannot send headers on the handshake, and a long-lived token in a URL
would leak into logs). A refused handshake returns 401 so API Gateway never opens the
socket. On `$default` every answer goes back over the socket, and a bad message gets an
error message, never a dropped socket: a player mid-spin must keep their channel.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable
from typing import Any, Final

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.data_classes import APIGatewayWebSocketEvent

from frolic.dal.push import Push, callback_url
from frolic.dal.sessions import Sessions
from frolic.observability import logger, metrics
from frolic.settings import Settings

CONNECT: Final = "$connect"
DISCONNECT: Final = "$disconnect"
#: Far above any message a client needs to send; API Gateway allows 128 KB.
MAX_MESSAGE_BYTES: Final = 16 * 1024
OK: Final = {"statusCode": 200}
UNAUTHORIZED: Final = {"statusCode": 401, "body": "a valid, unused ticket is required"}


def error_message(error: str, message: str) -> dict[str, Any]:
    return {"type": "error", "error": error, "message": message}


class BadMessageError(ValueError):
    """A frame that is not a JSON object with an action; `frame` is the answer to send."""

    def __init__(self, error: str, message: str) -> None:
        super().__init__(message)
        self.frame = error_message(error, message)


def read_message(body: str | None, is_base64_encoded: bool = False) -> dict[str, Any]:
    """The JSON object a client sent, with a string `action`, or BadMessageError."""
    raw = (body or "").encode()
    if is_base64_encoded:
        try:
            raw = base64.b64decode(raw, validate=True)
        except binascii.Error:
            raise BadMessageError("invalid_json", "send a JSON object as a text message") from None
    if len(raw) > MAX_MESSAGE_BYTES:
        raise BadMessageError(
            "message_too_large", f"messages are limited to {MAX_MESSAGE_BYTES} bytes"
        )
    try:
        parsed = json.loads(raw.decode())
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise BadMessageError("invalid_json", "send a JSON object as a text message") from None
    if not isinstance(parsed, dict) or not isinstance(parsed.get("action"), str):
        raise BadMessageError(
            "invalid_message", 'send a JSON object with an "action", e.g. {"action":"ping"}'
        )
    return parsed


def reply_to(body: str | None, is_base64_encoded: bool = False) -> dict[str, Any]:
    """The answer to one `$default` message (pure: no I/O, so every case is testable)."""
    try:
        parsed = read_message(body, is_base64_encoded)
    except BadMessageError as error:
        return error.frame
    if parsed["action"] == "ping":
        return {"type": "pong"}
    return error_message("unknown_action", 'known actions are "ping" and "play"')


class WebSocketRoutes:
    def __init__(
        self, sessions: Sessions, push_for: Callable[[str], Push], settings: Settings
    ) -> None:
        self._sessions = sessions
        self._push_for = push_for
        self._settings = settings

    def handle(self, event: APIGatewayWebSocketEvent) -> dict[str, Any]:
        context = event.request_context
        if context.route_key == CONNECT:
            return self.connect(context.connection_id, event.query_string_parameters.get("ticket"))
        if context.route_key == DISCONNECT:
            return self.disconnect(context.connection_id)
        endpoint = callback_url(self._settings, context.domain_name, context.stage)
        return self.message(
            context.connection_id, endpoint, event.body, bool(event.get("isBase64Encoded"))
        )

    def connect(self, connection_id: str, ticket: str | None) -> dict[str, Any]:
        user_id = self._sessions.redeem_ticket(ticket) if ticket else None
        if user_id is None:
            logger.info("websocket refused: no valid ticket", connection_id=connection_id)
            metrics.add_metric(name="WebSocketRefused", unit=MetricUnit.Count, value=1)
            return dict(UNAUTHORIZED)
        self._sessions.open(connection_id, user_id)
        metrics.add_metric(name="WebSocketConnected", unit=MetricUnit.Count, value=1)
        return dict(OK)

    def disconnect(self, connection_id: str) -> dict[str, Any]:
        self._sessions.close(connection_id)
        metrics.add_metric(name="WebSocketDisconnected", unit=MetricUnit.Count, value=1)
        return dict(OK)

    def message(
        self, connection_id: str, endpoint: str, body: str | None, is_base64_encoded: bool
    ) -> dict[str, Any]:
        reply = reply_to(body, is_base64_encoded)
        metrics.add_metric(name="WebSocketMessages", unit=MetricUnit.Count, value=1)
        if reply["type"] == "error":
            logger.info(
                "websocket message refused", connection_id=connection_id, error=reply["error"]
            )
            metrics.add_metric(name="WebSocketMessageRefused", unit=MetricUnit.Count, value=1)
        if not self._push_for(endpoint).send(connection_id, reply):
            # The client left between sending and our answer: forget the connection.
            self._sessions.close(connection_id)
        return dict(OK)
