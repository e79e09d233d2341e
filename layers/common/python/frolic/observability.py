"""The one place where logging, tracing and metrics are set up (AWS Lambda Powertools)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from aws_lambda_powertools import Logger, Metrics, Tracer

NAMESPACE = "Frolic"

logger = Logger(service="frolic")
tracer = Tracer(service="frolic")
metrics = Metrics(namespace=NAMESPACE, service="frolic")


@contextmanager
def logging_keys(**keys: str | int) -> Iterator[None]:
    """Every log line written while one record (or one game's batch) is worked on names
    it, however deep the code that writes it; the keys go when the work ends, so the
    next record's lines do not inherit them. Field names are snake_case (`play_id`,
    `game_id`), as everywhere in Frolic's logs."""
    logger.append_keys(**keys)
    try:
        yield
    finally:
        logger.remove_keys(list(keys))
