import pytest

from frolic_tools.sim.memory import InMemoryGames, InMemoryStore
from tests.unit.arena import Arena


@pytest.fixture
def arena() -> Arena:
    return Arena(InMemoryStore(), InMemoryGames())
