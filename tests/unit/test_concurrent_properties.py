"""Invariants under concurrency: allocators racing in virtual time (frolic_tools.sim.concurrent)
with any number of shards and concurrent batches per shard, any store speed and any
interleaving the seed draws, never overspend, never bind a code twice, answer every
play once, and keep the schedule cap."""

from __future__ import annotations

from dataclasses import replace

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from frolic_tools.sim.concurrent import ConcurrencyConfig, simulate_concurrently
from frolic_tools.sim.latency import LatencyModel
from frolic_tools.sim.simulator import SimulationConfig
from tests.sim_checks import assert_no_overspend_nor_double_binding, assert_within_the_schedule_cap
from tests.strategies import configs

#: Short and small: a race needs only a few allocators and a few winners a second.
races = st.lists(st.integers(0, 120), min_size=2, max_size=25)
models = st.builds(
    ConcurrencyConfig,
    latency=st.builds(LatencyModel, scale=st.floats(0.05, 4.0)),
    parallelization=st.integers(1, 3),
)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(trace=races, config=configs, model=models)
def test_racing_allocators_keep_every_invariant(
    trace: list[int], config: SimulationConfig, model: ConcurrencyConfig
) -> None:
    config = replace(config, brands=min(config.brands, config.budget))
    run = simulate_concurrently(trace, config, model)
    assert_no_overspend_nor_double_binding(run)
    assert_within_the_schedule_cap(run)
