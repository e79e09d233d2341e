"""The latency model: each call's median and tail as documented, all scaled together."""

from __future__ import annotations

import random
import statistics

import pytest

from frolic_tools.sim.latency import DYNAMODB_CALLS, CallLatency, LatencyModel


@pytest.mark.parametrize("operation", sorted(DYNAMODB_CALLS))
def test_draws_have_the_documented_median_and_99th_percentile(operation: str) -> None:
    figure = DYNAMODB_CALLS[operation]
    rng = random.Random(11)
    draws = sorted(LatencyModel().call(operation, rng) for _ in range(40_000))
    assert statistics.median(draws) == pytest.approx(figure.median_s, rel=0.03)
    assert draws[int(0.99 * len(draws))] == pytest.approx(figure.p99_s, rel=0.08)


def test_the_scale_multiplies_every_figure() -> None:
    base, slow = LatencyModel(), LatencyModel(scale=3.0)
    assert slow.call("TransactWriteItems", random.Random(1)) == pytest.approx(
        3 * base.call("TransactWriteItems", random.Random(1))
    )
    assert slow.invocation(random.Random(2)) == pytest.approx(3 * base.invocation(random.Random(2)))


@pytest.mark.parametrize("median, p99", [(0.0, 0.01), (0.02, 0.01), (-1.0, 1.0)])
def test_impossible_figures_are_refused(median: float, p99: float) -> None:
    with pytest.raises(ValueError):
        CallLatency(median, p99)
    with pytest.raises(ValueError):
        LatencyModel(scale=0)
