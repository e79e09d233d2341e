"""Export Lambda: writes one marketer's CSV export to S3, invoked asynchronously by the
admin API. See frolic.exports."""

from __future__ import annotations

from functools import cache
from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from frolic.dal.clients import admin_dynamodb, s3
from frolic.dal.exports import ExportFiles, ExportJobs, StateCoupons
from frolic.exports import Exporter, ExportInvocation
from frolic.observability import logger, metrics, tracer
from frolic.settings import settings_at_cold_start

#: Checked as the execution environment starts: without them this function refuses to.
SETTINGS = settings_at_cold_start("export")


@cache
def _exporter() -> Exporter:
    """Built on the first invocation, reused while the execution environment lives."""
    db = admin_dynamodb()
    return Exporter(
        coupons=StateCoupons(db, SETTINGS),
        sink=ExportFiles(s3(), SETTINGS),
        jobs=ExportJobs(db, SETTINGS),
    )


@logger.inject_lambda_context
@tracer.capture_lambda_handler(capture_response=False)
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    job = ExportInvocation.model_validate(event)
    rows = _exporter().run(job.game_id, job.export_id)
    return {"rows": rows}
