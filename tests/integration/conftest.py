from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.client import BaseClient
from moto import mock_aws

from frolic_tools.schema import LOCAL_RESOURCES, create_tables, local_settings
from tests.integration import dynamo_rules
from tests.integration.push_fixtures import clock, push_stub, sessions
from tests.integration.world import EventTap, World

#: Fixtures shared by the push-side tests, made visible to every test here.
__all__ = ["clock", "push_stub", "sessions"]


@pytest.fixture(autouse=True)
def dynamodb_rules(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every DynamoDB request a test makes must be one real DynamoDB would accept."""
    send = BaseClient._make_api_call  # type: ignore[attr-defined]

    def checked(client: BaseClient, operation: str, params: dict[str, Any]) -> Any:
        if client.meta.service_model.service_name == "dynamodb":
            dynamo_rules.check(operation, params)
        return send(client, operation, params)

    monkeypatch.setattr(BaseClient, "_make_api_call", checked)


#: Loopback port 9 (discard): a push that reached it would fail, not leave the machine.
UNUSED_CALLBACK_URL = "http://127.0.0.1:9/unused"


@pytest.fixture
def aws_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Credentials moto accepts, so nothing can reach a real account; the local resource
    names, which a handler loaded here reads as a deployed one reads its own."""
    for name, value in LOCAL_RESOURCES.items():
        monkeypatch.setenv(name, value)
    # A push function refuses to start without its callback; nothing listens here.
    monkeypatch.setenv("WEBSOCKET_CALLBACK_URL", UNUSED_CALLBACK_URL)
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)


@pytest.fixture
def world(aws_env: None) -> Iterator[World]:
    with mock_aws():
        db = boto3.client("dynamodb", region_name="us-east-1")
        settings = local_settings()
        create_tables(db, settings)
        yield World(db, settings, events=EventTap.on_moto(settings))
