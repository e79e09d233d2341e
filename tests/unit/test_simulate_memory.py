"""The simulator's memory does not grow with the number of plays: the store forgets old
results as the results table's TTL would, and the write meter keeps only peaks and
totals."""

from __future__ import annotations

import tracemalloc
from collections import defaultdict

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from frolic.allocation.ports import Outcome, Play
from frolic.models import PlayStatus
from frolic_tools.sim.memory import InMemoryStore, WriteMeter
from frolic_tools.sim.simulator import SimulationConfig, simulate

GAME = "memory-game"
START = 1_900_000_000.0


def lost(play_id: str, arrived: float, decided: float) -> Outcome:
    return Outcome(Play(play_id, f"u-{play_id}", GAME, arrived), PlayStatus.LOST, decided)


def test_a_store_with_retention_forgets_results_that_long_after_their_play() -> None:
    # Given a store that keeps results for 60 s, and a result decided at once
    store = InMemoryStore(outcome_retention_seconds=60)
    store.save_outcomes([lost("old", START, START + 1)])
    # When another play is decided 59 s later, the first result is still there
    store.save_outcomes([lost("new", START + 59, START + 59.5)])
    assert store.outcome("old") is not None
    # And when one is decided a minute after the first play, the first is forgotten
    store.save_outcomes([lost("newer", START + 60, START + 60.5)])
    assert store.outcome("old") is None
    assert store.stored_outcomes(["old", "new", "newer"]).keys() == {"new", "newer"}


def test_a_store_without_retention_keeps_every_result() -> None:
    store = InMemoryStore()
    store.save_outcomes([lost("old", START, START + 1)])
    store.save_outcomes([lost("much-later", START + 10**6, START + 10**6)])
    assert store.outcome("old") is not None


writes = st.lists(
    st.tuples(
        st.sampled_from(["budget#g#a#0", "budget#g#b#0", "arrivals#g#1", "traffic#g"]),
        st.integers(0, 10),  # seconds after the newest so far
        st.integers(0, 30),  # seconds before it, within the settle time
        st.integers(1, 3),
    ),
    max_size=200,
)


@settings(max_examples=100, deadline=None)
@given(writes=writes, prefix=st.sampled_from(["", "budget#", "arrivals#", "nothing#"]))
def test_the_meter_keeps_the_same_peaks_and_totals_as_a_count_per_item_and_second(
    writes: list[tuple[str, int, int, int]], prefix: str
) -> None:
    # Given writes a little out of order, as several shards' allocators make them
    meter = WriteMeter(settle_seconds=30)
    every: dict[tuple[str, int], int] = defaultdict(int)
    newest = 0
    for item, ahead, behind, units in writes:
        newest += ahead
        second = newest - behind
        meter.write(item, START + second + 0.5, units)
        every[(item, int(START + second + 0.5))] += units
    # Then the busiest second and the total of the items named so are the full count's
    chosen = {key: n for key, n in every.items() if key[0].startswith(prefix)}
    assert meter.peak(prefix) == max(chosen.values(), default=0)
    assert meter.total(prefix) == sum(chosen.values())


def test_the_meter_refuses_a_write_to_a_second_it_has_folded() -> None:
    meter = WriteMeter(settle_seconds=5)
    meter.write("item", START + 100)
    meter.write("item", START + 95)  # within the settle time: still open
    with pytest.raises(ValueError, match="folded"):
        meter.write("item", START + 94)
    assert meter.peak() == 1


def test_a_ten_times_longer_trace_takes_little_more_memory() -> None:
    # Given two flat traces of 20 plays/s, one ten times as long as the other
    short, long = [20] * 150, [20] * 1500

    def peak_bytes(trace: list[int]) -> int:
        tracemalloc.start()
        try:
            simulate(trace, SimulationConfig(budget=100))
            return tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()

    # When each is simulated
    small, large = peak_bytes(short), peak_bytes(long)
    # Then the long one's 27,000 more plays cost less than 20 bytes each, seconds' curves
    # included (a result kept per play took several hundred)
    assert large - small < 20 * 20 * (1500 - 150), (small, large)
