"""Ingest Lambda: the players' REST API and the WebSocket `play` action."""

from __future__ import annotations

from functools import cache
from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayRestResolver
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.data_classes import APIGatewayWebSocketEvent
from aws_lambda_powertools.utilities.typing import LambdaContext

from frolic.dal.allocation_store import DynamoGameDirectory
from frolic.dal.clients import dynamodb, kinesis
from frolic.dal.sessions import Sessions
from frolic.http import CorsPolicy, resolve
from frolic.ingest import PlayIntake
from frolic.observability import logger, metrics, tracer
from frolic.player_api import build_player_app
from frolic.settings import settings_at_cold_start
from frolic.ws_play import WebSocketPlays

#: Checked as the execution environment starts: without them this function refuses to.
SETTINGS = settings_at_cold_start("ingest")


@cache
def _intake() -> PlayIntake:
    games = DynamoGameDirectory(dynamodb(), SETTINGS)
    return PlayIntake(db=dynamodb(), kinesis=kinesis(), settings=SETTINGS, games=games)


@cache
def _app() -> APIGatewayRestResolver:
    sessions = Sessions(dynamodb(), SETTINGS)
    return build_player_app(intake=_intake(), db=dynamodb(), settings=SETTINGS, sessions=sessions)


@cache
def _socket_plays() -> WebSocketPlays:
    return WebSocketPlays(intake=_intake(), sessions=Sessions(dynamodb(), SETTINGS))


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
@tracer.capture_lambda_handler(capture_response=False)
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    if "connectionId" in event.get("requestContext", {}):
        return _socket_plays().handle(APIGatewayWebSocketEvent(event))
    return resolve(_app(), event, context, cors=CorsPolicy.from_settings(SETTINGS))
