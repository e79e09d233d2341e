"""boto3 clients, built on first use (never at import) and once per process."""

from __future__ import annotations

from functools import cache
from typing import TYPE_CHECKING

import boto3
from botocore.config import Config

from frolic.settings import settings

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_events import EventBridgeClient
    from mypy_boto3_kinesis import KinesisClient
    from mypy_boto3_lambda import LambdaClient
    from mypy_boto3_s3 import S3Client

#: Short timeouts: a player waits on the other end, and a stuck call is better retried.
CONNECT_TIMEOUT_SECONDS = 1
READ_TIMEOUT_SECONDS = 2
CLIENT_CONFIG = Config(
    connect_timeout=CONNECT_TIMEOUT_SECONDS,
    read_timeout=READ_TIMEOUT_SECONDS,
    retries={"mode": "standard", "max_attempts": 4},
)
#: How long one attempt of a call may take before the client gives up on it: the batch
#: write fence (Settings.batch_write_fence_seconds) must be at least this.
ATTEMPT_BOUND_SECONDS = CONNECT_TIMEOUT_SECONDS + READ_TIMEOUT_SECONDS


@cache
def dynamodb() -> DynamoDBClient:
    return boto3.client("dynamodb", endpoint_url=settings().aws_endpoint_url, config=CLIENT_CONFIG)


#: A marketer waits, not a crowd: a coupon upload writes 99-item transactions, so reads
#: may take longer than on the play path, within API Gateway's 29-second limit.
ADMIN_CLIENT_CONFIG = Config(
    connect_timeout=2,
    read_timeout=10,
    retries={"mode": "standard", "max_attempts": 3},
)


@cache
def admin_dynamodb() -> DynamoDBClient:
    """The admin API's client: longer reads than the play path's."""
    return boto3.client(
        "dynamodb", endpoint_url=settings().aws_endpoint_url, config=ADMIN_CLIENT_CONFIG
    )


@cache
def events() -> EventBridgeClient:
    return boto3.client("events", endpoint_url=settings().aws_endpoint_url, config=CLIENT_CONFIG)


@cache
def kinesis() -> KinesisClient:
    return boto3.client("kinesis", endpoint_url=settings().aws_endpoint_url, config=CLIENT_CONFIG)


#: An export uploads parts of megabytes: reads may take longer than a play's.
EXPORT_CLIENT_CONFIG = Config(
    connect_timeout=2,
    read_timeout=30,
    retries={"mode": "standard", "max_attempts": 4},
)


def s3_client(endpoint_url: str | None) -> S3Client:
    """Path-style addressing where an endpoint stands in for S3 (the bucket is a path
    segment, not a host name the local stack could not resolve)."""
    addressing = Config(
        signature_version="s3v4", s3={"addressing_style": "path" if endpoint_url else "auto"}
    )
    return boto3.client(
        "s3", endpoint_url=endpoint_url, config=EXPORT_CLIENT_CONFIG.merge(addressing)
    )


@cache
def s3() -> S3Client:
    return s3_client(settings().aws_endpoint_url)


@cache
def s3_links() -> S3Client:
    """The client that signs download links: for where a browser fetches them."""
    config = settings()
    return s3_client(config.export_link_endpoint_url or config.aws_endpoint_url)


@cache
def lambda_client() -> LambdaClient:
    config = settings()
    return boto3.client(
        "lambda",
        endpoint_url=config.lambda_endpoint_url or config.aws_endpoint_url,
        config=CLIENT_CONFIG,
    )


class MissingDrawKeyError(RuntimeError):
    """Neither a draw key secret nor a key is configured: the allocator refuses to draw."""


@cache
def draw_key() -> bytes:
    """The allocator's draw key: from Secrets Manager when deployed, else the setting."""
    config = settings()
    if config.draw_key_secret_arn is None:
        if config.draw_key is None or not config.draw_key.get_secret_value():
            raise MissingDrawKeyError(
                "set DRAW_KEY_SECRET_ARN (deployed) or DRAW_KEY (local stack): the "
                "allocator does not draw winners without a secret key"
            )
        return config.draw_key.get_secret_value().encode()
    secrets = boto3.client(
        "secretsmanager", endpoint_url=config.aws_endpoint_url, config=CLIENT_CONFIG
    )
    return secrets.get_secret_value(SecretId=config.draw_key_secret_arn)["SecretString"].encode()


def forget_clients() -> None:
    """Drop every cached client and the draw key, so the next use builds them from the
    environment as it is then (the local stack and tests change it; Lambda never does)."""
    for cached in list(globals().values()):
        # Every @cache of this module, so a client added later cannot be missed.
        if getattr(cached, "__module__", None) == __name__ and hasattr(cached, "cache_clear"):
            cached.cache_clear()
