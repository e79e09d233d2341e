"""Allocator Lambda: Kinesis batches of plays in, decided results out."""

from __future__ import annotations

from functools import cache
from typing import Any

from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.typing import LambdaContext

from frolic.allocation.allocator import Allocator
from frolic.dal.allocation_store import DynamoAllocationStore, DynamoGameDirectory
from frolic.dal.clients import draw_key, dynamodb
from frolic.observability import logger, metrics, tracer
from frolic.pacing.policy import FrolicPacing
from frolic.settings import settings
from frolic.stream import StreamAllocator, sleep_until


@cache
def _stream_allocator() -> StreamAllocator:
    config = settings()
    store = DynamoAllocationStore(dynamodb(), config)
    allocator = Allocator(
        store=store,
        games=DynamoGameDirectory(dynamodb(), config),
        policy=FrolicPacing(),
        draw_key=draw_key(),
        wait_until=sleep_until,
    )
    return StreamAllocator(allocator=allocator, store=store)


@logger.inject_lambda_context
@tracer.capture_lambda_handler(capture_response=False)
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    return _stream_allocator().handle(event, context)
