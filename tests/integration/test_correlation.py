"""Every REST route's logs carry the API Gateway request id as their correlation id, so a
player's or a marketer's failed request can be found in the logs by the id API Gateway
gave it."""

from __future__ import annotations

import pytest
from moto import mock_aws

from frolic.observability import logger
from frolic.settings import settings
from tests.integration.apigw import FakeContext, rest_event
from tests.integration.push_fixtures import load_handler


@pytest.mark.parametrize(
    ("function", "method", "path"),
    [("ingest", "GET", "/plays/play-1"), ("admin", "GET", "/admin/campaigns")],
)
def test_a_rest_request_is_logged_under_its_api_gateway_request_id(
    aws_env: None, function: str, method: str, path: str
) -> None:
    # Given a request that API Gateway gave its own id (and no signed-in caller)
    event = rest_event(method, path, user=None)
    event["requestContext"]["requestId"] = f"{function}-request-7"
    settings.cache_clear()
    try:
        with mock_aws():
            # When the function handles it
            response = load_handler(function).lambda_handler(event, FakeContext())
    finally:
        settings.cache_clear()
    # Then it answered, and its log lines carry that id
    assert response["statusCode"] == 401
    assert logger.get_correlation_id() == f"{function}-request-7"
