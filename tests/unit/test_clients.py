"""The shared clients are built once per process, and forgotten all at once."""

from __future__ import annotations

import pytest

from frolic.dal import clients
from frolic.settings import settings
from frolic_tools.schema import LOCAL_RESOURCES


def test_forgetting_the_clients_drops_every_one_of_them(monkeypatch: pytest.MonkeyPatch) -> None:
    # Given the environment a function has, and each shared client built once
    for name, value in LOCAL_RESOURCES.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9")
    settings.cache_clear()
    made = [clients.dynamodb, clients.admin_dynamodb, clients.events, clients.kinesis]
    first = [make() for make in made]
    assert [make() for make in made] == first  # built once
    # When the local stack moves the endpoint and forgets the clients
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:10")
    settings.cache_clear()
    clients.forget_clients()
    # Then each is built again, at the new endpoint
    again = [make() for make in made]
    assert all(new is not old for new, old in zip(again, first, strict=True))
    assert {client.meta.endpoint_url for client in again} == {"http://127.0.0.1:10"}
    clients.forget_clients()
    settings.cache_clear()
