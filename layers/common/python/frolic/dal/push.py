"""Messages to WebSocket clients through the API Gateway Management API.

A push is a hint: the player can always read the result over REST. So a socket that
has gone away (410 Gone) is an ordinary outcome reported as False, while any other
error (throttling, a wrong endpoint, missing permissions) is raised so that the caller
can retry the work.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import boto3
from botocore.config import Config

from frolic.dal.errors import ClientError, is_gone
from frolic.settings import Settings

if TYPE_CHECKING:
    from mypy_boto3_apigatewaymanagementapi import ApiGatewayManagementApiClient

#: A push is a hint: a short wait and few retries, then the record's own retry takes over.
_CONFIG = Config(connect_timeout=1, read_timeout=2, retries={"mode": "standard", "max_attempts": 3})


class CallbackUrlMissingError(RuntimeError):
    """Neither the settings nor the event say where the WebSocket stage is."""


def callback_url(
    settings: Settings, domain_name: str | None = None, stage: str | None = None
) -> str:
    """The stage's connection endpoint: configured (local stack, custom domains, or a
    stream-triggered function that has no WebSocket event) or from the event."""
    if settings.websocket_callback_url:
        return settings.websocket_callback_url
    if domain_name and stage:
        return f"https://{domain_name}/{stage}"
    raise CallbackUrlMissingError("set WEBSOCKET_CALLBACK_URL: no WebSocket domain to call back")


def management_client(endpoint_url: str) -> ApiGatewayManagementApiClient:
    """A client for one stage's endpoint; build it at first use, never at import."""
    return boto3.client("apigatewaymanagementapi", endpoint_url=endpoint_url, config=_CONFIG)


class Push:
    def __init__(self, client: ApiGatewayManagementApiClient) -> None:
        self._client = client

    def send(self, connection_id: str, message: Mapping[str, Any]) -> bool:
        """Post one JSON message; False when the connection no longer exists."""
        data = json.dumps(message, separators=(",", ":"), ensure_ascii=False).encode()
        try:
            self._client.post_to_connection(ConnectionId=connection_id, Data=data)
        except ClientError as error:
            if is_gone(error):
                return False
            raise
        return True
