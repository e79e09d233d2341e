from collections.abc import Iterator

import pytest

from frolic_tools.sim.memory import InMemoryGames, InMemoryStore
from tests.unit.arena import Arena


@pytest.fixture
def arena() -> Arena:
    return Arena(InMemoryStore(), InMemoryGames())


@pytest.fixture
def moto_unpatched() -> Iterator[None]:
    """moto as released before the test, and again after it, whatever it installed."""
    from frolic_tools.local import moto_patches

    moto_patches.uninstall()
    yield
    moto_patches.uninstall()
