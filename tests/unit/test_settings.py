"""Settings that only hold together (the batch-write fence against the client's
timeouts), and functions that refuse to start without theirs."""

from __future__ import annotations

import importlib.util
from collections.abc import Iterator
from pathlib import Path

import pytest

from frolic.dal.clients import ATTEMPT_BOUND_SECONDS
from frolic.settings import FUNCTION_NEEDS, SettingsError, settings, settings_at_cold_start
from frolic_tools.schema import LOCAL_RESOURCES, local_settings


def test_the_batch_write_fence_covers_one_attempt_of_the_deployed_client() -> None:
    # An attempt sent just inside the fence may land this much later: before the deadline
    fence = local_settings().batch_write_fence_seconds
    assert fence >= ATTEMPT_BOUND_SECONDS


# -- a function refuses to start without its settings ------------------------------------
ROOT = Path(__file__).resolve().parents[2]
TABLES = {name: value for name, value in LOCAL_RESOURCES.items() if name.endswith("_TABLE")}


@pytest.fixture
def environment(monkeypatch: pytest.MonkeyPatch) -> Iterator[pytest.MonkeyPatch]:
    """A process environment without any Frolic setting, read afresh."""
    for name in (*LOCAL_RESOURCES, "WEBSOCKET_CALLBACK_URL", "DRAW_KEY", "DRAW_KEY_SECRET_ARN"):
        monkeypatch.delenv(name, raising=False)
    settings.cache_clear()
    yield monkeypatch
    settings.cache_clear()


def start(function: str) -> None:
    """Load the function's handler as Lambda does at a cold start."""
    path = ROOT / "functions" / function / "handler.py"
    spec = importlib.util.spec_from_file_location(f"cold_start_{function}", path)
    assert spec is not None and spec.loader is not None
    spec.loader.exec_module(importlib.util.module_from_spec(spec))


@pytest.mark.parametrize("function", sorted(FUNCTION_NEEDS))
def test_a_function_without_its_tables_refuses_to_start_and_says_which(
    function: str, environment: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    # Given every setting the function needs but the results table
    for name, value in TABLES.items():
        if name != "RESULTS_TABLE":
            environment.setenv(name, value)
    for alternatives in FUNCTION_NEEDS[function]:
        environment.setenv(alternatives[0], "configured")
    # When it starts, then it refuses, and its log names the missing setting
    with pytest.raises(SettingsError, match="RESULTS_TABLE"):
        start(function)
    assert [r.getMessage() for r in caplog.records] == ["settings invalid; refusing to start"]


@pytest.mark.parametrize(
    ("function", "needed"),
    [
        (function, alternatives)
        for function, needs in sorted(FUNCTION_NEEDS.items())
        for alternatives in needs
    ],
)
def test_a_function_without_a_setting_of_its_own_refuses_to_start(
    function: str, needed: tuple[str, ...], environment: pytest.MonkeyPatch
) -> None:
    # Given the tables and every other need of the function, but not this one
    for name, value in TABLES.items():
        environment.setenv(name, value)
    for alternatives in FUNCTION_NEEDS[function]:
        if alternatives != needed:
            environment.setenv(alternatives[0], "configured")
    # Then it refuses to start, naming each way to meet the need
    with pytest.raises(SettingsError, match=" or ".join(needed)):
        start(function)


@pytest.mark.parametrize("function", sorted(FUNCTION_NEEDS))
def test_a_function_given_its_settings_starts(
    function: str, environment: pytest.MonkeyPatch
) -> None:
    for name, value in TABLES.items():
        environment.setenv(name, value)
    for alternatives in FUNCTION_NEEDS[function]:
        environment.setenv(alternatives[-1], "configured")
    start(function)


def test_every_function_folder_has_its_needs_stated() -> None:
    folders = {path.parent.name for path in (ROOT / "functions").glob("*/handler.py")}
    assert folders == FUNCTION_NEEDS.keys()


def test_an_empty_draw_key_does_not_count_as_one(environment: pytest.MonkeyPatch) -> None:
    for name, value in TABLES.items():
        environment.setenv(name, value)
    environment.setenv("DRAW_KEY", "")
    with pytest.raises(SettingsError, match="DRAW_KEY"):
        settings_at_cold_start("allocate")
