"""What every simulation run must show, sequential or concurrent: invariants 1 and 2
(no overspend, no code bound twice), 3 (one result per play) and 5 (the schedule cap)."""

from __future__ import annotations

from collections import defaultdict

from frolic_tools.sim.bound import schedule_cap
from frolic_tools.sim.simulator import SimulationRun


def assert_no_overspend_nor_double_binding(run: SimulationRun) -> None:
    config = run.config
    for brand, budget in run.budget_by_brand.items():
        assert run.issued_by_brand[brand] <= budget
    granted = sum(len(brands) for _, brands in run.wins)
    assert granted == sum(run.issued_by_brand.values())
    assert len(run.coupon_holders) == granted
    assert all(len(brands) <= config.max_coupons_per_play for _, brands in run.wins)
    assert sum(run.outcomes_by_status.values()) == sum(run.plays_per_second)


def assert_within_the_schedule_cap(run: SimulationRun) -> None:
    """For every moment t: coupons won by plays decided by t <= cap(t). With the wins
    of a brand sorted by decision, the k-th must have been decided when cap >= k."""
    config = run.config
    times: dict[str, list[float]] = defaultdict(list)
    for elapsed, brands in run.wins:
        for brand in brands:
            times[brand].append(elapsed)
    for brand, decisions in times.items():
        # A split budget's counters together hold to the slack plus one per counter.
        cap = schedule_cap(
            run.schedule,
            run.budget_by_brand[brand],
            slack_pct=config.slack_pct,
            counters=config.sub_budgets,
        )
        for k, elapsed in enumerate(sorted(decisions), start=1):
            assert k <= cap(elapsed), f"{brand}: coupon {k} out at {elapsed:.3f}s"
