"""Invariants 1 (no overspend, no double allocation) and 5 (no early exhaustion), over
random traffic, budgets, brand splits, shard counts and batch sizes."""

import random
from dataclasses import replace

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from frolic.allocation.allocator import Allocator, virtual_wait
from frolic.allocation.ports import GameRules, Play
from frolic.pacing.schedule import ReleaseSchedule
from frolic_tools.sim.memory import InMemoryGames, InMemoryStore, numbered_codes
from frolic_tools.sim.metrics import measure
from frolic_tools.sim.simulator import SimulationConfig, simulate
from frolic_tools.sim.traffic import poisson
from tests.doubles import GreedyPacing
from tests.sim_checks import assert_no_overspend_nor_double_binding, assert_within_the_schedule_cap
from tests.strategies import configs, traces

SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@SETTINGS
@given(trace=traces, config=configs, policy=st.sampled_from(["frolic", "seed"]))
def test_no_brand_ever_issues_past_its_budget_nor_binds_a_code_twice(
    trace: list[int], config: SimulationConfig, policy: str
) -> None:
    config = replace(config, policy=policy, brands=min(config.brands, config.budget))
    assert_no_overspend_nor_double_binding(simulate(trace, config))


@SETTINGS
@given(trace=traces, config=configs)
def test_issued_coupons_never_run_ahead_of_the_release_schedule_plus_slack(
    trace: list[int], config: SimulationConfig
) -> None:
    config = replace(config, brands=min(config.brands, config.budget))
    assert_within_the_schedule_cap(simulate(trace, config))


@SETTINGS
@given(
    budget=st.integers(1, 300),
    counters=st.integers(1, 12),
    extra_plays=st.integers(0, 50),
    seed=st.integers(0, 2**32),
)
def test_no_coupon_is_stranded_in_an_idle_counter(
    budget: int, counters: int, extra_plays: int, seed: int
) -> None:
    # Given a budget split over counters, and plays that all want to win, in any order
    store = InMemoryStore()
    store.set_budget(GAME, "brand", budget, counters=counters)
    store.generate_coupons(GAME, "brand", numbered_codes("brand"))
    allocator = _greedy(store)
    order = random.Random(seed)
    plays = [
        Play(f"p{order.randrange(10**9)}-{n}", f"u{n}", GAME, START + 1 + n / 1000)
        for n in range(budget + extra_plays)
    ]
    # When they are allocated in batches of any size
    while plays:
        size = order.randint(1, 40)
        allocator.allocate(plays[:size], START + 60)
        plays = plays[size:]
    # Then every counter's every coupon went out, each to one play
    assert store.issued(GAME, "brand") == budget
    assert len(store.bound_codes) == budget


operations = st.lists(
    st.one_of(
        st.tuples(st.just("budget"), st.integers(0, 300)),
        st.tuples(st.just("codes"), st.integers(1, 120)),
        st.tuples(st.just("plays"), st.integers(1, 60)),
    ),
    max_size=12,
)


@settings(SETTINGS, max_examples=200)
@given(
    budget=st.integers(1, 300),
    counters=st.integers(1, 8),
    steps=operations,
    seed=st.integers(0, 2**32),
)
# Shares [50, 51] and codes dealt evenly as [51, 50] would strand one coupon
@example(budget=101, counters=2, steps=[("codes", 101)], seed=0)
# Uneven draining, then a budget change over the same pools
@example(budget=40, counters=4, steps=[("codes", 40), ("plays", 13), ("budget", 30)], seed=1)
def test_uploads_and_budget_changes_in_any_order_strand_no_coupon(
    budget: int, counters: int, steps: list[tuple[str, int]], seed: int
) -> None:
    # Given a split budget whose codes arrive in uploads, with budget changes and plays
    # in between, as a marketer and a crowd would make them
    store = InMemoryStore()
    store.set_budget(GAME, "brand", budget, counters=counters)
    allocator = _greedy(store)
    order = random.Random(seed)
    uploaded = 0
    played = 0

    def spin(count: int) -> None:
        nonlocal played
        plays = [
            Play(f"p{order.randrange(10**9)}-{played + n}", f"u{played + n}", GAME, START + 1)
            for n in range(count)
        ]
        played += count
        allocator.allocate(plays, START + 60)

    for action, amount in steps:
        if action == "budget":
            budget = max(amount, store.issued(GAME, "brand"))
            store.set_budget(GAME, "brand", budget)
        elif action == "codes":
            store.add_coupons(GAME, "brand", [f"C{uploaded + n}" for n in range(amount)])
            uploaded += amount
        else:
            spin(amount)
    # When plays keep coming until nothing more can be won
    spin(budget + 10)
    # Then every coupon the budget and the codes allow went out, each to one play
    assert store.issued(GAME, "brand") == min(budget, uploaded)
    assert len(store.bound_codes) == min(budget, uploaded)


GAME = "stranding-game"
START = 1_900_000_000.0


def _greedy(store: InMemoryStore) -> Allocator:
    """An allocator whose every play wants to win: what is left unwon was stranded."""
    return Allocator(
        store=store,
        games=InMemoryGames({GAME: _rules()}),
        policy=GreedyPacing(),
        draw_key=b"stranding-test-key-0123456789",
        wait_until=virtual_wait,
    )


def _rules() -> GameRules:
    return GameRules(
        game_id=GAME,
        start_ts=START,
        end_ts=START + 3600,
        live=True,
        schedule=ReleaseSchedule(3600.0),
    )


@st.composite
def quiet_spell_traces(draw: st.DrawFn) -> list[int]:
    """Pushes with silence between, the first as the game opens: one crowd size and
    length, random gaps. (A first push after a quiet start has no earlier one to learn
    from; see test_pacing_targets for that case.) Crowds of a thousand plays or more:
    below that, half a percent of the budget is a few plays' luck."""
    rng = random.Random(draw(st.integers(0, 2**32)))
    burst = draw(st.integers(10, 40))
    rate = draw(st.integers(100, 400))
    trace: list[int] = []
    for _ in range(draw(st.integers(2, 6))):
        trace += [poisson(rng, rate) for _ in range(burst)]
        trace += [0] * draw(st.integers(120, 1200))
    return trace


@settings(SETTINGS, max_examples=25)
@given(
    trace=quiet_spell_traces(),
    budget=st.integers(1000, 20_000),
    shards=st.integers(1, 4),
    seed=st.integers(0, 2**32),
)
def test_traffic_with_quiet_spells_spends_within_half_a_percent_of_the_bound(
    trace: list[int], budget: int, shards: int, seed: int
) -> None:
    report = measure(simulate(trace, SimulationConfig(budget=budget, shards=shards, seed=seed)))
    assert report.overspend == 0
    assert report.excess_leftover_pct <= 0.5
