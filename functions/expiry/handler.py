"""Expiry Lambda: results stream (pending INSERTs only) in, plays expired at their
deadline out (frolic.expiry)."""

from __future__ import annotations

from functools import cache
from typing import Any

from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.typing import LambdaContext

from frolic.dal.clients import dynamodb
from frolic.expiry import ExpiryWatcher
from frolic.observability import logger, metrics, tracer
from frolic.settings import settings_at_cold_start

#: Checked as the execution environment starts: without them this function refuses to.
SETTINGS = settings_at_cold_start("expiry")


@cache
def _watcher() -> ExpiryWatcher:
    """Built on the first invocation, reused while the execution environment lives."""
    return ExpiryWatcher(dynamodb(), SETTINGS)


@logger.inject_lambda_context
@tracer.capture_lambda_handler(capture_response=False)
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    return _watcher().handle_batch(event, context)
