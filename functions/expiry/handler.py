"""Expiry Lambda: results stream (pending INSERTs only) in, plays expired at their
deadline out (frolic.expiry)."""

from __future__ import annotations

from functools import cache
from typing import Any

from aws_lambda_powertools.utilities.batch import (
    BatchProcessor,
    EventType,
    process_partial_response,
)
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.data_classes.dynamo_db_stream_event import DynamoDBRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from frolic.dal.clients import dynamodb
from frolic.expiry import ExpiryWatcher
from frolic.observability import logger, metrics, tracer
from frolic.settings import settings

processor = BatchProcessor(event_type=EventType.DynamoDBStreams)


@cache
def _watcher() -> ExpiryWatcher:
    """Built on the first invocation, reused while the execution environment lives."""
    return ExpiryWatcher(dynamodb(), settings())


def record_handler(record: DynamoDBRecord) -> None:
    _watcher().handle(record)


@logger.inject_lambda_context
@tracer.capture_lambda_handler(capture_response=False)
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    return process_partial_response(
        event=event, record_handler=record_handler, processor=processor, context=context
    )
