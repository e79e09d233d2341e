"""Allocator Lambda: Kinesis batches of plays in, decided results out."""

from __future__ import annotations

from functools import cache
from typing import Any

from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.typing import LambdaContext

from frolic.allocate import StreamAllocator, sleep_until
from frolic.allocation.allocator import Allocator
from frolic.dal.allocation_store import DynamoAllocationStore, DynamoGameDirectory
from frolic.dal.clients import draw_key, dynamodb
from frolic.observability import logger, metrics, tracer
from frolic.pacing.policy import FrolicPacing
from frolic.settings import settings_at_cold_start

#: Checked as the execution environment starts: without them this function refuses to.
SETTINGS = settings_at_cold_start("allocate")


@cache
def _stream_allocator() -> StreamAllocator:
    store = DynamoAllocationStore(dynamodb(), SETTINGS)
    allocator = Allocator(
        store=store,
        games=DynamoGameDirectory(dynamodb(), SETTINGS),
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
