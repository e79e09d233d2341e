"""Hypothesis strategies for simulations: random traffic and every knob of a game."""

from __future__ import annotations

from hypothesis import strategies as st

from frolic_tools.sim.simulator import SimulationConfig

#: Quiet seconds, steady seconds and rushes, in any order.
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
    sub_budgets=st.integers(1, 8),
    release_curve=st.one_of(
        st.none(),
        st.lists(st.floats(0, 5), min_size=1, max_size=6).filter(lambda w: sum(w) > 0).map(tuple),
    ),
)
