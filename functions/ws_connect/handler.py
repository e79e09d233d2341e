"""WebSocket `$connect`, `$disconnect` and `$default`: see frolic.ws_connect."""

from __future__ import annotations

from functools import cache
from typing import Any

from aws_lambda_powertools.utilities.data_classes import APIGatewayWebSocketEvent, event_source
from aws_lambda_powertools.utilities.typing import LambdaContext

from frolic.dal.clients import dynamodb
from frolic.dal.push import Push, management_client
from frolic.dal.sessions import Sessions
from frolic.observability import logger, metrics, tracer
from frolic.settings import settings_at_cold_start
from frolic.ws_connect import WebSocketRoutes

#: Checked as the execution environment starts: without them this function refuses to.
SETTINGS = settings_at_cold_start("ws_connect")


@cache
def _push(endpoint_url: str) -> Push:
    return Push(management_client(endpoint_url))


@cache
def _routes() -> WebSocketRoutes:
    """Built on the first invocation, reused while the execution environment lives."""
    return WebSocketRoutes(Sessions(dynamodb(), SETTINGS), _push, SETTINGS)


@logger.inject_lambda_context
@tracer.capture_lambda_handler(capture_response=False)
@metrics.log_metrics
@event_source(data_class=APIGatewayWebSocketEvent)
def lambda_handler(event: APIGatewayWebSocketEvent, context: LambdaContext) -> dict[str, Any]:
    return _routes().handle(event)
