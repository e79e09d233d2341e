"""The production allocator, fed a traffic trace in virtual time.

Each second's plays arrive at random instants within it and go to shards by the
ingest's partition rule. Each shard is polled once a second, at its own phase, the way
the Lambda event-source mapping polls Kinesis: a poll takes what arrived since the last
one, in batches of at most `batch`, and each batch sees the store as the batches before
it left it. Decisions, budgets and coupons go through the real `Allocator` and an
in-memory store.
"""

from __future__ import annotations

import hashlib
import random
from array import array
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from frolic.allocation.allocator import Allocator, virtual_wait
from frolic.allocation.ports import GameRules, Outcome, Play
from frolic.models import PlayStatus
from frolic.pacing.policy import POLICIES
from frolic.pacing.schedule import ReleaseSchedule
from frolic.partition import partition_key, shard_index
from frolic_tools.sim.memory import InMemoryGames, InMemoryStore, WriteMeter, numbered_codes

if TYPE_CHECKING:
    from frolic_tools.sim.concurrent import ConcurrencyStats

GAME_ID = "sim-game"
#: Virtual clock origin: any fixed instant works; this one keeps timestamps realistic.
EPOCH = 1_800_000_000.0
#: How long the store keeps a play's result. A play is decided in the poll after it
#: arrives and nothing is replayed later than that, so a minute is plenty.
OUTCOME_RETENTION_SECONDS = 60


@dataclass(frozen=True, slots=True)
class SimulationConfig:
    budget: int
    brands: int = 1
    shards: int = 1
    batch: int = 100
    seed: int = 0
    policy: str = "frolic"
    players: int | None = None
    release_curve: tuple[float, ...] | None = None
    slack_pct: float = 0.1
    max_wins_per_user: int = 1
    max_coupons_per_play: int = 1
    #: Counters each brand's budget is split over (frolic.allocation.sub_budgets).
    sub_budgets: int = 1

    def brand_budgets(self) -> dict[str, int]:
        """The budget split as evenly as whole coupons allow."""
        share, extra = divmod(self.budget, self.brands)
        return {f"brand-{i + 1}": share + (1 if i < extra else 0) for i in range(self.brands)}


def _per_second(counts: Sequence[int]) -> array[int]:
    """One 8-byte count per second: a week holds 604,800 of them, of every curve."""
    return array("q", counts)


@dataclass
class SimulationRun:
    """What happened, per second of the window, for the metrics to judge.

    Nothing here grows with the number of plays: per-second curves, running sums, and
    per-win records, which the budget bounds.
    """

    config: SimulationConfig
    schedule: ReleaseSchedule
    plays_per_second: array[int]
    coupons_per_second: array[int]
    winning_plays_per_second: array[int]
    #: Sum of the winners' positions within their second (see metrics).
    winner_position_sum: float = 0.0
    #: (seconds into the window when decided, brands won) per winning play.
    wins: list[tuple[float, tuple[str, ...]]] = field(default_factory=list)
    #: Each coupon code bound, with the play it went to.
    coupon_holders: dict[str, str] = field(default_factory=dict)
    #: Plays per shard per second: what each Kinesis shard must take.
    peak_records_per_shard: int = 0
    writes: WriteMeter = field(default_factory=WriteMeter)
    batches: int = 0
    issued_by_brand: dict[str, int] = field(default_factory=dict)
    budget_by_brand: dict[str, int] = field(default_factory=dict)
    outcomes_by_status: dict[str, int] = field(default_factory=dict)
    #: What racing allocators did, when the run was concurrent (sim.concurrent).
    concurrency: ConcurrencyStats | None = None


