from collections.abc import Iterator

import boto3
import pytest
from moto import mock_aws

from frolic.dal.schema import create_tables
from frolic.settings import Settings
from tests.integration.push_fixtures import clock, push_stub, sessions
from tests.integration.world import World

#: Fixtures shared by the push-side tests, made visible to every test here.
__all__ = ["clock", "push_stub", "sessions"]


@pytest.fixture
def aws_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Credentials moto accepts, so nothing can reach a real account."""
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)


@pytest.fixture
def world(aws_env: None) -> Iterator[World]:
    with mock_aws():
        db = boto3.client("dynamodb", region_name="us-east-1")
        settings = Settings()
        create_tables(db, settings)
        yield World(db, settings)
