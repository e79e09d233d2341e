"""Ingest Lambda: the players' REST API (spin, read a result)."""

from __future__ import annotations

from functools import cache
from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayRestResolver
from aws_lambda_powertools.utilities.typing import LambdaContext

from frolic.dal.allocation_store import DynamoGameDirectory
from frolic.dal.clients import dynamodb, kinesis
from frolic.dal.sessions import Sessions
from frolic.http import resolve
from frolic.ingest import PlayIntake
from frolic.observability import logger, metrics, tracer
from frolic.player_api import build_player_app
from frolic.settings import settings


@cache
def _app() -> APIGatewayRestResolver:
    config = settings()
    intake = PlayIntake(
        db=dynamodb(),
        kinesis=kinesis(),
        settings=config,
        games=DynamoGameDirectory(dynamodb(), config),
    )
    sessions = Sessions(dynamodb(), config)
    return build_player_app(intake=intake, db=dynamodb(), settings=config, sessions=sessions)


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return resolve(_app(), event, context)
