"""The one place where logging, tracing and metrics are set up (AWS Lambda Powertools)."""

from __future__ import annotations

from aws_lambda_powertools import Logger, Metrics, Tracer

NAMESPACE = "Frolic"

logger = Logger(service="frolic")
tracer = Tracer(service="frolic")
metrics = Metrics(namespace=NAMESPACE, service="frolic")
