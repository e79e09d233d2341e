"""The DynamoDB-stream consumers' common loop (deliver, expiry): each record is handed
on by itself, and only the ones that failed go back to the mapping for a retry, so one
bad record never holds up the rest of its batch."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from aws_lambda_powertools.utilities.batch import (
    BatchProcessor,
    EventType,
    process_partial_response,
)
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.data_classes.dynamo_db_stream_event import DynamoDBRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from frolic.dal.tables import RESULTS_KEY
from frolic.observability import logging_keys


def each_stream_record(
    event: dict[str, Any], context: LambdaContext, handle: Callable[[DynamoDBRecord], object]
) -> PartialItemFailureResponse:
    """`handle` every record of the batch, its logs keyed by the record's play; the
    answer names the ones that raised."""

    def handle_keyed(record: DynamoDBRecord) -> object:
        with logging_keys(play_id=_play_id(record)):
            return handle(record)

    return process_partial_response(
        event=event,
        record_handler=handle_keyed,
        processor=BatchProcessor(event_type=EventType.DynamoDBStreams),
        context=context,
    )


def _play_id(record: DynamoDBRecord) -> str:
    """The results table's key of the record's item ("?" if the record has none)."""
    keys = record.dynamodb.keys if record.dynamodb is not None else None
    return str((keys or {}).get(RESULTS_KEY, "?"))
