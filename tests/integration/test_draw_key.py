from collections.abc import Iterator

import boto3
import pytest
from moto import mock_aws

from frolic.dal import clients
from frolic.dal.clients import MissingDrawKeyError
from frolic.settings import settings


@pytest.fixture
def fresh_settings(aws_env: None) -> Iterator[None]:
    settings.cache_clear()
    clients.draw_key.cache_clear()
    yield
    settings.cache_clear()
    clients.draw_key.cache_clear()


def test_the_deployed_allocator_reads_its_draw_key_from_secrets_manager(
    aws_env: None, fresh_settings: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    with mock_aws():
        secret = boto3.client("secretsmanager", region_name="us-east-1").create_secret(
            Name="frolic-draw-key", SecretString="a-generated-key-of-some-length"
        )
        monkeypatch.setenv("DRAW_KEY_SECRET_ARN", secret["ARN"])
        assert clients.draw_key() == b"a-generated-key-of-some-length"


def test_without_a_secret_the_configured_key_is_used(
    fresh_settings: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("DRAW_KEY_SECRET_ARN", raising=False)
    monkeypatch.setenv("DRAW_KEY", "local-key-for-the-local-stack")
    assert clients.draw_key() == b"local-key-for-the-local-stack"


@pytest.mark.parametrize("configured", [None, ""])
def test_without_a_secret_or_a_key_the_allocator_refuses_to_draw(
    fresh_settings: None, monkeypatch: pytest.MonkeyPatch, configured: str | None
) -> None:
    # Given a deploy that set neither the secret's ARN nor a key (or an empty one)
    monkeypatch.delenv("DRAW_KEY_SECRET_ARN", raising=False)
    if configured is None:
        monkeypatch.delenv("DRAW_KEY", raising=False)
    else:
        monkeypatch.setenv("DRAW_KEY", configured)
    # Then no key is made up: a known one would let players pick winning playIds
    with pytest.raises(MissingDrawKeyError, match="DRAW_KEY_SECRET_ARN"):
        clients.draw_key()
