"""Admin Lambda: the marketers' REST API (campaigns, games, brands, budgets, coupons,
exports)."""

from __future__ import annotations

from functools import cache
from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayRestResolver
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from frolic.admin.app import build_app
from frolic.admin.budgets import MAX_UPLOAD_BYTES
from frolic.admin.exports import ExportDesk
from frolic.dal.catalog import Catalog
from frolic.dal.clients import admin_dynamodb, events, lambda_client, s3_links
from frolic.dal.events import EventBus
from frolic.dal.exports import ExportFiles, ExportJobs, ExportStarter
from frolic.dal.offers import OfferStore
from frolic.dal.pools import CouponPools
from frolic.dal.rates import RateLimiter
from frolic.dal.redemptions import Redemptions
from frolic.dal.reports import GameReports
from frolic.http import CorsPolicy, resolve
from frolic.observability import logger, metrics, tracer
from frolic.settings import settings_at_cold_start

#: Checked as the execution environment starts: without them this function refuses to.
SETTINGS = settings_at_cold_start("admin")

#: The gate in front of the routes; the upload route checks the decoded size itself, and
#: base64 (binary media) makes a body a third larger on the wire.
BODY_LIMIT = 2 * MAX_UPLOAD_BYTES


@cache
def _app() -> APIGatewayRestResolver:
    """Built on the first request of a cold start, then reused."""
    db = admin_dynamodb()
    return build_app(
        Catalog(db, SETTINGS),
        pools=CouponPools(db, SETTINGS),
        reports=GameReports(db, SETTINGS),
        redemptions=Redemptions(db, SETTINGS),
        limiter=RateLimiter(db, SETTINGS),
        events=EventBus(events(), SETTINGS),
        offers=OfferStore(db, SETTINGS),
        exports=ExportDesk(
            ExportJobs(db, SETTINGS),
            ExportStarter(lambda_client(), SETTINGS),
            ExportFiles(s3_links(), SETTINGS),
        ),
    )


@logger.inject_lambda_context(
    correlation_id_path=correlation_paths.API_GATEWAY_REST, log_event=False
)  # the event may hold coupon codes
@tracer.capture_lambda_handler(capture_response=False)  # a redeem answer holds a code
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    cors = CorsPolicy.from_settings(SETTINGS)
    return resolve(_app(), event, context, limit=BODY_LIMIT, cors=cors)