def simulate(
    trace: Sequence[int],
    config: SimulationConfig,
    progress: Callable[[int, int], None] | None = None,
) -> SimulationRun:
    """Run the trace; `progress(seconds_done, seconds_total)` hears of each 1 %."""
    duration = len(trace)
    report_every = max(1, duration // 100)
    rng = random.Random(config.seed)
    meter = WriteMeter()
    store = InMemoryStore(meter, outcome_retention_seconds=OUTCOME_RETENTION_SECONDS)
    rules = game_rules(config, duration)
    stock(store, config)
    allocator = Allocator(
        store=store,
        games=InMemoryGames({GAME_ID: rules}),
        policy=POLICIES[config.policy],
        draw_key=draw_key(config),
        wait_until=virtual_wait,
    )
    run = new_run(config, trace, rules.schedule, meter)
    shards = config.shards
    phases = [rng.random() for _ in range(shards)]
    poll_order = sorted(range(shards), key=phases.__getitem__)
    carried: list[list[Play]] = [[] for _ in range(shards)]

    def poll(shard: int, now: float, due: list[Play]) -> None:
        for first in range(0, len(due), config.batch):
            run.batches += 1
            for outcome in allocator.allocate(due[first : first + config.batch], now):
                record_outcome(run, outcome)

    for second, count in enumerate(trace):
        due: list[list[Play]] = carried
        carried = [[] for _ in range(shards)]
        base = EPOCH + second
        per_shard = [0] * shards
        for play, shard in plays_of_second(second, count, rng, config):
            per_shard[shard] += 1
            (due if play.arrival_ts - base <= phases[shard] else carried)[shard].append(play)
        run.peak_records_per_shard = max(run.peak_records_per_shard, *per_shard)
        for shard in poll_order:
            poll(shard, base + phases[shard], due[shard])
        if progress is not None and second % report_every == 0:
            progress(second, duration)
    for shard in poll_order:
        poll(shard, EPOCH + duration + phases[shard], carried[shard])

    finish(run, store)
    return run


def finish(run: SimulationRun, store: InMemoryStore) -> None:
    run.issued_by_brand = {b: store.issued(GAME_ID, b) for b in run.budget_by_brand}
    run.coupon_holders = store.bound_codes


def game_rules(config: SimulationConfig, duration: int) -> GameRules:
    return GameRules(
        game_id=GAME_ID,
        start_ts=EPOCH,
        end_ts=EPOCH + duration,
        live=True,
        schedule=ReleaseSchedule(float(duration), config.release_curve),
        max_coupons_per_play=config.max_coupons_per_play,
        max_wins_per_user=config.max_wins_per_user,
        slack_pct=config.slack_pct,
    )


def stock(store: InMemoryStore, config: SimulationConfig) -> None:
    """The game's budgets, split over their counters, each with codes enough."""
    for brand_id, budget in config.brand_budgets().items():
        store.set_budget(GAME_ID, brand_id, budget, counters=config.sub_budgets)
        store.generate_coupons(GAME_ID, brand_id, numbered_codes(brand_id))


def draw_key(config: SimulationConfig) -> bytes:
    return hashlib.sha256(f"frolic-simulate:{config.seed}".encode()).digest()


def new_run(
    config: SimulationConfig, trace: Sequence[int], schedule: ReleaseSchedule, meter: WriteMeter
) -> SimulationRun:
    duration = len(trace)
    return SimulationRun(
        config=config,
        schedule=schedule,
        plays_per_second=_per_second(trace),
        coupons_per_second=_per_second([0]) * duration,
        winning_plays_per_second=_per_second([0]) * duration,
        budget_by_brand=config.brand_budgets(),
        writes=meter,
    )


def plays_of_second(
    second: int, count: int, rng: random.Random, config: SimulationConfig
) -> Iterator[tuple[Play, int]]:
    """The second's plays in arrival order, at random instants, each with its shard."""
    players = config.players
    shards = config.shards
    base = EPOCH + second
    for rank, instant in enumerate(sorted(rng.random() for _ in range(count))):
        play_id = f"s{second}r{rank}"
        user_id = f"u{rng.randrange(players)}" if players else f"u{play_id}"
        shard = shard_index(partition_key(play_id), shards) if shards > 1 else 0
        yield Play(play_id, user_id, GAME_ID, base + instant), shard


def record_outcome(run: SimulationRun, outcome: Outcome) -> None:
    statuses = run.outcomes_by_status
    statuses[outcome.status] = statuses.get(outcome.status, 0) + 1
    if outcome.status is PlayStatus.WON:
        _record_win(run, outcome)


def _record_win(run: SimulationRun, outcome: Outcome) -> None:
    play, grants = outcome.play, outcome.grants
    second_text, rank_text = play.play_id[1:].split("r")
    second, rank = int(second_text), int(rank_text)
    run.wins.append((outcome.decided_at - EPOCH, tuple(g.brand_id for g in grants)))
    run.coupons_per_second[second] += len(grants)
    run.winning_plays_per_second[second] += 1
    plays = run.plays_per_second[second]
    run.winner_position_sum += rank / (plays - 1) if plays > 1 else 0.5
