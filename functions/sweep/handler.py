"""Scheduled every minute: stuck plays expired, stuck won coupons issued, stranded
ordinals returned. See frolic.sweep."""

from __future__ import annotations

from dataclasses import asdict
from functools import cache
from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from frolic.dal.catalog import Catalog
from frolic.dal.clients import dynamodb, events
from frolic.dal.events import EventBus
from frolic.dal.result_indexes import ResultIndexes
from frolic.dal.stranded import StrandedLeases
from frolic.deliver import CouponIssuer
from frolic.expiry import ExpiryWatcher
from frolic.observability import logger, metrics, tracer
from frolic.settings import settings_at_cold_start
from frolic.sweep import Sweeper

#: Checked as the execution environment starts: without them this function refuses to.
SETTINGS = settings_at_cold_start("sweep")


@cache
def _sweeper() -> Sweeper:
    """Built on the first invocation, reused while the execution environment lives."""
    client = dynamodb()
    return Sweeper(
        ResultIndexes(client, SETTINGS),
        ExpiryWatcher(client, SETTINGS),
        CouponIssuer(client, SETTINGS, events=EventBus(events(), SETTINGS)),
        SETTINGS,
        stranded=StrandedLeases(client, SETTINGS),
        games=Catalog(client, SETTINGS).games_in_play,
    )


@logger.inject_lambda_context
@tracer.capture_lambda_handler(capture_response=False)
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return asdict(_sweeper().sweep())
