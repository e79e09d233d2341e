"""Invariants 1 (no overspend, no double allocation) and 5 (no early exhaustion), over
random traffic, budgets, brand splits, shard counts and batch sizes."""

from collections import defaultdict
from dataclasses import replace

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from frolic.pacing.policy import FrolicPacing
from frolic.sim.simulator import SimulationConfig, SimulationRun, simulate

traces = st.lists(
    st.one_of(st.integers(0, 5), st.integers(0, 80), st.integers(200, 2000)),
    min_size=3,
    max_size=200,
)
configs = st.builds(
    SimulationConfig,
    budget=st.integers(1, 400),
    brands=st.integers(1, 4),
    shards=st.integers(1, 6),
    batch=st.integers(1, 60),
    seed=st.integers(0, 2**32),
    players=st.one_of(st.none(), st.integers(1, 40)),
    slack_pct=st.floats(0, 5),
    max_coupons_per_play=st.integers(1, 3),
    max_wins_per_user=st.integers(1, 3),
)
SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _wins_by_brand(run: SimulationRun) -> dict[str, list[float]]:
    times: dict[str, list[float]] = defaultdict(list)
    for elapsed, brands in run.wins:
        for brand in brands:
            times[brand].append(elapsed)
    return times


@SETTINGS
@given(trace=traces, config=configs, policy=st.sampled_from(["frolic", "seed"]))
def test_no_brand_ever_issues_past_its_budget_nor_binds_a_code_twice(
    trace: list[int], config: SimulationConfig, policy: str
) -> None:
    config = replace(config, policy=policy, brands=min(config.brands, config.budget))
    run = simulate(trace, config)
    for brand, budget in run.budget_by_brand.items():
        assert run.issued_by_brand[brand] <= budget
    granted = sum(len(brands) for _, brands in run.wins)
    assert granted == sum(run.issued_by_brand.values())
    assert len(run.coupon_holders) == granted
    assert all(len(brands) <= config.max_coupons_per_play for _, brands in run.wins)


@SETTINGS
@given(trace=traces, config=configs)
def test_issued_coupons_never_run_ahead_of_the_release_schedule_plus_slack(
    trace: list[int], config: SimulationConfig
) -> None:
    config = replace(config, brands=min(config.brands, config.budget))
    run = simulate(trace, config)
    # For every moment t: coupons won by plays that arrived by t <= cap(t). With the
    # wins of a brand sorted by arrival, the k-th must have arrived when cap >= k.
    for brand, times in _wins_by_brand(run).items():
        plan = FrolicPacing().plan(
            schedule=run.schedule,
            budget=run.budget_by_brand[brand],
            slack_pct=config.slack_pct,
            arrival_rate=None,
        )
        for k, elapsed in enumerate(sorted(times), start=1):
            assert k <= plan.cap(elapsed), f"{brand}: coupon {k} out at {elapsed:.3f}s"
