"""Frolic patches two libraries' internals for the local stack (moto's server, and
Powertools while the functions share one process). pyproject.toml bounds both below
releases not yet tried; these tests are what fails, by name, when a release within the
bounds still changes what a patch needs."""

from __future__ import annotations

from collections.abc import Iterator
from importlib.metadata import version
from types import SimpleNamespace

import pytest

from frolic.observability import logger, metrics
from frolic_tools.local import moto_patches
from frolic_tools.local.functions import PowertoolsChangedError, SharedPowertools


@pytest.fixture
def patched_moto() -> Iterator[None]:
    moto_patches.uninstall()
    moto_patches.install()
    yield
    moto_patches.uninstall()


@pytest.mark.usefixtures("patched_moto")
def test_every_moto_patch_applies_to_the_installed_moto() -> None:
    unapplied = moto_patches.unapplied()
    assert unapplied == [], (
        f"moto {version('moto')} changed what these patches need: {unapplied}; "
        "bound moto below it in pyproject.toml or update frolic_tools.local.moto_patches"
    )


def test_moto_reports_a_patch_it_could_not_apply() -> None:
    moto_patches.uninstall()
    assert moto_patches.unapplied() == ["transactions", *moto_patches._PATCHES]


def test_powertools_still_has_what_the_shared_process_patches() -> None:
    assert SharedPowertools.missing() == [], (
        f"aws-lambda-powertools {version('aws-lambda-powertools')} changed"
    )
    shared = SharedPowertools()
    try:
        assert logger.append_keys == logger.thread_safe_append_keys
    finally:
        shared.restore()
    assert "append_keys" not in vars(logger)


def test_a_powertools_release_without_them_stops_the_stack_loudly(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Given a release whose metrics provider lacks one method the stack serializes
    methods = {n: getattr(metrics.provider, n) for n in SharedPowertools._METRICS_METHODS}
    del methods["flush_metrics"]
    monkeypatch.setattr(metrics, "provider", SimpleNamespace(**methods))
    # Then the stack refuses to start, naming it
    with pytest.raises(PowertoolsChangedError, match="flush_metrics"):
        SharedPowertools()
    assert "append_keys" not in vars(logger), "nothing was patched half-way"
