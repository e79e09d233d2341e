"""Results stream → coupons issued and results pushed: see frolic.deliver."""

from __future__ import annotations

from functools import cache
from typing import Any

from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.typing import LambdaContext

from frolic.dal.clients import dynamodb, events
from frolic.dal.events import EventBus
from frolic.dal.push import Push, callback_url, management_client
from frolic.dal.sessions import Sessions
from frolic.deliver import Deliverer
from frolic.observability import logger, metrics, tracer
from frolic.settings import settings_at_cold_start
from frolic.stream_records import each_stream_record

#: Checked as the execution environment starts: without them this function refuses to.
SETTINGS = settings_at_cold_start("deliver")


@cache
def _deliverer() -> Deliverer:
    """Built on the first invocation, reused while the execution environment lives."""
    push = Push(management_client(callback_url(SETTINGS)))
    return Deliverer(
        dynamodb(),
        Sessions(dynamodb(), SETTINGS),
        push,
        SETTINGS,
        events=EventBus(events(), SETTINGS),
    )


@logger.inject_lambda_context
@tracer.capture_lambda_handler(capture_response=False)
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    return each_stream_record(event, context, lambda record: _deliverer().handle(record))
