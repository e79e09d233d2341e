"""boto3 clients, built on first use (never at import) and once per process."""

from __future__ import annotations

from functools import cache
from typing import TYPE_CHECKING

import boto3
from botocore.config import Config

from frolic.settings import settings

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_kinesis import KinesisClient

#: Short timeouts: a player waits on the other end, and a stuck call is better retried.
_CONFIG = Config(
    connect_timeout=1,
    read_timeout=2,
    retries={"mode": "standard", "max_attempts": 4},
)


@cache
def dynamodb() -> DynamoDBClient:
    return boto3.client("dynamodb", endpoint_url=settings().aws_endpoint_url, config=_CONFIG)


@cache
def kinesis() -> KinesisClient:
    return boto3.client("kinesis", endpoint_url=settings().aws_endpoint_url, config=_CONFIG)


@cache
def draw_key() -> bytes:
    """The allocator's draw key: from Secrets Manager when deployed, else the setting."""
    config = settings()
    if config.draw_key_secret_arn is None:
        return config.draw_key.get_secret_value().encode()
    secrets = boto3.client("secretsmanager", endpoint_url=config.aws_endpoint_url, config=_CONFIG)
    return secrets.get_secret_value(SecretId=config.draw_key_secret_arn)["SecretString"].encode()
